// Package clientreport is the contract of bin/client's report, schema
// "10kthreads-client/1" (client/SCHEMA.md): the one Go type the client
// writes, `client merge` reads and adds up, and the experiment runner
// decodes, with the figures derived from the raw counters and the text
// the client prints.
package clientreport

import (
	"fmt"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"tenkthreads/internal/stats"
)

// Schema names the JSON layout documented in client/SCHEMA.md; bump it on
// any incompatible change.
const Schema = "10kthreads-client/1"

// HistNames are the latency histograms every report carries: connect
// time, round trip (from the intended send time in open loop) and service
// time (from the actual send; equal to rtt in closed loop).
var HistNames = []string{"connect", "rtt", "service"}

// Error classes; the JSON object "errors" always carries every one.
const (
	Refused   = "refused"
	Reset     = "reset"
	Timeout   = "timeout"
	Mismatch  = "mismatch"
	FdLimit   = "fd_limit"
	AddrInUse = "addr_in_use"
	EOF       = "eof"
	Other     = "other"
)

// Classes is every error class, in the order the report lists them.
var Classes = []string{Refused, Reset, Timeout, Mismatch, FdLimit, AddrInUse, EOF, Other}

// ClassText says what each class means, for people.
var ClassText = map[string]string{
	Refused:   "connection refused",
	Reset:     "connection reset",
	Timeout:   "timed out",
	Mismatch:  "echo mismatch",
	FdLimit:   "local fd limit",
	AddrInUse: "local address/port exhausted",
	EOF:       "server closed early",
	Other:     "other error",
}

// Engines: how the client drives its connections. A report that does not
// name one was written before the event loop existed, by the goroutine
// engine; a merge of reports from both engines is mixed.
const (
	EngineEventLoop = "eventloop"
	EngineGoroutine = "goroutine"
	EngineMixed     = "mixed"
)

// Config is the flags of the run.
type Config struct {
	N               int      `json:"n"`
	Host            string   `json:"host"`
	MessageBytes    int      `json:"message_bytes"`
	RandomPayload   bool     `json:"random_payload"`
	Rounds          int      `json:"rounds"`
	DurationS       float64  `json:"duration_s"`
	HoldS           float64  `json:"hold_s"`
	LingerS         float64  `json:"linger_s,omitempty"`
	Rate            float64  `json:"rate"`
	Reconnect       bool     `json:"reconnect"`
	ConnectRate     float64  `json:"connect_rate"`
	ConnectTimeoutS float64  `json:"connect_timeout_s"`
	TimeoutS        float64  `json:"timeout_s"`
	Dialers         int      `json:"dialers"`
	Sources         []string `json:"sources"`
	StartAt         string   `json:"start_at"`
	Procs           int      `json:"procs"`
	Idle            int      `json:"idle"`
	WarmupS         float64  `json:"warmup_s"`
}

