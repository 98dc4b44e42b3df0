package runner

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"tenkthreads/internal/clientreport"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/plots"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// calibrate holds the two calibration counts, measures what a connection
// costs the machine on the server's side and the client's, and predicts
// the ceiling from it.
func (cr *ceilRun) calibrate(spec results.ServerSpec) *report.CeilingServer {
	s := &report.CeilingServer{Server: spec.Key, Label: spec.Label, Model: spec.Model, Steps: []report.CeilingStep{},
		Limits: []plan.Limit{}, TunedLimits: []plan.Limit{}}
	var runs []*results.Run
	for _, n := range cr.calib {
		st, r := cr.hold(s, spec, n, "calibration")
		if !st.Held {
			s.Stopped, s.StoppedBy = fmt.Sprintf("calibration: %s connections not held (%s)", results.Thousands(n), st.Failure), report.StopFailure
			return s
		}
		runs = append(runs, r)
	}
	cr.checkConntrack()
	var why string
	s.Cost, why = connCost(s.Steps[0], s.Steps[1], runs[0], runs[1])
	if why != "" {
		cr.c.note("%s: the prediction counts the user space and kernel stacks of server and client only: %s", spec.Label, why)
	}
	m := cr.kit.Facts(spec)
	s.Limits = plan.Limits(cr.sys, m, s.Cost, ceilClientThreads, false)
	s.TunedLimits = plan.Limits(cr.sys, m, s.Cost, ceilClientThreads, true)
	s.Predicted, s.PredictedTuned = plan.CeilingOf(s.Limits), plan.CeilingOf(s.TunedLimits)
	s.Cap, s.CapWhy = cr.capOf(s)
	return s
}

// checkConntrack decides, after the first calibration, whether the
// connection tracker counts loopback connections here: closed ones stay
// tracked for minutes, so nf_conntrack_count has grown if it does. Where
// it does not, nf_conntrack_max is no limit.
func (cr *ceilRun) checkConntrack() {
	if cr.conntrack != nil || cr.sys.ConntrackMax == 0 {
		return
	}
	tracked := plan.ReadSystem().ConntrackCount-cr.sys.ConntrackCount >= cr.calib[1]/2
	cr.conntrack = &tracked
	if !tracked {
		cr.c.note("net.netfilter.nf_conntrack_max is %d, but nf_conntrack_count did not grow while %s connections were held: loopback is not tracked here, so it is no limit", cr.sys.ConntrackMax, results.Thousands(cr.calib[1]))
		cr.sys.ConntrackMax = 0
	}
}

// hold holds n connections of spec once, adds the step to s and returns
// it with its run (nil if interrupted). The calibration holds keep a
// machine record, which prices every part of a connection; the steps
// need only MemAvailable (reading every process of fork's would take
// minutes).
func (cr *ceilRun) hold(s *report.CeilingServer, spec results.ServerSpec, n int, kind string) (report.CeilingStep, *results.Run) {
	sp, cp := plan.ProcsFor(n, cr.sys)
	// The client verifies every echo at a paced rate (a million at once
	// fit in no deadline on a small machine), then lingers while the
	// hold report and the machine record are taken, however long they
	// take (a process model's reads every process).
	rate := max(1000, n/10)
	args := []string{"-quiet", "-rounds", "1", "-rate", strconv.Itoa(min(rate, c1mVerifyRate)), "-timeout", c1mRoundTimeout.String(),
		"-connect-timeout", c1mConnectTimeout.String(), "-source", plan.SourceRange(cr.sys.SourcesOr())}
	verify := time.Duration(float64(n) / float64(min(rate, c1mVerifyRate)) * float64(time.Second))
	rs := runSpec{spec: spec, workload: "hold", n: n, rep: 1, clientArgs: args, phase: kind,
		srvProcs: sp, cliProcs: cp, probe: true, memFloorKiB: cr.floorKiB, machine: kind == "calibration", linger: true, stopTimeout: c1mStopTimeout,
		time: runTime{duration: verify, wait: c1mRoundTimeout, linger: lingerTime(c1mStopTimeout)}}
	st := report.CeilingStep{Conns: n, Kind: kind, Status: "interrupted", Failure: "interrupted"}
	r := cr.c.run(rs)
	if r == nil {
		return st, nil
	}
	if err := results.DeriveRun(cr.c.dir, cr.c.meta, r); err != nil {
		st.Status = err.Error()
		return st, r
	}
	m := r.M
	st.Failure = ""
	st.Status, st.Verified, st.Errors, st.WallS = r.Status, m.Verified, m.Errors, r.WallS
	st.Held = r.Status == results.StatusOK && m.Verified.Set && int(m.Verified.V) == n && m.Errors.Set && m.Errors.V == 0
	if !st.Held {
		st.Failure = failureText(cr.c.rawDir, r)
	}
	st.ServerUserKiB, st.ServerKStack, st.ConnectAllS, st.ListenDrops = m.HoldKiBPerConn, m.HoldKStackPerC, m.ConnectAllS, m.ListenDrops
	if pr := r.Probe; pr != nil {
		st.ClientPSSKiB = pr.HoldClientPSSKiB
		if pr.HoldMemAvailableKiB.Set && r.MemAvailableBefore.Set {
			st.MachineUsedKiB = results.N(r.MemAvailableBefore.V - pr.HoldMemAvailableKiB.V)
		}
	}
	s.Steps = append(s.Steps, st)
	if st.Held {
		s.Held = max(s.Held, n)
	}
	return st, r
}

