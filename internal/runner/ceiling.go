package runner

import (
	"fmt"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
)

// ceiling predicts, for each server, the most connections this machine
// can hold and the limit that stops it, then holds connections in steps
// to check the prediction (make ceiling).
type ceiling struct{}

func (ceiling) Info() plan.ModeFlag {
	return plan.ModeFlag{Name: "ceiling", Usage: "-ceiling [-tune] [-quick] [-budget D] [-counts A,B]",
		Help:  "the most connections each server can hold on this machine and the limit that stops it: predicted, then held in steps (make ceiling)",
		Flags: []string{"quick", "tune", "budget", "counts"}}
}

func (ceiling) Check(o plan.Options, _ Env) error {
	if o.Counts.Given && (len(o.Counts.V) != 2 || o.Counts.V[0] == o.Counts.V[1]) {
		return plan.UsageError{Msg: "-ceiling takes two different -counts, the calibration's (default 2000,10000); the steps follow from them"}
	}
	return nil
}

const (
	// ceilSafeFraction: the steps go up to this share of the prediction:
	// all of it, since they are there to check it.
	ceilSafeFraction = 1.0
	// ceilMemShare: no run may take more of MemAvailable (at the start)
	// than this; the runner kills a run that does. The rest is the safe
	// margin that keeps the OOM killer away.
	ceilMemShare = 0.85
	// ceilStepMax bounds any one step, whatever the prediction.
	ceilStepMax = 1000000
	// ceilClientThreads is what the prediction keeps back for the threads
	// the client, the servers' own threads and the runner add.
	ceilClientThreads = 1024
)

// ceilRun is one ceiling run: the machine at the start, the servers'
// predictions and steps so far.
type ceilRun struct {
	o        plan.Options
	c        *campaign
	kit      plan.Kit
	sys      plan.System
	budget   time.Duration
	calib    [2]int
	floorKiB int64
	servers  []*report.CeilingServer
	specs    []results.ServerSpec
	// conntrack: whether the first calibration found loopback connections
	// tracked (nil before it).
	conntrack *bool
	// oom0 is the OOM killer's count at the start (oomErr: unread).
	oom0   int64
	oomErr error
}

// ceilingServers is every unbounded model of bin/10kthreads (one name
// each) and the Go reference.
func ceilingServers(kit plan.Kit) []results.ServerSpec {
	var out []results.ServerSpec
	for _, m := range kit.Models.Models {
		if !m.Bounded && m.SameAs == "" {
			out = append(out, kit.Spec(m.Name))
		}
	}
	return append(out, kit.GoRef())
}

// Plan calibrates every server, predicts its ceiling and holds steps of
// doubling size up to the prediction or the first failure: runs made as
// it goes, since each step follows from the last.
func (ceiling) Plan(s Setup) (*Plan, error) {
	o := s.O
	cr := &ceilRun{o: o, kit: s.Kit, sys: s.Sys, calib: [2]int{2000, 10000}, specs: ceilingServers(s.Kit)}
	if o.Quick {
		cr.calib = [2]int{500, 2000}
	}
	if o.Budget > 0 {
		cr.budget = o.Budget
	}
	if o.Counts.Given {
		cr.calib = [2]int{o.Counts.V[0], o.Counts.V[1]}
	}
	if s.Env.Servers != nil {
		cr.specs = s.Env.Servers
	}
	// The steps' client binds as many source addresses as the largest
	// step needs (see plan.SourcesFor): with the default 32, connect()
	// crawls past about 450,000.
	cr.sys.Sources = plan.SourcesFor(ceilStepMax, cr.sys)
	cr.floorKiB = int64((1 - ceilMemShare) * cr.sys.MemAvailableKiB)
	cr.oom0, cr.oomErr = sysinfo.Host.OOMKills()
	rows, notes := plan.CheckSystem(cr.sys, cr.calib[1], true)
	within := "up to each prediction or the first failure"
	if cr.budget > 0 {
		within += " within " + cr.budget.String()
	}
	return &Plan{Kind: "ceiling", Checks: Checks{Conns: cr.calib[1], Rows: rows}, Notes: notes,
		Intro: fmt.Sprintf("ceiling: %d servers, calibration at %v connections, then steps %s; no run may take MemAvailable below %d MiB",
			len(cr.specs), cr.calib, within, cr.floorKiB/1024),
		Steps: cr.verify, Budget: cr.budget, Reps: 1, Report: cr.report}, nil
}