// Environment is where the client ran.
type Environment struct {
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

// Rate is the open loop's (-rate) bookkeeping.
type Rate struct {
	RequestedPerS float64 `json:"requested_per_s"`
	AchievedPerS  float64 `json:"achieved_per_s"`
	LateSends     int64   `json:"late_sends"`
	MissedSends   int64   `json:"missed_sends"`
	Kept          bool    `json:"kept"`
}

// Latency is one histogram: its summary in µs and the histogram itself.
type Latency struct {
	stats.Summary
	Unit    string `json:"unit"`
	Hdr     string `json:"hdr"`
	HdrUnit string `json:"hdr_unit"`
}

// Result is one run (or a merge of runs); its JSON form is the schema.
type Result struct {
	Schema string `json:"schema"`
	// Engine is EngineEventLoop, EngineGoroutine or, for a merge of
	// both, EngineMixed; Loops is the event loops (summed over the
	// processes of a merge; 0 for the goroutine engine).
	Engine        string                      `json:"engine"`
	Loops         int                         `json:"loops"`
	Target        string                      `json:"target"`
	StartedAt     string                      `json:"started_at"`
	Config        Config                      `json:"config"`
	Environment   Environment                 `json:"environment"`
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
	LingerS       float64                     `json:"linger_s,omitempty"`
	SteadyS       float64                     `json:"steady_s"`
	Sent          int64                       `json:"sent"`
	RoundTrips    int64                       `json:"round_trips"`
	InFlightLost  int64                       `json:"in_flight_lost"`
	BytesSent     int64                       `json:"bytes_sent"`
	BytesReceived int64                       `json:"bytes_received"`
	RoundTripsPS  float64                     `json:"round_trips_per_s"`
	// WindowRoundTrips is the round trips completed within -duration
	// after its -warmup, of a run with one: without the echoes still in
	// flight at its end, nor those of the start, when a client's first
	// round trip may find its connection made (and, for a thread or a
	// process per connection, its thread made) in the ramp.
	WindowRoundTrips   int64              `json:"window_round_trips"`
	WindowRoundTripsPS float64            `json:"window_round_trips_per_s"`
	MBPerS             float64            `json:"mb_per_s"`
	ConnectsPerS       float64            `json:"connects_per_s"`
	Rate               Rate               `json:"rate"`
	UserCPUS           float64            `json:"user_cpu_s"`
	SysCPUS            float64            `json:"sys_cpu_s"`
	SteadyCPUS         float64            `json:"steady_cpu_s"`
	SteadyUserCPUS     float64            `json:"steady_user_cpu_s,omitempty"`
	CoresBusy          float64            `json:"cores_busy"`
	CPUPerRTUs         float64            `json:"cpu_per_round_trip_us"`
	UserCPUPerRTUs     float64            `json:"user_cpu_per_round_trip_us,omitempty"`
	Warnings           []string           `json:"warnings"`
	Interrupted        bool               `json:"interrupted"`
	Latency            map[string]Latency `json:"latency"`
	MergedFrom         []string           `json:"merged_from"`
	PerConn            PerConn            `json:"round_trips_per_conn"`
	Idle               Idle               `json:"idle"`

	// SourceDesc describes the source addresses for the text report.
	SourceDesc string `json:"-"`
	// Hists are the histograms behind Latency, one per HistNames entry.
	Hists map[string]*hdr.Histogram `json:"-"`
}

// New returns an empty report: every error class at 0, every histogram
// empty, no list nil (the JSON says [] and {}, never null).
func New() *Result {
	r := &Result{
		Schema:     Schema,
		Engine:     EngineGoroutine,
		Processes:  1,
		Errors:     zeroClasses(),
		Errnos:     map[string]map[string]int64{},
		Examples:   []string{},
		Warnings:   []string{},
		Latency:    map[string]Latency{},
		MergedFrom: []string{},
		Hists:      map[string]*hdr.Histogram{},
		PerConn:    PerConn{Counts: [][2]int64{}},
		Idle:       newIdle(),
	}
	for _, name := range HistNames {
		r.Hists[name] = stats.New()
	}
	return r
}

// Derive fills every figure computed from the raw counters and histograms.
func (r *Result) Derive() {
	if r.SteadyS > 0 {
		r.RoundTripsPS = float64(r.RoundTrips) / r.SteadyS
		r.MBPerS = float64(r.BytesReceived) / r.SteadyS / 1e6
	}
	if w := r.Config.DurationS - r.Config.WarmupS; r.Config.DurationS > 0 && w > 0 {
		r.WindowRoundTripsPS = float64(r.WindowRoundTrips) / w
	}
	if r.ConnectAllS > 0 {
		r.ConnectsPerS = float64(r.Established+r.Idle.Established) / r.ConnectAllS
	}
	r.deriveRate()
	r.PerConn.derive()
	if r.ElapsedS > 0 {
		r.CoresBusy = (r.UserCPUS + r.SysCPUS) / r.ElapsedS
		if r.SteadyS >= 0.5 {
			r.CoresBusy = max(r.CoresBusy, r.SteadyCPUS/r.SteadyS)
		}
	}
	if r.RoundTrips > 0 {
		r.CPUPerRTUs = r.SteadyCPUS / float64(r.RoundTrips) * 1e6
		r.UserCPUPerRTUs = r.SteadyUserCPUS / float64(r.RoundTrips) * 1e6
	}
	cores := float64(r.Environment.Cores)
	if cores > 0 && r.CoresBusy >= 0.8*cores && r.ElapsedS >= 0.2 {
		r.AddWarning(fmt.Sprintf("the client kept %.2f of %d cores busy: it is near saturation, so the figures may measure the client rather than the server", r.CoresBusy, r.Environment.Cores))
	}
	for name, h := range r.Hists {
		enc, _ := stats.Encode(h)
		r.Latency[name] = Latency{Summary: stats.Summarize(h), Unit: "us", Hdr: enc, HdrUnit: stats.Unit}
	}
}

func (r *Result) deriveRate() {
	r.Rate.Kept = true
	if r.Rate.RequestedPerS <= 0 {
		return
	}
	// With -duration the schedule ends at the deadline; the wait for the
	// last echoes after it is not sending time.
	window := r.SteadyS
	if d := r.Config.DurationS; d > 0 && d < window {
		window = d
	}
	if window > 0 {
		r.Rate.AchievedPerS = float64(r.Sent) / window
	}
	r.Rate.Kept = r.Rate.MissedSends == 0 && r.Rate.LateSends <= max(1, r.Sent/100)
	if !r.Rate.Kept {
		r.AddWarning(fmt.Sprintf("the requested rate of %.0f msg/s was not kept: %d sends more than one interval late, %d never sent", r.Rate.RequestedPerS, r.Rate.LateSends, r.Rate.MissedSends))
	}
}

// AddWarning adds w once.
func (r *Result) AddWarning(w string) {
	for _, x := range r.Warnings {
		if x == w {
			return
		}
	}
	r.Warnings = append(r.Warnings, w)
}

// OK says whether the run succeeded: every connection connected and
// verified, the idle ones too, nothing failed, not interrupted.
func (r *Result) OK() bool {
	return r.Failed == 0 && r.Verified == r.Requested && r.Established == r.Requested && !r.Interrupted &&
		r.Idle.Failed == 0 && r.Idle.Verified == r.Idle.Requested
}
