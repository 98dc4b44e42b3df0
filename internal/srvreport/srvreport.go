// Package srvreport is the echo servers' report contract: the text printed
// on SIGINT/SIGTERM/SIGUSR1 and the JSON object of schema
// "10kthreads-server/1". The Go server builds its report with this type;
// the C server writes the same keys from its own field table, and every
// reader (the experiment runner, the tests) decodes either server's JSON
// into Report, strictly, so the two cannot drift apart unnoticed. It also
// holds the contract of `10kthreads -M list` (ModelList).
package srvreport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Schema is the value of the JSON "schema" key; bump it on any incompatible change.
const Schema = "10kthreads-server/1"

// LabelWidth is the column where values start in the aligned block.
const LabelWidth = 24

// Report is one report. Field order and JSON names follow the contract; every
// key is always present (no omitempty) so consumers never have to guess.
type Report struct {
	Schema              string  `json:"schema"`
	Server              string  `json:"server"`
	Model               string  `json:"model"`
	Workers             int64   `json:"workers"`      // -w of the C models; 0 for Go
	Processes           int64   `json:"processes"`    // this one plus its live workers
	ServerProcs         int64   `json:"server_procs"` // -P
	Address             string  `json:"address"`
	Event               string  `json:"event"`
	StackSizeBytes      int64   `json:"stack_size_bytes"`
	Backlog             int64   `json:"backlog"`
	FDLimit             int64   `json:"fd_limit"` // per process
	UptimeS             float64 `json:"uptime_s"`
	UserCPUS            float64 `json:"user_cpu_s"` // all processes
	SysCPUS             float64 `json:"sys_cpu_s"`  // all processes
	MaxRSSKiB           int64   `json:"maxrss_kib"`
	VmRSSKiB            int64   `json:"vmrss_kib"`
	VmHWMKiB            int64   `json:"vmhwm_kib"`
	StartRSSKiB         int64   `json:"start_rss_kib"`
	StartPSSKiB         int64   `json:"start_pss_kib"`
	PSSSumKiB           int64   `json:"pss_sum_kib"`
	RSSSumKiB           int64   `json:"rss_sum_kib"`
	KiBPerPeakConn      float64 `json:"kib_per_peak_conn"`
	Threads             int64   `json:"threads"`    // all processes
	Goroutines          int64   `json:"goroutines"` // all processes
	MinFlt              int64   `json:"minflt"`
	MajFlt              int64   `json:"majflt"`
	NVCSw               int64   `json:"nvcsw"`
	NIVCSw              int64   `json:"nivcsw"`
	MaxConc             int64   `json:"max_conc"`
	Total               int64   `json:"total"`
	Now                 int64   `json:"now"`
	BytesEchoed         int64   `json:"bytes_echoed"`
	Resets              int64   `json:"resets"`
	ThreadCreateFailure int64   `json:"thread_create_failures"`
	AcceptErrors        int64   `json:"accept_errors"`
	MaxConns            int64   `json:"max_conns"` // -c; 0 for no cap
	OverCap             int64   `json:"over_cap"`
	OverFDSetsize       int64   `json:"over_fd_setsize"`
	IdleTimeoutS        int64   `json:"idle_timeout_s"` // -t; 0 for none
	IdleTimeouts        int64   `json:"idle_timeouts"`
	RequestDelayUS      int64   `json:"request_delay_us"` // -d; 0 for none
	RequestWorkUS       int64   `json:"request_work_us"`  // -W; 0 for none
	MaxWaiting          int64   `json:"max_waiting"`      // peak requests in their -d wait
	KernelStackStartKiB int64   `json:"kernel_stack_start_kib"`
	KernelStackKiB      int64   `json:"kernel_stack_kib"`
	KernelStackDeltaKiB int64   `json:"kernel_stack_delta_kib"`
	// The caller sets the sampled peak as a delta from the start; Derive
	// raises it to the delta now if that is higher.
	KernelStackPeakDeltaKiB int64 `json:"kernel_stack_peak_delta_kib"`
	// The memory budget (internal/membudget): the limit that binds and
	// what a connection is assumed to cost, in bytes; MemBudget is in
	// connections, 0 for none.
	MemLimitBytes      int64  `json:"mem_limit_bytes"`
	MemLimitSource     string `json:"mem_limit_source"` // "cgroup v1", "cgroup v2", "-m", "none"
	MemCgroup          string `json:"mem_cgroup"`       // the binding cgroup's directory
	MemHeadroomBytes   int64  `json:"mem_headroom_bytes"`
	MemStartBytes      int64  `json:"mem_start_bytes"`
	MemFixedBytes      int64  `json:"mem_fixed_bytes"`
	MemConnBytes       int64  `json:"mem_conn_bytes"`
	MemConnUserBytes   int64  `json:"mem_conn_user_bytes"`
	MemConnKStackBytes int64  `json:"mem_conn_kstack_bytes"`
	MemConnTaskBytes   int64  `json:"mem_conn_task_bytes"`
	MemConnSocketBytes int64  `json:"mem_conn_socket_bytes"`
	MemCostSource      string `json:"mem_cost_source"`
	MemBudget          int64  `json:"mem_budget"`
	MemUsageBytes      int64  `json:"mem_usage_bytes"`
	OverBudget         int64  `json:"over_budget"`
	// Machine-wide Slab and PageTables of /proc/meminfo: at start (the
	// caller sets them) and their growth since (FillSystem). Every process
	// moves them; a server's sockets and threads show only here.
	SlabStartKiB       int64 `json:"slab_start_kib"`
	SlabDeltaKiB       int64 `json:"slab_delta_kib"`
	PageTablesStartKiB int64 `json:"page_tables_start_kib"`
	PageTablesDeltaKiB int64 `json:"page_tables_delta_kib"`
	// PSSSumPeakKiB is the highest PSS sum of the server's processes: the
	// caller sets the peak it sampled while several processes ran and
	// PSSSampleMS, the spacing of the samples, and Derive raises the peak
	// to the sum now (a report is a sample too). One process is not
	// sampled (VmHWM is its peak): PSSSampleMS is 0 and the peak is the
	// sum now.
	PSSSumPeakKiB int64 `json:"pss_sum_peak_kib"`
	PSSSampleMS   int64 `json:"pss_sample_interval_ms"`
}

