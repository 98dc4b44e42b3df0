package testhosts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// buildLab builds test hosts for one test, or skips it saying why they
// cannot be built here. When the test ends it closes them and checks
// that nothing is left.
func buildLab(t *testing.T, cfg Config) *Lab {
	t.Helper()
	avail := AvailableNetns
	if !cfg.NoSSH {
		avail = func() error { _, err := Available(); return err }
	}
	if err := avail(); err != nil {
		t.Skipf("no test hosts: %v", err)
	}
	var log strings.Builder
	cfg.Log = &log
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := Build(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := CloseOnInterrupt(l, os.Stderr)
	t.Cleanup(func() {
		stop()
		if err := l.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		checkGone(t, l)
		if t.Failed() {
			t.Logf("harness log:\n%s", log.String())
		}
	})
	return l
}

// checkGone fails the test if anything of lab l is left: a namespace,
// the run's directory or an sshd.
func checkGone(t *testing.T, l *Lab) {
	t.Helper()
	names, err := namespaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range names {
		if strings.Contains(ns, l.ID) {
			t.Errorf("namespace %s left behind", ns)
		}
	}
	if _, err := os.Stat(l.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s left behind (stat: %v)", l.Dir, err)
	}
	for _, h := range l.Hosts {
		if h.sshd != nil {
			t.Errorf("host %s: sshd still recorded after Close", h.Name)
		}
	}
	if out, err := exec.Command("pgrep", "-f", l.Dir).Output(); err == nil {
		t.Errorf("processes of the run still running:\n%s", out)
	}
}

func sshOut(t *testing.T, l *Lab, host string, cmd string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := l.SSH(ctx, host, cmd).CombinedOutput()
	return string(out), err
}

// The hosts are what Build says: their own namespaces, addresses and
// links, an sshd each answering with the run's keys, shaped links, and
// nothing in the machine's own namespace.
func TestBuild(t *testing.T) {
	before := rootLinks(t)
	l := buildLab(t, Config{Clients: 3, Shaping: Shaping{RateMbit: 200, Delay: 2 * time.Millisecond}})
	netem := len(l.Notes) == 0
	if !netem && (len(l.Notes) != 1 || !strings.HasPrefix(l.Notes[0], "this kernel has no netem (tc: ") ||
		!strings.HasSuffix(l.Notes[0], "delay and loss skipped, links are only rate limited") || l.Shaping.Delay != 0) {
		t.Errorf("without netem: notes %q and shaping %v, want one note saying so and no delay", l.Notes, l.Shaping)
	}
	if got := len(l.Clients()); got != 3 {
		t.Fatalf("%d client hosts, want 3", got)
	}
	names, _ := namespaces(context.Background())
	for _, h := range append(slices.Clone(l.Hosts), &Host{Name: "bridge", NS: l.BridgeNS}) {
		if !slices.Contains(names, h.NS) {
			t.Errorf("host %s: namespace %s missing", h.Name, h.NS)
		}
	}
	if after := rootLinks(t); !slices.Equal(before, after) {
		t.Errorf("the machine's own interfaces changed: %v, then %v", before, after)
	}
	if err := CheckRoot(context.Background()); err != nil {
		t.Error(err)
	}
	for _, h := range l.sshHosts() {
		// Over ssh from the control host, the host reports its own address.
		out, err := sshOut(t, l, h.Name, "ip -4 -o addr show dev eth0")
		if err != nil || !strings.Contains(out, " "+h.Addr.String()+"/24 ") {
			t.Errorf("host %s: ssh said %q (%v), want its address %s", h.Name, out, err, h.Addr)
		}
		qd, err := l.Command(context.Background(), h, "tc", "qdisc", "show", "dev", "eth0").Output()
		if err != nil || !strings.Contains(string(qd), "tbf") || !strings.Contains(string(qd), "200Mbit") {
			t.Errorf("host %s: qdisc %q (%v), want tbf at 200Mbit", h.Name, qd, err)
		}
		if strings.Contains(string(qd), "netem") != netem || netem && !strings.Contains(string(qd), "delay 2ms") {
			t.Errorf("host %s: qdisc %q, want netem with 2 ms delay: %v", h.Name, qd, netem)
		}
	}
	// The control host runs no sshd: nobody logs into it.
	if out, err := sshOut(t, l, l.Control().Addr.String(), "true"); err == nil {
		t.Errorf("ssh to the control host worked: %s", out)
	}
}

// Hosts without sshd, for a caller that runs each side itself: one
// client host is enough, it has its further source addresses, an htb
// class shapes each link, and no sshd runs.
func TestBuildNoSSH(t *testing.T) {
	l := buildLab(t, Config{Clients: 1, NoSSH: true, Sources: 3, Shaping: Shaping{RateMbit: 50, HTB: true}})
	if len(l.Clients()) != 1 || l.SSHConfig != "" {
		t.Fatalf("%d client hosts, ssh config %q; want 1 and none", len(l.Clients()), l.SSHConfig)
	}
	c := l.Clients()[0]
	out, err := l.Command(context.Background(), c, "ip", "-4", "-o", "addr", "show", "dev", "eth0").Output()
	for _, a := range []string{"198.18.0.11/24", "198.18.0.100/24", "198.18.0.101/24", "198.18.0.102/24"} {
		if err != nil || !strings.Contains(string(out), " "+a+" ") {
			t.Errorf("client host: addresses %q (%v), want %s among them", out, err, a)
		}
	}
	for _, h := range l.Hosts {
		if h.sshd != nil {
			t.Errorf("host %s runs an sshd", h.Name)
		}
		cl, err := l.Command(context.Background(), h, "tc", "class", "show", "dev", "eth0").Output()
		if err != nil || !strings.Contains(string(cl), "htb 1:10") || !strings.Contains(string(cl), "rate 50Mbit") {
			t.Errorf("host %s: classes %q (%v), want htb 1:10 at 50Mbit", h.Name, cl, err)
		}
	}
	if _, err := Build(context.Background(), Config{Clients: 2, NoSSH: true, Sources: 100}); err == nil ||
		!strings.Contains(err.Error(), "at most 154 in all") {
		t.Errorf("200 further addresses: %v, want refused", err)
	}
}

// rootLinks names the interfaces of the machine's own namespace.
func rootLinks(t *testing.T) []string {
	t.Helper()
	var links []link
	if err := ipJSON(context.Background(), "", &links, "addr", "show"); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Name)
	}
	return names
}

