package srvreport

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/sysinfo"
)

// The live files must parse on the machine the kit runs on.
func TestReadProcLive(t *testing.T) {
	ps, err := ReadProcStatus()
	if err != nil {
		t.Fatal(err)
	}
	if ps.VmRSSKiB <= 0 || ps.VmHWMKiB < ps.VmRSSKiB || ps.Threads < 1 {
		t.Fatalf("implausible %+v", ps)
	}
	if ks, err := ReadKernelStack(); err != nil || ks <= 0 {
		t.Fatalf("KernelStack %d, %v", ks, err)
	}
	if pss, err := ReadPSS(os.Getpid()); err != nil || pss <= 0 || pss > ps.VmRSSKiB {
		t.Fatalf("PSS %d KiB with VmRSS %d KiB, %v", pss, ps.VmRSSKiB, err)
	}
	var r Report
	if err := r.FillSystem(nil); err != nil {
		t.Fatal(err)
	}
	if r.MaxRSSKiB <= 0 || r.Threads < 1 || r.PSSSumKiB <= 0 || r.Processes != 1 || r.RSSSumKiB != r.VmRSSKiB {
		t.Fatalf("implausible %+v", r)
	}
}

// A live child is added in: one more process, its threads, memory and CPU;
// a pid that does not exist is skipped.
func TestFillSystemWorkers(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep(1) to run as a worker: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	// Wait until the child is sleep itself, not the forked test binary,
	// and has pages of its own (right after exec the loader has not run).
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := sysinfo.Host.CPU(cmd.Process.Pid)
		if err == nil && st.RSSKiB > 0 {
			if b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/comm"); strings.TrimSpace(string(b)) == "sleep" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("child never became sleep: %+v, %v", st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var solo, both Report
	if err := solo.FillSystem(nil); err != nil {
		t.Fatal(err)
	}
	if err := both.FillSystem([]int{cmd.Process.Pid, 1 << 30}); err != nil {
		t.Fatal(err)
	}
	if both.Processes != 2 {
		t.Errorf("processes %d, want 2 (this one and the live child; the bogus pid skipped)", both.Processes)
	}
	if both.Threads <= solo.Threads-2 || both.Threads < 2 {
		t.Errorf("threads %d with a child, %d without", both.Threads, solo.Threads)
	}
	if both.RSSSumKiB <= both.VmRSSKiB {
		t.Errorf("RSS sum %d not above this process's VmRSS %d", both.RSSSumKiB, both.VmRSSKiB)
	}
	w := GatherWorkers([]int{cmd.Process.Pid})
	if w.Procs != 1 || w.PSSKiB <= 0 || w.RSSKiB <= 0 || w.Threads < 1 {
		t.Errorf("worker totals %+v", w)
	}
}

func sample() Report {
	r := Report{
		Server: "ref_async_server", Model: "goroutine", Address: "127.0.0.1:40123",
		Event: EventExit, Backlog: 4096, FDLimit: 20000, UptimeS: 12.3456,
		UserCPUS: 0.123, SysCPUS: 0.456, MaxRSSKiB: 40000, VmRSSKiB: 39000,
		VmHWMKiB: 41000, StartRSSKiB: 5000, Threads: 8, Goroutines: 3,
		MinFlt: 123, NVCSw: 1234, NIVCSw: 12, MaxConc: 10000, Total: 10000,
		BytesEchoed: 123456, KernelStackStartKiB: 1240, KernelStackKiB: 1400,
		Processes: 1, ServerProcs: 1, StartPSSKiB: 4000, PSSSumKiB: 30000, RSSSumKiB: 39000,
		KernelStackPeakDeltaKiB: 900, SlabStartKiB: 200000, SlabDeltaKiB: 16800,
		PageTablesStartKiB: 15000, PageTablesDeltaKiB: 44,
	}
	r.Derive()
	return r
}

func TestDerive(t *testing.T) {
	r := sample()
	if r.KiBPerPeakConn != 3.6 {
		t.Errorf("kib_per_peak_conn %v, want 3.6", r.KiBPerPeakConn)
	}
	if r.KernelStackDeltaKiB != 160 {
		t.Errorf("kernel stack delta %d, want 160", r.KernelStackDeltaKiB)
	}
	if r.KernelStackPeakDeltaKiB != 900 {
		t.Errorf("kernel stack peak delta %d, want the sampled 900", r.KernelStackPeakDeltaKiB)
	}
	// A peak sampled lower than the figure now is raised to it.
	r.KernelStackPeakDeltaKiB, r.KernelStackKiB = 10, 2000
	r.Derive()
	if r.KernelStackPeakDeltaKiB != 760 {
		t.Errorf("kernel stack peak delta %d, want 760 (the delta now)", r.KernelStackPeakDeltaKiB)
	}
	// Several processes: PSS sum growth, not one process's high-water mark.
	r.Processes = 4
	r.Derive()
	if r.KiBPerPeakConn != 2.6 || r.PSSSumPeakKiB != 30000 {
		t.Errorf("kib_per_peak_conn with 4 processes %v, peak %d; want (30000-4000)/10000 = 2.6 and the sum now as the peak", r.KiBPerPeakConn, r.PSSSumPeakKiB)
	}
	// A sampled peak above the sum now is the peak: the connections'
	// memory may be gone by the report.
	r.PSSSumPeakKiB, r.PSSSampleMS = 54000, 300
	r.Derive()
	if r.KiBPerPeakConn != 5 || r.PSSSumPeakKiB != 54000 {
		t.Errorf("kib_per_peak_conn with a sampled peak %v, peak %d; want (54000-4000)/10000 = 5", r.KiBPerPeakConn, r.PSSSumPeakKiB)
	}
	r.MaxConc = 0
	r.Derive()
	if r.KiBPerPeakConn != 0 {
		t.Errorf("no connections must give 0 per connection, got %v", r.KiBPerPeakConn)
	}
}

// sampleLines is every labelled line of sample()'s text, by label.
var sampleLines = map[string]string{
	"server":                 "ref_async_server (model goroutine)",
	"uptime":                 "12.346 s",
	"user CPU":               "0.123 s (all processes)",
	"system CPU":             "0.456 s (all processes)",
	"peak resident":          "40000 KiB (ru_maxrss; includes the launcher's memory before exec)",
	"resident now":           "39000 KiB (VmRSS)",
	"resident high water":    "41000 KiB (VmHWM)",
	"resident at start":      "5000 KiB",
	"processes":              "1 (0 workers; -P 1, fd limit 20000 each)",
	"memory all processes":   "30000 KiB (PSS, shared pages counted once)",
	"resident all processes": "39000 KiB (RSS, shared pages once per process)",
	"memory per peak conn":   "3.60 KiB (VmHWM growth since start / peak connections)",
	"threads":                "8 (live OS threads, all processes)",
	"goroutines":             "3",
	"page faults":            "123 minor, 0 major",
	"context switches":       "1234 voluntary, 12 involuntary",
	"bytes echoed":           "123456 (121K)",
	"connections accepted":   "10000",
	"connections reset":      "0",
	"thread create failures": "0",
	"accept errors":          "0",
	"closed over cap":        "0 (no cap)",
	"closed over FD_SETSIZE": "0",
	"closed idle":            "0 (no timeout)",
	"request delay":          "0 us (-d: each read waits that long before its echo)",
	"request work":           "0 us (-W: CPU each read uses before its echo)",
	"peak waiting":           "0 (requests in their -d wait at once)",
	"kernel stack (est.)":    "160 KiB now, 900 KiB peak (system-wide KernelStack growth since start, sampled every 0.1 s; not in RSS)",
	"memory limit":           "none (no memory cgroup limit, no -m)",
	"memory per conn (est.)": "0.00 KiB (user 0.00 + kernel stack 0.00 + task objects 0.00 + socket 0.00 KiB; object sizes from )",
	"memory budget":          "none",
	"closed over budget":     "0 (no budget)",
	"kernel slab (machine)":  "16800 KiB (machine-wide Slab growth since start: the kernel objects of every process, sockets and threads among them; not in RSS)",
	"page tables (machine)":  "44 KiB (machine-wide PageTables growth since start; not in RSS)",
	"PSS sum peak":           "30000 KiB (one process: not sampled, VmHWM is its peak)",
}

// The text report: the original lines exactly, then every labelled line
// with its value at LabelWidth.
func TestText(t *testing.T) {
	r := sample()
	lines := strings.Split(strings.TrimSuffix(r.Text(), "\n"), "\n")
	// resident is VmHWM (41000), not ru_maxrss (40000): see Text.
	head := []string{"EXITING", "resident", "41000", "Max conc: 10000", "Total: 10000", "Now: 0"}
	if !reflect.DeepEqual(lines[:6], head) {
		t.Fatalf("first six lines %q, want %q", lines[:6], head)
	}
	want := sampleLines
	block := lines[6:]
	if len(block) != len(want) {
		t.Fatalf("%d block lines, want %d:\n%s", len(block), len(want), strings.Join(block, "\n"))
	}
	for _, l := range block {
		if len(l) <= LabelWidth || l[LabelWidth-1] != ' ' || l[LabelWidth] == ' ' {
			t.Errorf("value not at column %d: %q", LabelWidth, l)
			continue
		}
		label, value := strings.TrimRight(l[:LabelWidth], " "), l[LabelWidth:]
		if w, ok := want[label]; !ok {
			t.Errorf("unexpected label %q", label)
		} else if value != w {
			t.Errorf("%s: %q, want %q", label, value, w)
		}
	}
}

// The lines that follow -c, -t, -P, a SIGUSR1 report and the model.
func TestTextVariants(t *testing.T) {
	r := sample()
	r.MaxConns, r.OverCap, r.IdleTimeoutS, r.IdleTimeouts = 10, 5, 30, 2
	r.Processes, r.ServerProcs = 4, 3
	r.PSSSumPeakKiB, r.PSSSampleMS = 30000, 250
	r.Derive()
	for label, w := range map[string]string{
		"PSS sum peak":         "30000 KiB (highest in samples every 250 ms and in reports)",
		"closed over cap":      "5 (cap 10)",
		"closed idle":          "2 (after 30 s idle)",
		"processes":            "4 (3 workers; -P 3, fd limit 20000 each)",
		"memory per peak conn": "2.60 KiB (PSS sum peak growth since start / peak connections)",
	} {
		if !hasLine(r.Text(), label, w) {
			t.Errorf("with -c, -t and -P: no line %q %q in\n%s", label, w, r.Text())
		}
	}
	r.Event = EventReport
	if !strings.HasPrefix(r.Text(), "REPORT\nresident\n") {
		t.Error("SIGUSR1 report must start with REPORT")
	}
	r.Model = "thread"
	if strings.Contains(r.Text(), "goroutines") {
		t.Error("goroutines line only belongs to the goroutine model")
	}
}

func hasLine(text, label, value string) bool {
	for _, l := range strings.Split(text, "\n") {
		if len(l) > LabelWidth && strings.TrimRight(l[:LabelWidth], " ") == label && l[LabelWidth:] == value {
			return true
		}
	}
	return false
}

func TestHumanize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0B", 999: "999B", 1000: "1.0K", 1536: "1.5K", 10188: "9.9K", 10240: "10K",
		123456: "121K", 1 << 20: "1.0M", 5 << 30: "5.0G", -2048: "-2.0K",
	} {
		if got := Humanize(n); got != want {
			t.Errorf("Humanize(%d) = %q, want %q", n, got, want)
		}
	}
}

