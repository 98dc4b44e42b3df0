// Package perfcount counts, with perf_event_open(2), what a server's whole
// process tree does while it works: context switches, system calls, CPU
// migrations, page faults, and cycles and instructions where the machine
// has hardware counters. These are the reasons behind a CPU figure: a
// thread per connection costs about twice an event loop's CPU because it
// switches context and makes more system calls per round trip, and these
// counts show by how much.
//
// Start attaches counters to every thread of the given processes and of
// their descendants, with inherit set, so that threads and processes they
// create later are counted too, including those that exit before Stop
// (the kernel folds an exiting task's counts into its creator's counter).
// Stop freezes and reads the totals. Voluntary and involuntary context
// switches are not told apart here: the servers' own reports give them,
// from getrusage.
package perfcount

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Counter is one count; Missing says why it is not Set.
type Counter struct {
	Value uint64 `json:"value"`
	Set   bool   `json:"set"`
	// Scaled says that the kernel multiplexed the counter (only hardware
	// counters, when there are more events than registers) and Value is
	// the usual perf estimate, count × time enabled / time running.
	Scaled  bool   `json:"scaled,omitempty"`
	Missing string `json:"missing,omitempty"`
}

// Counts are the totals over the process tree between Start and Stop.
type Counts struct {
	ContextSwitches Counter `json:"context_switches"`
	Syscalls        Counter `json:"syscalls"`
	Migrations      Counter `json:"cpu_migrations"`
	PageFaults      Counter `json:"page_faults"`
	Cycles          Counter `json:"cycles"`
	Instructions    Counter `json:"instructions"`
	// Tasks is the number of threads the counters were attached to at
	// Start; those created later are counted through inheritance.
	Tasks int `json:"tasks"`
	// Notes say what may make the counts less than exact.
	Notes []string `json:"notes,omitempty"`
}

// event is one kind of count and how to ask the kernel for it.
type event struct {
	name  string
	typ   uint32
	cfg   uint64
	field func(*Counts) *Counter
}

// events lists the counts in Counts' order; the system calls' config, the
// tracepoint's id, is only known at Start.
var events = []event{
	{"context switches", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CONTEXT_SWITCHES, func(c *Counts) *Counter { return &c.ContextSwitches }},
	{"system calls", unix.PERF_TYPE_TRACEPOINT, 0, func(c *Counts) *Counter { return &c.Syscalls }},
	{"CPU migrations", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_MIGRATIONS, func(c *Counts) *Counter { return &c.Migrations }},
	{"page faults", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_PAGE_FAULTS, func(c *Counts) *Counter { return &c.PageFaults }},
	{"cycles", unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_CPU_CYCLES, func(c *Counts) *Counter { return &c.Cycles }},
	{"instructions", unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_INSTRUCTIONS, func(c *Counts) *Counter { return &c.Instructions }},
}

// Missing lists each count that is not set, with the reason:
// "cycles: not available: no hardware counters (perf_event_open: …)".
func (c Counts) Missing() []string {
	var out []string
	for _, e := range events {
		if f := e.field(&c); !f.Set {
			out = append(out, e.name+": "+f.Missing)
		}
	}
	return out
}

// Handle holds the open counters between Start and Stop.
type Handle struct {
	fds     [][]int // per event, one counter per attached task
	counts  Counts  // the missing reasons and notes found at Start
	stopped bool
}

// Start attaches the counters to every task of the processes pids and of
// their descendants. A count the machine or the caller's privileges
// cannot give is reported missing in Stop's Counts rather than failing
// Start; Start fails only when no count at all can be made, when a
// process does not exist, or when descriptors run out.
func Start(pids ...int) (*Handle, error) {
	if len(pids) == 0 {
		return nil, errors.New("perfcount: no process to count")
	}
	tasks, err := treeTasks(pids)
	if err != nil {
		return nil, fmt.Errorf("perfcount: %w", err)
	}
	h := &Handle{fds: make([][]int, len(events))}
	h.counts.Tasks = len(tasks)
	for i, e := range events {
		if err := h.openEvent(i, e, tasks); err != nil {
			h.Close()
			return nil, err
		}
	}
	if len(h.counts.Missing()) == len(events) {
		err := fmt.Errorf("perfcount: nothing can be counted: %s", strings.Join(h.counts.Missing(), "; "))
		h.Close()
		return nil, err
	}
	if late := lateTasks(pids, tasks); late > 0 {
		h.counts.Notes = append(h.counts.Notes, fmt.Sprintf(
			"%d threads or processes started while the counters were being attached: each is counted only if the task that created it already had its counters (perf stat -p has the same window)", late))
	}
	return h, nil
}

