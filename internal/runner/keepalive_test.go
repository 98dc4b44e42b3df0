package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
)

// The keep-alive experiment in small, on the real servers: with 8 idle
// connections opened first, pool -w 4 gives its 4 workers to 4 of them
// for good, so all 100 active connections starve and 4 idle ones are
// verified at the end; dispatch -w 4 serves every one, with and without
// the delay.
func TestKeepAliveTiny(t *testing.T) {
	bin := realBin(t)
	kit, err := plan.LoadKit(bin)
	if err != nil {
		t.Fatal(err)
	}
	specs := keepaliveServers(kit)[:2]
	getenv := func(k string) string { return map[string]string{"DELAY": "2ms"}[k] }
	o := plan.Options{Mode: "keepalive", Bin: bin, Out: t.TempDir(), NoPin: true, Quick: true, Reps: plan.Given(1), Counts: plan.Given([]int{8}),
		Echo: plan.Given(300 * time.Millisecond), StopTimeout: 5 * time.Second, Command: "test"}
	var rep report.KeepAliveReport
	mr := runMode(t, o, Env{Getenv: getenv, Servers: specs}, &rep)
	dir := mr.dir
	if rep.Schema != report.KeepAliveSchema || len(rep.Rows) != 4 || strings.Join(rep.Servers[0].Args, " ") != "-M pool -w 4" {
		t.Fatalf("keepalive.json: schema %q, %d rows, servers %+v", rep.Schema, len(rep.Rows), rep.Servers)
	}
	for _, r := range rep.Rows {
		switch r.Server {
		case "10kthreads:pool-w4":
			if r.Starved.V != 100 || r.RequestsPerS.V != 0 || r.IdleVerified.V != 4 || r.P99us.Set {
				t.Errorf("pool -d %s: starved %v, requests/s %v, idle verified %v, p99 %v; want all 100 starved and 4 idle served", report.DelayArg(r.DelayUS), r.Starved, r.RequestsPerS, r.IdleVerified, r.P99us)
			}
		case "10kthreads:dispatch-w4":
			if r.Starved.V != 0 || r.RequestsPerS.V <= 0 || r.IdleVerified.V != 8 || r.PerConnMin.V < 1 {
				t.Errorf("dispatch -d %s: starved %v, requests/s %v, idle verified %v, fewest round trips %v; want every connection served", report.DelayArg(r.DelayUS), r.Starved, r.RequestsPerS, r.IdleVerified, r.PerConnMin)
			}
		default:
			t.Errorf("unexpected row %+v", r)
		}
	}
	delayed := 0
	for _, r := range readRuns(t, dir) {
		if strings.Contains(strings.Join(r.ServerCmd, " "), "-d 2ms") {
			delayed++
		}
	}
	if delayed != 2 {
		t.Errorf("%d runs with -d 2ms, want 2", delayed)
	}
	for _, f := range []string{"keepalive.md", "keepalive_rps_d0s.png", "keepalive_rps_d2ms.svg", "results.csv"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(mr.stdout, "| 10kthreads (pool -w 4) | 8 | 2ms | 0 | – | 100 | 0 / 0 / 0 | 4 of 8 | errors |") {
		t.Errorf("table:\n%s", mr.stdout)
	}
	os.Remove(filepath.Join(dir, "keepalive.md"))
	checkRebuild(t, dir, "starved of 100")
}

// DELAY is checked before anything runs.
func TestDelayEnv(t *testing.T) {
	for _, c := range []struct {
		val, want string
		d         time.Duration
	}{
		{"", "", backendDelay}, {"0", "", 0}, {"500us", "", 500 * time.Microsecond}, {"2s", "", 2 * time.Second},
		{"soon", "DELAY=soon: want a duration such as 10ms, 500us or 0", 0},
		{"-1ms", "DELAY=-1ms: want 0 to 1m0s", 0}, {"61s", "DELAY=61s: want 0 to 1m0s", 0},
		{"1500ns", "DELAY=1500ns: the servers' -d counts whole microseconds", 0},
	} {
		d, err := delayOf(Env{Getenv: func(string) string { return c.val }})
		switch {
		case c.want == "" && (err != nil || d != c.d):
			t.Errorf("DELAY=%q: %v, %v; want %v", c.val, d, err, c.d)
		case c.want != "" && (err == nil || err.Error() != c.want):
			t.Errorf("DELAY=%q: %v, want the error %q", c.val, err, c.want)
		}
	}
	for _, mode := range []string{"-models", "-keepalive"} {
		var stdout, stderr bytes.Buffer
		env := func(k string) string { return map[string]string{"DELAY": "soon"}[k] }
		if code := Main([]string{mode, "-out", t.TempDir()}, env, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "DELAY=soon") || !strings.Contains(stderr.String(), "usage: experiment") {
			t.Errorf("%s with DELAY=soon: exit %d\n%s", mode, code, stderr.String())
		}
	}
}
