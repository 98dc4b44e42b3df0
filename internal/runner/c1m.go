package runner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/plots"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
)

// c1m holds a million connections for each event loop and the Go
// reference, and as many as memory allows with a thread each (make c1m).
type c1m struct{ noCheck }

func (c1m) Info() plan.ModeFlag {
	return plan.ModeFlag{Name: "c1m", Usage: "-c1m [-tune] [-quick] [-counts A,...,GOAL] [-servers LIST]",
		Help:  "1,000,000 connections for epoll, uring and the Go reference, and as many as memory allows with a thread each, every echo verified (make c1m)",
		Flags: []string{"quick", "tune", "counts", "servers"}}
}

// c1mSizes are the counts of a c1m run: the reference count, those
// between it and the goal (for the figure), the goal, the least the
// thread model must hold, and the step the largest counts round down to.
type c1mSizes struct {
	ref         int
	mid         []int
	goal        int
	threadFloor int
	step        int
}

func sizesC1M(o plan.Options) c1mSizes {
	z := c1mSizes{ref: 10000, mid: []int{100000}, goal: 1000000, threadFloor: 500000, step: 50000}
	if o.Quick {
		z = c1mSizes{ref: 2000, mid: []int{5000}, goal: 20000, threadFloor: 10000, step: 1000}
	}
	if o.Counts.Given {
		v := slices.Clone(o.Counts.V)
		slices.Sort(v)
		z.ref, z.goal, z.mid = v[0], v[len(v)-1], v[1:max(1, len(v)-1)]
		z.threadFloor, z.step = z.goal/2, max(1, z.goal/20)
	}
	return z
}

const (
	// c1mThreadGuessKiB is what a connection with a thread of its own is
	// expected to cost the machine before anything is measured (server
	// and client): what the thread limits are tuned for.
	c1mThreadGuessKiB = 30
	// c1mMargin is what a run's predicted memory gets on top, and
	// c1mMemShare the share of MemAvailable (above the floor) it may take.
	// The reference cost already overstates a larger run's (it carries
	// the fixed costs of the client and the server over fewer
	// connections), and the floor stops a run that goes past it.
	c1mMargin   = 1.0
	c1mMemShare = 0.97
	// c1mVerifyRate is the echoes per second the client verifies at,
	// paced: a million at once do not fit in any round-trip deadline on
	// two cores. The thread model's wake one thread each, at half that.
	c1mVerifyRate       = 100000
	c1mThreadVerifyRate = 50000
	// c1mRoundTimeout and c1mConnectTimeout are the client's deadlines.
	c1mRoundTimeout   = 60 * time.Second
	c1mConnectTimeout = 30 * time.Second
	// c1mStopTimeout is what a server with every connection open gets to
	// exit after SIGINT (the target is 60 s).
	c1mStopTimeout = 3 * time.Minute
)

// c1mRun is a c1m campaign as it goes.
type c1mRun struct {
	z       c1mSizes
	sys     plan.System
	kit     plan.Kit
	specs   []results.ServerSpec
	sources int
	floor   int64 // MemAvailable (KiB) no run may take the machine below
	// threadCap is the thread count the thread limits were tuned for.
	threadCap int
	models    []report.C1MModel
}

// c1mServers are the event loops, the Go reference and the thread
// model, the thread model last: it takes the most memory.
func c1mServers(kit plan.Kit) []results.ServerSpec {
	var out []results.ServerSpec
	for _, m := range []string{"epoll", "uring"} {
		if _, ok := kit.Models.Get(m); ok {
			out = append(out, kit.Spec(m))
		}
	}
	return append(out, kit.GoRef(), kit.Spec(plan.DefaultModel))
}