// capOf is the most connections s's steps may hold and why: a safe
// fraction of the prediction (with -tune's sysctls when -tune raises
// them), and no more than fits in ceilMemShare of MemAvailable at what a
// connection cost the whole machine at the calibration (or the predicted
// cost, if higher), with a 10% margin.
func (cr *ceilRun) capOf(s *report.CeilingServer) (int64, string) {
	pred := s.Predicted
	if cr.o.Tune {
		pred = s.PredictedTuned
	}
	n := int64(ceilSafeFraction * float64(pred.Conns))
	why := fmt.Sprintf("the prediction, which %s binds", pred.Binding)
	last := s.Steps[len(s.Steps)-1]
	perConn := s.Cost.KiB()
	if last.MachineUsedKiB.Set {
		perConn = max(perConn, last.MachineUsedKiB.V/float64(last.Conns))
	}
	perConn *= 1.1
	if m := int64(ceilMemShare * cr.sys.MemAvailableKiB / perConn); m < n {
		n, why = m, fmt.Sprintf("%.0f%% of MemAvailable at %.1f KiB per connection for the whole machine", 100*ceilMemShare, perConn)
		s.StoppedBy = report.StopMargin
	}
	if n > ceilStepMax {
		n, why = ceilStepMax, "the largest step the runner takes"
		s.StoppedBy = report.StopStepMax
	}
	if s.StoppedBy == "" {
		s.StoppedBy = report.StopLimit
	}
	return n, why
}

// tune raises, with -tune, the sysctls the largest steps need (kept from
// the thread limits for servers without a thread per connection);
// without it the caps already fit the machine, and each is noted.
func (cr *ceilRun) tune() error {
	var all, threaded int64
	for i, s := range cr.servers {
		if s.Stopped != "" {
			continue
		}
		all = max(all, s.Cap)
		if cr.kit.Facts(cr.specs[i]).PerConnection != "" {
			threaded = max(threaded, s.Cap)
		}
	}
	byName := map[string]results.Precond{}
	for _, n := range []int64{all, threaded} {
		if n == 0 {
			continue
		}
		srvP, cliP := plan.ProcsFor(int(n), cr.sys)
		for _, p := range append(plan.C100KPreconds(cr.sys, int(n), srvP, cliP), plan.TCPPreconds(cr.sys, int(n))...) {
			threadItem := slices.Contains([]string{"kernel.pid_max", "kernel.threads-max", "vm.max_map_count"}, p.Sysctl)
			if p.OK || p.Sysctl == "" || threadItem && n != threaded {
				continue
			}
			if old, ok := byName[p.Sysctl]; !ok || atoi(p.Want) > atoi(old.Want) {
				byName[p.Sysctl] = p
			}
		}
	}
	if p, ok := plan.PageFragPrecond(cr.sys); ok && threaded > 0 && !p.OK {
		byName[p.Sysctl] = p
	}
	var rows []results.Precond
	for _, p := range byName {
		// The caps fit the machine as it is: these only take it further.
		p.Optional = true
		rows = append(rows, p)
	}
	slices.SortFunc(rows, func(a, b results.Precond) int { return strings.Compare(a.Sysctl, b.Sysctl) })
	return cr.c.tuneFor(rows)
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

// steps holds twice as many connections as the last held step, up to
// s's cap (the cap itself last), until one is not held, the next would
// not finish before deadline (zero: no deadline), or the run is
// interrupted; StoppedBy says which.
func (cr *ceilRun) steps(s *report.CeilingServer, spec results.ServerSpec, deadline time.Time) {
	if s.Stopped != "" {
		return
	}
	last := s.Steps[len(s.Steps)-1]
	for {
		if int64(last.Conns) >= s.Cap {
			// StoppedBy is what set the cap (capOf).
			s.Stopped = "reached the cap: " + s.CapWhy
			return
		}
		next := int(min(int64(2*last.Conns), s.Cap))
		// A step's time grows with its connections; 20% to spare.
		est := time.Duration(1.2 * last.WallS * float64(next) / float64(last.Conns) * float64(time.Second))
		if !deadline.IsZero() && time.Now().Add(est).After(deadline) {
			s.Stopped, s.StoppedBy = fmt.Sprintf("time budget: %s connections would take about %s, past this server's share", results.Thousands(next), est.Round(time.Second)), report.StopBudget
			return
		}
		st, r := cr.hold(s, spec, next, "step")
		switch {
		case r == nil:
			s.Stopped, s.StoppedBy = fmt.Sprintf("interrupted before %s connections", results.Thousands(next)), report.StopInterrupted
			return
		case !st.Held:
			s.Stopped, s.StoppedBy = fmt.Sprintf("%s connections not held: %s", results.Thousands(next), st.Failure), report.StopFailure
			return
		}
		last = st
	}
}

// failureText is how a run that did not hold failed: its status, and the
// client's errors by class, the most first.
func failureText(rawDir string, r *results.Run) string {
	why := r.Status
	if r.Detail != "" {
		why += " (" + r.Detail + ")"
	}
	cli, err := clientreport.Read(filepath.Join(rawDir, r.ClientJSON))
	if err != nil {
		return why
	}
	type class struct {
		name string
		n    int64
	}
	var cs []class
	for k, n := range cli.Errors {
		if n > 0 {
			cs = append(cs, class{k, n})
		}
	}
	if len(cs) == 0 {
		return why
	}
	slices.SortFunc(cs, func(a, b class) int { return cmp.Compare(b.n, a.n) })
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s %s", c.name, results.Thousands(int(c.n))))
	}
	return why + "; client errors: " + strings.Join(parts, ", ")
}

