package tests

// Running under a memory limit: each server admits what its memory budget
// holds, refuses the rest cleanly and counts them, is never OOM-killed,
// and serves again once connections close. A pids limit is handled as a
// thread-creation failure. -m sets the limit by hand.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"tenkthreads/internal/testkit"
)

// clientReport is what the tests read of bin/client's JSON report.
type clientReport struct {
	Requested   int64            `json:"requested"`
	Established int64            `json:"established"`
	Verified    int64            `json:"verified"`
	Failed      int64            `json:"failed"`
	Errors      map[string]int64 `json:"errors"`
}

// runClient runs bin/client -n n once and returns its report and status.
func runClient(t *testing.T, addr string, n int) (clientReport, int) {
	t.Helper()
	js := filepath.Join(t.TempDir(), "client.json")
	res := testkit.Run(t, clientTimeout, binary(t, "client"), "-n", strconv.Itoa(n), "-host", addr,
		"-quiet", "-timeout", "60s", "-json", js)
	var cr clientReport
	testkit.ReadJSON(t, js, &cr)
	if (res.Code == 0) != (cr.Failed == 0 && cr.Verified == int64(n)) {
		t.Errorf("client exit status %d with %d of %d verified, %d failed", res.Code, cr.Verified, n, cr.Failed)
	}
	return cr, res.Code
}

// jsonInt is a number of the server's JSON report.
func jsonInt(t *testing.T, m map[string]any, key string) int64 {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Fatalf("JSON report: %s = %v, want a number", key, m[key])
	}
	return int64(v)
}

// checkRefusals: every connection the client made was either admitted,
// within the budget, and echoed exactly, or refused at once (EOF or
// reset) and counted as closed over budget, in the text and the JSON.
func checkRefusals(t *testing.T, cr clientReport, r report, m map[string]any) {
	t.Helper()
	budget, over := jsonInt(t, m, "mem_budget"), jsonInt(t, m, "over_budget")
	if budget <= 0 {
		t.Fatalf("JSON mem_budget %d, want a budget", budget)
	}
	if r.total < 1 || r.total > budget {
		t.Errorf("%d connections admitted with a budget of %d", r.total, budget)
	}
	if r.maxConc != r.total {
		t.Errorf("Max conc %d, want all %d admitted at once (the client holds them)", r.maxConc, r.total)
	}
	if cr.Established != cr.Requested || cr.Verified != r.total {
		t.Errorf("client: %d of %d established, %d verified; server admitted %d", cr.Established, cr.Requested, cr.Verified, r.total)
	}
	if cr.Failed != over || cr.Errors["eof"]+cr.Errors["reset"] != cr.Failed {
		t.Errorf("client: %d failed (errors %v); server closed %d over budget: want each a clean close", cr.Failed, cr.Errors, over)
	}
	if got := labelInt(t, r, "closed over budget"); got != over {
		t.Errorf("text: closed over budget %d, JSON %d", got, over)
	}
	for _, k := range []string{"thread_create_failures", "accept_errors", "over_cap"} {
		if v := jsonInt(t, m, k); v != 0 {
			t.Errorf("JSON %s %d, want 0", k, v)
		}
	}
}

// memCase is a server to run under a memory limit.
type memCase struct {
	name string
	kind serverKind
	args []string
}

// TestMemoryCgroup: each server in a 64 MiB memory cgroup of its own
// gets 10,000 connection attempts. It must not be killed: every
// connection it admits is echoed, the rest are refused and counted, it
// serves a new client once the first has closed, and SIGINT reports.
func TestMemoryCgroup(t *testing.T) {
	limit := int64(64 << 20)
	switch sanitizer() {
	case "tsan":
		t.Skip("ThreadSanitizer's own memory for 1,000 threads does not fit 64 MiB")
	case "asan":
		// Under ASan a thread costs about 4 times what the budget
		// assumes, most of it charged once the thread runs, after its
		// admission: a 4 MiB headroom cannot take that lag, a 16 MiB
		// one (of 256 MiB) can.
		limit = 256 << 20
		t.Logf("AddressSanitizer build: a %d MiB limit instead of 64", limit>>20)
	}
	n := connScale(t, 10000)
	for _, c := range []memCase{
		{"thread", cServer, nil}, {"thread-P2", cServer, []string{"-P", "2"}},
		{"fork", cServer, []string{"-M", "fork"}}, {"epoll", cServer, []string{"-M", "epoll"}},
		{"go", refServer, nil},
	} {
		t.Run(c.name, func(t *testing.T) { runUnderCgroup(t, c, limit, n) })
	}
}

