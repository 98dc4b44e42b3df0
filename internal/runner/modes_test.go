package runner

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/testkit"
)

// realBin is the repository's bin/ with the real servers and client.
func realBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(testkit.RepoRoot(t), "bin")
	for _, b := range []string{"10kthreads", "ref_async_server", "client"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			t.Fatalf("bin/%s not found: run make first", b)
		}
	}
	return bin
}

func noEnv(string) string { return "" }

// onlyDir returns the single directory under out whose name starts with
// prefix.
func onlyDir(t *testing.T, out, prefix string) string {
	t.Helper()
	ents, _ := os.ReadDir(out)
	var dirs []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			dirs = append(dirs, filepath.Join(out, e.Name()))
		}
	}
	if len(dirs) != 1 {
		t.Fatalf("want one %s* directory in %s, got %v", prefix, out, dirs)
	}
	return dirs[0]
}

// modeRun is the directory a mode wrote and what it printed.
type modeRun struct{ dir, stdout, stderr string }

// runMode runs o's mode, which must exit 0, and reads its summary
// (MODE.json in the one MODE-* directory under o.Out) into rep.
func runMode(t *testing.T, o plan.Options, env Env, rep any) modeRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := execute(o, env, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	dir := onlyDir(t, o.Out, o.Mode+"-")
	testkit.ReadJSON(t, filepath.Join(dir, o.Mode+".json"), rep)
	return modeRun{dir, stdout.String(), stderr.String()}
}

// checkRebuild: -report rebuilds a mode's directory from its raw data
// and prints want.
func checkRebuild(t *testing.T, dir, want string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"-report", dir}, noEnv, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), want) {
		t.Errorf("-report %s: exit %d, want %q in\n%s\n%s", dir, code, want, stdout.String(), stderr.String())
	}
}