// verify calibrates every server, predicts its ceiling, raises what
// -tune must for the steps, and holds the steps (within -budget, if
// given).
func (cr *ceilRun) verify(c *campaign) error {
	cr.c = c
	// Order-0 page fragments before the calibration, so that it prices
	// a thread connection as the steps will hold it.
	if p, ok := plan.PageFragPrecond(cr.sys); ok && !p.OK && cr.o.Tune {
		if err := c.tuneFor([]results.Precond{p}); err != nil {
			return fmt.Errorf("-tune: %v", err)
		}
		cr.sys.HighOrderAllocDisable = p.Want
	}
	for _, spec := range cr.specs {
		cr.servers = append(cr.servers, cr.calibrate(spec))
	}
	if err := cr.tune(); err != nil {
		return fmt.Errorf("-tune: %v", err)
	}
	for i, s := range cr.servers {
		var deadline time.Time // none without -budget
		if cr.budget > 0 {
			left := cr.budget - time.Since(c.started)
			deadline = time.Now().Add(left / time.Duration(len(cr.servers)-i))
		}
		cr.steps(s, cr.specs[i], deadline)
		cr.extrapolate(s)
	}
	for _, s := range cr.servers {
		for _, st := range s.Steps {
			c.meta.Counts = append(c.meta.Counts, st.Conns)
		}
	}
	return nil
}

// report builds ceiling.json from the steps and what ran, and writes it
// with ceiling.txt and the figure; the tables go on top of report.md.
func (cr *ceilRun) report(r Ran) (Summary, error) {
	rep := report.NewCeilingReport(r.Res.Meta)
	rep.BudgetS, rep.MemAvailableKiB, rep.MemCapShare, rep.SafeFraction = cr.budget.Seconds(), cr.sys.MemAvailableKiB, ceilMemShare, ceilSafeFraction
	rep.Tuned = append(rep.Tuned, r.Res.Meta.Tuned...)
	for _, s := range cr.servers {
		rep.Servers = append(rep.Servers, *s)
	}
	if oom1, err := sysinfo.Host.OOMKills(); err == nil && cr.oomErr == nil {
		rep.OOMKills = results.N(float64(oom1 - cr.oom0))
	}
	rep.WallS = time.Since(r.Started).Seconds()
	return saveCeiling(r.Res.Dir, rep)
}

// saveCeiling writes ceiling.json, ceiling.txt and the figure; the
// summary has the tables, the figure and each server's limits on top of
// report.md.
func saveCeiling(dir string, rep report.CeilingReport) (Summary, error) {
	text := report.CeilingText(rep)
	if err := saveText(dir, "ceiling", rep, text); err != nil {
		return Summary{}, err
	}
	f, err := plotCeiling(dir, rep)
	if err != nil {
		return Summary{}, err
	}
	head := "# make ceiling\n\n```\n" + text + "```\n\n![" + f.Caption + "](" + f.Name + ".svg)\n\n" + f.Caption + "\n\n## Limits of each server\n\n" + report.CeilingLimits(rep) + "\n"
	return Summary{Text: text, Markdown: true, Head: head}, nil
}

// SummaryFile marks a ceiling directory for -report.
func (ceiling) SummaryFile() string { return "ceiling.json" }

// Rebuild writes the report, the tables and the figure of a ceiling
// directory again from ceiling.json and the raw data.
func (ceiling) Rebuild(res *results.Results, _ plan.Options) (Summary, error) {
	return rebuildFrom(res, "ceiling", saveCeiling)
}
