package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Run statuses, worst last so a cell shows the worst of its repetitions.
const (
	StatusOK            = "ok"
	StatusErrors        = "errors"
	StatusBadExit       = "bad-exit"
	StatusClientTimeout = "client-timeout"
	StatusNoStart       = "no-start"
	StatusHung          = "hung"
	StatusCrashed       = "crashed"
)

var statusRank = map[string]int{
	StatusOK: 0, StatusErrors: 1, StatusBadExit: 2, StatusClientTimeout: 3,
	StatusNoStart: 4, StatusHung: 5, StatusCrashed: 6,
}

// ServerSpec is one column of the comparison: a binary and the flags that
// select its model.
type ServerSpec struct {
	Key   string   `json:"key"`   // e.g. "10kthreads:thread"
	Label string   `json:"label"` // e.g. "10kthreads (thread)"
	Model string   `json:"model"`
	Path  string   `json:"path"`
	Args  []string `json:"args"`
}

// Run is one execution of one cell: the record written to runs.json. The
// figures are derived from the raw JSON files when the report is built, so
// the report can be regenerated from the raw data alone.
type Run struct {
	Server         string   `json:"server"`
	Label          string   `json:"label"`
	Model          string   `json:"model"`
	Workload       string   `json:"workload"`
	Conns          int      `json:"conns"`
	Rep            int      `json:"rep"`
	Status         string   `json:"status"`
	Detail         string   `json:"detail,omitempty"`
	ServerCmd      []string `json:"server_cmd"`
	ClientCmd      []string `json:"client_cmd"`
	ServerJSON     string   `json:"server_json"`
	ClientJSON     string   `json:"client_json"`
	ServerLog      string   `json:"server_log"`
	ClientLog      string   `json:"client_log"`
	ClientExit     int      `json:"client_exit"`
	ServerExit     string   `json:"server_exit"`
	WallS          float64  `json:"wall_s"`
	TimeWaitBefore Num      `json:"time_wait_before"`
	LoadBefore     Num      `json:"loadavg1_before"`
	SystemBusyS    Num      `json:"system_busy_cpu_s"` // all CPUs, all processes, during the run
	Sample         Sample   `json:"sample"`
	Probe          *Probe   `json:"probe,omitempty"`

	M Metrics `json:"-"`
}

var listenRE = regexp.MustCompile(`listening on (\S+)`)

// execParams are the knobs of one run that do not belong in the record.
type execParams struct {
	rawDir        string
	clientPath    string
	clientArgs    []string
	pin           bool
	cpus          [2]int
	startTimeout  time.Duration
	clientTimeout time.Duration
	stopTimeout   time.Duration
	// probe takes SIGUSR1 reports while idle and while the client holds
	// every connection (the client must run with -hold); acceptTiming also
	// times the server's thread creation during the ramp.
	probe        bool
	acceptTiming bool
	// byThreads: the server pays a thread or process per connection, so
	// the hold is detected from /proc instead of SIGUSR1 polling.
	byThreads bool
}

