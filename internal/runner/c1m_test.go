package runner

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

func c1mOptions(t *testing.T, counts []int) (plan.Options, Env) {
	bin := realBin(t)
	o := plan.Options{Mode: "c1m", Bin: bin, Out: t.TempDir(), NoPin: true, Counts: plan.Given(counts), StopTimeout: 5 * time.Second, Command: "test"}
	srv := filepath.Join(bin, "10kthreads")
	return o, Env{Servers: []results.ServerSpec{
		{Key: "10kthreads:epoll", Label: "10kthreads (epoll)", Model: "epoll", Path: srv, Args: []string{"-M", "epoll"}},
		{Key: "10kthreads:thread", Label: "10kthreads (thread)", Model: "thread", Path: srv},
	}}
}

// A tiny c1m under a simulated fd limit of 300: 400 connections need two
// server and two client processes; -tune raises tcp_mem in a fake
// /proc/sys and puts it back. Every run holds its connections verified
// while the readings are taken, then the server is stopped with them
// open and its exit timed.
func TestC1MTuneRunsAndRestores(t *testing.T) {
	s := goodSystem()
	s.FDHard, s.TCPMem = 300, []int{100, 200, 300}
	withSystem(t, s)
	withRoot(t, true)
	root := fakeSysctls(t, map[string]string{"net.ipv4.tcp_mem": "100\t200\t300"})
	o, env := c1mOptions(t, []int{100, 200, 400})
	o.Tune, env.SysctlRoot = true, root
	var rep report.C1MReport
	run := runMode(t, o, env, &rep)
	if v := sysctlValue(t, root, "net.ipv4.tcp_mem"); strings.Join(strings.Fields(v), " ") != "100 200 300" {
		t.Errorf("tcp_mem %q after the run, want 100 200 300 restored", v)
	}
	if len(rep.Tuned) != 1 || rep.Tuned[0].Name != "net.ipv4.tcp_mem" || rep.Tuned[0].New != "100 800 1200" {
		t.Errorf("tuned %+v, want tcp_mem raised to 100 800 1200 (2 and 3 pages per connection of 400)", rep.Tuned)
	}
	if len(rep.Rows) != 6 {
		t.Fatalf("%d rows, want 100, 200 and 400 for each server: %+v", len(rep.Rows), rep.Rows)
	}
	for _, r := range rep.Rows {
		if r.Status != results.StatusOK || !r.Verified.Set || int(r.Verified.V) != r.Conns || r.Errors.V != 0 {
			t.Errorf("%s %d: status %s, verified %v, errors %v", r.Label, r.Conns, r.Status, r.Verified, r.Errors)
		}
		if !r.StopS.Set || !r.MachineKiBPerConn.Set || r.MachineKiBPerConn.V <= 0 || !r.BothEndsKiBPerConn.Set || r.Note != "" {
			t.Errorf("%s %d: server exit %v s, machine KiB/conn %v, note %q; want both measured, no note", r.Label, r.Conns, r.StopS, r.MachineKiBPerConn, r.Note)
		}
		if wantP := map[int]int{100: 1, 200: 1, 400: 2}[r.Conns]; r.ServerProcs != wantP || r.ClientProcs != wantP {
			t.Errorf("%s %d: -P %d, -procs %d; want %d each", r.Label, r.Conns, r.ServerProcs, r.ClientProcs, wantP)
		}
	}
	for _, m := range rep.Models {
		if m.Held != 400 || m.Stopped != "" {
			t.Errorf("model %+v: want 400 held, nothing stopping it", m)
		}
	}
	for _, key := range []string{"held_10kthreads:epoll", "held_10kthreads:thread", "linear_10kthreads:thread", "exit_10kthreads:thread", "wall"} {
		i := slices.IndexFunc(rep.Targets, func(tg report.BenchTarget) bool { return tg.Key == key })
		if i < 0 || rep.Targets[i].Met == nil {
			t.Errorf("target %s missing or not measured: %+v", key, rep.Targets)
		}
	}
	for _, f := range []string{"c1m.txt", "report.md", "c1m_machine_kib_per_conn.png", "c1m_machine_kib_per_conn.svg", "sysctl-restore.sh"} {
		if _, err := os.Stat(filepath.Join(run.dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// The client was told to linger, and to where.
	runs := readRuns(t, run.dir)
	if c := strings.Join(runs[0].ClientCmd, " "); !strings.Contains(c, "-linger") || !strings.Contains(c, "-notify") || !strings.Contains(c, "-rate") {
		t.Errorf("client command %q: want -linger, -notify and a paced -rate", c)
	}
	checkRebuild(t, run.dir, "target (c1m)")
}

// A goal that does not fit in MemAvailable is scaled down to what does,
// and said so; a larger count between that does not fit stops the model.
func TestC1MScalesDownToMemory(t *testing.T) {
	withSystem(t, goodSystem()) // a floor of 1 GiB
	o, env := c1mOptions(t, []int{100, 200, 4000})
	env.Servers = env.Servers[:1]
	// Room for about 1,000 connections above the floor at whatever a
	// connection costs: the reference run's cost is read back below.
	var per float64
	old := memAvailableNow
	memAvailableNow = func() (float64, error) { return float64(1<<20) + 1000*per/c1mMemShare, nil }
	t.Cleanup(func() { memAvailableNow = old })
	perConnSeen = func(v float64) { per = v }
	t.Cleanup(func() { perConnSeen = nil })
	var rep report.C1MReport
	runMode(t, o, env, &rep)
	if len(rep.Models) != 1 {
		t.Fatalf("models %+v", rep.Models)
	}
	m := rep.Models[0]
	if m.Held < 200 || m.Held >= 4000 || !strings.Contains(m.Stopped, "memory: 4,000 connections would need") {
		t.Errorf("model %+v: want fewer than 4,000 held and memory named", m)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "scaled down to") }) {
		t.Errorf("no note of the scaling: %q", rep.Notes)
	}
}

func TestC1MPreconds(t *testing.T) {
	s := goodSystem()
	s.TCPMem, s.MaxOrphans, s.ThreadsMax, s.PidMax = []int{287907, 383877, 575814}, 131072, 192735, 32768
	s.HighOrderAllocDisable = "0"
	rows := plan.C1MPreconds(s, plan.C1MNeed{Conns: 1000000, Threads: 500000, Sources: plan.SourcesFor(1000000, s)})
	byItem := func(prefix string) results.Precond {
		i := slices.IndexFunc(rows, func(p results.Precond) bool { return strings.HasPrefix(p.Item, prefix) })
		if i < 0 {
			t.Fatalf("no %s row in %+v", prefix, rows)
		}
		return rows[i]
	}
	if p := byItem("net.ipv4.tcp_mem"); p.OK || p.Want != "287907 2000000 3000000" {
		t.Errorf("tcp_mem: %+v; want short, raised to 2 and 3 pages per connection", p)
	}
	if p := byItem("net.ipv4.tcp_max_orphans"); p.OK || !p.Optional || p.Sysctl == "" {
		t.Errorf("orphans: %+v; want short, optional, tunable", p)
	}
	if p := byItem("net.core.high_order_alloc_disable"); p.OK || !p.Optional || p.Want != "1" {
		t.Errorf("page fragments: %+v; want short, optional, set to 1 under -tune", p)
	}
	// Thread limits follow the thread model's count, not the million.
	if p := byItem("kernel.threads-max"); p.OK || atoi(p.Want) < 1000000 || atoi(p.Want) > 1100000 {
		t.Errorf("threads-max: %+v; want it sized for 500,000 threads", p)
	}
	if p := byItem("ephemeral ports"); !p.OK || !strings.Contains(p.Have, "127.0.0.2-127.0.0.") {
		t.Errorf("4-tuples: %+v; want enough source addresses for a million", p)
	}
	if p := byItem("open files per process"); !strings.Contains(p.Need, "1000000 connections → 56 server processes") {
		t.Errorf("fd row: %+v; want a million spread over 56 server processes", p)
	}
}

func TestSourcesFor(t *testing.T) {
	s := goodSystem() // 28,232 ephemeral ports
	for _, c := range []struct{ n, want int }{{10000, plan.AutoSources}, {1000000, 144}, {10000000, 250}} {
		if got := plan.SourcesFor(c.n, s); got != c.want {
			t.Errorf("SourcesFor(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}
