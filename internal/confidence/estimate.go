// Package confidence turns repeated runs into answers with their
// uncertainty: medians and ratios of medians with bootstrap confidence
// intervals, outliers flagged by the MAD, the Mann–Whitney U test with
// Holm's correction over a family of figures, and verdicts (A vs B, and a
// target such as "at most 2× epoll's") that say "inconclusive" or "no
// difference" when the runs cannot tell.
//
// Everything here is distribution-free: run times and CPU costs on a shared
// machine are skewed and heavy-tailed (a run another process disturbed is
// slow, never fast), so nothing assumes a normal distribution.
package confidence

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Defaults for Options' zero values.
const (
	DefaultLevel     = 0.95
	DefaultResamples = 10000
)

// Options configures the bootstrap. The zero value is usable: 95%, 10,000
// resamples, seed 0.
type Options struct {
	// Level is the confidence level, in (0, 1).
	Level float64
	// Resamples is the number of bootstrap resamples.
	Resamples int
	// Seed seeds the resampling, so that the same runs always give the
	// same interval (a report does not change when it is rendered again).
	Seed uint64
}

func (o Options) withDefaults() (Options, error) {
	if o.Level == 0 {
		o.Level = DefaultLevel
	}
	if o.Resamples == 0 {
		o.Resamples = DefaultResamples
	}
	if !(o.Level > 0 && o.Level < 1) {
		return o, fmt.Errorf("confidence level %v is not between 0 and 1", o.Level)
	}
	if o.Resamples < 100 {
		return o, fmt.Errorf("%d bootstrap resamples are too few (need at least 100)", o.Resamples)
	}
	return o, nil
}

// Interval is a confidence interval [Lo, Hi].
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Estimate is a figure with its confidence interval. CI is nil when the
// sample is too small for an interval at Level; Reason then says so.
type Estimate struct {
	Value  float64   `json:"value"`
	CI     *Interval `json:"ci"`
	Level  float64   `json:"level"`
	N      int       `json:"n"`
	Reason string    `json:"reason,omitempty"`
}

// MinSamples is the smallest number of runs for which an interval at level
// is given: the smallest n whose full range [min, max] is a distribution-
// free interval for the median at that level, 1 − 2·0.5ⁿ ≥ level. With
// fewer runs no method can give such an interval without assuming a
// distribution, and a bootstrap would only print a narrower, false one.
// At 95% that is 6 runs; at 90%, 5; at 99%, 8.
func MinSamples(level float64) int {
	return int(math.Ceil(math.Log2(2/(1-level)) - 1e-9))
}

// ErrEmpty is returned for a figure without any run.
var ErrEmpty = errors.New("no values")

// check rejects what no statistic can use: no values, NaN or infinity.
func check(name string, xs []float64) error {
	if len(xs) == 0 {
		return fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	for i, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s: value %d is %v, not a number a run can measure", name, i+1, x)
		}
	}
	return nil
}

// median of xs; it sorts xs in place.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// Median returns the median of xs with a percentile-bootstrap confidence
// interval (see tailProb for the level the percentiles are read at).
func Median(xs []float64, o Options) (Estimate, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Estimate{}, err
	}
	if err := check("median", xs); err != nil {
		return Estimate{}, err
	}
	e := Estimate{Value: median(slices.Clone(xs)), Level: o.Level, N: len(xs)}
	if e.Reason = tooFew(len(xs), o.Level); e.Reason != "" {
		return e, nil
	}
	b := newBoot(o)
	sample := make([]float64, len(xs))
	reps := b.replicate(func() float64 {
		b.draw(sample, xs)
		return median(sample)
	})
	e.CI = b.interval(reps, len(xs))
	return e, nil
}

func tooFew(n int, level float64) string {
	if min := MinSamples(level); n < min {
		return fmt.Sprintf("%d runs are too few for a %s interval (need %d)", n, pct(level), min)
	}
	return ""
}

func pct(level float64) string { return fmt.Sprintf("%g%%", math.Round(level*1000)/10) }

// boot draws bootstrap resamples from a seeded generator.
type boot struct {
	o   Options
	rng *rand.Rand
}

func newBoot(o Options) *boot {
	return &boot{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x10c0ffee))}
}

// draw fills dst with values drawn from src with replacement.
func (b *boot) draw(dst, src []float64) {
	for i := range dst {
		dst[i] = src[b.rng.IntN(len(src))]
	}
}

// replicate returns the sorted statistics of o.Resamples resamples.
func (b *boot) replicate(stat func() float64) []float64 {
	reps := make([]float64, b.o.Resamples)
	for i := range reps {
		reps[i] = stat()
	}
	slices.Sort(reps)
	return reps
}

// interval reads the interval off sorted replicates, rounding outwards so
// that the tails left out never hold more than tailProb each.
func (b *boot) interval(reps []float64, n int) *Interval {
	p := tailProb(b.o.Level, n)
	k := len(reps)
	lo := int(math.Floor(p * float64(k)))
	hi := int(math.Ceil((1-p)*float64(k))) - 1
	lo, hi = max(0, min(lo, k-1)), max(0, min(hi, k-1))
	return &Interval{Lo: reps[lo], Hi: reps[hi]}
}

// tailProb is the probability each tail of the bootstrap distribution
// leaves out. A plain percentile bootstrap reads the α/2 and 1−α/2
// percentiles, but for small n its intervals are too narrow: for the
// median of 7 runs its nominal 95% interval is [x₍₂₎, x₍₆₎], which covers
// the true median only 87.5% of the time. Hesterberg's expanded percentile
// interval (T. Hesterberg, "What Teachers Should Know About the Bootstrap",
// The American Statistician 69(4), 2015) widens the level the way a
// t-interval widens a z-interval: α'/2 = Φ(−√(n/(n−1))·t(1−α/2; n−1)).
// It tends to α/2 as n grows and restores the coverage at small n, which is
// where this kit lives (a handful of runs per cell).
func tailProb(level float64, n int) float64 {
	if n < 2 {
		return (1 - level) / 2
	}
	fn := float64(n)
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: fn - 1}.Quantile(1 - (1-level)/2)
	return distuv.UnitNormal.CDF(-math.Sqrt(fn/(fn-1)) * t)
}