// Plan checks the limits of the largest runs and holds each server's
// counts in turn, each run sized by what the one before it cost.
func (c1m) Plan(s Setup) (*Plan, error) {
	z := sizesC1M(s.O)
	sys := s.Sys
	var notes []string
	if n := raiseNoFile(&sys); n != "" {
		notes = append(notes, n)
	}
	cr := &c1mRun{z: z, sys: sys, kit: s.Kit, specs: c1mServers(s.Kit), sources: plan.SourcesFor(z.goal, sys)}
	if len(s.O.Servers) > 0 {
		specs, _, err := s.Kit.MatrixServers(s.O.Servers)
		if err != nil {
			return nil, err
		}
		cr.specs = specs
	}
	if s.Env.Servers != nil {
		cr.specs = s.Env.Servers
	}
	cr.floor = int64(max(1<<20, 0.05*sys.MemAvailableKiB))
	fit := int((sys.MemAvailableKiB - float64(cr.floor)) * c1mMemShare / c1mThreadGuessKiB)
	cr.threadCap = max(z.ref, min(z.goal, fit/z.step*z.step))
	rows := plan.C1MPreconds(sys, plan.C1MNeed{Conns: z.goal, Threads: cr.threadCap, Sources: cr.sources})
	return &Plan{Kind: "c1m", Checks: Checks{Conns: z.goal, Rows: rows}, Notes: notes,
		Intro: fmt.Sprintf("c1m: %d servers, %s connections each (the thread model: as many as fit, up to %s), from %s; no run may take MemAvailable below %d MiB",
			len(cr.specs), results.Thousands(z.goal), results.Thousands(cr.threadCap), results.Thousands(z.ref), cr.floor/1024),
		Steps: cr.steps, Budget: report.C1MWallLimitS * time.Second, Reps: 1,
		Report: cr.report}, nil
}

// raiseNoFile raises this process's open-file hard limit to fs.nr_open,
// where it may (CAP_SYS_RESOURCE), so that every server and client
// process it starts can hold more connections; where it may not, the
// runs spread over processes. It says which, and updates sys.
func raiseNoFile(sys *plan.System) string {
	nrOpen := plan.SysctlInt("fs.nr_open")
	if nrOpen == 0 || uint64(nrOpen) <= sys.FDHard {
		return ""
	}
	if err := sysinfo.RaiseFDHard(uint64(nrOpen)); err != nil {
		return fmt.Sprintf("the open-file hard limit of %d cannot be raised to fs.nr_open (%d) here (%v): the connections are spread over server (-P) and client (-procs) processes", sys.FDHard, nrOpen, err)
	}
	old := sys.FDHard
	sys.FDSoft, sys.FDHard, _ = sysinfo.FDLimits()
	return fmt.Sprintf("the open-file hard limit was raised from %d to %d (fs.nr_open) for the runs", old, sys.FDHard)
}

// steps runs each server: the reference count, then each larger count
// that its reference cost says fits, up to its goal or its first failure.
func (cr *c1mRun) steps(c *campaign) error {
	for _, spec := range cr.specs {
		md := report.C1MModel{Server: spec.Key, Label: spec.Label, Goal: cr.z.goal}
		if spec.Model == plan.DefaultModel && cr.kit.Facts(spec).PerConnection != "" {
			md.Goal = cr.threadCap
		}
		cr.model(c, spec, &md)
		cr.models = append(cr.models, md)
		if c.interrupted() {
			break
		}
	}
	return nil
}

