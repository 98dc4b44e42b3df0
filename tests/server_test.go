package tests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"tenkthreads/internal/testkit"
)

var startLineRE = regexp.MustCompile(`^(\S+): listening on (\S+) model (\S+), .*fd limit (\d+) \(room for ~(\d+) connections\)$`)

func TestStartLine(t *testing.T) {
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			s := startServer(t, kind)
			m := startLineRE.FindStringSubmatch(s.start)
			if m == nil {
				t.Fatalf("start line %q does not match %q", s.start, startLineRE)
			}
			if m[1] != kind.name || m[3] != kind.model {
				t.Errorf("start line names %s model %s, want %s model %s", m[1], m[3], kind.name, kind.model)
			}
			if _, port, err := net.SplitHostPort(s.addr); err != nil || port == "0" {
				t.Errorf("address %q: want host:port with the port the kernel picked", s.addr)
			}
			limit, _ := strconv.ParseUint(m[4], 10, 64)
			if want := testkit.FDHardLimit(t); limit != want {
				t.Errorf("fd limit %d in start line, want the hard limit %d (soft raised to hard)", limit, want)
			}
			if room, _ := strconv.ParseUint(m[5], 10, 64); room == 0 || room >= limit {
				t.Errorf("room for ~%d connections with fd limit %d", room, limit)
			}
		})
	}
}

// jsonKeys is the schema "10kthreads-server/1": every key always present.
var jsonKeys = []string{
	"schema", "server", "model", "address", "event", "stack_size_bytes", "backlog",
	"fd_limit", "uptime_s", "user_cpu_s", "sys_cpu_s", "maxrss_kib", "vmrss_kib",
	"vmhwm_kib", "start_rss_kib", "kib_per_peak_conn", "threads", "goroutines",
	"minflt", "majflt", "nvcsw", "nivcsw", "max_conc", "total", "now", "bytes_echoed",
	"resets", "thread_create_failures", "accept_errors", "kernel_stack_start_kib",
	"kernel_stack_kib", "kernel_stack_delta_kib", "over_fd_setsize", "request_delay_us",
	"request_work_us", "max_waiting",
	"kernel_stack_kib", "kernel_stack_delta_kib", "slab_start_kib", "slab_delta_kib",
	"page_tables_start_kib", "page_tables_delta_kib",
}

func readJSONReport(t *testing.T, path string) map[string]any {
	t.Helper()
	var m map[string]any
	testkit.ReadJSON(t, path, &m)
	for _, k := range jsonKeys {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON report lacks key %q", k)
		}
	}
	return m
}

func checkJSON(t *testing.T, kind serverKind, m map[string]any, addr, event string, want map[string]float64) {
	t.Helper()
	for k, v := range map[string]string{
		"schema": "10kthreads-server/1", "server": kind.name, "model": kind.model,
		"address": addr, "event": event,
	} {
		if m[k] != v {
			t.Errorf("JSON %s = %v, want %q", k, m[k], v)
		}
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("JSON %s = %v, want %v", k, m[k], v)
		}
	}
	num := func(k string) float64 { f, _ := m[k].(float64); return f }
	for _, k := range []string{"fd_limit", "backlog", "maxrss_kib", "vmrss_kib", "vmhwm_kib", "start_rss_kib", "threads", "kernel_stack_kib", "slab_start_kib", "page_tables_start_kib"} {
		if num(k) <= 0 {
			t.Errorf("JSON %s = %v, want a positive number", k, m[k])
		}
	}
	if d := num("kernel_stack_kib") - num("kernel_stack_start_kib"); d != num("kernel_stack_delta_kib") {
		t.Errorf("kernel_stack_delta_kib %v, want kernel_stack_kib - kernel_stack_start_kib = %v", m["kernel_stack_delta_kib"], d)
	}
	if kind.model == "goroutine" {
		if num("goroutines") < 1 || num("stack_size_bytes") != 0 {
			t.Errorf("goroutines %v, stack_size_bytes %v: want > 0 and 0", m["goroutines"], m["stack_size_bytes"])
		}
	} else if num("goroutines") != 0 || num("stack_size_bytes") <= 0 {
		t.Errorf("goroutines %v, stack_size_bytes %v: want 0 and > 0", m["goroutines"], m["stack_size_bytes"])
	}
}

// TestExitReportUnwritable: a server whose -j file cannot be written at
// exit says so on stderr and exits 1; the text report is still printed.
func TestExitReportUnwritable(t *testing.T) {
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "gone")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			jsonPath := filepath.Join(dir, "report.json")
			s := startServer(t, kind, "-j", jsonPath)
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			s.signal(syscall.SIGINT)
			if code := s.waitExit(); code != 1 {
				t.Errorf("exit status %d with the -j directory gone, want 1", code)
			}
			if !strings.Contains(s.Stderr.String(), jsonPath) {
				t.Errorf("stderr %q does not name %s", s.Stderr.String(), jsonPath)
			}
			if !hasLine(s.Stdout.String(), "EXITING") {
				t.Errorf("no EXITING report on stdout: %q", s.Stdout.String())
			}
		})
	}
}