func runOne(spec ServerSpec, workload string, n, rep int, p execParams) (r Run) {
	base := fmt.Sprintf("%s_%s_%d_r%d", sanitize(spec.Key), workload, n, rep)
	r = Run{
		Server: spec.Key, Label: spec.Label, Model: spec.Model,
		Workload: workload, Conns: n, Rep: rep,
		ServerJSON: base + ".server.json", ClientJSON: base + ".client.json",
		ServerLog: base + ".server.log", ClientLog: base + ".client.log",
		ClientExit: -1,
	}
	start := time.Now()
	busy0 := cpuBusySeconds()
	defer func() {
		r.WallS = time.Since(start).Seconds()
		if b := cpuBusySeconds(); b.Set && busy0.Set {
			r.SystemBusyS = num(b.V - busy0.V)
		}
	}()
	r.TimeWaitBefore = timeWait()
	r.LoadBefore = loadAvg1()

	srvArgs := append(append([]string{}, spec.Args...), "-p", "0", "-j", filepath.Join(p.rawDir, r.ServerJSON))
	r.ServerCmd = pinned(p.pin, p.cpus[0], spec.Path, srvArgs)

	srvLog, err := os.Create(filepath.Join(p.rawDir, r.ServerLog))
	if err != nil {
		r.Status, r.Detail = StatusNoStart, err.Error()
		return r
	}
	defer srvLog.Close()

	kstack0 := kernelStackKiB()
	pr, pw, err := os.Pipe()
	if err != nil {
		r.Status, r.Detail = StatusNoStart, err.Error()
		return r
	}
	srv := exec.Command(r.ServerCmd[0], r.ServerCmd[1:]...)
	srv.Stdout = pw
	srv.Stderr = srvLog
	// Own process group, so a model that forks can be killed as a whole.
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		pw.Close()
		pr.Close()
		r.Status, r.Detail = StatusNoStart, err.Error()
		return r
	}
	pw.Close()

	addrCh := make(chan string, 1)
	readerDone := make(chan struct{})
	var logMu sync.Mutex
	go func() {
		defer close(readerDone)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		first := true
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			fmt.Fprintln(srvLog, line)
			logMu.Unlock()
			if first {
				first = false
				if m := listenRE.FindStringSubmatch(line); m != nil {
					addrCh <- m[1]
				} else {
					addrCh <- ""
				}
			}
		}
		if first {
			addrCh <- ""
		}
	}()
	// The report the server printed on SIGINT belongs in its log, so wait
	// for the reader before the deferred close of the log.
	defer func() {
		select {
		case <-readerDone:
		case <-time.After(2 * time.Second):
		}
	}()
	waitCh := make(chan error, 1)
	go func() { waitCh <- srv.Wait() }()

	killGroup := func() { _ = syscall.Kill(-srv.Process.Pid, syscall.SIGKILL) }

	var addr string
	select {
	case addr = <-addrCh:
	case <-time.After(p.startTimeout):
		killGroup()
		<-waitCh
		r.Status, r.Detail = StatusNoStart, fmt.Sprintf("no listening line within %s", p.startTimeout)
		return r
	}
	if addr == "" {
		var werr error
		select {
		case werr = <-waitCh:
		case <-time.After(p.stopTimeout):
			killGroup()
			werr = <-waitCh
		}
		killGroup()
		r.ServerExit = exitString(werr)
		r.Status, r.Detail = StatusNoStart, "no \"listening on ADDR\" line ("+r.ServerExit+"): "+firstLogLine(filepath.Join(p.rawDir, r.ServerLog))
		return r
	}

	var probeAfter, threads0 float64
	var groupThreads0 int
	if p.probe {
		r.Probe = &Probe{}
		threads0 = procStatus(srv.Process.Pid)["Threads"]
		probeAfter = idleReport(srv.Process.Pid, filepath.Join(p.rawDir, r.ServerJSON), p.rawDir, base, r.Probe)
		if t, ok := procStatus(srv.Process.Pid)["Threads"]; ok {
			threads0 = t
		}
		// After the idle report: workers of -P and the signal thread exist.
		groupThreads0, _ = groupThreads(srv.Process.Pid)
	}
	sampler := startSampler(srv.Process.Pid, kstack0)

	cliArgs := append([]string{"-n", strconv.Itoa(n), "-host", addr, "-json", filepath.Join(p.rawDir, r.ClientJSON)}, p.clientArgs...)
	r.ClientCmd = pinned(p.pin, p.cpus[1], p.clientPath, cliArgs)
	cliLog, err := os.Create(filepath.Join(p.rawDir, r.ClientLog))
	if err == nil {
		defer cliLog.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.clientTimeout)
	cli := exec.CommandContext(ctx, r.ClientCmd[0], r.ClientCmd[1:]...)
	cli.Stdout, cli.Stderr = cliLog, cliLog
	// At the time limit the client is interrupted first, so it still
	// writes its report (marked interrupted); killed only if it lingers.
	cli.Cancel = func() error { return cli.Process.Signal(os.Interrupt) }
	cli.WaitDelay = 5 * time.Second
	var werr error
	crashed := false
	cerr := cli.Start()
	var probeWG sync.WaitGroup
	probeCtx, probeStop := context.WithCancel(context.Background())
	if cerr == nil && p.probe {
		t0 := time.Now()
		probeWG.Add(1)
		go func() {
			defer probeWG.Done()
			holdReport(probeCtx, srv.Process.Pid, filepath.Join(p.rawDir, r.ServerJSON), p.rawDir, base, n, probeAfter, r.Probe, p.byThreads, groupThreads0)
		}()
		if p.acceptTiming {
			probeWG.Add(1)
			go func() {
				defer probeWG.Done()
				acceptTimer(probeCtx, srv.Process.Pid, n, t0, threads0, r.Probe)
			}()
		}
	}
	if cerr == nil {
		cliDone := make(chan error, 1)
		go func() { cliDone <- cli.Wait() }()
		select {
		case cerr = <-cliDone:
		case werr = <-waitCh:
			// The server died under the client: give the client a moment
			// to notice and write its report, then stop waiting for it.
			crashed = true
			select {
			case cerr = <-cliDone:
			case <-time.After(5 * time.Second):
				cancel()
				cerr = <-cliDone
			}
		}
	}
	timedOut := ctx.Err() == context.DeadlineExceeded
	cancel()
	probeStop()
	probeWG.Wait()
	if r.Probe != nil {
		// Children of the fork model exit as the client closes; give the
		// server a moment to reap them, so their CPU is in its cutime.
		time.Sleep(300 * time.Millisecond)
		r.Probe.EndGroupCPUS = groupCPU(srv.Process.Pid)
	}
	if cli.ProcessState != nil {
		r.ClientExit = cli.ProcessState.ExitCode()
	}
	r.Sample = sampler.stop()

	// A server that died while the client ran is a crash, whatever the
	// client saw.
	if !crashed {
		select {
		case werr = <-waitCh:
			crashed = true
		default:
		}
	}
	hung := false
	if !crashed {
		_ = srv.Process.Signal(syscall.SIGINT)
		select {
		case werr = <-waitCh:
		case <-time.After(p.stopTimeout):
			hung = true
			killGroup()
			werr = <-waitCh
		}
	}
	// Leftover children of process models must not outlive the run.
	killGroup()
	r.ServerExit = exitString(werr)

	switch {
	case crashed:
		r.Status = StatusCrashed
		r.Detail = "server exited during the run (" + r.ServerExit + ")"
	case hung:
		r.Status = StatusHung
		r.Detail = fmt.Sprintf("server did not exit within %s of SIGINT; killed", p.stopTimeout)
	case timedOut:
		r.Status = StatusClientTimeout
		r.Detail = fmt.Sprintf("client did not finish within %s; killed", p.clientTimeout)
	case werr != nil:
		r.Status = StatusBadExit
		r.Detail = "server exit after SIGINT: " + r.ServerExit
	case cerr != nil:
		r.Status = StatusErrors
		r.Detail = "client: " + exitString(cerr) + ": " + lastLine(filepath.Join(p.rawDir, r.ClientLog))
	default:
		r.Status = StatusOK
	}
	return r
}

