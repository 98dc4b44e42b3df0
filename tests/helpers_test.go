package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Every wait is bounded so that a hung binary fails the test instead of the
// whole run hanging; the bounds are generous and never asserted on.
const (
	startTimeout  = 15 * time.Second
	exitTimeout   = 30 * time.Second
	reportTimeout = 15 * time.Second
	ioTimeout     = 60 * time.Second
)

type serverKind struct {
	name string // binary name under bin/, also the message prefix
	// goroutine-model servers add a "goroutines" line to the report.
	model string
}

var servers = []serverKind{
	{name: "10kthreads", model: "thread"},
	{name: "ref_async_server", model: "goroutine"},
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// repoRoot is the parent of the package directory, where go test runs us.
func repoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		rootDir = filepath.Dir(wd)
		if _, err := os.Stat(filepath.Join(rootDir, "go.mod")); err != nil {
			rootErr = fmt.Errorf("repository root not found above %s: %v", wd, err)
		}
	})
	if rootErr != nil {
		t.Fatal(rootErr)
	}
	return rootDir
}

// binary returns bin/name, failing (never skipping) when it was not built.
// For the C server, TENKTHREADS_BIN (an absolute path, set by make asan,
// ubsan and tsan) names a sanitizer build to test instead.
func binary(t testing.TB, name string) string {
	t.Helper()
	if p := os.Getenv("TENKTHREADS_BIN"); p != "" && name == "10kthreads" {
		if !filepath.IsAbs(p) {
			t.Fatalf("TENKTHREADS_BIN=%s: want an absolute path", p)
		}
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			t.Fatalf("TENKTHREADS_BIN=%s: missing or not executable", p)
		}
		return p
	}
	p := filepath.Join(repoRoot(t), "bin", name)
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		t.Fatalf("bin/%s missing or not executable: run make first", name)
	}
	return p
}

// sanitizer names the sanitizer the C server under test was built with
// (TENKTHREADS_SANITIZER: asan, ubsan or tsan), or "" for a plain build.
func sanitizer() string { return os.Getenv("TENKTHREADS_SANITIZER") }

// tsanMaxConns keeps a ThreadSanitizer build well below the ~8K live
// threads its runtime can track. It is lower still because TSan creates
// threads slowly (260-800/s here, ~1 MiB each): with 3,000 and 7,000
// connections the last accepted ones waited longer than the client's 10 s
// deadline for their echo.
const tsanMaxConns = 1000

// connScale returns n, the number of concurrent connections a test wants,
// or less when this machine cannot hold that many: under ThreadSanitizer,
// or when the open-file hard limit leaves no room for n descriptors in each
// of the client and the server. It says why when it scales down, and fails
// when too little is left for the test to mean anything.
func connScale(t testing.TB, n int) int {
	t.Helper()
	const spare = 200 // stdio, listener, epoll, runtime: well under this
	want := n
	if sanitizer() == "tsan" && n > tsanMaxConns {
		n = tsanMaxConns
		t.Logf("ThreadSanitizer tracks ~8K live threads and creates them slowly: testing %d connections instead of %d", n, want)
	}
	if limit := fdHardLimit(t); limit < uint64(n+spare) {
		n = int(limit) - spare
		t.Logf("fd hard limit %d is below %d: testing %d connections instead of %d", limit, want+spare, n, want)
		if n < 1000 {
			t.Fatalf("fd hard limit %d leaves room for only %d connections", limit, n)
		}
	}
	return n
}

// syncBuffer is written by exec's copying goroutine and read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type server struct {
	t      testing.TB
	kind   serverKind
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	addr   string // host:port from the start line
	start  string // the start line itself
	done   chan struct{}
	err    error // from Wait, valid after done is closed
}

var listenRE = regexp.MustCompile(`listening on (\S+)`)

// sanitizerReportRE matches the first line of an AddressSanitizer,
// LeakSanitizer, ThreadSanitizer or UndefinedBehaviorSanitizer report.
var sanitizerReportRE = regexp.MustCompile(`(?m)^.*(ERROR: \w+Sanitizer|WARNING: ThreadSanitizer|ThreadSanitizer: |runtime error: ).*$`)

// startServer runs a server on a kernel-chosen port and waits for its start
// line. The server is always killed when the test ends.
func startServer(t testing.TB, kind serverKind, args ...string) *server {
	t.Helper()
	return startWrapped(t, kind, nil, args...)
}

