package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Stat is the median and spread of one figure over a cell's repetitions,
// counting only the repetitions where it was measured.
type Stat struct {
	Med, Min, Max Num
	N             int
}

func statOf(vals []Num) Stat {
	var xs []float64
	for _, v := range vals {
		if v.Set {
			xs = append(xs, v.V)
		}
	}
	if len(xs) == 0 {
		return Stat{}
	}
	sort.Float64s(xs)
	med := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		med = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return Stat{Med: num(med), Min: num(xs[0]), Max: num(xs[len(xs)-1]), N: len(xs)}
}

type metricDef struct {
	key   string
	title string
	get   func(Metrics) Num
}

// metricDefs is the CSV's column order; keys are stable for scripts.
var metricDefs = []metricDef{
	{"requested", "requested", func(m Metrics) Num { return m.Requested }},
	{"established", "established", func(m Metrics) Num { return m.Established }},
	{"verified", "verified", func(m Metrics) Num { return m.Verified }},
	{"errors", "client errors", func(m Metrics) Num { return m.Errors }},
	{"server_max_conc", "server peak connections", func(m Metrics) Num { return m.MaxConc }},
	{"peak_rss_kib", "server peak resident (KiB, VmHWM)", func(m Metrics) Num { return m.PeakRSSKiB }},
	{"kib_per_conn", "user-space KiB per connection", func(m Metrics) Num { return m.KiBPerConn }},
	{"kstack_kib", "kernel stack growth (KiB)", func(m Metrics) Num { return m.KStackKiB }},
	{"kstack_kib_per_conn", "kernel stack KiB per connection", func(m Metrics) Num { return m.KStackPerC }},
	{"kstack_system_kib", "system-wide KernelStack growth at the peak (KiB)", func(m Metrics) Num { return m.KStackSysKiB }},
	{"server_cpu_s", "server CPU (s)", func(m Metrics) Num { return m.CPUS }},
	{"client_cpu_s", "client CPU (s)", func(m Metrics) Num { return m.ClientCPUS }},
	{"connect_all_s", "time to connect all (s)", func(m Metrics) Num { return m.ConnectAllS }},
	{"rtt_p50_us", "rtt p50 (µs)", func(m Metrics) Num { return m.RTTP50us }},
	{"rtt_p99_us", "rtt p99 (µs)", func(m Metrics) Num { return m.RTTP99us }},
	{"round_trips", "round trips", func(m Metrics) Num { return m.RoundTrips }},
	{"round_trips_per_s", "round trips/s", func(m Metrics) Num { return m.RTPerS }},
	{"server_cpu_us_per_rt", "server CPU per round trip (µs)", func(m Metrics) Num { return m.CPUPerRTus }},
	{"server_threads_peak", "server threads (peak)", func(m Metrics) Num { return m.Threads }},
	{"server_resets", "server resets", func(m Metrics) Num { return m.Resets }},
	{"client_cores_busy", "client cores busy", func(m Metrics) Num { return m.ClientBusy }},
	{"other_cpu_s", "CPU used by other processes during the run (s)", func(m Metrics) Num { return m.OtherCPUS }},
	{"other_cpu_pct", "share of the machine's CPU other processes used during the run (%)", func(m Metrics) Num { return m.OtherShare }},
	// Probed runs only (bench, c100k, models); empty otherwise.
	{"held_conns", "server connections open at the hold report", func(m Metrics) Num { return m.HeldConns }},
	{"hold_kib_per_conn", "resident growth idle to hold per connection (KiB)", func(m Metrics) Num { return m.HoldKiBPerConn }},
	{"hold_kib_per_conn_from_start", "resident growth start to hold per connection (KiB)", func(m Metrics) Num { return m.HoldKiBPerConnStart }},
	{"hold_kstack_kib_per_conn", "kernel stack per connection at the hold (KiB)", func(m Metrics) Num { return m.HoldKStackPerC }},
	{"hold_kstack_all_kib_per_conn", "all the server's kernel stacks at the hold per connection (KiB)", func(m Metrics) Num { return m.HoldKStackAllPerC }},
	{"hold_cpu_us_per_rt", "server CPU from the hold report to exit per round trip (µs)", func(m Metrics) Num { return m.HoldCPUPerRTus }},
	{"accept_server_s", "server: first to last connection thread (s)", func(m Metrics) Num { return m.AcceptServerS }},
	{"gib_per_s", "echoed payload each direction (GiB/s)", func(m Metrics) Num { return m.GiBPerS }},
}

// Cell is one (server, workload, connections) point with all its runs.
type Cell struct {
	Server, Label, Model, Workload string
	Conns                          int
	Runs                           []*Run
	Stats                          map[string]Stat
}

// Status is the worst status of the cell's runs, with how many runs had it.
func (c *Cell) Status() string {
	worst, n := StatusOK, 0
	for _, r := range c.Runs {
		if statusRank[r.Status] > statusRank[worst] {
			worst, n = r.Status, 0
		}
		if r.Status == worst {
			n++
		}
	}
	if worst == StatusOK || len(c.Runs) == 1 {
		return worst
	}
	return fmt.Sprintf("%s %d/%d", worst, n, len(c.Runs))
}

func (c *Cell) stat(key string) Stat { return c.Stats[key] }

