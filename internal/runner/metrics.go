// Package runner drives the side-by-side experiment (servers × workloads ×
// connection counts), and turns the raw JSON of every run into a CSV, a
// Markdown report, plots and a terminal summary.
package runner

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
)

// Num is a measured value or "not measured". The client and servers grow
// their JSON over time; a key that is absent must show as "–" and never as
// 0, because 0 errors or 0 KiB would be a claim.
type Num struct {
	V   float64
	Set bool
}

func num(v float64) Num { return Num{V: v, Set: true} }

// String formats with a precision that suits the magnitude.
func (n Num) String() string {
	if !n.Set {
		return "–"
	}
	return fmtFloat(n.V)
}

func fmtFloat(v float64) string {
	// Three significant digits, so a median and its range read alike.
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// doc is a decoded JSON report, queried by path so that a missing key is
// distinguishable from a zero.
type doc map[string]any

func loadDoc(path string) (doc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d doc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return d, nil
}

func (d doc) get(path string) (any, bool) {
	var cur any = map[string]any(d)
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[k]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// num returns the first of the paths that holds a number.
func (d doc) num(paths ...string) Num {
	if d == nil {
		return Num{}
	}
	for _, p := range paths {
		if v, ok := d.get(p); ok {
			if f, ok := v.(float64); ok {
				return num(f)
			}
		}
	}
	return Num{}
}

func (d doc) str(paths ...string) string {
	for _, p := range paths {
		if v, ok := d.get(p); ok {
			if s, ok := v.(string); ok {
				return s
			}
		}
	}
	return ""
}

// findObj searches breadth-first for an object stored under one of names,
// so the runner keeps working while the client moves its histogram
// summaries around (e.g. "rtt" at the top or under "latency").
func (d doc) findObj(names ...string) doc {
	if d == nil {
		return nil
	}
	queue := []map[string]any{d}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		for _, n := range names {
			if o, ok := m[n].(map[string]any); ok {
				return o
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if o, ok := m[k].(map[string]any); ok {
				queue = append(queue, o)
			}
		}
	}
	return nil
}

// Metrics are the per-run figures the report shows. All come from the two
// JSON reports plus what the runner sampled itself while the run was live.
type Metrics struct {
	Requested    Num
	Established  Num
	Verified     Num
	Errors       Num // client errors, all classes
	MaxConc      Num // server's peak concurrent connections
	PeakRSSKiB   Num // server ru_maxrss
	KiBPerConn   Num // server: VmHWM growth / peak connections (user space)
	KStackKiB    Num // kernel stack growth, sampled at the peak by the runner (or the server's own figure)
	KStackPerC   Num
	KStackSysKiB Num // system-wide KernelStack growth at the peak (noisy on a shared machine)
	CPUS         Num // server user+sys
	ClientCPUS   Num
	ConnectAllS  Num
	RTTP50us     Num
	RTTP99us     Num
	RoundTrips   Num
	RTPerS       Num
	CPUPerRTus   Num // server CPU per round trip
	Threads      Num // server's peak OS threads, sampled by the runner
	Resets       Num // server-side resets
	OtherCPUS    Num // machine-wide busy CPU during the run minus server and client
	OtherShare   Num // OtherCPUS as % of the machine's CPU time during the run
	ClientBusy   Num // cores the client kept busy; near 1 per core means the client is the bottleneck
	Warnings     []string

	// From the SIGUSR1 reports of a probed run (see Probe).
	HeldConns           Num  // server's open connections at the hold report
	HoldKiBPerConn      Num  // resident growth idle -> hold, per connection
	HoldKiBPerConnStart Num  // resident growth start -> hold (includes pre-created workers)
	HoldKStackPerC      Num  // server threads idle -> hold × kernel stack per thread, per connection
	HoldKStackAllPerC   Num  // all the server's threads at the hold × kernel stack per thread, per connection
	HoldCPUPerRTus      Num  // server CPU from the hold report to exit, per round trip
	AcceptServerS       Num  // first to last server thread while connections ramp up
	GiBPerS             Num  // echoed payload per second, each direction, GiB/s
	ProbeLate           bool // the hold report may have missed the hold
}

// metricsFrom derives the figures of one run. srv or cli may be nil (a
// crashed server writes no JSON; a killed client neither).
func metricsFrom(srv, cli doc, s Sample, kstackPerThread Num) Metrics {
	var m Metrics
	m.Requested = cli.num("requested", "connections.requested")
	m.Established = cli.num("established", "connections.established")
	m.Verified = cli.num("verified", "connections.verified")
	if cli != nil {
		if e, ok := cli.get("errors"); ok {
			switch e := e.(type) {
			case map[string]any:
				sum := 0.0
				for _, v := range e {
					if f, ok := v.(float64); ok {
						sum += f
					}
				}
				m.Errors = num(sum)
			case float64:
				m.Errors = num(e)
			}
		}
	}
	m.MaxConc = srv.num("max_conc")
	// VmHWM, not ru_maxrss: after fork+exec Linux carries the parent's
	// high-water mark into ru_maxrss, so a small server started by a
	// larger process reports the parent's size.
	m.PeakRSSKiB = srv.num("vmhwm_kib", "maxrss_kib")
	// A process model's memory is spread over its children; the server
	// sums their proportional set sizes, so shared pages count once.
	procs := srv.num("processes")
	multiProc := procs.Set && procs.V > 1
	if multiProc {
		if v := srv.num("pss_sum_kib"); v.Set {
			m.PeakRSSKiB = v
		}
	}
	m.KiBPerConn = srv.num("kib_per_peak_conn")
	if !m.KiBPerConn.Set {
		hwm, st := srv.num("vmhwm_kib"), srv.num("start_rss_kib")
		if hwm.Set && st.Set && m.MaxConc.Set && m.MaxConc.V > 0 {
			m.KiBPerConn = num((hwm.V - st.V) / m.MaxConc.V)
		}
	}
	// The server's extra threads at the peak times the measured kernel
	// stack per thread: the system-wide KernelStack growth also moves with
	// every other process on the machine, and the server's own figure is
	// taken at exit, after its threads have gone.
	m.KStackSysKiB = s.KStackPeakDeltaKiB
	switch {
	case multiProc:
		// The runner sees only the parent's threads; the children's kernel
		// stacks show only in the system-wide figure, preferably the
		// server's own peak sample.
		m.KStackKiB = srv.num("kernel_stack_peak_delta_kib")
		if !m.KStackKiB.Set {
			m.KStackKiB = s.KStackPeakDeltaKiB
		}
	case kstackPerThread.Set && s.ThreadsPeak.Set && s.ThreadsStart.Set:
		m.KStackKiB = num(math.Max(0, s.ThreadsPeak.V-s.ThreadsStart.V) * kstackPerThread.V)
	case s.KStackPeakDeltaKiB.Set:
		m.KStackKiB = s.KStackPeakDeltaKiB
	default:
		m.KStackKiB = srv.num("kernel_stack_delta_kib")
	}
	if m.KStackKiB.Set && m.MaxConc.Set && m.MaxConc.V > 0 {
		m.KStackPerC = num(m.KStackKiB.V / m.MaxConc.V)
	}
	u, sy := srv.num("user_cpu_s"), srv.num("sys_cpu_s")
	if u.Set && sy.Set {
		m.CPUS = num(u.V + sy.V)
	}
	cu, cs := cli.num("user_cpu_s"), cli.num("sys_cpu_s")
	if cu.Set && cs.Set {
		m.ClientCPUS = num(cu.V + cs.V)
	}
	m.ConnectAllS = cli.num("connect_all_s")
	rtt := cli.findObj("rtt", "rtt_us", "round_trip", "roundtrip")
	m.RTTP50us = rtt.num("p50", "p50_us")
	m.RTTP99us = rtt.num("p99", "p99_us")
	m.RoundTrips = cli.num("round_trips", "throughput.round_trips", "rounds_done")
	if !m.RoundTrips.Set {
		m.RoundTrips = rtt.num("count")
	}
	m.RTPerS = cli.num("round_trips_per_s", "throughput.round_trips_per_s", "rt_per_s", "throughput.rt_per_s")
	if m.CPUS.Set && m.RoundTrips.Set && m.RoundTrips.V > 0 {
		m.CPUPerRTus = num(m.CPUS.V / m.RoundTrips.V * 1e6)
	}
	if s.ThreadsPeak.Set {
		m.Threads = s.ThreadsPeak
	} else {
		m.Threads = srv.num("threads")
	}
	m.Resets = srv.num("resets")
	m.ClientBusy = cli.num("cores_busy")
	if br, st := cli.num("bytes_received"), cli.num("steady_s"); br.Set && st.Set && st.V > 0 {
		m.GiBPerS = num(br.V / st.V / (1 << 30))
	}
	if w, ok := cli.get("warnings"); ok {
		if ws, ok := w.([]any); ok {
			for _, x := range ws {
				if s, ok := x.(string); ok {
					m.Warnings = append(m.Warnings, s)
				}
			}
		}
	}
	return m
}

// Sample is what the runner observed from outside while a run was live.
type Sample struct {
	KStackPeakDeltaKiB Num `json:"kstack_peak_delta_kib"`
	ThreadsPeak        Num `json:"threads_peak"`
	ThreadsStart       Num `json:"threads_start"`
	VmHWMKiB           Num `json:"vmhwm_kib"`
}

// MarshalJSON writes an unmeasured value as null.
func (n Num) MarshalJSON() ([]byte, error) {
	if !n.Set {
		return []byte("null"), nil
	}
	return json.Marshal(n.V)
}

// UnmarshalJSON reads null as "not measured".
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num{}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = num(f)
	return nil
}