// startWrapped is startServer with a command in front of the binary (such
// as prlimit), so that a limit holds from the server's first instruction.
func startWrapped(t testing.TB, kind serverKind, wrapper []string, args ...string) *server {
	t.Helper()
	bin := binary(t, kind.name)
	s := &server{
		t: t, kind: kind,
		stdout: &syncBuffer{}, stderr: &syncBuffer{},
		done: make(chan struct{}),
	}
	argv := append(append(append([]string{}, wrapper...), bin, "-p", "0"), args...)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", strings.Join(argv, " "), err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
		if m := sanitizerReportRE.FindString(s.stderr.String()); m != "" {
			t.Errorf("%s: sanitizer report on stderr: %q", kind.name, m)
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", kind.name, s.stdout, kind.name, s.stderr)
		}
	})
	deadline := time.Now().Add(startTimeout)
	for {
		if line, _, ok := strings.Cut(s.stdout.String(), "\n"); ok {
			s.start = line
			m := listenRE.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("%s: first stdout line has no %q: %q", kind.name, listenRE, line)
			}
			s.addr = m[1]
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("%s exited before its start line (%v); stderr: %s", strings.Join(argv, " "), s.err, s.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no start line within %v", kind.name, startTimeout)
		}
	}
}

func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("%s: signal %v: %v", s.kind.name, sig, err)
	}
}

// waitExit waits for the server to exit and returns its exit status.
func (s *server) waitExit() int {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(exitTimeout):
		s.t.Fatalf("%s did not exit within %v", s.kind.name, exitTimeout)
	}
	return exitCode(s.t, s.err)
}

// stop sends SIGINT, requires exit 0 and returns the final (EXITING) report.
func (s *server) stop() report {
	s.t.Helper()
	s.signal(syscall.SIGINT)
	if code := s.waitExit(); code != 0 {
		s.t.Fatalf("%s: exit status %d after SIGINT, want 0", s.kind.name, code)
	}
	reps := parseReports(s.t, s.kind, s.stdout.String())
	if len(reps) == 0 || reps[len(reps)-1].event != "EXITING" {
		s.t.Fatalf("%s: no EXITING report after SIGINT", s.kind.name)
	}
	return reps[len(reps)-1]
}