// threadPerConn says whether the server paid a kernel stack per
// connection (a thread or a process each), judged from the data, so the
// kernel stacks are charged to the models that really pay them.
func (c *Cell) threadPerConn() bool {
	k := c.stat("kstack_kib_per_conn").Med
	return k.Set && k.V >= 1
}

var workloadOrder = map[string]int{"hold": 0, "echo": 1, "reconnect": 2}

// aggregate groups runs into cells in a stable order: servers as first
// seen, then workload, then connections.
func aggregate(runs []*Run) []*Cell {
	serverOrder := map[string]int{}
	cells := map[string]*Cell{}
	var list []*Cell
	for _, r := range runs {
		if _, ok := serverOrder[r.Server]; !ok {
			serverOrder[r.Server] = len(serverOrder)
		}
		k := fmt.Sprintf("%s|%s|%d", r.Server, r.Workload, r.Conns)
		c, ok := cells[k]
		if !ok {
			c = &Cell{Server: r.Server, Label: r.Label, Model: r.Model, Workload: r.Workload, Conns: r.Conns}
			cells[k] = c
			list = append(list, c)
		}
		c.Runs = append(c.Runs, r)
	}
	for _, c := range list {
		c.Stats = map[string]Stat{}
		for _, d := range metricDefs {
			vals := make([]Num, len(c.Runs))
			for i, r := range c.Runs {
				vals[i] = d.get(r.M)
			}
			c.Stats[d.key] = statOf(vals)
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if serverOrder[a.Server] != serverOrder[b.Server] {
			return serverOrder[a.Server] < serverOrder[b.Server]
		}
		if workloadOrder[a.Workload] != workloadOrder[b.Workload] {
			return workloadOrder[a.Workload] < workloadOrder[b.Workload]
		}
		return a.Conns < b.Conns
	})
	return list
}

// Results is everything a report is made of; it is written as
// results.json-free raw files plus runs.json and meta.json, and read back
// by LoadResults so that a report can be rebuilt from a results directory.
type Results struct {
	Dir   string
	Meta  Meta
	Runs  []*Run
	Cells []*Cell
}

// Meta describes the whole experiment: how it was invoked and where.
type Meta struct {
	Started   string            `json:"started"`
	Finished  string            `json:"finished"`
	Command   string            `json:"command"`
	Reps      int               `json:"reps"`
	Counts    []int             `json:"counts"`
	Servers   []ServerSpec      `json:"servers"`
	Workloads map[string]string `json:"workloads"` // name -> client flags and meaning
	Pinning   string            `json:"pinning"`
	CPUs      int               `json:"cpus"`
	// KStackPerThreadKiB is measured at the start (see calibrateKernelStack).
	KStackPerThreadKiB Num         `json:"kstack_per_thread_kib"`
	Notes              []string    `json:"notes"`
	Env                [][2]string `json:"environment"`
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// LoadResults reads runs.json and meta.json from dir and every run's raw
// JSON from dir/raw, and derives the figures.
func LoadResults(dir string) (*Results, error) {
	res := &Results{Dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, "runs.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &res.Runs); err != nil {
		return nil, fmt.Errorf("runs.json: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "meta.json")); err == nil {
		if err := json.Unmarshal(b, &res.Meta); err != nil {
			return nil, fmt.Errorf("meta.json: %v", err)
		}
	}
	res.derive()
	return res, nil
}

func (res *Results) derive() {
	raw := filepath.Join(res.Dir, "raw")
	for _, r := range res.Runs {
		var srv, cli doc
		if r.ServerJSON != "" {
			srv, _ = loadDoc(filepath.Join(raw, r.ServerJSON))
		}
		if r.ClientJSON != "" {
			cli, _ = loadDoc(filepath.Join(raw, r.ClientJSON))
		}
		r.M = metricsFrom(srv, cli, r.Sample, res.Meta.KStackPerThreadKiB)
		if r.Probe != nil {
			var idle, hold doc
			if r.Probe.IdleJSON != "" {
				idle, _ = loadDoc(filepath.Join(raw, r.Probe.IdleJSON))
			}
			if r.Probe.HoldJSON != "" {
				hold, _ = loadDoc(filepath.Join(raw, r.Probe.HoldJSON))
			}
			holdWindowCheck(r.Probe, cli)
			r.M.ProbeLate = r.Probe.HoldLate
			probeMetrics(&r.M, idle, hold, srv, cli, r.Probe, res.Meta.KStackPerThreadKiB)
		}
		if r.SystemBusyS.Set && r.M.CPUS.Set && r.M.ClientCPUS.Set {
			r.M.OtherCPUS = num(max(0, r.SystemBusyS.V-r.M.CPUS.V-r.M.ClientCPUS.V))
			if r.WallS > 0 && res.Meta.CPUs > 0 {
				r.M.OtherShare = num(100 * r.M.OtherCPUS.V / (r.WallS * float64(res.Meta.CPUs)))
			}
		}
		// Errors the client could not report (killed, or it died) must not
		// read as "0 errors".
		if r.Status == StatusErrors && !r.M.Errors.Set && r.M.Requested.Set && r.M.Verified.Set {
			r.M.Errors = num(r.M.Requested.V - r.M.Verified.V)
		}
	}
	res.Cells = aggregate(res.Runs)
}