// Every key of the schema, and no other, always present.
func TestJSONKeys(t *testing.T) {
	keys := []string{
		"schema", "server", "model", "workers", "processes", "server_procs", "address",
		"event", "stack_size_bytes", "backlog", "fd_limit", "uptime_s", "user_cpu_s",
		"sys_cpu_s", "maxrss_kib", "vmrss_kib", "vmhwm_kib", "start_rss_kib",
		"start_pss_kib", "pss_sum_kib", "rss_sum_kib", "kib_per_peak_conn", "threads",
		"goroutines", "minflt", "majflt", "nvcsw", "nivcsw", "max_conc", "total", "now",
		"bytes_echoed", "resets", "thread_create_failures", "accept_errors", "max_conns",
		"over_cap", "over_fd_setsize", "idle_timeout_s", "idle_timeouts",
		"request_delay_us", "request_work_us", "max_waiting", "kernel_stack_start_kib",
		"kernel_stack_kib", "kernel_stack_delta_kib", "kernel_stack_peak_delta_kib",
		"mem_limit_bytes", "mem_limit_source", "mem_cgroup", "mem_headroom_bytes",
		"mem_start_bytes", "mem_fixed_bytes", "mem_conn_bytes", "mem_conn_user_bytes",
		"mem_conn_kstack_bytes", "mem_conn_task_bytes", "mem_conn_socket_bytes",
		"mem_cost_source", "mem_budget", "mem_usage_bytes", "over_budget",
		"slab_start_kib", "slab_delta_kib", "page_tables_start_kib", "page_tables_delta_kib",
		"pss_sum_peak_kib", "pss_sample_interval_ms",
	}
	var zero Report
	b, err := zero.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from a zero report", k)
		}
	}
	if len(m) != len(keys) {
		t.Errorf("%d keys, want %d", len(m), len(keys))
	}
	// The same order as the C server writes them, so the two files diff.
	var order []string
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		order = append(order, k.(string))
		var v any
		dec.Decode(&v)
	}
	if !reflect.DeepEqual(order, keys) {
		t.Errorf("key order %v, want %v", order, keys)
	}
}

func TestWriteJSONFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	r := sample()
	if err := os.WriteFile(path, []byte("stale and longer than nothing"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSONFile(path); err != nil {
		t.Fatal(err)
	}
	var got Report
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got != r {
		t.Fatalf("round trip: got %+v, want %+v", got, r)
	}
	if got.Schema != Schema {
		t.Fatalf("schema %q", got.Schema)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	if err := r.WriteJSONFile(filepath.Join(t.TempDir(), "no", "such", "dir.json")); err == nil {
		t.Fatal("want an error for a missing directory")
	}
}