// TestSignals: SIGUSR1 reports and keeps serving; SIGINT reports and exits 0;
// the JSON file follows each report.
func TestSignals(t *testing.T) {
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			jsonPath := filepath.Join(t.TempDir(), "report.json")
			s := startServer(t, kind, "-j", jsonPath)

			// Three connections open at once, 100 bytes echoed on each.
			var conns []*net.TCPConn
			for i := 0; i < 3; i++ {
				c := dial(t, s.addr)
				conns = append(conns, c)
			}
			for _, c := range conns {
				echoSome(t, c, randomBytes(t, 100))
			}
			r := s.usr1()
			checkReport(t, kind, r, "REPORT", 3, 3, 3)
			m := readJSONReport(t, jsonPath)
			checkJSON(t, kind, m, s.addr, "report", map[string]float64{
				"max_conc": 3, "total": 3, "now": 3, "bytes_echoed": 300, "resets": 0, "accept_errors": 0,
				"thread_create_failures": 0,
			})

			// Still serving after SIGUSR1, on the open connections and a new one.
			for _, c := range conns {
				echoSome(t, c, randomBytes(t, 10))
				c.Close()
			}
			echoOnce(t, s.addr, randomBytes(t, 1000), false)

			r = s.waitIdle()
			checkReport(t, kind, r, "REPORT", 3, 4, 0)
			r = s.stop()
			checkReport(t, kind, r, "EXITING", 3, 4, 0)
			m = readJSONReport(t, jsonPath)
			checkJSON(t, kind, m, s.addr, "exit", map[string]float64{
				"max_conc": 3, "total": 4, "now": 0, "bytes_echoed": 1330, "resets": 0, "accept_errors": 0,
				"thread_create_failures": 0,
			})
			if !strings.HasPrefix(s.Stdout.String(), s.start+"\n") {
				t.Errorf("start line is not the first line of stdout")
			}
		})
	}
}

// echoSome writes p and reads exactly len(p) bytes back on an open connection.
func echoSome(t *testing.T, c *net.TCPConn, p []byte) {
	t.Helper()
	if _, err := c.Write(p); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(p))
	for n := 0; n < len(p); {
		k, err := c.Read(got[n:])
		if err != nil {
			t.Fatalf("read echo: %v", err)
		}
		n += k
	}
	if string(got) != string(p) {
		t.Fatal("echo differs from what was sent")
	}
}

// TestSIGTERM: SIGTERM behaves as SIGINT.
func TestSIGTERM(t *testing.T) {
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			s := startServer(t, kind)
			echoOnce(t, s.addr, []byte("x"), false)
			s.waitIdle()
			s.signal(syscall.SIGTERM)
			if code := s.waitExit(); code != 0 {
				t.Fatalf("exit status %d after SIGTERM, want 0", code)
			}
			reps := parseReports(t, kind, s.Stdout.String())
			checkReport(t, kind, reps[len(reps)-1], "EXITING", 1, 1, 0)
		})
	}
}

// TestBadFlags: one line naming the problem, then the usage line, exit 2.
func TestBadFlags(t *testing.T) {
	type bad struct {
		args []string
		name string // what the error line must mention
	}
	common := []bad{
		{[]string{"-p", "70000"}, "70000"},
		{[]string{"-p", "-1"}, "-1"},
		{[]string{"-p", "abc"}, "abc"},
		{[]string{"-p", "99999999999999999999"}, "99999999999999999999"},
		{[]string{"-Z"}, "Z"},
		{[]string{"-p"}, "p"},
	}
	cOnly := []bad{
		{[]string{"-s", "1"}, "1"},
		{[]string{"-s", "abc"}, "abc"},
		{[]string{"-b", "abc"}, "abc"},
		{[]string{"-b", "0"}, "0"},
	}
	for _, kind := range servers {
		cases := common
		if kind.name == "10kthreads" {
			cases = append(append([]bad{}, common...), cOnly...)
		}
		for _, c := range cases {
			t.Run(kind.name+"/"+strings.Join(c.args, "_"), func(t *testing.T) {
				res := testkit.Run(t, exitTimeout, binary(t, kind.name), c.args...)
				testkit.CheckUsageError(t, res, kind.name, c.name)
			})
		}
	}
}

func TestHelp(t *testing.T) {
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			res := testkit.Run(t, exitTimeout, binary(t, kind.name), "-h")
			if res.Code != 0 {
				t.Fatalf("-h: exit status %d, want 0", res.Code)
			}
			if !strings.Contains(res.Stdout, "usage: ") {
				t.Errorf("-h: no usage on stdout: %q", res.Stdout)
			}
		})
	}
}

// TestPortInUse: a port someone else holds is one line and exit 1.
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			res := testkit.Run(t, exitTimeout, binary(t, kind.name), "-a", "127.0.0.1", "-p", port)
			if res.Code != 1 {
				t.Fatalf("exit status %d, want 1\nstdout: %s\nstderr: %s", res.Code, res.Stdout, res.Stderr)
			}
			msg := strings.TrimRight(res.Stderr, "\n")
			if strings.Contains(msg, "\n") {
				t.Errorf("want one line on stderr, got:\n%s", msg)
			}
			want := fmt.Sprintf("%s: bind 127.0.0.1:%s: Address already in use", kind.name, port)
			if msg != want {
				t.Errorf("stderr %q, want %q", msg, want)
			}
		})
	}
}
