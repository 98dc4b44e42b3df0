// Package srvreport builds the echo servers' report: the text printed on
// SIGINT/SIGTERM/SIGUSR1 and the JSON object of schema "10kthreads-server/1".
// The C server prints the same shape itself; this package is the Go server's
// copy of that contract, kept in one place so tests can pin it down.
package srvreport

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
}

// Event names as they appear in JSON, and the first text line for each.
const (
	EventExit   = "exit"
	EventReport = "report"
	// EventStart is only written to the JSON file, once the server listens.
	EventStart = "start"
)

// ProcStatus holds the fields of /proc/self/status the report uses.
type ProcStatus struct {
	VmRSSKiB int64
	VmHWMKiB int64
	Threads  int64
}

// ParseProcStatus reads VmRSS, VmHWM (both in kB, which the kernel means as
// KiB) and Threads from the text of /proc/<pid>/status.
func ParseProcStatus(r io.Reader) (ProcStatus, error) {
	var ps ProcStatus
	seen := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmRSS":
			dst = &ps.VmRSSKiB
		case "VmHWM":
			dst = &ps.VmHWMKiB
		case "Threads":
			dst = &ps.Threads
		default:
			continue
		}
		n, err := firstInt(val)
		if err != nil {
			return ps, fmt.Errorf("status field %s: %w", key, err)
		}
		*dst = n
		seen++
	}
	if err := sc.Err(); err != nil {
		return ps, err
	}
	if seen != 3 {
		return ps, fmt.Errorf("status: found %d of the fields VmRSS, VmHWM, Threads", seen)
	}
	return ps, nil
}

// ParseKernelStack returns the KernelStack value (kB) of /proc/meminfo text.
func ParseKernelStack(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if ok && key == "KernelStack" {
			return firstInt(val)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("meminfo: no KernelStack field")
}

func firstInt(s string) (int64, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, fmt.Errorf("empty value")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// ReadProcStatus parses /proc/self/status.
func ReadProcStatus() (ProcStatus, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return ProcStatus{}, err
	}
	defer f.Close()
	return ParseProcStatus(f)
}

// ReadKernelStack parses KernelStack from /proc/meminfo.
func ReadKernelStack() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return ParseKernelStack(f)
}

// ProcStat holds the fields of /proc/<pid>/stat the report adds up for
// worker processes: CPU in clock ticks, threads and resident pages.
type ProcStat struct {
	PPID, UTime, STime, Threads, RSSPages int64
}

// ParseProcStat reads /proc/<pid>/stat text. The command name may hold
// spaces and parentheses, so the fields are counted from the last ')'.
func ParseProcStat(b []byte) (ProcStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ProcStat{}, fmt.Errorf("stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 of proc(5) (state); field k is f[k-3].
	if len(f) < 22 {
		return ProcStat{}, fmt.Errorf("stat: %d fields after the command name, want at least 22", len(f))
	}
	var ps ProcStat
	for _, x := range []struct {
		field int
		dst   *int64
	}{{4, &ps.PPID}, {14, &ps.UTime}, {15, &ps.STime}, {20, &ps.Threads}, {24, &ps.RSSPages}} {
		n, err := strconv.ParseInt(f[x.field-3], 10, 64)
		if err != nil {
			return ProcStat{}, fmt.Errorf("stat field %d: %w", x.field, err)
		}
		*x.dst = n
	}
	return ps, nil
}

// ReadProcStat parses /proc/<pid>/stat.
func ReadProcStat(pid int) (ProcStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ProcStat{}, err
	}
	return ParseProcStat(b)
}

// ParsePSS returns the Pss value (kB) of /proc/<pid>/smaps_rollup text.
func ParsePSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			return firstInt(v)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("smaps_rollup: no Pss field")
}

// ReadPSS is the proportional set size of a process: its resident pages
// with each shared page divided among the processes that map it, so a sum
// over processes counts shared pages once.
func ReadPSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return ParsePSS(f)
}

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat:
// 100 on every Linux architecture Go runs on (the kernel converts to it).
const clockTicks = 100