// model holds spec's counts up to md's goal: each must fit in what
// MemAvailable has now, at what a connection cost the machine at the
// reference count; the first that fails or does not fit ends it.
func (cr *c1mRun) model(c *campaign, spec results.ServerSpec, md *report.C1MModel) {
	r := cr.hold(c, spec, cr.z.ref)
	if !cr.judge(r, cr.z.ref, md) {
		return
	}
	per := perConnKiB(r)
	if perConnSeen != nil {
		perConnSeen(per)
	}
	if per <= 0 {
		md.Stopped = fmt.Sprintf("no machine memory figure at %s connections to size the larger runs by", results.Thousands(cr.z.ref))
		return
	}
	counts := append(slices.Clone(cr.z.mid), md.Goal)
	for i, n := range counts {
		goal := i == len(counts)-1
		if n <= md.Held {
			continue
		}
		if fit := cr.fits(per); fit < n {
			md.Stopped = fmt.Sprintf("memory: %s connections would need %.1f GiB at %.1f KiB each (%s's cost at %s); %s fit in %.0f%% of MemAvailable above its floor of %d MiB",
				results.Thousands(n), float64(n)*per/(1<<20), per, spec.Label, results.Thousands(cr.z.ref), results.Thousands(fit), 100*c1mMemShare, cr.floor/1024)
			if fit < md.Held+cr.z.step || !goal {
				return
			}
			// The goal does not fit: hold what does, and say so.
			n = fit
			c.note("c1m: %s scaled down to %s connections: %s", spec.Label, results.Thousands(n), md.Stopped)
		}
		r := cr.hold(c, spec, n)
		if cr.judge(r, n, md) {
			continue
		}
		if r == nil || r.Status != results.StatusMemCap || !goal {
			return
		}
		// The floor stopped the goal: the reference cost was too low
		// a guess at this count. One try at 85% of it, and say so.
		less := int(0.85*float64(n)) / cr.z.step * cr.z.step
		if less <= md.Held {
			return
		}
		first := md.Stopped
		if cr.judge(cr.hold(c, spec, less), less, md) {
			md.Stopped = first + fmt.Sprintf("; %s held instead", results.Thousands(less))
		}
		return
	}
}

// perConnSeen, when set, is told each reference cost (a test's seam: it
// sizes the memory it pretends to have by it).
var perConnSeen func(kib float64)

// memAvailableNow is MemAvailable (KiB) now; tests replace it.
var memAvailableNow = func() (float64, error) {
	v, err := sysinfo.Host.MemAvailableKiB()
	return float64(v), err
}

// fits is the most connections, in steps, that fit in MemAvailable now
// (above the floor) at per KiB each.
func (cr *c1mRun) fits(per float64) int {
	avail, err := memAvailableNow()
	if err != nil {
		return 0
	}
	n := int((avail - float64(cr.floor)) * c1mMemShare / per)
	return n / cr.z.step * cr.z.step
}

// perConnKiB is what one connection of r cost the whole machine, KiB,
// with the margin: the larger of the parts' sum (server and client) and
// MemAvailable's drop, both from idle to the hold.
func perConnKiB(r *results.Run) float64 {
	if r == nil || r.Conns == 0 {
		return 0
	}
	v := max(r.M.PartsSumKiB.V, r.M.AvailDropKiB.V)
	if r.MemAvailableBefore.Set && r.Probe != nil && r.Probe.HoldMemAvailableKiB.Set {
		v = max(v, r.MemAvailableBefore.V-r.Probe.HoldMemAvailableKiB.V)
	}
	return c1mMargin * v / float64(r.Conns)
}

// judge records whether run r held all n connections, and if not, why.
func (cr *c1mRun) judge(r *results.Run, n int, md *report.C1MModel) bool {
	switch {
	case r == nil:
		md.Stopped = "interrupted"
		return false
	case r.Status == results.StatusOK && r.M.Verified.Set && int(r.M.Verified.V) == n && r.M.Errors.Set && r.M.Errors.V == 0:
		md.Held = n
		return true
	}
	why := r.Status
	if r.Detail != "" {
		why += ": " + r.Detail
	}
	md.Stopped = fmt.Sprintf("%s connections not held (%s; %s verified, %s errors)", results.Thousands(n), why, report.FmtInt(r.M.Verified), report.FmtInt(r.M.Errors))
	return false
}

// hold runs spec at n connections: connect all, verify every echo at a
// paced rate, hold them all while the readings are taken, stop the
// server with them open.
func (cr *c1mRun) hold(c *campaign, spec results.ServerSpec, n int) *results.Run {
	rate := c1mVerifyRate
	if cr.kit.Facts(spec).PerConnection != "" {
		rate = c1mThreadVerifyRate
	}
	sp, cp := plan.ProcsFor(n, cr.sys)
	args := []string{"-quiet", "-rounds", "1", "-rate", strconv.Itoa(rate), "-timeout", c1mRoundTimeout.String(),
		"-connect-timeout", c1mConnectTimeout.String(), "-source", plan.SourceRange(cr.sources)}
	verify := time.Duration(float64(n) / float64(rate) * float64(time.Second))
	rs := runSpec{spec: spec, workload: "hold", n: n, rep: 1, clientArgs: args, srvProcs: sp, cliProcs: cp,
		probe: true, machine: true, linger: true, memFloorKiB: cr.floor, stopTimeout: c1mStopTimeout,
		time: runTime{duration: verify, wait: c1mRoundTimeout, linger: lingerTime(c1mStopTimeout)}}
	r := c.run(rs)
	if r == nil {
		return nil
	}
	if !slices.Contains(c.meta.Counts, n) {
		c.meta.Counts = append(c.meta.Counts, n)
	}
	if err := results.DeriveRun(c.dir, c.meta, r); err != nil {
		r.Detail = err.Error()
	}
	return r
}

