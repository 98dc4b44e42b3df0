package srvreport

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// builtServer is bin/NAME of this repository, built by make.
func builtServer(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("bin/%s not found: run make first", name)
	}
	return p
}

// exitReport runs a real server with -j, lets it report once on SIGUSR1
// and once on SIGINT, and returns both files' contents.
func exitReport(t *testing.T, bin string, args ...string) (usr1, exit []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(bin, append([]string{"-p", "0", "-j", path}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.Contains(sc.Text(), "listening on") {
		t.Fatalf("%s: no start line (%q)", bin, sc.Text())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	usr1 = waitReport(t, cmd, path, EventReport)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: exit after SIGINT: %v", bin, err)
	}
	exit, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return usr1, exit
}

// waitReport sends SIGUSR1 until the -j file holds a report of event ev.
func waitReport(t *testing.T, cmd *exec.Cmd, path, ev string) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_ = cmd.Process.Signal(syscall.SIGUSR1)
		time.Sleep(50 * time.Millisecond)
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), `"event": "`+ev+`"`) {
			return b
		}
	}
	t.Fatalf("no %s report in %s", ev, path)
	return nil
}

// Both servers' real JSON decodes into Report with no key missing or
// extra, so a key renamed in either server fails here, not in a table.
func TestRealServerJSON(t *testing.T) {
	cases := []struct {
		bin, model string
		args       []string
	}{
		{"10kthreads", "thread", nil},
		{"10kthreads", "epoll", []string{"-M", "epoll"}},
		{"10kthreads", "prefork-nolock", []string{"-M", "prefork-nolock", "-w", "2"}},
		{"ref_async_server", "goroutine", nil},
	}
	for _, tc := range cases {
		t.Run(tc.bin+"/"+tc.model, func(t *testing.T) {
			usr1, exit := exitReport(t, builtServer(t, tc.bin), tc.args...)
			for _, b := range [][]byte{usr1, exit} {
				r, err := Decode(b)
				if err != nil {
					t.Fatalf("%v\n%s", err, b)
				}
				if r.Server != tc.bin || r.Model != tc.model || r.UptimeS <= 0 || r.Threads < 1 || r.VmRSSKiB <= 0 {
					t.Errorf("implausible report %+v", r)
				}
			}
			if r, _ := Decode(exit); r == nil || r.Event != EventExit {
				t.Errorf("the file after SIGINT is not the exit report")
			}
		})
	}
}

func TestDecodeStrict(t *testing.T) {
	good, err := (&Report{Server: "x"}).JSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(good); err == nil {
		t.Error("a report without its schema was accepted")
	}
	r := sample()
	r.Derive()
	good, _ = r.JSON()
	if got, err := Decode(good); err != nil || *got != r {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for name, bad := range map[string]string{
		"renamed key":  strings.Replace(string(good), `"max_conc"`, `"max_concurrent"`, 1),
		"missing key":  strings.Replace(string(good), ` "resets": 0,`+"\n", "", 1),
		"extra key":    strings.Replace(string(good), `{`, `{"extra": 1,`, 1),
		"other schema": strings.Replace(string(good), Schema, "10kthreads-server/2", 1),
	} {
		if bad == string(good) {
			t.Fatalf("%s: the test did not change the document", name)
		}
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Read(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("a missing file was read")
	}
}

// The real -M list decodes strictly and says what the runner relies on.
func TestListModels(t *testing.T) {
	l, err := ListModels(builtServer(t, "10kthreads"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"thread", "epoll", "fork", "iterative", "prefork"} {
		if _, ok := l.Get(name); !ok {
			t.Errorf("model %s not listed (%v)", name, l.Names())
		}
	}
	if m, _ := l.Get("thread"); m.PerConnection != "thread" || m.Bounded || m.Processes {
		t.Errorf("thread: %+v", m)
	}
	if m, _ := l.Get("prefork"); m.SameAs == "" || !slices.Contains(l.Names(), m.SameAs) {
		t.Errorf("prefork: %+v", m)
	}
	if _, err := ListModels(builtServer(t, "ref_async_server")); err == nil {
		t.Error("a server without -M list gave a model list")
	}
	if _, err := DecodeModels([]byte(`{"schema": "10kthreads-model-list/1", "models": [{"name": "x"}]}`)); err == nil {
		t.Error("a model without its facts was accepted")
	}
}