// WorkerTotals adds up live worker processes, as the C server's
// procs_gather does for its descendants.
type WorkerTotals struct {
	Procs                   int64
	Threads, RSSKiB, PSSKiB int64
	UserS, SysS             float64
}

// GatherWorkers reads /proc for each pid. A pid that has gone is skipped:
// once reaped, its CPU time is in RUSAGE_CHILDREN instead.
func GatherWorkers(pids []int) WorkerTotals {
	var t WorkerTotals
	page := int64(os.Getpagesize()) / 1024
	for _, pid := range pids {
		st, err := ReadProcStat(pid)
		if err != nil {
			continue
		}
		t.Procs++
		t.Threads += st.Threads
		t.RSSKiB += st.RSSPages * page
		t.UserS += float64(st.UTime) / clockTicks
		t.SysS += float64(st.STime) / clockTicks
		if pss, err := ReadPSS(pid); err == nil {
			t.PSSKiB += pss
		}
	}
	return t
}

// FillSystem sets the process figures: rusage, /proc/self/status, PSS and
// KernelStack now, with the given worker processes added in, then the
// derived figures. CPU is this process, its reaped children
// (RUSAGE_CHILDREN) and the live workers; memory sums are PSS and RSS over
// this process and the workers; threads are all of them. Page faults,
// context switches and the resident figures stay this process's own, as
// in the C server. The caller sets the counters, StartRSSKiB, StartPSSKiB,
// KernelStackStartKiB and KernelStackPeakDeltaKiB first, since the derived
// figures use them. Errors reading /proc leave the field at zero and are
// returned so the caller can say so once.
func (r *Report) FillSystem(workers []int) error {
	var errs []string
	var ru, ch syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		errs = append(errs, "getrusage: "+err.Error())
	} else {
		r.UserCPUS = tvSeconds(ru.Utime)
		r.SysCPUS = tvSeconds(ru.Stime)
		r.MaxRSSKiB = ru.Maxrss // KiB on Linux
		r.MinFlt = ru.Minflt
		r.MajFlt = ru.Majflt
		r.NVCSw = ru.Nvcsw
		r.NIVCSw = ru.Nivcsw
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ch); err == nil {
		r.UserCPUS += tvSeconds(ch.Utime)
		r.SysCPUS += tvSeconds(ch.Stime)
	}
	if ps, err := ReadProcStatus(); err != nil {
		errs = append(errs, err.Error())
	} else {
		r.VmRSSKiB, r.VmHWMKiB, r.Threads = ps.VmRSSKiB, ps.VmHWMKiB, ps.Threads
	}
	if pss, err := ReadPSS(os.Getpid()); err != nil {
		errs = append(errs, err.Error())
	} else {
		r.PSSSumKiB = pss
	}
	if ks, err := ReadKernelStack(); err != nil {
		errs = append(errs, err.Error())
	} else {
		r.KernelStackKiB = ks
	}
	w := GatherWorkers(workers)
	r.Processes = 1 + w.Procs
	r.UserCPUS += w.UserS
	r.SysCPUS += w.SysS
	r.PSSSumKiB += w.PSSKiB
	r.RSSSumKiB = r.VmRSSKiB + w.RSSKiB
	r.Threads += w.Threads
	r.Derive()
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// Derive computes the figures that follow from the others. Memory per
// connection is the high-water mark's growth for one process; for several
// it is the PSS sum's growth, since no kernel counter keeps a high-water
// mark for a group (the C server does the same).
func (r *Report) Derive() {
	r.Schema = Schema
	r.KiBPerPeakConn = 0
	if r.MaxConc > 0 {
		if r.multi() {
			r.KiBPerPeakConn = float64(r.PSSSumKiB-r.StartPSSKiB) / float64(r.MaxConc)
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

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

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
		growth = "PSS sum"
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