// Event names as they appear in JSON, and the first text line for each.
const (
	EventExit   = "exit"
	EventReport = "report"
	// EventStart is only written to the JSON file, once the server listens.
	EventStart = "start"
)

// Derive computes the figures that follow from the others. Memory per
// connection is the high-water mark's growth for one process; for several
// it is the growth of the PSS sum's sampled peak, since no kernel counter
// keeps a high-water mark for a group (the C server does the same).
func (r *Report) Derive() {
	r.Schema = Schema
	r.KiBPerPeakConn = 0
	if r.PSSSampleMS == 0 || r.PSSSumPeakKiB < r.PSSSumKiB {
		r.PSSSumPeakKiB = r.PSSSumKiB
	}
	if r.MaxConc > 0 {
		if r.multi() {
			r.KiBPerPeakConn = float64(r.PSSSumPeakKiB-r.StartPSSKiB) / float64(r.MaxConc)
		} else {
			r.KiBPerPeakConn = float64(r.VmHWMKiB-r.StartRSSKiB) / float64(r.MaxConc)
		}
	}
	r.KernelStackDeltaKiB = r.KernelStackKiB - r.KernelStackStartKiB
	if r.KernelStackPeakDeltaKiB < r.KernelStackDeltaKiB {
		r.KernelStackPeakDeltaKiB = r.KernelStackDeltaKiB
	}
}

func (r *Report) multi() bool { return r.Processes > 1 }