// usr1 asks for a report and returns it once it is complete on stdout.
func (s *server) usr1() report {
	s.t.Helper()
	before := len(parseReports(s.t, s.kind, s.stdout.String()))
	s.signal(syscall.SIGUSR1)
	deadline := time.Now().Add(reportTimeout)
	for time.Now().Before(deadline) {
		reps := parseReports(s.t, s.kind, s.stdout.String())
		if len(reps) > before && reps[len(reps)-1].complete(s.kind) {
			return reps[len(reps)-1]
		}
		select {
		case <-s.done:
			s.t.Fatalf("%s exited after SIGUSR1 (%v)", s.kind.name, s.err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.t.Fatalf("%s: no complete REPORT within %v of SIGUSR1", s.kind.name, reportTimeout)
	return report{}
}

// waitIdle polls with SIGUSR1 until the server says Now: 0. Closing is
// asynchronous: a client can exit before the server has seen every EOF.
func (s *server) waitIdle() report {
	s.t.Helper()
	deadline := time.Now().Add(exitTimeout)
	for {
		r := s.usr1()
		if r.now == 0 {
			return r
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: still %d connections open %v after the client finished", s.kind.name, r.now, exitTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// report is one parsed text report.
type report struct {
	event               string // EXITING or REPORT
	resident            int64
	maxConc, total, now int64
	labels              map[string]string // aligned block: label -> value
	raw                 string
	malformedBlockLines []string
}

// blockLabels are the labels every server's aligned block must carry.
var blockLabels = []string{
	"server", "uptime", "user CPU", "system CPU", "peak resident", "resident now",
	"resident high water", "resident at start", "memory per peak conn", "threads",
	"page faults", "context switches", "bytes echoed", "connections accepted",
	"connections reset", "thread create failures", "accept errors", "kernel stack (est.)",
}

func wantLabels(kind serverKind) []string {
	if kind.model == "goroutine" {
		return append(append([]string{}, blockLabels...), "goroutines")
	}
	return blockLabels
}

func (r report) complete(kind serverKind) bool {
	for _, l := range wantLabels(kind) {
		if _, ok := r.labels[l]; !ok {
			return false
		}
	}
	return true
}

const labelWidth = 24

// parseReports splits stdout into reports. The six head lines are the
// original kit's format and are checked strictly; a report still being
// written comes back incomplete rather than failing.
func parseReports(t testing.TB, kind serverKind, out string) []report {
	t.Helper()
	lines := strings.Split(out, "\n")
	var reps []report
	for i := 0; i < len(lines); i++ {
		if lines[i] != "EXITING" && lines[i] != "REPORT" {
			continue
		}
		r := report{event: lines[i], labels: map[string]string{}}
		if i+6 >= len(lines) { // head not fully out yet
			reps = append(reps, r)
			break
		}
		head := lines[i+1 : i+6]
		var err error
		if head[0] != "resident" {
			t.Fatalf("%s: line after %s is %q, want \"resident\"", kind.name, r.event, head[0])
		}
		if r.resident, err = strconv.ParseInt(head[1], 10, 64); err != nil || r.resident <= 0 {
			t.Fatalf("%s: resident value %q is not a positive number", kind.name, head[1])
		}
		for j, f := range []struct {
			prefix string
			dst    *int64
		}{{"Max conc: ", &r.maxConc}, {"Total: ", &r.total}, {"Now: ", &r.now}} {
			v, ok := strings.CutPrefix(head[2+j], f.prefix)
			if !ok {
				t.Fatalf("%s: report line %d is %q, want %q<number>", kind.name, 4+j, head[2+j], f.prefix)
			}
			if *f.dst, err = strconv.ParseInt(v, 10, 64); err != nil {
				t.Fatalf("%s: %q: not a number", kind.name, head[2+j])
			}
		}
		j := i + 6
		for ; j < len(lines) && lines[j] != "" && lines[j] != "EXITING" && lines[j] != "REPORT"; j++ {
			l := lines[j]
			if len(l) <= labelWidth || l[labelWidth-1] != ' ' || l[labelWidth] == ' ' {
				r.malformedBlockLines = append(r.malformedBlockLines, l)
				continue
			}
			label := strings.TrimRight(l[:labelWidth], " ")
			r.labels[label] = l[labelWidth:]
		}
		r.raw = strings.Join(lines[i:j], "\n")
		reps = append(reps, r)
		i = j - 1
	}
	return reps
}

// checkReport asserts the full shape of a report and its three counters.
func checkReport(t testing.TB, kind serverKind, r report, event string, maxConc, total, now int64) {
	t.Helper()
	if r.event != event {
		t.Errorf("%s: report starts with %q, want %q", kind.name, r.event, event)
	}
	if r.maxConc != maxConc || r.total != total || r.now != now {
		t.Errorf("%s: Max conc %d, Total %d, Now %d; want %d, %d, %d",
			kind.name, r.maxConc, r.total, r.now, maxConc, total, now)
	}
	for _, l := range wantLabels(kind) {
		if _, ok := r.labels[l]; !ok {
			t.Errorf("%s: report lacks label %q (values must start at column %d)", kind.name, l, labelWidth+1)
		}
	}
	for _, l := range r.malformedBlockLines {
		t.Errorf("%s: report line not aligned at column %d: %q", kind.name, labelWidth+1, l)
	}
	if v := r.labels["connections accepted"]; v != "" && firstField(v) != strconv.FormatInt(total, 10) {
		t.Errorf("%s: connections accepted %q, want %d", kind.name, v, total)
	}
	if v := r.labels["server"]; v != "" && !strings.HasPrefix(v, kind.name+" ") {
		t.Errorf("%s: server line %q does not name %s", kind.name, v, kind.name)
	}
	if t.Failed() {
		t.Logf("report:\n%s", r.raw)
	}
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// exitCode maps a Wait/Run error to an exit status; a signal death fails.
func exitCode(t testing.TB, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() < 0 {
			t.Fatalf("process died: %v", err)
		}
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", err)
	return -1
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs a binary to completion with a time bound.
func run(t testing.TB, timeout time.Duration, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %s did not finish within %v\nstdout:\n%s\nstderr:\n%s",
			filepath.Base(bin), strings.Join(args, " "), timeout, out.String(), errb.String())
	}
	return result{code: exitCode(t, err), stdout: out.String(), stderr: errb.String()}
}

// hasLine reports whether text has a line equal to want (ignoring trailing space).
func hasLine(text, want string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimRight(l, " \r") == want {
			return true
		}
	}
	return false
}

// fdHardLimit is the open-file hard limit every process here can raise to.
func fdHardLimit(t testing.TB) uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	return rl.Max
}

// checkUsageError asserts a usage error: exit 2, the usage line and exactly
// one other line on stderr, "prog: ..." naming what, and nothing on stdout.
func checkUsageError(t testing.TB, res result, prog, what string) {
	t.Helper()
	if res.code != 2 {
		t.Fatalf("exit status %d, want 2\nstderr: %s", res.code, res.stderr)
	}
	var problems []string
	usage := false
	for _, l := range strings.Split(strings.TrimRight(res.stderr, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "usage: "):
			usage = true
		case usage && strings.HasPrefix(l, "       "): // usage continued
		default:
			problems = append(problems, l)
		}
	}
	if !usage {
		t.Errorf("no usage line on stderr:\n%s", res.stderr)
	}
	if len(problems) != 1 {
		t.Fatalf("want exactly one error line besides usage, got %d:\n%s", len(problems), res.stderr)
	}
	if !strings.HasPrefix(problems[0], prog+": ") || !strings.Contains(problems[0], what) {
		t.Errorf("error line %q: want the prefix %q and naming %q", problems[0], prog+": ", what)
	}
	if res.stdout != "" {
		t.Errorf("nothing belongs on stdout, got %q", res.stdout)
	}
}
