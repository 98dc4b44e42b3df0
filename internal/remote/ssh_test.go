package remote

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// The ssh command line: BatchMode and the connect timeout always, the
// user's configuration unless -F is given, user and port only when the
// target names them, and the host after "--".
func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		t    Target
		want []string
	}{
		{"defaults", Options{}, Target{Host: "h"},
			[]string{"ssh", "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "--", "h"}},
		{"everything", Options{ConfigFile: "/x/ssh_config", SSHOptions: []string{"Compression=no"}, ConnectTimeout: 1500 * time.Millisecond,
			Wrap: []string{"ip", "netns", "exec", "ns1"}}, Target{User: "u", Host: "fd00::1", Port: 2200},
			[]string{"ip", "netns", "exec", "ns1", "ssh", "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "-F", "/x/ssh_config",
				"-o", "Compression=no", "-p", "2200", "-l", "u", "--", "fd00::1"}},
	} {
		cmd := tc.o.command(tc.t, "echo hi", "a b")
		got := cmd.Args
		if !slices.Equal(got[:len(got)-1], tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got[:len(got)-1], tc.want)
		}
		if last := got[len(got)-1]; last != `sh -c 'echo hi' sh 'a b'` {
			t.Errorf("%s: remote command %q", tc.name, last)
		}
	}
}

// Whatever the words, the remote shell gets them back unchanged.
func TestQuote(t *testing.T) {
	words := []string{"plain", "two words", "it's", `"double"`, "$HOME", "`id`", "a\\b", "semi;colon", "new\nline", "", "'", "''", "-n"}
	out, err := exec.Command("sh", "-c", `sh -c 'for w in "$@"; do printf "%s\0" "$w"; done' sh `+quoteAll(words)).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !slices.Equal(got, words) {
		t.Errorf("through sh:\n got %q\nwant %q", got, words)
	}
}

func TestLastLine(t *testing.T) {
	for in, want := range map[string]string{
		"":    "",
		"one": "one",
		"Warning: x\nssh: connect to host h port 22: Connection refused\r\n": "ssh: connect to host h port 22: Connection refused",
		"a\n\n  \n": "a",
	} {
		if got := lastLine(in); got != want {
			t.Errorf("lastLine(%q) = %q, want %q", in, got, want)
		}
	}
}