// Text renders the report. The first six lines are the original kit's format,
// which old scripts parse; the aligned block follows.
func (r *Report) Text() string {
	var b bytes.Buffer
	if r.Event == EventExit {
		b.WriteString("EXITING\n")
	} else {
		b.WriteString("REPORT\n")
	}
	// VmHWM, not ru_maxrss: Linux keeps in ru_maxrss the peak of the
	// process image before exec (see the C server's rusage.c).
	fmt.Fprintf(&b, "resident\n%d\n", r.VmHWMKiB)
	fmt.Fprintf(&b, "Max conc: %d\nTotal: %d\nNow: %d\n", r.MaxConc, r.Total, r.Now)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-*s%s\n", LabelWidth, label, fmt.Sprintf(format, args...))
	}
	line("server", "%s (model %s)", r.Server, r.Model)
	line("uptime", "%.3f s", r.UptimeS)
	procs := max(r.Processes, 1)
	line("processes", "%d (%d workers; -P %d, fd limit %d each)", procs, procs-1, max(r.ServerProcs, 1), r.FDLimit)
	line("user CPU", "%.3f s (all processes)", r.UserCPUS)
	line("system CPU", "%.3f s (all processes)", r.SysCPUS)
	line("peak resident", "%d KiB (ru_maxrss; includes the launcher's memory before exec)", r.MaxRSSKiB)
	line("resident now", "%d KiB (VmRSS)", r.VmRSSKiB)
	line("resident high water", "%d KiB (VmHWM)", r.VmHWMKiB)
	line("resident at start", "%d KiB", r.StartRSSKiB)
	line("memory all processes", "%d KiB (PSS, shared pages counted once)", r.PSSSumKiB)
	line("resident all processes", "%d KiB (RSS, shared pages once per process)", r.RSSSumKiB)
	growth := "VmHWM"
	if r.multi() {
		growth = "PSS sum peak"
	}
	line("memory per peak conn", "%.2f KiB (%s growth since start / peak connections)", r.KiBPerPeakConn, growth)
	line("threads", "%d (live OS threads, all processes)", r.Threads)
	if r.Model == "goroutine" {
		line("goroutines", "%d", r.Goroutines)
	}
	line("page faults", "%d minor, %d major", r.MinFlt, r.MajFlt)
	line("context switches", "%d voluntary, %d involuntary", r.NVCSw, r.NIVCSw)
	line("bytes echoed", "%d (%s)", r.BytesEchoed, Humanize(r.BytesEchoed))
	line("connections accepted", "%d", r.Total)
	line("connections reset", "%d", r.Resets)
	line("thread create failures", "%d", r.ThreadCreateFailure)
	line("accept errors", "%d", r.AcceptErrors)
	if r.MaxConns > 0 {
		line("closed over cap", "%d (cap %d)", r.OverCap, r.MaxConns)
	} else {
		line("closed over cap", "%d (no cap)", r.OverCap)
	}
	line("closed over FD_SETSIZE", "%d", r.OverFDSetsize)
	if r.IdleTimeoutS > 0 {
		line("closed idle", "%d (after %d s idle)", r.IdleTimeouts, r.IdleTimeoutS)
	} else {
		line("closed idle", "%d (no timeout)", r.IdleTimeouts)
	}
	line("request delay", "%d us (-d: each read waits that long before its echo)", r.RequestDelayUS)
	line("request work", "%d us (-W: CPU each read uses before its echo)", r.RequestWorkUS)
	line("peak waiting", "%d (requests in their -d wait at once)", r.MaxWaiting)
	line("kernel stack (est.)", "%d KiB now, %d KiB peak (system-wide KernelStack growth since start, sampled every 0.1 s; not in RSS)",
		r.KernelStackDeltaKiB, r.KernelStackPeakDeltaKiB)
	line("kernel slab (machine)", "%d KiB (machine-wide Slab growth since start: the kernel objects of every process, sockets and threads among them; not in RSS)", r.SlabDeltaKiB)
	line("page tables (machine)", "%d KiB (machine-wide PageTables growth since start; not in RSS)", r.PageTablesDeltaKiB)
	if r.PSSSampleMS > 0 {
		line("PSS sum peak", "%d KiB (highest in samples every %d ms and in reports)", r.PSSSumPeakKiB, r.PSSSampleMS)
	} else {
		line("PSS sum peak", "%d KiB (one process: not sampled, VmHWM is its peak)", r.PSSSumPeakKiB)
	}
	r.memText(line)
	return b.String()
}

// Humanize renders a byte count with a binary suffix in the style of libbsd's
// humanize_number, which the C server uses: "999B", "1.5K", "121K", "12M".
func Humanize(n int64) string {
	if n < 0 {
		return "-" + Humanize(-n)
	}
	if n < 1000 {
		return strconv.FormatInt(n, 10) + "B"
	}
	units := "KMGTPE"
	v := float64(n)
	for i := 0; i < len(units); i++ {
		v /= 1024
		if v < 9.95 {
			return strconv.FormatFloat(v, 'f', 1, 64) + units[i:i+1]
		}
		if v < 999.5 {
			return strconv.FormatFloat(v, 'f', 0, 64) + units[i:i+1]
		}
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + "E"
}

// JSON renders the report as one indented JSON object with a trailing newline.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteJSONFile replaces path with the JSON report. It writes a temporary file
// beside it and renames it, so a reader never sees half a report.
func (r *Report) WriteJSONFile(path string) error {
	b, err := r.JSON()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
