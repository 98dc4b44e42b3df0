package results

import (
	"maps"
	"slices"

	"tenkthreads/internal/confidence"
)

// compared are the figures compared between servers and builds: each
// gets the confidence interval of its median and its outliers flagged.
// The others are counts and conditions, shown as their median and range.
var compared = map[Figure]bool{
	KiBPerConn: true, MachineKiBPerConn: true, HoldKiBPerConn: true, ClientMachineKiBPerConn: true,
	ServerCPUPerRT: true, HoldCPUPerRT: true, RoundTripsPerS: true, RTTP99: true,
	ConnectAllS: true, AcceptServerS: true, GiBPerS: true, ClientCPUPerMsg: true,
	CtxSwitchesPerRT: true, SyscallsPerRT: true, MigrationsPerRT: true, PageFaultsPerRT: true,
	CyclesPerRT: true, InstructionsPerRT: true, ClientUserCPUPerMsg: true,
}

// Compared says whether f gets a confidence interval.
func (f Figure) Compared() bool { return compared[f] }

// InterferenceLimit is the share of the machine's CPU (%) other
// processes may take during a run before its figures are suspect: a plan
// that asks for it (Plan.Retry) makes such a run again, and the reports
// count the runs past it.
const InterferenceLimit = 10.0

// ciOptions are the intervals' options: 95%, and a fixed seed, so that a
// report rebuilt from the same runs shows the same intervals.
var ciOptions = confidence.Options{Level: confidence.DefaultLevel}

// withCI adds to s, the Stat of a compared figure over runs, the
// interval of its median and the repetitions that stand out: more than
// 3.5 MADs from the median (Iglewicz and Hoaglin's cut-off), flagged and
// never dropped.
func withCI(s Stat, vals []Num, runs []*Run) Stat {
	var xs []float64
	var reps []int
	for i, v := range vals {
		if v.Set {
			xs = append(xs, v.V)
			reps = append(reps, runs[i].Rep)
		}
	}
	if len(xs) == 0 {
		return s
	}
	e, err := confidence.Median(xs, ciOptions)
	if err != nil {
		s.Reason = err.Error()
		return s
	}
	s.CI, s.Reason = e.CI, e.Reason
	if out, err := confidence.Outliers(xs, 0); err == nil {
		for _, o := range out {
			s.Outliers = append(s.Outliers, reps[o.Index])
		}
	}
	return s
}

// Estimate is s as the confidence package sees it.
func (s Stat) Estimate() confidence.Estimate {
	return confidence.Estimate{Value: s.Med.V, CI: s.CI, Level: ciOptions.Level, N: s.N, Reason: s.Reason}
}

// Values is figure f of each repetition of the cell that measured it,
// by repetition.
func (c *Cell) Values(f Figure) map[int]float64 {
	out := map[int]float64{}
	for _, r := range c.Runs {
		if v := f.Of(r.M); v.Set {
			out[r.Rep] = v.V
		}
	}
	return out
}

// RatioCI is num's figure f over den's, the ratio of their medians, with
// its interval: paired by repetition when both cells ran the same
// repetitions (the campaign runs every server once per round, so a burst
// of interference hits both sides of a pair), else unpaired. ok is false
// when either side has no value.
func RatioCI(num, den *Cell, f Figure) (e confidence.Estimate, ok bool) {
	if num == nil || den == nil {
		return e, false
	}
	a, b := den.Values(f), num.Values(f)
	var pa, pb []float64
	for _, rep := range slices.Sorted(maps.Keys(a)) {
		if w, ok := b[rep]; ok {
			pa, pb = append(pa, a[rep]), append(pb, w)
		}
	}
	var err error
	if len(pa) == len(a) && len(pb) == len(b) && len(pa) > 0 {
		e, err = confidence.RatioPaired(pa, pb, ciOptions)
	} else {
		e, err = confidence.RatioUnpaired(values(a), values(b), ciOptions)
	}
	return e, err == nil
}

// values is m's values in the order of its repetitions.
func values(m map[int]float64) []float64 {
	out := make([]float64, 0, len(m))
	for _, rep := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[rep])
	}
	return out
}