// report writes c1m.json, c1m.txt and the figure of machine memory per
// connection against connections; the tables go on top of report.md.
func (cr *c1mRun) report(r Ran) (Summary, error) {
	in := report.C1MInput{Models: cr.models, RefCount: cr.z.ref, ThreadKey: cr.kit.Spec(plan.DefaultModel).Key, ThreadFloor: cr.z.threadFloor}
	rep := report.BuildC1M(r.Res, in, time.Since(r.Started).Seconds())
	return saveC1M(r.Res.Dir, rep)
}

// saveC1M writes c1m.json, c1m.txt and the figure.
func saveC1M(dir string, rep report.C1MReport) (Summary, error) {
	text := report.C1MText(rep)
	if err := saveText(dir, "c1m", rep, text); err != nil {
		return Summary{}, err
	}
	f, err := plots.WriteLines(dir, c1mFigure(rep))
	if err != nil {
		return Summary{}, err
	}
	head := "# make c1m\n\n```\n" + text + "```\n\n![" + f.Caption + "](" + f.Name + ".svg)\n\n" + f.Caption + "\n\n"
	return Summary{Text: text, Markdown: true, Head: head}, nil
}

// c1mFigure is machine KiB per connection against connections, a line
// per server.
func c1mFigure(rep report.C1MReport) plots.LineFigure {
	f := plots.LineFigure{Name: "c1m_machine_kib_per_conn", Title: "Machine memory per connection, server and client together",
		XLabel: "connections held", YLabel: "machine KiB per connection",
		Caption: "Machine KiB per connection (the server's parts and the client's, with every connection open and verified) against the connections held, per server: a flat line is a cost that grows linearly."}
	var order []string
	byServer := map[string]*plots.Line{}
	for _, row := range rep.Rows {
		if !row.BothEndsKiBPerConn.Set {
			continue
		}
		l, ok := byServer[row.Server]
		if !ok {
			l = &plots.Line{Label: row.Label}
			byServer[row.Server], order = l, append(order, row.Server)
		}
		l.X, l.Y = append(l.X, float64(row.Conns)), append(l.Y, row.BothEndsKiBPerConn.V)
	}
	for _, k := range order {
		f.Lines = append(f.Lines, *byServer[k])
	}
	return f
}

// SummaryFile marks a c1m directory for -report.
func (c1m) SummaryFile() string { return "c1m.json" }

// Rebuild writes c1m.json, c1m.txt, the figure and the report of a c1m
// directory again: the rows and targets from the runs, the models' goals
// and the run's length from c1m.json. A c1m.json older than its "input"
// had the reference count at the smallest count, and the thread model's
// target at half the largest goal (the event loops' million).
func (c1m) Rebuild(res *results.Results, _ plan.Options) (Summary, error) {
	return rebuildFrom(res, "c1m", func(dir string, old report.C1MReport) (Summary, error) {
		in := old.Input
		in.Models = old.Models
		if in.RefCount == 0 {
			in.RefCount = slices.Min(res.Meta.Counts)
			for _, t := range old.Targets {
				if k, ok := strings.CutPrefix(t.Key, "exit_"); ok {
					in.ThreadKey = k
				}
			}
			for _, md := range old.Models {
				in.ThreadFloor = max(in.ThreadFloor, md.Goal/2)
			}
		}
		return saveC1M(dir, report.BuildC1M(res, in, old.WallS))
	})
}