// extrapolate fits machine memory used = a + b × connections over s's
// held steps and carries it to MemAvailable; the other limits stay.
func (cr *ceilRun) extrapolate(s *report.CeilingServer) {
	var xs, ys []float64
	for _, st := range s.Steps {
		s.WallS += st.WallS
		if st.Held && st.MachineUsedKiB.Set {
			xs, ys = append(xs, float64(st.Conns)), append(ys, st.MachineUsedKiB.V)
		}
	}
	a, b, ok := fitLine(xs, ys)
	if !ok {
		return
	}
	s.MachineFixedKiB, s.MachineKiBPerConn = results.N(a), results.N(b)
	limits := slices.Clone(s.Limits)
	if cr.o.Tune {
		limits = slices.Clone(s.TunedLimits)
	}
	mem := cr.sys.MemAvailableKiB
	limits[0].Conns = int64(max(0, mem-a) / b)
	sign := "-"
	if a < 0 {
		sign = "+"
	}
	limits[0].How = fmt.Sprintf("(%.1f GiB %s %.0f MiB fixed) / %.2f KiB per connection, the line fitted to the machine memory the held steps used", mem/(1<<20), sign, abs(a)/1024, b)
	s.Extrapolated = plan.CeilingOf(limits)
}

func abs(x float64) float64 { return max(x, -x) }

// fitLine is the least-squares line through (xs, ys); ok is false with
// fewer than two distinct xs or a slope that is not positive.
func fitLine(xs, ys []float64) (a, b float64, ok bool) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	d := n*sxx - sx*sx
	if len(xs) < 2 || d == 0 {
		return 0, 0, false
	}
	b = (n*sxy - sx*sy) / d
	a = (sy - b*sx) / n
	return a, b, b > 0
}

// plotCeiling draws the ceiling figure from the report.
func plotCeiling(dir string, rep report.CeilingReport) (plots.File, error) {
	var lines []plots.CeilingLine
	const gib = 1 << 20
	for _, s := range rep.Servers {
		l := plots.CeilingLine{Label: s.Label}
		for _, st := range s.Steps {
			if st.Held && st.MachineUsedKiB.Set {
				l.Conns, l.UsedGiB = append(l.Conns, float64(st.Conns)), append(l.UsedGiB, st.MachineUsedKiB.V/gib)
			}
		}
		if s.MachineKiBPerConn.Set && len(l.Conns) > 0 {
			l.FixedGiB, l.PerConnGiB, l.Until = s.MachineFixedKiB.V/gib, s.MachineKiBPerConn.V/gib, float64(s.Extrapolated.Conns)
			l.Predicted = float64(s.PredictedTuned.Conns)
			if len(rep.Tuned) == 0 {
				l.Predicted = float64(s.Predicted.Conns)
			}
		}
		lines = append(lines, l)
	}
	return plots.Ceiling(dir, lines, rep.MemAvailableKiB/gib, rep.MemCapShare)
}