// A host with a way out is refused, naming the namespace and the route.
func TestCheckRefusesRouteOut(t *testing.T) {
	l := buildLab(t, Config{Clients: 2})
	ctx := context.Background()
	if err := l.checkAll(ctx); err != nil {
		t.Fatalf("a lab as built refused: %v", err)
	}
	c := l.Clients()[1]
	if err := ip(ctx, "-n", c.NS, "route", "add", "default", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	err := l.checkAll(ctx)
	want := fmt.Sprintf("test namespace %s has a default route (default dev eth0)", c.NS)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("check said %v, want %q", err, want)
	}
}

// A link taken down cuts its host off and bringing it up restores it.
func TestLinkDownUp(t *testing.T) {
	l := buildLab(t, Config{Clients: 2, ConnectTimeout: 2 * time.Second})
	ctx := context.Background()
	c := l.Clients()[0]
	for _, step := range []struct {
		what string
		do   func(context.Context, *Host) error
		up   bool
	}{{"as built", nil, true}, {"down", l.LinkDown, false}, {"up again", l.LinkUp, true}} {
		if step.do != nil {
			if err := step.do(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		out, err := sshOut(t, l, c.Name, "echo reached")
		if reached := err == nil && out == "reached\n"; reached != step.up {
			t.Errorf("link %s: ssh to %s said %q (%v), want reachable %v", step.what, c.Name, out, err, step.up)
		}
		if !step.up && !strings.Contains(out, "timed out") {
			t.Errorf("link down: ssh said %q, want a connect timeout", out)
		}
		// The other client is unaffected.
		if out, err := sshOut(t, l, l.Clients()[1].Name, "echo reached"); err != nil {
			t.Errorf("link %s of %s: %s unreachable: %q %v", step.what, c.Name, l.Clients()[1].Name, out, err)
		}
	}
}

// A build that fails at any step, or is interrupted, leaves nothing
// behind.
func TestBuildFailureTearsDown(t *testing.T) {
	if _, err := Available(); err != nil {
		t.Skipf("no test hosts: %v", err)
	}
	defer func() { buildHook = nil }()
	for _, step := range []string{"directory", "bridge", "hosts", "shaping", "check", "keys", "configs", "sshd"} {
		ways := []bool{false}
		if step == "hosts" || step == "sshd" {
			ways = append(ways, true) // interrupted, too
		}
		for _, interrupt := range ways {
			ctx, cancel := context.WithCancel(context.Background())
			buildHook = func(s string) error {
				if s != step {
					return nil
				}
				if interrupt { // as SIGINT does to a caller's context
					cancel()
					return ctx.Err()
				}
				return errors.New("injected failure")
			}
			l, err := Build(ctx, Config{Clients: 2})
			cancel()
			if err == nil {
				l.Close()
				t.Fatalf("build did not stop after step %s", step)
			}
			checkNothingOfMine(t, "after step "+step+": "+err.Error())
		}
	}
}

// checkNothingOfMine fails if this process has a namespace or a
// temporary directory of the harness's.
func checkNothingOfMine(t *testing.T, when string) {
	t.Helper()
	mine := fmt.Sprintf("%s%d-", Prefix, os.Getpid())
	names, _ := namespaces(context.Background())
	for _, ns := range names {
		if strings.HasPrefix(ns, mine) {
			t.Errorf("%s: namespace %s left behind", when, ns)
		}
	}
	if dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), mine+"*")); len(dirs) > 0 {
		t.Errorf("%s: %v left behind", when, dirs)
	}
}

// Leftovers of a run whose process is gone are removed, with a message,
// processes in them included; a live run's are left alone.
func TestCleanStale(t *testing.T) {
	if _, err := Available(); err != nil {
		t.Skipf("no test hosts: %v", err)
	}
	ctx := context.Background()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	staleNS := fmt.Sprintf("%s%d-c0ffee-server", Prefix, dead.Process.Pid)
	liveNS := fmt.Sprintf("%s%d-c0ffee-server", Prefix, os.Getpid())
	for _, ns := range []string{staleNS, liveNS} {
		if err := ip(ctx, "netns", "add", ns); err != nil {
			t.Fatal(err)
		}
		defer ip(ctx, "netns", "delete", ns)
	}
	sleeper := exec.Command("ip", "netns", "exec", staleNS, "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sleeper.Wait() }()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-c0ffee-x", Prefix, dead.Process.Pid))
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)

	var log strings.Builder
	if err := CleanStale(ctx, &log); err != nil {
		t.Fatal(err)
	}
	names, _ := namespaces(ctx)
	if slices.Contains(names, staleNS) || !slices.Contains(names, liveNS) {
		t.Errorf("after cleanup the namespaces are %v: want %s gone and %s kept", names, staleNS, liveNS)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the process in the stale namespace still runs")
		sleeper.Process.Kill()
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale directory %s kept (%v)", dir, err)
	}
	for _, want := range []string{"removing namespace " + staleNS + ", left by a run that no longer runs", "removing directory " + dir} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log %q: want %q", log.String(), want)
		}
	}
}
