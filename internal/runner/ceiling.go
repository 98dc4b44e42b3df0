package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/proc"
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
		Help: "the most connections each server can hold on this machine and the limit that stops it: predicted, then held in steps (make ceiling)"}
}

func (ceiling) Check(o *plan.Options, _ Env) error {
	if o.Counts.Given && (len(o.Counts.V) != 2 || o.Counts.V[0] == o.Counts.V[1]) {
		return plan.UsageError{Msg: "-ceiling takes two different -counts, the calibration's (default 2000,10000); the steps follow from them"}
	}
	return nil
}

const (
	// ceilSafeFraction: the steps go up to this share of the prediction.
	ceilSafeFraction = 0.5
	// ceilMemShare: no run may take more of MemAvailable (at the start)
	// than this; the runner kills a run that does.
	ceilMemShare = 0.6
	// ceilStepMax bounds any one step, whatever the prediction.
	ceilStepMax = 1000000
	// ceilClientThreads is what the prediction keeps back for the threads
	// the client, the servers' own threads and the runner add.
	ceilClientThreads = 1024
	// ceilHold is how long a step holds its connections idle: long
	// enough for the hold report of a dozen processes of threads.
	ceilHold = 2 * time.Second
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

func (ceiling) Run(o plan.Options, env Env, stdout, stderr io.Writer) int {
	kit, err := plan.LoadKit(o.Bin)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	cr := &ceilRun{o: o, kit: kit, sys: plan.ReadSystem(), budget: 5 * time.Minute, calib: [2]int{2000, 10000}, specs: ceilingServers(kit)}
	if o.Quick {
		cr.budget, cr.calib = 90*time.Second, [2]int{500, 2000}
	}
	if o.Budget > 0 {
		cr.budget = o.Budget
	}
	if o.Counts.Given {
		cr.calib = [2]int{o.Counts.V[0], o.Counts.V[1]}
	}
	if env.Servers != nil {
		cr.specs = env.Servers
	}
	if code := cr.preconditions(stderr); code >= 0 {
		return code
	}
	oom0, oomErr := sysinfo.Host.OOMKills()
	c, err := newCampaign(o, env, "ceiling", kit, cr.sys, nil, defaultText, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer c.close()
	cr.c = c
	tu := &proc.Tuning{Root: env.sysctlRoot()}
	defer restore(c, tu)
	c.meta.Reps = 1
	if err := cr.verify(tu); err != nil {
		return fail(stderr, "-tune: %v", err)
	}
	rep, code := cr.write(tu)
	if code >= 0 {
		return code
	}
	if oom1, err := sysinfo.Host.OOMKills(); err == nil && oomErr == nil {
		rep.OOMKills = results.N(float64(oom1 - oom0))
	}
	rep.WallS = time.Since(c.started).Seconds()
	text := report.CeilingText(rep)
	if err := saveCeiling(c.dir, rep, text); err != nil {
		return fail(stderr, "%v", err)
	}
	fmt.Fprint(stdout, text)
	restore(c, tu)
	fmt.Fprintf(stdout, "\nfinished in %s; report: %s\n", fmtDuration(time.Since(c.started)), filepath.Join(c.dir, "report.md"))
	return c.status()
}

// preconditions checks that the calibration can run at all; code is the
// exit status when it cannot, else -1.
func (cr *ceilRun) preconditions(stderr io.Writer) int {
	if cr.o.Tune && !proc.IsRoot() {
		return fail(stderr, "-tune needs root to write /proc/sys; run as root, or without -tune for the ceilings as the machine is configured")
	}
	ps, _ := plan.CheckSystem(cr.sys, cr.calib[1], true)
	if problems(stderr, ps) {
		return 1
	}
	return -1
}

// verify calibrates every server, predicts its ceiling, raises what
// -tune must for the steps, and holds the steps within the budget.
func (cr *ceilRun) verify(tu *proc.Tuning) error {
	cr.floorKiB = int64((1 - ceilMemShare) * cr.sys.MemAvailableKiB)
	fmt.Fprintf(cr.c.stderr, "experiment: ceiling: %d servers, calibration at %v connections, then steps within %s; no run may take MemAvailable below %d MiB; writing %s\n",
		len(cr.specs), cr.calib, cr.budget, cr.floorKiB/1024, cr.c.dir)
	for _, spec := range cr.specs {
		cr.servers = append(cr.servers, cr.calibrate(spec))
	}
	if err := cr.tune(tu); err != nil {
		return err
	}
	for i, s := range cr.servers {
		left := cr.budget - time.Since(cr.c.started)
		cr.steps(s, cr.specs[i], time.Now().Add(left/time.Duration(len(cr.servers)-i)))
		cr.extrapolate(s)
	}
	return nil
}

// saveCeiling writes ceiling.json, ceiling.txt, the figure, and the
// ceiling tables on top of report.md.
func saveCeiling(dir string, rep report.CeilingReport, text string) error {
	if err := results.WriteJSON(filepath.Join(dir, "ceiling.json"), rep); err != nil {
		return err
	}
	_ = os.WriteFile(filepath.Join(dir, "ceiling.txt"), []byte(text), 0o644)
	f, err := plotCeiling(dir, rep)
	if err != nil {
		return err
	}
	md := "# make ceiling\n\n```\n" + text + "```\n\n![" + f.Caption + "](" + f.Name + ".svg)\n\n" + f.Caption + "\n\n## Limits of each server\n\n" + report.CeilingLimits(rep)
	if b, err := os.ReadFile(filepath.Join(dir, "report.md")); err == nil {
		md += "\n" + string(b)
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o644)
}

// Summary marks a ceiling directory for -report.
func (ceiling) Summary() string { return "ceiling.json" }

// Rebuild writes the report, the tables and the figure of a ceiling
// directory again from ceiling.json and the raw data.
func (ceiling) Rebuild(o plan.Options, stdout, stderr io.Writer) int {
	var rep report.CeilingReport
	b, err := os.ReadFile(filepath.Join(o.Report, "ceiling.json"))
	if err == nil {
		err = json.Unmarshal(b, &rep)
	}
	if err != nil {
		return fail(stderr, "%s: %v", filepath.Join(o.Report, "ceiling.json"), err)
	}
	res, err := results.Load(o.Report)
	if err == nil {
		err = report.Write(res)
	}
	text := report.CeilingText(rep)
	if err == nil {
		err = saveCeiling(o.Report, rep, text)
	}
	if err != nil {
		return fail(stderr, "%v", err)
	}
	fmt.Fprint(stdout, text)
	return 0
}

// write finishes the campaign and builds the report; code is the exit
// status when that fails, else -1.
func (cr *ceilRun) write(tu *proc.Tuning) (report.CeilingReport, int) {
	var counts []int
	for _, s := range cr.servers {
		for _, st := range s.Steps {
			counts = append(counts, st.Conns)
		}
	}
	cr.c.meta.Counts = counts
	res, err := cr.c.finish()
	if err != nil {
		return report.CeilingReport{}, fail(cr.c.stderr, "%v", err)
	}
	if err := report.Write(res); err != nil {
		return report.CeilingReport{}, fail(cr.c.stderr, "%v", err)
	}
	rep := report.NewCeilingReport(res.Meta)
	rep.BudgetS, rep.MemAvailableKiB, rep.MemCapShare, rep.SafeFraction = cr.budget.Seconds(), cr.sys.MemAvailableKiB, ceilMemShare, ceilSafeFraction
	if tu.Saved != nil {
		rep.Tuned = append(rep.Tuned, tu.Saved...)
	}
	for _, s := range cr.servers {
		rep.Servers = append(rep.Servers, *s)
	}
	return rep, -1
}
