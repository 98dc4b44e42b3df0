package main

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"tenkthreads/internal/testkit"
)

// Every key documented in SCHEMA.md is present in a real report of
// either engine, which names itself.
func TestJSONSchemaKeys(t *testing.T) {
	doc, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := documentedKeys(string(doc))
	if len(keys) < 40 {
		t.Fatalf("found only %d documented keys in SCHEMA.md", len(keys))
	}
	addr := testkit.Serve(t, testkit.Echo)
	forEngines(t, func(t *testing.T, eng string) {
		// With -linger, so that its keys are in the report too, and
		// -duration, so that the steady phase takes some user CPU.
		args, loops := []string{"-host", addr, "-n", "5", "-linger", "10ms", "-duration", "300ms"}, 0.0
		if eng == engineEventLoop {
			args, loops = append(args, "-loops", "3"), 3
		}
		o := runClient(t, eng, args...)
		if o.code != 0 {
			t.Fatalf("exit %d: %s", o.code, o.stderr)
		}
		for _, k := range keys {
			var cur any = o.res
			for _, part := range strings.Split(k, ".") {
				mm, ok := cur.(map[string]any)
				if !ok {
					t.Errorf("%s: parent is not an object", k)
					break
				}
				if cur, ok = mm[part]; !ok {
					t.Errorf("documented key %s missing from the JSON", k)
					break
				}
			}
		}
		if o.res["schema"] != Schema || o.res["engine"] != eng || num(t, o.res, "loops") != loops {
			t.Errorf("schema %v, engine %v, loops %v; want %s, %s, %v", o.res["schema"], o.res["engine"], o.res["loops"], Schema, eng, loops)
		}
	})
}

// documentedKeys takes the key column of the SCHEMA.md tables: rows that
// start with "| `key`".
func documentedKeys(doc string) []string {
	var keys []string
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		k := strings.TrimPrefix(l, "| `")
		k = k[:strings.Index(k, "`")]
		keys = append(keys, k)
	}
	return keys
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err         error
		class, name string
	}{
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, clsRefused, "ECONNREFUSED"},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, clsReset, "ECONNRESET"},
		{&net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, clsReset, "EPIPE"},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.EMFILE)}, clsFdLimit, "EMFILE"},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}, clsAddrInUse, "EADDRNOTAVAIL"},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, clsTimeout, "read deadline"},
		{&mismatchError{1, 2, 3, 4}, clsMismatch, "byte differs"},
		{&eofError{1, 2}, clsEOF, "EOF during read"},
		{io.ErrUnexpectedEOF, clsEOF, "EOF during read"},
		{errors.New("weird"), clsOther, "weird"},
	}
	for _, tc := range cases {
		c, n := classify("read", tc.err)
		if c != tc.class || n != tc.name {
			t.Errorf("classify(%v) = %s/%s, want %s/%s", tc.err, c, n, tc.class, tc.name)
		}
	}
}

func TestParseSources(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		last string
		bad  bool
	}{
		{"127.0.0.2", 1, "127.0.0.2", false},
		{"127.0.0.2-127.0.0.200", 199, "127.0.0.200", false},
		{"127.0.0.2-127.0.0.3, ::1", 3, "::1", false},
		{"127.0.0.255-127.0.1.1", 3, "127.0.1.1", false},
		{"127.0.0.5-127.0.0.4", 0, "", true},
		{"::1-::2", 0, "", true},
		{"x", 0, "", true},
		{"", 0, "", true},
	}
	for _, tc := range cases {
		got, err := parseSources(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseSources(%q) accepted", tc.in)
			}
			continue
		}
		if err != nil || len(got) != tc.n || got[len(got)-1].String() != tc.last {
			t.Errorf("parseSources(%q) = %v, %v", tc.in, got, err)
		}
	}
}