func pinned(pin bool, cpu int, path string, args []string) []string {
	if !pin {
		return append([]string{path}, args...)
	}
	return append([]string{"taskset", "-c", strconv.Itoa(cpu), path}, args...)
}

func exitString(err error) string {
	if err == nil {
		return "exit 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	return err.Error()
}

func firstLogLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	l, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(l)
}

func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return '-'
	}, s)
}

// sampler watches the server from outside while the client runs: the
// server's own report comes at exit, after its threads (and their kernel
// stacks) are gone, so the peak must be observed live.
type sampler struct {
	done chan struct{}
	res  chan Sample
}

func startSampler(pid int, kstack0 Num) *sampler {
	s := &sampler{done: make(chan struct{}), res: make(chan Sample, 1)}
	go func() {
		var out Sample
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		take := func() {
			if k := kernelStackKiB(); k.Set && kstack0.Set {
				d := k.V - kstack0.V
				if !out.KStackPeakDeltaKiB.Set || d > out.KStackPeakDeltaKiB.V {
					out.KStackPeakDeltaKiB = num(d)
				}
			}
			st := procStatus(pid)
			if t, ok := st["Threads"]; ok && !out.ThreadsStart.Set {
				out.ThreadsStart = num(t)
			}
			if t, ok := st["Threads"]; ok && (!out.ThreadsPeak.Set || t > out.ThreadsPeak.V) {
				out.ThreadsPeak = num(t)
			}
			if h, ok := st["VmHWM"]; ok && (!out.VmHWMKiB.Set || h > out.VmHWMKiB.V) {
				out.VmHWMKiB = num(h)
			}
		}
		for {
			take()
			select {
			case <-s.done:
				take()
				s.res <- out
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop() Sample {
	close(s.done)
	return <-s.res
}

func procStatus(pid int) map[string]float64 {
	out := map[string]float64{}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	defer f.Close()
	readKV(f, out)
	return out
}

// readKV parses "Key:   123 kB" lines.
func readKV(rd io.Reader, out map[string]float64) {
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		if f, err := strconv.ParseFloat(fs[0], 64); err == nil {
			out[k] = f
		}
	}
}

func meminfo() map[string]float64 {
	out := map[string]float64{}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return out
	}
	defer f.Close()
	readKV(f, out)
	return out
}

func kernelStackKiB() Num {
	if v, ok := meminfo()["KernelStack"]; ok {
		return num(v)
	}
	return Num{}
}

// timeWait reads the system's TIME_WAIT count: recorded per run so a reader
// can see that one run's leftovers did not starve the next.
func timeWait() Num {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return Num{}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "TCP:") {
			continue
		}
		fs := strings.Fields(line)
		for i := 1; i+1 < len(fs); i++ {
			if fs[i] == "tw" {
				if v, err := strconv.ParseFloat(fs[i+1], 64); err == nil {
					return num(v)
				}
			}
		}
	}
	return Num{}
}

// cpuBusySeconds is the machine's total non-idle CPU time so far, from
// /proc/stat; the runner subtracts the server's and client's own CPU to
// show how much other processes interfered with a run.
func cpuBusySeconds() Num {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Num{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return Num{}
	}
	var busy float64
	for i, v := range f[1:] {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return Num{}
		}
		// idle and iowait are not busy; guest time is already in user.
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		busy += x
	}
	return num(busy / 100) // USER_HZ is 100 on Linux
}

func loadAvg1() Num {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return Num{}
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return Num{}
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return Num{}
	}
	return num(v)
}
