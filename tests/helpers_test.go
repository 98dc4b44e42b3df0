package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
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
	p := filepath.Join(testkit.RepoRoot(t), "bin", name)
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
	if limit := testkit.FDHardLimit(t); limit < uint64(n+spare) {
		n = int(limit) - spare
		t.Logf("fd hard limit %d is below %d: testing %d connections instead of %d", limit, want+spare, n, want)
		if n < 1000 {
			t.Fatalf("fd hard limit %d leaves room for only %d connections", limit, n)
		}
	}
	return n
}

// server is a server binary running for one test.
type server struct {
	*testkit.Process
	t     testing.TB
	kind  serverKind
	addr  string // host:port from the start line
	start string // the start line itself
}

var listenRE = regexp.MustCompile(`listening on (\S+)`)

// sanitizerReportRE matches the first line of an AddressSanitizer,
// LeakSanitizer, ThreadSanitizer or UndefinedBehaviorSanitizer report.
var sanitizerReportRE = regexp.MustCompile(`(?m)^.*(ERROR: \w+Sanitizer|WARNING: ThreadSanitizer|ThreadSanitizer: |runtime error: ).*$`)

// noSanitizerReport fails the test if an exited server left a sanitizer
// report on stderr.
func noSanitizerReport(t testing.TB, p *testkit.Process) {
	if m := sanitizerReportRE.FindString(p.Stderr.String()); m != "" {
		t.Errorf("%s: sanitizer report on stderr: %q", p.Name, m)
	}
}

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
	argv := append(append(append([]string{}, wrapper...), binary(t, kind.name), "-p", "0"), args...)
	s := &server{t: t, kind: kind}
	s.Process = testkit.Start(t, kind.name, argv, noSanitizerReport)
	if !testkit.Until(startTimeout, 10*time.Millisecond, func() bool {
		// Exited first: once the server has exited, its stdout is complete.
		exited := s.Exited()
		line, _, ok := strings.Cut(s.Stdout.String(), "\n")
		if !ok {
			if exited {
				t.Fatalf("%s exited before its start line (%v); stderr: %s", strings.Join(argv, " "), s.Err, s.Stderr)
			}
			return false
		}
		s.start = line
		m := listenRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s: first stdout line has no %q: %q", kind.name, listenRE, line)
		}
		s.addr = m[1]
		return true
	}) {
		t.Fatalf("%s: no start line within %v", kind.name, startTimeout)
	}
	return s
}

func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.Signal(s.t, sig)
}

// waitExit waits for the server to exit and returns its exit status.
func (s *server) waitExit() int {
	s.t.Helper()
	return s.Wait(s.t, exitTimeout)
}

// stop sends SIGINT, requires exit 0 and returns the final (EXITING) report.
func (s *server) stop() report {
	s.t.Helper()
	s.signal(syscall.SIGINT)
	if code := s.waitExit(); code != 0 {
		s.t.Fatalf("%s: exit status %d after SIGINT, want 0", s.kind.name, code)
	}
	reps := parseReports(s.t, s.kind, s.Stdout.String())
	if len(reps) == 0 || reps[len(reps)-1].event != "EXITING" {
		s.t.Fatalf("%s: no EXITING report after SIGINT", s.kind.name)
	}
	return reps[len(reps)-1]
}

// usr1 asks for a report and returns it once it is complete on stdout.
func (s *server) usr1() report {
	s.t.Helper()
	before := len(parseReports(s.t, s.kind, s.Stdout.String()))
	s.signal(syscall.SIGUSR1)
	var r report
	if !testkit.Until(reportTimeout, 20*time.Millisecond, func() bool {
		exited := s.Exited()
		reps := parseReports(s.t, s.kind, s.Stdout.String())
		if len(reps) > before && reps[len(reps)-1].complete(s.kind) {
			r = reps[len(reps)-1]
			return true
		}
		if exited {
			s.t.Fatalf("%s exited after SIGUSR1 (%v)", s.kind.name, s.Err)
		}
		return false
	}) {
		s.t.Fatalf("%s: no complete REPORT within %v of SIGUSR1", s.kind.name, reportTimeout)
	}
	return r
}

// waitIdle polls with SIGUSR1 until the server says Now: 0. Closing is
// asynchronous: a client can exit before the server has seen every EOF.
func (s *server) waitIdle() report {
	s.t.Helper()
	var r report
	if !testkit.Until(exitTimeout, 100*time.Millisecond, func() bool {
		r = s.usr1()
		return r.now == 0
	}) {
		s.t.Fatalf("%s: still %d connections open %v after the client finished", s.kind.name, r.now, exitTimeout)
	}
	return r
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