func runUnderCgroup(t *testing.T, c memCase, limit int64, n int) {
	cg := makeCgroup(t, "memory")
	cg.write(cg.file("memory.limit_in_bytes", "memory.max"), strconv.FormatInt(limit, 10))
	js := filepath.Join(t.TempDir(), "report.json")
	s := startWrapped(t, c.kind, cg.wrapper(), append([]string{"-j", js}, c.args...)...)
	if want := fmt.Sprintf("memory limit %dM (cgroup v%d;", limit>>20, cg.version); !strings.Contains(s.start, want) {
		t.Fatalf("start line %q does not say %q", s.start, want)
	}
	cr, _ := runClient(t, s.addr, n)
	r := s.waitIdle()
	m := readJSONReport(t, js)
	checkRefusals(t, cr, r, m)
	if src := m["mem_limit_source"]; jsonInt(t, m, "mem_limit_bytes") != limit || src != fmt.Sprintf("cgroup v%d", cg.version) {
		t.Errorf("JSON mem_limit_bytes %v from %v, want %d from the cgroup", m["mem_limit_bytes"], src, limit)
	}
	// As many as the first client got, up to 100, fit again.
	again := int(min(r.total, 100))
	if cr2, code := runClient(t, s.addr, again); code != 0 {
		t.Errorf("a new client of %d after the first closed: %d verified, errors %v", again, cr2.Verified, cr2.Errors)
	}
	s.stop()
	if oom := cg.keyed(cg.file("memory.oom_control", "memory.events"), "oom_kill"); oom != 0 {
		t.Errorf("the cgroup counts %d OOM kills", oom)
	}
	peak := cg.number(cg.file("memory.max_usage_in_bytes", "memory.peak"))
	t.Logf("%s under %d MiB: %d of %d admitted (budget %d at %.1f KiB per connection), %d closed over budget; cgroup peak usage %.1f MiB",
		c.name, limit>>20, r.total, n, jsonInt(t, m, "mem_budget"), float64(jsonInt(t, m, "mem_conn_bytes"))/1024,
		jsonInt(t, m, "over_budget"), float64(peak)/(1<<20))
}

// TestCgroupPathInJSON: a cgroup's name may hold any byte but '/' (systemd
// writes "\x2d" in its names); the JSON report stays valid and names it.
func TestCgroupPathInJSON(t *testing.T) {
	const suffix = `-a\x2d"q"`
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			cg := makeNamedCgroup(t, "memory", suffix)
			cg.write(cg.file("memory.limit_in_bytes", "memory.max"), strconv.FormatInt(256<<20, 10))
			js := filepath.Join(t.TempDir(), "report.json")
			s := startWrapped(t, kind, cg.wrapper(), "-j", js)
			s.stop()
			if got, _ := readJSONReport(t, js)["mem_cgroup"].(string); !strings.HasSuffix(got, suffix) {
				t.Errorf("JSON mem_cgroup %q, want a path ending in %q", got, suffix)
			}
		})
	}
}

// TestPidsCgroup: with 2,000 tasks allowed, the thread server cannot give
// every one of 3,000 connections a thread. Those it cannot are counted
// and closed; the server lives on and serves a new client afterwards.
func TestPidsCgroup(t *testing.T) {
	const pidsMax = 2000
	n := 3000
	if sanitizer() == "tsan" {
		t.Skip("ThreadSanitizer tracks too few threads for 3,000 connections")
	}
	cg := makeCgroup(t, "pids")
	cg.write("pids.max", strconv.Itoa(pidsMax))
	s := startWrapped(t, cServer, cg.wrapper())
	cr, _ := runClient(t, s.addr, n)
	r := s.waitIdle()
	failures := labelInt(t, r, "thread create failures")
	t.Logf("pids.max %d: %d connections, %d served, %d thread create failures", pidsMax, n, cr.Verified, failures)
	if r.total != int64(n) || failures < int64(n-pidsMax) || failures >= int64(n) {
		t.Errorf("%d accepted, %d thread create failures: want all %d accepted and at least %d failures", r.total, failures, n, n-pidsMax)
	}
	if cr.Verified+failures != int64(n) || cr.Failed != failures {
		t.Errorf("client: %d verified, %d failed (errors %v); want %d verified", cr.Verified, cr.Failed, cr.Errors, int64(n)-failures)
	}
	if cr2, code := runClient(t, s.addr, 100); code != 0 {
		t.Errorf("a new client of 100 afterwards: %d verified, errors %v", cr2.Verified, cr2.Errors)
	}
	s.stop()
}

// startBytes is the server's resident memory at start, from a run of
// its own: sanitizer builds start far larger.
func startBytes(t *testing.T, kind serverKind) int64 {
	t.Helper()
	js := filepath.Join(t.TempDir(), "idle.json")
	s := startServer(t, kind, "-j", js)
	s.stop()
	return jsonInt(t, readJSONReport(t, js), "start_rss_kib") << 10
}

