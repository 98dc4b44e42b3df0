package confidence

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestMinSamples(t *testing.T) {
	for _, c := range []struct {
		level float64
		want  int
	}{{0.95, 6}, {0.90, 5}, {0.99, 8}, {0.5, 2}} {
		if got := MinSamples(c.level); got != c.want {
			t.Errorf("MinSamples(%v) = %d, want %d", c.level, got, c.want)
		}
		// The rule: the full range of n runs is a distribution-free
		// interval at this level, and that of n−1 runs is not.
		n := float64(c.want)
		if 1-2*math.Pow(0.5, n) < c.level || 1-2*math.Pow(0.5, n-1) >= c.level {
			t.Errorf("MinSamples(%v) = %d breaks its own rule", c.level, c.want)
		}
	}
}

func TestMedianEdges(t *testing.T) {
	cases := []struct {
		name    string
		xs      []float64
		o       Options
		value   float64
		ci      *Interval // nil: no interval expected
		reason  string    // part of Reason when ci is nil
		wantErr string
	}{
		{name: "one run", xs: []float64{7}, value: 7, reason: "1 runs are too few for a 95% interval (need 6)"},
		{name: "five runs", xs: []float64{5, 1, 4, 2, 3}, value: 3, reason: "need 6"},
		{name: "five runs at 90%", xs: []float64{5, 1, 4, 2, 3}, o: Options{Level: 0.9}, value: 3, ci: &Interval{1, 5}},
		{name: "all equal", xs: []float64{4, 4, 4, 4, 4, 4, 4}, value: 4, ci: &Interval{4, 4}},
		{name: "even n", xs: []float64{1, 2, 3, 4, 5, 6}, value: 3.5, ci: &Interval{1, 6}},
		{name: "NaN", xs: []float64{1, math.NaN(), 3}, wantErr: "value 2 is NaN"},
		{name: "infinity", xs: []float64{1, 2, math.Inf(1)}, wantErr: "value 3 is +Inf"},
		{name: "empty", xs: nil, wantErr: "no values"},
		{name: "bad level", xs: []float64{1, 2}, o: Options{Level: 1.5}, wantErr: "confidence level 1.5 is not between 0 and 1"},
		{name: "too few resamples", xs: []float64{1, 2}, o: Options{Resamples: 10}, wantErr: "10 bootstrap resamples are too few"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := Median(c.xs, c.o)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Value != c.value || e.N != len(c.xs) {
				t.Errorf("value %v n %d, want %v n %d", e.Value, e.N, c.value, len(c.xs))
			}
			switch {
			case c.ci == nil && e.CI != nil:
				t.Errorf("interval %+v, want none", *e.CI)
			case c.ci == nil && !strings.Contains(e.Reason, c.reason):
				t.Errorf("reason %q, want %q", e.Reason, c.reason)
			case c.ci != nil && (e.CI == nil || *e.CI != *c.ci):
				t.Errorf("interval %+v (%s), want %+v", e.CI, e.Reason, *c.ci)
			}
		})
	}
	if _, err := Median(nil, Options{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty: %v, want ErrEmpty", err)
	}
}

func TestMedianReproducible(t *testing.T) {
	xs := []float64{12.1, 11.7, 12.9, 12.4, 13.8, 12.0, 12.2, 11.9}
	a, _ := Median(xs, Options{Seed: 7})
	b, _ := Median(xs, Options{Seed: 7})
	if a.CI == nil || *a.CI != *b.CI {
		t.Fatalf("same seed, different intervals: %+v %+v", a.CI, b.CI)
	}
	if a.CI.Lo > a.Value || a.CI.Hi < a.Value || a.CI.Lo < 11.7 || a.CI.Hi > 13.8 {
		t.Errorf("interval %+v around %v is outside the runs", *a.CI, a.Value)
	}
	if xs[0] != 12.1 || xs[4] != 13.8 {
		t.Error("Median reordered its input")
	}
}

func TestTailProb(t *testing.T) {
	// The widening matters at small n and vanishes at large n.
	for _, c := range []struct {
		n      int
		lo, hi float64
	}{{7, 0.003, 0.005}, {20, 0.015, 0.017}, {10000, 0.0249, 0.0250}} {
		if p := tailProb(0.95, c.n); p < c.lo || p > c.hi {
			t.Errorf("tailProb(0.95, %d) = %v, want in [%v, %v]", c.n, p, c.lo, c.hi)
		}
	}
}

// coverage runs trials experiments of n runs from draw and returns how often
// the interval from ci contains truth.
func coverage(t *testing.T, trials int, truth float64, sample func(*rand.Rand) (a, b []float64),
	ci func(a, b []float64, o Options) (Estimate, error)) (covered float64, width float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, 1))
	hits := 0
	for k := 0; k < trials; k++ {
		a, b := sample(rng)
		e, err := ci(a, b, Options{Resamples: 1000, Seed: uint64(k)})
		if err != nil || e.CI == nil {
			t.Fatalf("trial %d: %v %s", k, err, e.Reason)
		}
		if e.CI.Lo <= truth && truth <= e.CI.Hi {
			hits++
		}
		width += e.CI.Hi - e.CI.Lo
	}
	return float64(hits) / float64(trials), width / float64(trials)
}

func lognormal(rng *rand.Rand, n int, median, sigma float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = median * math.Exp(sigma*rng.NormFloat64())
	}
	return xs
}

// The 95% interval of the median covers the true median about 95% of the
// time: with this seed 98.2% at n=7 and 96.0% at n=20. (A plain percentile
// bootstrap covered 88.5% at n=7 in the same kind of run: see tailProb.)
func TestMedianCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation of 2,000 experiments; run without -short")
	}
	for _, n := range []int{7, 20} {
		cov, _ := coverage(t, 1000, 1, func(r *rand.Rand) ([]float64, []float64) {
			return lognormal(r, n, 1, 0.5), nil
		}, func(a, _ []float64, o Options) (Estimate, error) { return Median(a, o) })
		t.Logf("n=%d: the 95%% interval covered the true median in %.1f%% of 1,000 experiments", n, cov*100)
		if cov < 0.92 || cov > 0.995 {
			t.Errorf("n=%d: coverage %.3f, want about 0.95 (0.92–0.995)", n, cov)
		}
	}
}
