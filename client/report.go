package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"syscall"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"tenkthreads/internal/stats"
)

// histNames are the latency histograms every report carries: connect
// time, round trip (from the intended send time in open loop) and service
// time (from the actual send; equal to rtt in closed loop).
var histNames = []string{"connect", "rtt", "service"}

// Schema names the JSON layout documented in SCHEMA.md; bump it on any
// incompatible change.
const Schema = "10kthreads-client/1"

type configJSON struct {
	N               int      `json:"n"`
	Host            string   `json:"host"`
	MessageBytes    int      `json:"message_bytes"`
	RandomPayload   bool     `json:"random_payload"`
	Rounds          int      `json:"rounds"`
	DurationS       float64  `json:"duration_s"`
	HoldS           float64  `json:"hold_s"`
	Rate            float64  `json:"rate"`
	Reconnect       bool     `json:"reconnect"`
	ConnectRate     float64  `json:"connect_rate"`
	ConnectTimeoutS float64  `json:"connect_timeout_s"`
	TimeoutS        float64  `json:"timeout_s"`
	Dialers         int      `json:"dialers"`
	Sources         []string `json:"sources"`
	StartAt         string   `json:"start_at"`
	Procs           int      `json:"procs"`
}

type envInfo struct {
	Hostname   string `json:"hostname"`
	Kernel     string `json:"kernel"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	FdSoft     uint64 `json:"fd_soft"`
	FdHard     uint64 `json:"fd_hard"`
	PortLo     int    `json:"port_range_lo"`
	PortHi     int    `json:"port_range_hi"`
	Pid        int    `json:"pid"`
}

func fillEnv(e *envInfo) {
	e.Hostname, _ = os.Hostname()
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		e.Kernel = utsString(u.Sysname[:]) + " " + utsString(u.Release[:])
	}
	e.Cores = runtime.NumCPU()
	e.GOMAXPROCS = runtime.GOMAXPROCS(0)
	e.GoVersion = runtime.Version()
	e.Pid = os.Getpid()
}

func utsString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

type rateJSON struct {
	RequestedPerS float64 `json:"requested_per_s"`
	AchievedPerS  float64 `json:"achieved_per_s"`
	LateSends     int64   `json:"late_sends"`
	MissedSends   int64   `json:"missed_sends"`
	Kept          bool    `json:"kept"`
}

type latencyJSON struct {
	stats.Summary
	Unit    string `json:"unit"`
	Hdr     string `json:"hdr"`
	HdrUnit string `json:"hdr_unit"`
}

type histHolder struct{ h *hdr.Histogram }

// Result is one run (or a merge of runs); its JSON form is the schema.
type Result struct {
	Schema        string                      `json:"schema"`
	Target        string                      `json:"target"`
	StartedAt     string                      `json:"started_at"`
	Config        configJSON                  `json:"config"`
	Environment   envInfo                     `json:"environment"`
	Processes     int                         `json:"processes"`
	Requested     int64                       `json:"requested"`
	Established   int64                       `json:"established"`
	Verified      int64                       `json:"verified"`
	Failed        int64                       `json:"failed"`
	MaxConc       int64                       `json:"max_conc"`
	Total         int64                       `json:"total"`
	Now           int64                       `json:"now"`
	Errors        map[string]int64            `json:"errors"`
	Errnos        map[string]map[string]int64 `json:"errnos"`
	Examples      []string                    `json:"error_examples"`
	ElapsedS      float64                     `json:"elapsed_s"`
	ConnectAllS   float64                     `json:"connect_all_s"`
	HoldS         float64                     `json:"hold_s"`
	SteadyS       float64                     `json:"steady_s"`
	Sent          int64                       `json:"sent"`
	RoundTrips    int64                       `json:"round_trips"`
	InFlightLost  int64                       `json:"in_flight_lost"`
	BytesSent     int64                       `json:"bytes_sent"`
	BytesReceived int64                       `json:"bytes_received"`
	RoundTripsPS  float64                     `json:"round_trips_per_s"`
	MBPerS        float64                     `json:"mb_per_s"`
	ConnectsPerS  float64                     `json:"connects_per_s"`
	Rate          rateJSON                    `json:"rate"`
	UserCPUS      float64                     `json:"user_cpu_s"`
	SysCPUS       float64                     `json:"sys_cpu_s"`
	SteadyCPUS    float64                     `json:"steady_cpu_s"`
	CoresBusy     float64                     `json:"cores_busy"`
	CPUPerRTUs    float64                     `json:"cpu_per_round_trip_us"`
	Warnings      []string                    `json:"warnings"`
	Interrupted   bool                        `json:"interrupted"`
	Latency       map[string]latencyJSON      `json:"latency"`
	MergedFrom    []string                    `json:"merged_from"`

	SourceDesc string                 `json:"-"`
	hists      map[string]*histHolder // nil entries never occur
}

func newResult() *Result {
	r := &Result{
		Schema:     Schema,
		Processes:  1,
		Errors:     map[string]int64{},
		Errnos:     map[string]map[string]int64{},
		Examples:   []string{},
		Warnings:   []string{},
		Latency:    map[string]latencyJSON{},
		MergedFrom: []string{},
		hists:      map[string]*histHolder{},
	}
	for _, name := range histNames {
		r.hists[name] = &histHolder{stats.New()}
	}
	for _, c := range errorClasses {
		r.Errors[c] = 0
	}
	return r
}

// derive fills every figure computed from the raw counters and histograms.
func (r *Result) derive() {
	if r.SteadyS > 0 {
		r.RoundTripsPS = float64(r.RoundTrips) / r.SteadyS
		r.MBPerS = float64(r.BytesReceived) / r.SteadyS / 1e6
	}
	if r.ConnectAllS > 0 {
		r.ConnectsPerS = float64(r.Established) / r.ConnectAllS
	}
	r.Rate.Kept = true
	if r.Rate.RequestedPerS > 0 {
		// With -duration the schedule ends at the deadline; the wait for
		// the last echoes after it is not sending time.
		window := r.SteadyS
		if d := r.Config.DurationS; d > 0 && d < window {
			window = d
		}
		if window > 0 {
			r.Rate.AchievedPerS = float64(r.Sent) / window
		}
		r.Rate.Kept = r.Rate.MissedSends == 0 && r.Rate.LateSends <= max(1, r.Sent/100)
		if !r.Rate.Kept {
			r.addWarning(fmt.Sprintf("the requested rate of %.0f msg/s was not kept: %d sends more than one interval late, %d never sent", r.Rate.RequestedPerS, r.Rate.LateSends, r.Rate.MissedSends))
		}
	}
	if r.ElapsedS > 0 {
		r.CoresBusy = (r.UserCPUS + r.SysCPUS) / r.ElapsedS
		if r.SteadyS >= 0.5 {
			r.CoresBusy = max(r.CoresBusy, r.SteadyCPUS/r.SteadyS)
		}
	}
	if r.RoundTrips > 0 {
		r.CPUPerRTUs = r.SteadyCPUS / float64(r.RoundTrips) * 1e6
	}
	cores := float64(r.Environment.Cores)
	if cores > 0 && r.CoresBusy >= 0.8*cores && r.ElapsedS >= 0.2 {
		r.addWarning(fmt.Sprintf("the client kept %.2f of %d cores busy: it is near saturation, so the figures may measure the client rather than the server", r.CoresBusy, r.Environment.Cores))
	}
	for name, hh := range r.hists {
		enc, _ := stats.Encode(hh.h)
		r.Latency[name] = latencyJSON{Summary: stats.Summarize(hh.h), Unit: "us", Hdr: enc, HdrUnit: stats.Unit}
	}
}

func (r *Result) addWarning(w string) {
	for _, x := range r.Warnings {
		if x == w {
			return
		}
	}
	r.Warnings = append(r.Warnings, w)
}

func (r *Result) ok() bool {
	return r.Failed == 0 && r.Verified == r.Requested && r.Established == r.Requested && !r.Interrupted
}

// failureLines is the error summary for stderr: one headline, then one line
// per class with its errno names.
func (r *Result) failureLines() []string {
	var out []string
	bad := r.Requested - r.Verified
	head := fmt.Sprintf("%d of %d connections failed", bad, r.Requested)
	if r.Interrupted {
		head += " (interrupted)"
	}
	classes := r.classesByCount()
	if len(classes) > 0 {
		c := classes[0]
		head += fmt.Sprintf(": %s (%s) to %s", classText[c], r.errnoList(c), r.Target)
		if c == clsRefused && r.Established == 0 {
			head += " — is the server running?"
		}
	}
	out = append(out, head)
	for _, c := range classes {
		out = append(out, fmt.Sprintf("  %-12s %d (%s)", c, r.Errors[c], r.errnoList(c)))
	}
	return out
}

func (r *Result) classesByCount() []string {
	var cs []string
	for _, c := range errorClasses {
		if r.Errors[c] > 0 {
			cs = append(cs, c)
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return r.Errors[cs[i]] > r.Errors[cs[j]] })
	return cs
}

func (r *Result) errnoList(c string) string {
	m := r.Errnos[c]
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if m[names[i]] != m[names[j]] {
			return m[names[i]] > m[names[j]]
		}
		return names[i] < names[j]
	})
	if len(names) == 1 {
		return names[0]
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}

func (r *Result) workload() string {
	c := r.Config
	var parts []string
	switch {
	case c.DurationS > 0 && c.Rounds > 0:
		parts = append(parts, fmt.Sprintf("up to %d round trips per connection for at most %gs", c.Rounds, c.DurationS))
	case c.DurationS > 0:
		parts = append(parts, fmt.Sprintf("round trips for %gs", c.DurationS))
	default:
		parts = append(parts, fmt.Sprintf("%d round %s per connection", c.Rounds, plural(int64(c.Rounds), "trip", "trips")))
	}
	if c.Rate > 0 {
		parts = append(parts, fmt.Sprintf("open loop at %g msg/s", c.Rate))
	} else {
		parts = append(parts, "closed loop (lock-step)")
	}
	payload := "fixed payload"
	if c.RandomPayload {
		payload = "random payload"
	}
	parts = append(parts, fmt.Sprintf("%d B messages (%s)", c.MessageBytes, payload))
	if c.Reconnect {
		parts = append(parts, "new connection per round trip")
	}
	if c.HoldS > 0 {
		parts = append(parts, fmt.Sprintf("hold %gs", c.HoldS))
	}
	return strings.Join(parts, ", ")
}

func writeHuman(w io.Writer, r *Result) {
	b := bufio.NewWriter(w)
	defer b.Flush()
	// The original kit's lines come first, unchanged, for old scripts.
	fmt.Fprintf(b, "Max conc: %d\ntotal: %d\nconc: %d\n", r.MaxConc, r.Total, r.Now)
	line := func(label, format string, a ...any) {
		fmt.Fprintf(b, "%-24s%s\n", label, fmt.Sprintf(format, a...))
	}
	target := r.Target
	if r.SourceDesc != "" {
		target += " from " + r.SourceDesc
	}
	line("target", "%s", target)
	if r.Processes > 1 {
		if len(r.MergedFrom) > 0 {
			line("merged", "%d client processes (%s)", r.Processes, strings.Join(r.MergedFrom, ", "))
		} else {
			line("processes", "%d client processes started together (-procs), reports merged", r.Processes)
		}
	}
	line("workload", "%s", r.workload())
	line("connections requested", "%d", r.Requested)
	line("  established", "%d%s", r.Established, shortfall(r.Established, r.Requested))
	line("  verified", "%d%s", r.Verified, shortfall(r.Verified, r.Requested))
	line("  peak open at once", "%d%s", r.MaxConc, shortfall(r.MaxConc, r.Requested))
	line("  connects in total", "%d", r.Total)
	line("elapsed", "%.3f s", r.ElapsedS)
	line("connect all (ramp)", "%.3f s (%.0f connections/s)", r.ConnectAllS, r.ConnectsPerS)
	if r.HoldS > 0.0005 {
		line("hold", "%.3f s (all open, idle)", r.HoldS)
	}
	line("steady phase", "%.3f s (after the ramp and hold)", r.SteadyS)
	line("round trips", "%d verified, %.0f /s", r.RoundTrips, r.RoundTripsPS)
	line("throughput", "%.3f MB/s echoed (payload, each direction)", r.MBPerS)
	line("in flight lost", "%d (sent, echo never completed)", r.InFlightLost)
	if r.Rate.RequestedPerS > 0 {
		kept := "kept"
		if !r.Rate.Kept {
			kept = "NOT KEPT"
		}
		line("rate", "requested %.0f msg/s, achieved %.0f msg/s, %d late, %d never sent: %s",
			r.Rate.RequestedPerS, r.Rate.AchievedPerS, r.Rate.LateSends, r.Rate.MissedSends, kept)
	}
	line("client CPU", "%.3f s user, %.3f s system (%.2f of %d cores busy)", r.UserCPUS, r.SysCPUS, r.CoresBusy, r.Environment.Cores)
	if r.RoundTrips > 0 {
		line("CPU per round trip", "%.2f µs (client, steady phase)", r.CPUPerRTUs)
	}
	if r.Failed == 0 {
		line("errors", "none")
	} else {
		line("errors", "%d", r.Failed)
		for _, c := range r.classesByCount() {
			line("  "+c, "%d (%s)", r.Errors[c], r.errnoList(c))
		}
	}
	if r.Interrupted {
		line("interrupted", "yes (SIGINT/SIGTERM): partial figures")
	}
	fmt.Fprintf(b, "%-24s%8s %10s %10s %10s %10s %10s %10s %10s\n", "latency (µs)", "count", "min", "p50", "p90", "p99", "p99.9", "max", "mean")
	for _, name := range histNames {
		if name == "service" && r.Rate.RequestedPerS == 0 {
			continue // identical to rtt in closed loop
		}
		s := r.Latency[name].Summary
		label := "  " + name
		if name == "rtt" {
			label = "  round trip"
			if r.Rate.RequestedPerS > 0 {
				label += " *"
			}
		}
		fmt.Fprintf(b, "%-24s%8d %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", label, s.Count, s.Min, s.P50, s.P90, s.P99, s.P999, s.Max, s.Mean)
	}
	if r.Rate.RequestedPerS > 0 {
		fmt.Fprintf(b, "%-24s%s\n", "", "* from each message's intended send time (coordinated omission corrected);")
		fmt.Fprintf(b, "%-24s%s\n", "", "  service is from the actual send, as a closed-loop tool would report it")
	}
}

func shortfall(got, want int64) string {
	if got < want {
		return fmt.Sprintf("  (%d short of the %d requested)", want-got, want)
	}
	return ""
}

func writeJSON(path string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write JSON report: %v", err)
	}
	return nil
}
