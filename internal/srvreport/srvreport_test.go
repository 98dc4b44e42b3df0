package srvreport

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const statusSample = `Name:	ref_async_serve
Umask:	0022
State:	S (sleeping)
VmPeak:	 1234567 kB
VmHWM:	   39576 kB
VmRSS:	   12000 kB
RssAnon:	   30000 kB
Threads:	8
SigQ:	0/95457
`

func TestParseProcStatus(t *testing.T) {
	got, err := ParseProcStatus(strings.NewReader(statusSample))
	if err != nil {
		t.Fatal(err)
	}
	want := ProcStatus{VmRSSKiB: 12000, VmHWMKiB: 39576, Threads: 8}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestParseProcStatusMissingField(t *testing.T) {
	_, err := ParseProcStatus(strings.NewReader("Name:\tx\nVmRSS:\t1 kB\n"))
	if err == nil {
		t.Fatal("want an error when VmHWM and Threads are missing")
	}
	_, err = ParseProcStatus(strings.NewReader("VmRSS:\tlots kB\nVmHWM:\t1 kB\nThreads:\t1\n"))
	if err == nil || !strings.Contains(err.Error(), "VmRSS") {
		t.Fatalf("want an error naming VmRSS, got %v", err)
	}
}

func TestParseKernelStack(t *testing.T) {
	in := "MemTotal:       24000000 kB\nKernelStack:        1340 kB\nPageTables:  10 kB\n"
	got, err := ParseKernelStack(strings.NewReader(in))
	if err != nil || got != 1340 {
		t.Fatalf("got %d, %v; want 1340", got, err)
	}
	if _, err := ParseKernelStack(strings.NewReader("MemTotal: 1 kB\n")); err == nil {
		t.Fatal("want an error without KernelStack")
	}
}

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
	var r Report
	if err := r.FillSystem(); err != nil {
		t.Fatal(err)
	}
	if r.MaxRSSKiB <= 0 || r.Threads < 1 {
		t.Fatalf("implausible %+v", r)
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
	r.MaxConc = 0
	r.Derive()
	if r.KiBPerPeakConn != 0 {
		t.Errorf("no connections must give 0 per connection, got %v", r.KiBPerPeakConn)
	}
}

func TestText(t *testing.T) {
	r := sample()
	lines := strings.Split(strings.TrimSuffix(r.Text(), "\n"), "\n")
	head := []string{"EXITING", "resident", "40000", "Max conc: 10000", "Total: 10000", "Now: 0"}
	if !reflect.DeepEqual(lines[:6], head) {
		t.Fatalf("first six lines %q, want %q", lines[:6], head)
	}
	want := map[string]string{
		"server":                 "ref_async_server (model goroutine)",
		"uptime":                 "12.346 s",
		"user CPU":               "0.123 s",
		"system CPU":             "0.456 s",
		"peak resident":          "40000 KiB (ru_maxrss)",
		"resident now":           "39000 KiB (VmRSS)",
		"resident high water":    "41000 KiB (VmHWM)",
		"resident at start":      "5000 KiB",
		"memory per peak conn":   "3.60 KiB (VmHWM growth since start / peak connections)",
		"threads":                "8 (live OS threads)",
		"goroutines":             "3",
		"page faults":            "123 minor, 0 major",
		"context switches":       "1234 voluntary, 12 involuntary",
		"bytes echoed":           "123456 (121K)",
		"connections accepted":   "10000",
		"connections reset":      "0",
		"thread create failures": "0",
		"accept errors":          "0",
		"kernel stack (est.)":    "160 KiB system-wide KernelStack growth since start, not in RSS",
	}
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
	r.Event = EventReport
	if !strings.HasPrefix(r.Text(), "REPORT\nresident\n") {
		t.Error("SIGUSR1 report must start with REPORT")
	}
	r.Model = "thread"
	if strings.Contains(r.Text(), "goroutines") {
		t.Error("goroutines line only belongs to the goroutine model")
	}
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
		"schema", "server", "model", "address", "event", "stack_size_bytes", "backlog",
		"fd_limit", "uptime_s", "user_cpu_s", "sys_cpu_s", "maxrss_kib", "vmrss_kib",
		"vmhwm_kib", "start_rss_kib", "kib_per_peak_conn", "threads", "goroutines",
		"minflt", "majflt", "nvcsw", "nivcsw", "max_conc", "total", "now", "bytes_echoed",
		"resets", "thread_create_failures", "accept_errors", "kernel_stack_start_kib",
		"kernel_stack_kib", "kernel_stack_delta_kib",
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