// TestMemLimitFlag: -m sets the limit, from the server's own figures.
// Its limit is what the idle server uses, 2 MiB of headroom and room for
// a few hundred connections; twice that many try.
func TestMemLimitFlag(t *testing.T) {
	for _, c := range []struct {
		kind serverKind
		room int64
		n    int
	}{{cServer, 4 << 20, 400}, {refServer, 4 << 20, 2000}} {
		t.Run(c.kind.name, func(t *testing.T) {
			if c.kind == cServer && sanitizer() == "tsan" {
				// About 1 MiB a thread: room for a few dozen.
				c.room = 64 << 20
			}
			m := startBytes(t, c.kind) + 2<<20 + c.room
			js := filepath.Join(t.TempDir(), "report.json")
			s := startServer(t, c.kind, "-j", js, "-m", strconv.FormatInt(m, 10))
			cr, _ := runClient(t, s.addr, c.n)
			r := s.waitIdle()
			rep := readJSONReport(t, js)
			checkRefusals(t, cr, r, rep)
			if jsonInt(t, rep, "mem_limit_bytes") != m || rep["mem_limit_source"] != "-m" {
				t.Errorf("JSON mem_limit_bytes %v from %v, want %d from -m", rep["mem_limit_bytes"], rep["mem_limit_source"], m)
			}
			if cr.Failed == 0 {
				t.Errorf("all %d admitted under -m %d: the budget did not bite", c.n, m)
			}
			if _, code := runClient(t, s.addr, 10); code != 0 {
				t.Error("a new client of 10 afterwards was not served")
			}
			t.Logf("-m %d: %d of %d admitted, budget %d", m, r.total, c.n, jsonInt(t, rep, "mem_budget"))
			s.stop()
		})
	}
}

// TestMemLimitDecimal: both servers read -m in decimal, leading zeros
// and all, so one command line means the same limit to each.
func TestMemLimitDecimal(t *testing.T) {
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			js := filepath.Join(t.TempDir(), "report.json")
			s := startServer(t, kind, "-j", js, "-m", "0100m")
			s.stop()
			if got := jsonInt(t, readJSONReport(t, js), "mem_limit_bytes"); got != 100<<20 {
				t.Errorf("-m 0100m: mem_limit_bytes %d, want %d", got, 100<<20)
			}
		})
	}
}

// TestBudgetEventLoops: every event loop prices its table entry, and
// what watches the socket beside it: an epoll item (epoll, dispatch), an
// armed receive (uring), nothing in the kernel (poll, select).
func TestBudgetEventLoops(t *testing.T) {
	parts := map[string][2]int64{}
	for _, model := range []string{"poll", "select", "epoll", "dispatch", "uring"} {
		js := filepath.Join(t.TempDir(), "report.json")
		s := startServer(t, cServer, "-M", model, "-m", "256m", "-j", js)
		s.stop()
		rep := readJSONReport(t, js)
		parts[model] = [2]int64{jsonInt(t, rep, "mem_conn_user_bytes"), jsonInt(t, rep, "mem_conn_socket_bytes")}
	}
	socket := parts["poll"][1]
	for model, want := range map[string]int64{"select": socket, "uring": socket + 864} {
		if parts[model][1] != want {
			t.Errorf("%s: socket part %d bytes, want %d", model, parts[model][1], want)
		}
	}
	for _, model := range []string{"epoll", "dispatch"} {
		if parts[model][1] <= socket {
			t.Errorf("%s: socket part %d bytes, want more than poll's %d (its epoll item)", model, parts[model][1], socket)
		}
	}
	for model, p := range parts {
		if p[0] != 64 {
			t.Errorf("%s: user part %d bytes, want its 64-byte table entry", model, p[0])
		}
	}
}

// TestMemLimitBad: a bad -m is a usage error in both servers, worded
// alike; one below what the idle server needs is exit 1, one line.
func TestMemLimitBad(t *testing.T) {
	for _, kind := range servers {
		for _, c := range []struct{ arg, want string }{
			{"", "-m : not a size (try 64m or 1g)"}, {"-1", "-m -1: not a size"},
			{"64q", "-m 64q: not a size"}, {"1.5g", "-m 1.5g: not a size"}, {"0x10", "-m 0x10: not a size"},
			{"0", "-m 0: memory limit is zero"}, {"8e", "-m 8e: memory limit is too large"},
			{"99999999999999999999", "-m 99999999999999999999: memory limit is too large"},
		} {
			t.Run(kind.name+"/"+c.arg, func(t *testing.T) {
				res := testkit.Run(t, exitTimeout, binary(t, kind.name), "-p", "0", "-m", c.arg)
				testkit.CheckUsageError(t, res, kind.name, c.want)
			})
		}
		t.Run(kind.name+"/too-small", func(t *testing.T) {
			res := testkit.Run(t, exitTimeout, binary(t, kind.name), "-p", "0", "-m", "1m")
			msg := strings.TrimRight(res.Stderr, "\n")
			want := kind.name + ": memory limit 1.0M (-m) leaves no room for a connection: "
			if res.Code != 1 || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, want) || res.Stdout != "" {
				t.Errorf("-m 1m: exit %d, stdout %q, stderr %q; want exit 1 and one line %q...", res.Code, res.Stdout, msg, want)
			}
		})
	}
}
