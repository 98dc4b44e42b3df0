package confidence

import (
	"fmt"
	"slices"
)

// RatioPaired returns median(b)/median(a) with a bootstrap interval that
// resamples whole rounds: a[i] and b[i] are the two servers' values from
// round i (the runner runs every server once per round), so a disturbance
// that slowed both in one round stays paired and cancels in the ratio
// instead of widening the interval twice.
func RatioPaired(a, b []float64, o Options) (Estimate, error) {
	if len(a) != len(b) {
		return Estimate{}, fmt.Errorf("paired ratio: %d values against %d; pairs need one of each per round", len(a), len(b))
	}
	return ratio(a, b, o, len(a), func(bt *boot, ra, rb []float64) {
		for i := range ra {
			j := bt.rng.IntN(len(a))
			ra[i], rb[i] = a[j], b[j]
		}
	})
}

// RatioUnpaired returns median(b)/median(a) with an interval from
// bootstrapping each side independently, for runs that were not made in
// rounds. The interval's small-sample widening uses the smaller side's n.
func RatioUnpaired(a, b []float64, o Options) (Estimate, error) {
	return ratio(a, b, o, min(len(a), len(b)), func(bt *boot, ra, rb []float64) {
		bt.draw(ra, a)
		bt.draw(rb, b)
	})
}

// ratio bootstraps median(b)/median(a), filling each resample with draw;
// n is the sample size the interval is judged by.
func ratio(a, b []float64, o Options, n int, draw func(bt *boot, ra, rb []float64)) (Estimate, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Estimate{}, err
	}
	if err := checkRatio(a, b); err != nil {
		return Estimate{}, err
	}
	e := Estimate{Value: ratioOfMedians(a, b), Level: o.Level, N: n}
	if e.Reason = tooFew(n, o.Level); e.Reason != "" {
		return e, nil
	}
	bt := newBoot(o)
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	reps := bt.replicate(func() float64 {
		draw(bt, ra, rb)
		return median(rb) / median(ra)
	})
	e.CI = bt.interval(reps, n)
	return e, nil
}

func ratioOfMedians(a, b []float64) float64 {
	return median(slices.Clone(b)) / median(slices.Clone(a))
}

// checkRatio accepts only positive values: a ratio of medians is for costs
// and rates, and a zero in a resample's denominator has no ratio.
func checkRatio(a, b []float64) error {
	if err := check("ratio: A", a); err != nil {
		return err
	}
	if err := check("ratio: B", b); err != nil {
		return err
	}
	for _, s := range []struct {
		name string
		xs   []float64
	}{{"A", a}, {"B", b}} {
		for i, x := range s.xs {
			if x <= 0 {
				return fmt.Errorf("ratio: %s's value %d is %v; a ratio of medians needs positive values", s.name, i+1, x)
			}
		}
	}
	return nil
}
