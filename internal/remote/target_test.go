package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
		err  string // "" for success
	}{
		{"host", Target{Host: "host"}, ""},
		{"bench-1.example.org", Target{Host: "bench-1.example.org"}, ""},
		{"my_alias", Target{Host: "my_alias"}, ""},
		{"alice@host", Target{User: "alice", Host: "host"}, ""},
		{"host:2222", Target{Host: "host", Port: 2222}, ""},
		{"alice@198.18.0.10:22", Target{User: "alice", Host: "198.18.0.10", Port: 22}, ""},
		{"fd00::1", Target{Host: "fd00::1"}, ""},
		{"[fd00::1]", Target{Host: "fd00::1"}, ""},
		{"bob@[fd00::1]:2200", Target{User: "bob", Host: "fd00::1", Port: 2200}, ""},
		{"", Target{}, "empty"},
		{"@host", Target{}, "empty user name before @"},
		{"a@b@c", Target{}, "more than one @"},
		{"-oProxyCommand=x", Target{}, "cannot start with -"},
		{"-u@host", Target{}, "a user name cannot start with -"},
		{"host:", Target{}, "empty port after :"},
		{"host:0", Target{}, `port "0": want a number from 1 to 65535`},
		{"host:65536", Target{}, `port "65536"`},
		{"host:ssh", Target{}, `port "ssh"`},
		{"host name", Target{}, "contains a space or a shell character"},
		{"host;reboot", Target{}, "shell character"},
		{"hö.st", Target{}, `'ö' is not allowed in a host name`},
		{"[fd00::1", Target{}, "[ without ]"},
		{"[host]:22", Target{}, "[host] is not an IPv6 address"},
		{"[fd00::1]22", Target{}, "text after ]"},
		{"fd00::1::2", Target{}, "not an IPv6 address"},
		{"a:b:c", Target{}, "not an IPv6 address"},
	} {
		got, err := ParseTarget(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseTarget(%q): %v", tc.in, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("ParseTarget(%q) = %+v, want %+v", tc.in, got, tc.want)
		case tc.err == "":
			// Written back, it reads the same.
			if again, err := ParseTarget(got.String()); err != nil || again != got {
				t.Errorf("ParseTarget(%q).String() = %q, which reads as %+v, %v", tc.in, got.String(), again, err)
			}
		case err == nil:
			t.Errorf("ParseTarget(%q) = %+v, want an error naming %q", tc.in, got, tc.err)
		default:
			checkOneLine(t, err, `host "`+tc.in+`": `, tc.err)
		}
	}
}

// checkOneLine wants err to be one line starting with prefix and naming want.
func checkOneLine(t *testing.T, err error, prefix, want string) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
		t.Errorf("error %q: want one line starting %q naming %q", msg, prefix, want)
	}
}

func TestParseTargets(t *testing.T) {
	ts, err := ParseTargets("a, bob@b:2222 ,c")
	if err != nil || len(ts) != 3 || ts[1] != (Target{User: "bob", Host: "b", Port: 2222}) {
		t.Errorf("ParseTargets = %+v, %v", ts, err)
	}
	for in, want := range map[string]string{
		"a,,b":     `host list "a,,b": an empty entry`,
		"a,b,a":    `host "a": listed twice`,
		"a,b:9x":   `host "b:9x": port "9x"`,
		"":         `host list "": an empty entry`,
		"a, -oX=y": `host "-oX=y": a host name cannot start with -`,
	} {
		if _, err := ParseTargets(in); err == nil || err.Error() != want && !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseTargets(%q): %v, want %q", in, err, want)
		}
	}
}

func TestReadHostsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "# bench hosts\n\nserver.lab   # the server\n  alice@c1:2222\n[fd00::7]:22\n")
	ts, err := ReadHostsFile(good)
	want := []Target{{Host: "server.lab"}, {User: "alice", Host: "c1", Port: 2222}, {Host: "fd00::7", Port: 22}}
	if err != nil || len(ts) != len(want) {
		t.Fatalf("ReadHostsFile = %+v, %v; want %+v", ts, err, want)
	}
	for i := range want {
		if ts[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, ts[i], want[i])
		}
	}
	for _, tc := range []struct{ text, want string }{
		{"a\nb c\n", ":2: host \"b c\": contains a space"},
		{"a\n# x\na # again\n", `:3: host "a": listed twice (first on line 1)`},
		{"# nothing\n\n", ": no hosts in it"},
		{"", ": no hosts in it"},
	} {
		p := write("bad", tc.text)
		if _, err := ReadHostsFile(p); err == nil {
			t.Errorf("%q accepted, want %q", tc.text, tc.want)
		} else {
			checkOneLine(t, err, p, tc.want)
		}
	}
	if _, err := ReadHostsFile(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing: no such file") {
		t.Errorf("missing file: %v", err)
	}
}
