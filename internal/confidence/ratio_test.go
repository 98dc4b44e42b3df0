package confidence

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestRatioErrors(t *testing.T) {
	ok := []float64{1, 2, 3}
	cases := []struct {
		name string
		a, b []float64
		fn   func(a, b []float64, o Options) (Estimate, error)
		want string
	}{
		{"paired lengths differ", ok, []float64{1, 2}, RatioPaired, "3 values against 2"},
		{"zero in A", []float64{1, 0, 2}, ok, RatioUnpaired, "A's value 2 is 0"},
		{"negative in B", ok, []float64{1, -2, 2}, RatioPaired, "B's value 2 is -2"},
		{"empty B", ok, nil, RatioUnpaired, "B: no values"},
	}
	for _, c := range cases {
		if _, err := c.fn(c.a, c.b, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
}

func TestRatioSmall(t *testing.T) {
	a, b := []float64{10, 11, 12}, []float64{20, 23, 22}
	for name, fn := range map[string]func(a, b []float64, o Options) (Estimate, error){"paired": RatioPaired, "unpaired": RatioUnpaired} {
		e, err := fn(a, b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if e.Value != 2 || e.CI != nil || !strings.Contains(e.Reason, "3 runs are too few") {
			t.Errorf("%s: %+v, want 2 with no interval", name, e)
		}
	}
}

// rounds simulates n rounds in which a shared disturbance (sigma 0.3) hits
// both servers of a round, on top of each run's own noise (sigma 0.1); B's
// true median is ratio × A's.
func rounds(rng *rand.Rand, n int, ratio float64) (a, b []float64) {
	shared := lognormal(rng, n, 1, 0.3)
	a, b = lognormal(rng, n, 1, 0.1), lognormal(rng, n, ratio, 0.1)
	for i := range a {
		a[i] *= shared[i]
		b[i] *= shared[i]
	}
	return a, b
}

// Each interval covers the true ratio about 95% of the time on the data it
// is made for: the paired one on rounds that share a disturbance, the
// unpaired one on independent runs. On paired data the paired interval is
// much narrower, as it should be: the shared disturbance cancels in each
// round's ratio, while the unpaired bootstrap counts it twice (and so
// over-covers there).
func TestRatioCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation of 1,500 experiments; run without -short")
	}
	paired := func(r *rand.Rand) ([]float64, []float64) { return rounds(r, 10, 2) }
	indep := func(r *rand.Rand) ([]float64, []float64) { return lognormal(r, 10, 1, 0.3), lognormal(r, 10, 2, 0.3) }
	pc, pw := coverage(t, 500, 2, paired, RatioPaired)
	uc, _ := coverage(t, 500, 2, indep, RatioUnpaired)
	xc, xw := coverage(t, 500, 2, paired, RatioUnpaired)
	t.Logf("n=10: paired on rounds covered %.1f%% (mean width %.2f); unpaired on independent runs %.1f%%; unpaired on rounds %.1f%% (width %.2f)",
		pc*100, pw, uc*100, xc*100, xw)
	for name, c := range map[string]float64{"paired": pc, "unpaired": uc} {
		if c < 0.91 || c > 0.995 {
			t.Errorf("%s coverage %.3f, want about 0.95 (0.91–0.995)", name, c)
		}
	}
	if pw >= xw*0.6 {
		t.Errorf("on rounds the paired width %.3f is not clearly below the unpaired %.3f", pw, xw)
	}
}
