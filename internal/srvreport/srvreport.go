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
	Address             string  `json:"address"`
	Event               string  `json:"event"`
	StackSizeBytes      int64   `json:"stack_size_bytes"`
	Backlog             int64   `json:"backlog"`
	FDLimit             int64   `json:"fd_limit"`
	UptimeS             float64 `json:"uptime_s"`
	UserCPUS            float64 `json:"user_cpu_s"`
	SysCPUS             float64 `json:"sys_cpu_s"`
	MaxRSSKiB           int64   `json:"maxrss_kib"`
	VmRSSKiB            int64   `json:"vmrss_kib"`
	VmHWMKiB            int64   `json:"vmhwm_kib"`
	StartRSSKiB         int64   `json:"start_rss_kib"`
	KiBPerPeakConn      float64 `json:"kib_per_peak_conn"`
	Threads             int64   `json:"threads"`
	Goroutines          int64   `json:"goroutines"`
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
	KernelStackStartKiB int64   `json:"kernel_stack_start_kib"`
	KernelStackKiB      int64   `json:"kernel_stack_kib"`
	KernelStackDeltaKiB int64   `json:"kernel_stack_delta_kib"`
}

// Event names as they appear in JSON, and the first text line for each.
const (
	EventExit   = "exit"
	EventReport = "report"
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

// FillSystem sets the process figures: rusage, /proc/self/status and
// KernelStack now, then the derived per-connection and delta figures. The
// caller sets the counters (MaxConc etc.), StartRSSKiB and KernelStackStartKiB
// first, since the derived figures use them. Errors reading /proc leave the
// field at zero and are returned so the caller can say so once.
func (r *Report) FillSystem() error {
	var errs []string
	var ru syscall.Rusage
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
	if ps, err := ReadProcStatus(); err != nil {
		errs = append(errs, err.Error())
	} else {
		r.VmRSSKiB, r.VmHWMKiB, r.Threads = ps.VmRSSKiB, ps.VmHWMKiB, ps.Threads
	}
	if ks, err := ReadKernelStack(); err != nil {
		errs = append(errs, err.Error())
	} else {
		r.KernelStackKiB = ks
	}
	r.Derive()
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// Derive computes the figures that follow from the others.
func (r *Report) Derive() {
	r.Schema = Schema
	r.KiBPerPeakConn = 0
	if r.MaxConc > 0 {
		r.KiBPerPeakConn = float64(r.VmHWMKiB-r.StartRSSKiB) / float64(r.MaxConc)
	}
	r.KernelStackDeltaKiB = r.KernelStackKiB - r.KernelStackStartKiB
}

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
	fmt.Fprintf(&b, "resident\n%d\n", r.MaxRSSKiB)
	fmt.Fprintf(&b, "Max conc: %d\nTotal: %d\nNow: %d\n", r.MaxConc, r.Total, r.Now)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-*s%s\n", LabelWidth, label, fmt.Sprintf(format, args...))
	}
	line("server", "%s (model %s)", r.Server, r.Model)
	line("uptime", "%.3f s", r.UptimeS)
	line("user CPU", "%.3f s", r.UserCPUS)
	line("system CPU", "%.3f s", r.SysCPUS)
	line("peak resident", "%d KiB (ru_maxrss)", r.MaxRSSKiB)
	line("resident now", "%d KiB (VmRSS)", r.VmRSSKiB)
	line("resident high water", "%d KiB (VmHWM)", r.VmHWMKiB)
	line("resident at start", "%d KiB", r.StartRSSKiB)
	line("memory per peak conn", "%.2f KiB (VmHWM growth since start / peak connections)", r.KiBPerPeakConn)
	line("threads", "%d (live OS threads)", r.Threads)
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
	line("kernel stack (est.)", "%d KiB system-wide KernelStack growth since start, not in RSS", r.KernelStackDeltaKiB)
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