func TestBenchTiny(t *testing.T) {
	bin := realBin(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := Main([]string{"-bench", "-quick", "-counts", "5", "-reps", "1", "-hold", "800ms", "-duration", "200ms", "-out", out, "-bin", bin}, noEnv, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	dir := onlyDir(t, out, "bench-")
	for _, f := range []string{"bench.json", "bench.txt", "runs.json", "meta.json", "results.csv"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	var rep report.BenchReport
	testkit.ReadJSON(t, filepath.Join(dir, "bench.json"), &rep)
	if rep.Schema != report.BenchSchema {
		t.Errorf("schema %q", rep.Schema)
	}
	want := map[string]bool{}
	for _, f := range rep.Figures {
		if f.Median.Set {
			want[f.Key+" "+f.Server] = true
		}
	}
	for _, k := range []string{
		"mem_user_kib_per_conn 10kthreads:thread", "mem_user_kib_per_conn 10kthreads:epoll", "mem_user_kib_per_conn ref_async_server",
		"kstack_kib_per_conn 10kthreads:thread", "cpu_us_per_rt 10kthreads:thread", "cpu_us_per_rt ref_async_server",
		"connect_all_s 10kthreads:thread", "gib_per_s 10kthreads:thread", "gib_per_s 10kthreads:epoll", "held_conns 10kthreads:thread",
		"mem_user_kib_per_conn 10kthreads:uring", "cpu_us_per_rt 10kthreads:uring", "gib_per_s 10kthreads:uring",
	} {
		if !want[k] {
			t.Errorf("figure %s not measured", k)
		}
	}
	// A thread per connection shows about one kernel stack per connection.
	for _, f := range rep.Figures {
		if f.Key == "kstack_kib_per_conn" && f.Server == "10kthreads:thread" && f.Median.Set && f.Median.V < 4 {
			t.Errorf("thread model kernel stack %v KiB per connection, want about one stack", f.Median)
		}
	}
	keys := map[string]bool{}
	for _, tg := range rep.Targets {
		keys[tg.Key] = true
	}
	for _, k := range []string{"memory", "cpu_per_rt_5", "uring_memory", "accept", "large_transfer", "scale"} {
		if !keys[k] {
			t.Errorf("target %s missing", k)
		}
	}
	txt := stdout.String()
	for _, w := range []string{"user-space resident memory per idle connection", "× epoll", "× Go ref", "target (performance)", "Interference", "n/a: serves one connection at a time"} {
		if !strings.Contains(txt, w) {
			t.Errorf("table lacks %q:\n%s", w, txt)
		}
	}
	// The hold reports were taken during the hold, from SIGUSR1.
	runs := readRuns(t, dir)
	probed := 0
	for _, r := range runs {
		if r.Probe != nil && r.Probe.HoldJSON != "" {
			probed++
			if _, err := os.Stat(filepath.Join(dir, "raw", r.Probe.HoldJSON)); err != nil {
				t.Errorf("hold report file: %v", err)
			}
		}
	}
	if probed < 3 {
		t.Errorf("only %d runs have a hold report", probed)
	}
}

func TestModelsTiny(t *testing.T) {
	bin := realBin(t)
	thr := filepath.Join(bin, "10kthreads")
	o := plan.Options{Mode: "models", Bin: bin, Out: t.TempDir(), NoPin: true, Reps: plan.Given(1),
		Counts: plan.Given([]int{4}), Hold: plan.Given(700 * time.Millisecond), Echo: plan.Given(200 * time.Millisecond),
		StopTimeout: 5 * time.Second, Command: "test"}
	env := Env{Concurrency: []int{4}, Servers: []results.ServerSpec{
		{Key: "10kthreads:thread", Label: "10kthreads (thread)", Model: "thread", Path: thr},
		{Key: "10kthreads:prethread", Label: "10kthreads (prethread)", Model: "prethread", Path: thr, Args: []string{"-M", "prethread"}},
	}}
	var rep report.ModelsReport
	dir := runMode(t, o, env, &rep).dir
	if rep.Schema != report.ModelsSchema || len(rep.Reconnect) != 2 || len(rep.LongLived) != 2 || rep.RequestDelayUS != 10000 {
		t.Fatalf("models.json: schema %q, %d reconnect cells, %d long-lived rows, delay %d µs", rep.Schema, len(rep.Reconnect), len(rep.LongLived), rep.RequestDelayUS)
	}
	// Each request waits 10 ms: 4 clients served together make at most
	// 400 requests/s, whatever the machine.
	for _, c := range rep.Reconnect {
		if !c.RequestsPerS.Set || c.RequestsPerS.V <= 0 || c.RequestsPerS.V > 400 || c.PeakWaiting.V < 1 {
			t.Errorf("%s: %v requests/s, peak waiting %v; want up to 4 / 10 ms and requests waiting", c.Server, c.RequestsPerS, c.PeakWaiting)
		}
	}
	for _, r := range readRuns(t, dir) {
		if cmd := strings.Join(r.ServerCmd, " "); (r.Workload == "reconnect") != strings.Contains(cmd, "-d 10ms") {
			t.Errorf("%s run: server %s; want -d 10ms in the connection-per-request runs only", r.Workload, cmd)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "models_rps.png")); err != nil {
		t.Errorf("plot: %v", err)
	}
	for _, l := range rep.LongLived {
		if l.Server == "10kthreads:prethread" && !strings.Contains(strings.Join(l.Args, " "), "-w 4") {
			t.Errorf("pre-creating model not sized to the connections: %v", l.Args)
		}
		if !l.CPUPerRTus.Set || !l.KiBPerConnIdle.Set {
			t.Errorf("%s: long-lived figures missing: %+v", l.Server, l)
		}
		// Every part of the machine's memory, adding up; a thread per
		// connection pays its kernel objects, every model a socket end.
		p := l.MachineParts
		if sum := p.Sum(); !sum.Set || !l.MachinePerC.Set || math.Abs(sum.V-l.MachinePerC.V) > 1e-9 || p.Sockets.V <= 0 || !l.ClientMachine.Set {
			t.Errorf("%s: machine %v KiB/conn from parts %+v (client %v); want every part, adding up, and a socket", l.Server, l.MachinePerC, p, l.ClientMachine)
		}
		if l.Server == "10kthreads:thread" && p.ThreadObjects.V <= 0 {
			t.Errorf("thread: no thread objects in %+v", p)
		}
	}
	if rep.Calibration == nil || !rep.Calibration.Socket.SlabKiB.Set {
		t.Errorf("models.json has no calibration: %+v", rep.Calibration)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "models.md"))
	for _, w := range []string{"| concurrency | thread | prethread |", "| 4 |", "## Long-lived connections", "CPU µs/round trip", "what a connection costs the machine", "**machine KiB/conn**", "epoll registration", "(`-d 10ms`)", "![requests/s against concurrency](models_rps.svg)"} {
		if !strings.Contains(string(md), w) {
			t.Errorf("models.md lacks %q:\n%s", w, md)
		}
	}
	// The tables can be rebuilt from the raw data.
	os.Remove(filepath.Join(dir, "models.md"))
	checkRebuild(t, dir, "| concurrency |")
	if _, err := os.Stat(filepath.Join(dir, "models.md")); err != nil {
		t.Errorf("models.md not rewritten: %v", err)
	}
}

// fakeSysctls makes a /proc/sys lookalike with the given files.
func fakeSysctls(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, v := range files {
		p := sysctlPath(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func sysctlValue(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(sysctlPath(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func withRoot(t *testing.T, root bool) {
	t.Helper()
	old := isRoot
	isRoot = func() bool { return root }
	t.Cleanup(func() { isRoot = old })
}

func c100kOptions(t *testing.T, counts []int) (plan.Options, Env) {
	bin := realBin(t)
	o := plan.Options{Mode: "c100k", Bin: bin, Out: t.TempDir(), NoPin: true, Reps: plan.Given(1), Counts: plan.Given(counts),
		Hold: plan.Given(800 * time.Millisecond), StopTimeout: 5 * time.Second, Command: "test"}
	return o, Env{Servers: []results.ServerSpec{{Key: "10kthreads:thread", Label: "10kthreads (thread)", Model: "thread", Path: filepath.Join(bin, "10kthreads")}}}
}

func TestC100KPreconditionStopsWithCommands(t *testing.T) {
	s := goodSystem()
	s.PidMax, s.MaxMapCount = 32768, 65530
	withSystem(t, s)
	o, env := c100kOptions(t, []int{100000})
	var stdout, stderr bytes.Buffer
	code := execute(o, env, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr.String())
	}
	for _, w := range []string{"precondition failed, nothing was run", "sysctl -w kernel.pid_max=", "rerun with -tune", "6 server processes (-P) and 6 client processes"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
		}
	}
	if ents, _ := os.ReadDir(o.Out); len(ents) != 0 {
		t.Errorf("a results directory was created although nothing ran")
	}
	// As a user meets it: the command line, not the options.
	stderr.Reset()
	if code := Main([]string{"-c100k", "-counts", "100000", "-bin", o.Bin, "-out", o.Out}, noEnv, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "sysctl -w kernel.pid_max=") {
		t.Errorf("Main: exit %d\n%s", code, stderr.String())
	}
}

func TestC100KTuneNeedsRoot(t *testing.T) {
	s := goodSystem()
	s.PidMax = 32768
	withSystem(t, s)
	withRoot(t, false)
	o, env := c100kOptions(t, []int{100000})
	o.Tune = true
	var stdout, stderr bytes.Buffer
	if code := execute(o, env, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "-tune needs root") {
		t.Errorf("exit %d\n%s", code, stderr.String())
	}
}

// TestC100KTuneRunsAndRestores runs a tiny c100k under a simulated fd
// limit of 300, so 400 connections need two server and two client
// processes, with a pid_max that -tune must raise in a fake /proc/sys.
func TestC100KTuneRunsAndRestores(t *testing.T) {
	s := goodSystem()
	s.FDHard, s.PidMax = 300, 1000
	withSystem(t, s)
	withRoot(t, true)
	root := fakeSysctls(t, map[string]string{"kernel.pid_max": "1000"})
	o, env := c100kOptions(t, []int{400})
	o.Tune, env.SysctlRoot = true, root
	var stdout, stderr bytes.Buffer
	code := execute(o, env, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if v := sysctlValue(t, root, "kernel.pid_max"); v != "1000" {
		t.Errorf("pid_max %s after the run, want 1000 restored", v)
	}
	if !strings.Contains(stderr.String(), "restored kernel.pid_max to 1000") {
		t.Errorf("no restore message:\n%s", stderr.String())
	}
	dir := onlyDir(t, o.Out, "c100k-")
	var rep report.C100KReport
	testkit.ReadJSON(t, filepath.Join(dir, "c100k.json"), &rep)
	if len(rep.Tuned) != 1 || rep.Tuned[0].Name != "kernel.pid_max" || rep.Tuned[0].Old != "1000" {
		t.Errorf("tuned: %+v", rep.Tuned)
	}
	if len(rep.Rows) != 1 || rep.Rows[0].ServerProcs != 2 || rep.Rows[0].ClientProcs != 2 {
		t.Fatalf("rows: %+v", rep.Rows)
	}
	r := rep.Rows[0]
	if r.Status != results.StatusOK || !r.Verified.Set || r.Verified.V != 400 || !r.UserKiBPerConn.Set || !r.KStackPerConn.Set {
		t.Errorf("row: %+v", r)
	}
	// The client lingers until the readings are taken: never late, and
	// its own memory per connection is measured.
	if r.Note != "" || !r.ClientUserKiBPerConn.Set || r.ClientUserKiBPerConn.V <= 0 {
		t.Errorf("row note %q, client user KiB/conn %v; want no note and a figure", r.Note, r.ClientUserKiBPerConn)
	}
	for _, key := range []string{"client_user_kib_per_conn", "client_ramp"} {
		i := slices.IndexFunc(rep.Targets, func(tg report.BenchTarget) bool { return tg.Key == key })
		if i < 0 || !rep.Targets[i].Value.Set || rep.Targets[i].Met == nil {
			t.Errorf("target %s missing or not measured: %+v", key, rep.Targets)
		}
	}
	script, _ := os.ReadFile(filepath.Join(dir, "sysctl-restore.sh"))
	if !strings.Contains(string(script), `sysctl -w kernel.pid_max="1000"`) {
		t.Errorf("restore script: %s", script)
	}
	for _, f := range []string{"report.md", "results.csv", "runs.json", "c100k.txt", "mem_per_conn.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(stdout.String(), "target (c100k)") {
		t.Errorf("no targets table:\n%s", stdout.String())
	}
}

// TestC100KUring: the io_uring model runs once, at the largest count, with
// -P when the fd limit (simulated: 300) needs it, and has its own target.
func TestC100KUring(t *testing.T) {
	s := goodSystem()
	s.FDHard = 300
	withSystem(t, s)
	o, env := c100kOptions(t, []int{100, 400})
	thr := env.Servers[0]
	env.Servers = append(env.Servers, results.ServerSpec{Key: "10kthreads:uring", Label: "10kthreads (uring)",
		Model: "uring", Path: thr.Path, Args: []string{"-M", "uring"}})
	var stdout, stderr bytes.Buffer
	if code := execute(o, env, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	var rep report.C100KReport
	testkit.ReadJSON(t, filepath.Join(onlyDir(t, o.Out, "c100k-"), "c100k.json"), &rep)
	var uring []report.C100KRow
	for _, r := range rep.Rows {
		if r.Server == "10kthreads:uring" {
			uring = append(uring, r)
		}
	}
	if len(rep.Rows) != 3 || len(uring) != 1 || uring[0].Conns != 400 || uring[0].ServerProcs != 2 {
		t.Fatalf("rows: %+v", rep.Rows)
	}
	for _, tg := range rep.Targets {
		if tg.Key == "uring_held" && (tg.Met == nil || !*tg.Met) {
			t.Errorf("uring target not met: %+v", tg)
		}
	}
	if !strings.Contains(stdout.String(), "uring model: 400 connections, 0 errors, every connection verified") {
		t.Errorf("no uring target:\n%s", stdout.String())
	}
}

func TestC100KTuneRestoresOnInterrupt(t *testing.T) {
	s := goodSystem()
	s.PidMax = 1000
	withSystem(t, s)
	withRoot(t, true)
	root := fakeSysctls(t, map[string]string{"kernel.pid_max": "1000"})
	o, env := c100kOptions(t, []int{50})
	// Interrupted from the start.
	intr := make(chan struct{})
	close(intr)
	o.Tune, env.SysctlRoot, env.Interrupt = true, root, intr
	// The campaign's signal goroutine writes to stderr too.
	var stdout bytes.Buffer
	var stderr testkit.SyncBuffer
	if code := execute(o, env, &stdout, &stderr); code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, stderr.String())
	}
	if v := sysctlValue(t, root, "kernel.pid_max"); v != "1000" {
		t.Errorf("pid_max %s after an interrupt, want 1000", v)
	}
}

func TestC100KTuneRestoresOnFailure(t *testing.T) {
	s := goodSystem()
	s.PidMax, s.ThreadsMax = 1000, 1000
	withSystem(t, s)
	withRoot(t, true)
	// threads-max is missing from the fake root: the second write fails.
	root := fakeSysctls(t, map[string]string{"kernel.pid_max": "1000"})
	o, env := c100kOptions(t, []int{50})
	o.Tune, env.SysctlRoot = true, root
	var stdout, stderr bytes.Buffer
	if code := execute(o, env, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "kernel.threads-max") {
		t.Errorf("exit %d, want 1 naming threads-max\n%s", code, stderr.String())
	}
	if v := sysctlValue(t, root, "kernel.pid_max"); v != "1000" {
		t.Errorf("pid_max %s after a failed -tune, want 1000", v)
	}
}

func TestModeUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"-tune"}, {"-bench", "-models"}, {"-c100k", "-report", "x"}, {"-bench", "-full"},
		{"-budget", "1m"}, {"-ceiling", "-budget", "-1s"}, {"-ceiling", "-counts", "100"}, {"-ceiling", "-counts", "100,100"}, {"-bench", "-tune"},
		{"-c100k", "-reps", "2"}, {"-keepalive", "-hold", "1s"}, {"-models", "-reps", "2"}, {"-soak", "-counts", "10"}, {"-ceiling", "-duration", "1s"}, {"-bench", "-servers", "x"}} {
		var stdout, stderr bytes.Buffer
		if code := Main(args, noEnv, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage: experiment") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

func TestTuningSetRestore(t *testing.T) {
	root := fakeSysctls(t, map[string]string{"kernel.pid_max": "32768", "vm.max_map_count": "65530"})
	tu := &Tuning{Root: root}
	if err := tu.Set("kernel.pid_max", "203776"); err != nil {
		t.Fatal(err)
	}
	if err := tu.Set("vm.max_map_count", "131072"); err != nil {
		t.Fatal(err)
	}
	if v := sysctlValue(t, root, "kernel.pid_max"); v != "203776" {
		t.Errorf("pid_max %s", v)
	}
	lines, bad := tu.Restore()
	if bad || len(lines) != 2 || !strings.HasPrefix(lines[0], "restored vm.max_map_count") {
		t.Errorf("restore: %v %v", lines, bad)
	}
	if sysctlValue(t, root, "kernel.pid_max") != "32768" || sysctlValue(t, root, "vm.max_map_count") != "65530" {
		t.Error("values not restored")
	}
	if err := tu.Set("kernel.nonexistent", "1"); err == nil {
		t.Error("writing a missing sysctl succeeded")
	}
}
