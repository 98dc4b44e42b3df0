package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/srvreport"
)

// Results is everything a report is made of: runs.json and meta.json of a
// results directory and every run's raw JSON, read back by Load so that a
// report can be rebuilt from the directory alone.
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
	// ServerCPUs and ClientCPUs are the CPUs each side was pinned to;
	// empty when the run was not pinned.
	ServerCPUs []int `json:"server_cpus"`
	ClientCPUs []int `json:"client_cpus"`
	// KStackPerThreadKiB is measured at the start (proc.Calibrate).
	KStackPerThreadKiB Num         `json:"kstack_per_thread_kib"`
	Notes              []string    `json:"notes"`
	Env                [][2]string `json:"environment"`
	// Calibration is the kernel's cost per thread, mapping, socket end
	// and epoll registration (proc.Calibrate); nil in results
	// from before it existed.
	Calibration *Calibration `json:"machine_calibration,omitempty"`
	// Preconditions are the limits checked before the first run (the
	// largest run's needs); Tuned the sysctls -tune raised for the run
	// and restored. Both empty in results from before they were kept.
	Preconditions []Precond `json:"preconditions,omitempty"`
	// OrderSeed is the seed of the random order of an interleaved
	// campaign's runs within each round; 0 when it ran in plan order.
	OrderSeed uint64         `json:"order_seed,omitempty"`
	Tuned     []SysctlChange `json:"tuned,omitempty"`
	// Topology is where the sides ran; nil for this machine, loopback.
	Topology *Topology `json:"topology,omitempty"`
}

// WriteJSON writes v as indented JSON.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Load reads runs.json and meta.json from dir and every run's raw JSON
// from dir/raw, and derives the figures. A report file that is missing
// (the program died before writing it) leaves its figures not measured;
// one that does not decode into its type is an error, since then the
// program and the runner disagree on the contract.
func Load(dir string) (*Results, error) {
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
	for _, r := range res.Runs {
		if err := res.derive(r); err != nil {
			return nil, err
		}
	}
	res.Cells = Aggregate(res.Runs)
	orderServers(res.Cells, res.Meta.Servers)
	return res, nil
}

// raw decodes one report of the raw directory with read; a file that is
// not there, or not named, is nil.
func raw[T any](dir, name string, read func(string) (*T, error)) (*T, error) {
	if name == "" {
		return nil, nil
	}
	v, err := read(filepath.Join(dir, "raw", name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return v, err
}

// DeriveRun derives the figures of one run of the results directory dir
// described by m, while the campaign that makes it still runs.
func DeriveRun(dir string, m Meta, r *Run) error {
	res := &Results{Dir: dir, Meta: m}
	return res.derive(r)
}

func (res *Results) derive(r *Run) error {
	srv, err := raw(res.Dir, r.ServerJSON, srvreport.Read)
	if err != nil {
		return err
	}
	cli, err := raw(res.Dir, r.ClientJSON, clientreport.Read)
	if err != nil {
		return err
	}
	kpt := res.Meta.KStackPerThreadKiB
	r.M = Derive(srv, cli, r.Sample, kpt)
	r.M.ListenDrops, r.M.ListenOverfl, r.M.CookiesFail = r.Listen.Drops, r.Listen.Overflows, r.Listen.SyncookiesFailed
	if r.Probe != nil {
		var idle, hold *srvreport.Report
		if idle, err = raw(res.Dir, r.Probe.IdleJSON, srvreport.Read); err != nil {
			return err
		}
		if hold, err = raw(res.Dir, r.Probe.HoldJSON, srvreport.Read); err != nil {
			return err
		}
		HoldWindowCheck(r.Probe, cli)
		r.M.ProbeLate = r.Probe.HoldLate
		ProbeMetrics(&r.M, idle, hold, srv, r.Probe, kpt)
	}
	if err := res.machine(r, cli); err != nil {
		return err
	}
	if r.SystemBusyS.Set && r.M.CPUS.Set && r.M.ClientCPUS.Set {
		r.M.OtherCPUS = N(max(0, r.SystemBusyS.V-r.M.CPUS.V-r.M.ClientCPUS.V))
		if r.WallS > 0 && res.Meta.CPUs > 0 {
			r.M.OtherShare = N(100 * r.M.OtherCPUS.V / (r.WallS * float64(res.Meta.CPUs)))
		}
	}
	r.M.countsPerRT(r.Counts)
	// Errors the client could not report (killed, or it died) must not
	// read as "0 errors".
	if r.Status == StatusErrors && !r.M.Errors.Set && r.M.Requested.Set && r.M.Verified.Set {
		r.M.Errors = N(r.M.Requested.V - r.M.Verified.V)
	}
	return nil
}

// machine reads the run's machine record, if it keeps one, and derives
// the machine figures from it.
func (res *Results) machine(r *Run, cli *clientreport.Result) error {
	m, err := raw(res.Dir, r.MachineJSON, ReadMachine)
	if err != nil {
		return fmt.Errorf("%s: %v", r.MachineJSON, err)
	}
	if m == nil {
		return nil
	}
	if m.Peak != nil && !m.PeakLate {
		if late, by := afterHold(m.Peak.At, cli); late {
			m.PeakLate = true
			m.Detail = fmt.Sprintf("peak snapshot taken %.3f s after the client's hold ended", by)
		}
	}
	r.Machine = m
	r.Attribution = MachineMetrics(&r.M, m, res.Meta.Calibration, res.Meta.KStackPerThreadKiB)
	return nil
}

// InterferenceSummary describes what other processes took from the
// machine over all runs: the median and the worst run.
func InterferenceSummary(runs []*Run) (med, worst Num) {
	var xs []Num
	for _, r := range runs {
		if r.Superseded == "" {
			xs = append(xs, r.M.OtherShare)
		}
	}
	st := StatOf(xs)
	return st.Med, st.Max
}

// orderServers puts cells in the order of the campaign's servers, which
// an interleaved campaign's first runs do not follow; servers meta.json
// does not list keep their place after those it does.
func orderServers(cells []*Cell, servers []ServerSpec) {
	rank := map[string]int{}
	for i, s := range servers {
		rank[s.Key] = i
	}
	at := func(c *Cell) int {
		if r, ok := rank[c.Server]; ok {
			return r
		}
		return len(servers)
	}
	sort.SliceStable(cells, func(i, j int) bool { return at(cells[i]) < at(cells[j]) })
}