// openEvent opens event e on every task. If the first task refuses it the
// count is missing with the kernel's reason; a refusal after that, other
// than a task that has exited meanwhile, would leave a partial count, so
// the count is dropped with the reason, or Start fails when descriptors
// ran out.
func (h *Handle) openEvent(i int, e event, tasks []int) error {
	c := e.field(&h.counts)
	attr := unix.PerfEventAttr{
		Type:        e.typ,
		Size:        unix.PERF_ATTR_SIZE_VER0,
		Config:      e.cfg,
		Read_format: unix.PERF_FORMAT_TOTAL_TIME_ENABLED | unix.PERF_FORMAT_TOTAL_TIME_RUNNING,
		Bits:        unix.PerfBitInherit | unix.PerfBitExcludeHv,
	}
	if e.typ == unix.PERF_TYPE_TRACEPOINT {
		id, err := syscallTracepointID()
		if err != nil {
			c.Missing = "tracepoint raw_syscalls:sys_enter unavailable: " + err.Error()
			return nil
		}
		attr.Config = id
	}
	for _, tid := range tasks {
		fd, err := unix.PerfEventOpen(&attr, tid, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
		switch {
		case err == nil:
			h.fds[i] = append(h.fds[i], fd)
			continue
		case errors.Is(err, unix.ESRCH):
			continue // exited since it was listed: nothing left to count
		case errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE):
			return fmt.Errorf("perfcount: out of file descriptors after %d counters: counting %d kinds of event on %d tasks needs one descriptor each (%v)",
				h.open(), len(events), len(tasks), err)
		}
		closeAll(h.fds[i])
		h.fds[i] = nil
		c.Missing = reason(e, err)
		return nil
	}
	c.Set = true
	return nil
}

func (h *Handle) open() int {
	n := 0
	for _, fds := range h.fds {
		n += len(fds)
	}
	return n
}

// reason turns perf_event_open's error into what is missing and why.
func reason(e event, err error) string {
	call := "perf_event_open: " + err.Error()
	switch {
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		return fmt.Sprintf("not permitted (%s): kernel.perf_event_paranoid is %s; count as root or with CAP_PERFMON, or set it to 1 or lower", call, paranoid())
	case e.typ == unix.PERF_TYPE_HARDWARE && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENODEV)):
		return "not available: no hardware counters (" + call + ")"
	case errors.Is(err, unix.ENOSYS):
		return "not available: this kernel has no perf events (" + call + ")"
	}
	return "not counted (" + call + ")"
}

func paranoid() string {
	b, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// Stop disables every counter, reads the totals and closes the counters.
// The counters of tasks that have exited, and all that their children
// folded into them, stay readable until then.
func (h *Handle) Stop() (Counts, error) {
	if h.stopped {
		return Counts{}, errors.New("perfcount: Stop called twice")
	}
	defer h.Close()
	// Freeze first, so the counts end at one moment rather than at each
	// read; the ioctl reaches the inherited counters too.
	for _, fds := range h.fds {
		for _, fd := range fds {
			if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_DISABLE, 0); err != nil {
				return Counts{}, fmt.Errorf("perfcount: disable a counter: %w", err)
			}
		}
	}
	c := h.counts
	for i, e := range events {
		f := e.field(&c)
		if !f.Set {
			continue
		}
		for _, fd := range h.fds[i] {
			v, scaled, err := readCounter(fd)
			if err != nil {
				return Counts{}, fmt.Errorf("perfcount: read %s: %w", e.name, err)
			}
			f.Value += v
			f.Scaled = f.Scaled || scaled
		}
	}
	return c, nil
}

// readCounter reads a counter with its enabled and running times and
// scales it when the kernel multiplexed it. A counter that was enabled but
// never got a register reads 0 and is marked scaled: an estimate of
// nothing. (A task that never ran has neither time, and its 0 is exact.)
func readCounter(fd int) (uint64, bool, error) {
	var b [24]byte
	n, err := unix.Read(fd, b[:])
	if err != nil {
		return 0, false, err
	}
	if n != len(b) {
		return 0, false, fmt.Errorf("short read: %d of %d bytes", n, len(b))
	}
	v := binary.NativeEndian.Uint64(b[0:])
	enabled := binary.NativeEndian.Uint64(b[8:])
	running := binary.NativeEndian.Uint64(b[16:])
	if running >= enabled {
		return v, false, nil
	}
	if running == 0 {
		return 0, true, nil
	}
	return uint64(float64(v) * float64(enabled) / float64(running)), true, nil
}

// Close releases the counters without reading them; Stop calls it.
func (h *Handle) Close() {
	h.stopped = true
	for i := range h.fds {
		closeAll(h.fds[i])
		h.fds[i] = nil
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
