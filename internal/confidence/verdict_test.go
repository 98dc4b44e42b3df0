package confidence

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	low := []float64{10.1, 10.4, 9.8, 10.9, 10.2, 11.3, 10.0}
	high := []float64{12.0, 11.1, 12.5, 11.8, 12.9, 11.6, 12.2}
	cases := []struct {
		name    string
		f       Figure
		verdict Verdict
		note    string
	}{
		{"B costs more", Figure{Name: "cpu", A: low, B: high, Better: LowerIsBetter}, Worse, ""},
		{"B costs less", Figure{Name: "cpu", A: high, B: low, Better: LowerIsBetter}, Better, ""},
		{"B delivers more", Figure{Name: "rate", A: low, B: high, Better: HigherIsBetter}, Better, ""},
		{"B delivers less, paired", Figure{Name: "rate", A: high, B: low, Better: HigherIsBetter, Paired: true}, Worse, ""},
		{"same runs", Figure{Name: "cpu", A: low, B: low, Better: LowerIsBetter}, NoDifference, ""},
		{"three runs each", Figure{Name: "cpu", A: low[:3], B: high[:3], Better: LowerIsBetter}, NoDifference,
			"3 and 3 runs cannot show a difference at 95% in a family of 1 (smallest possible adjusted p 0.1)"},
		{"zero value", Figure{Name: "migrations", A: []float64{0, 0, 1, 0, 0, 0}, B: high[:6], Better: LowerIsBetter}, Worse,
			"ratio: A's value 1 is 0; a ratio of medians needs positive values"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Compare(c.f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Verdict != c.verdict || got.Note != c.note {
				t.Errorf("verdict %q note %q, want %q %q", got.Verdict, got.Note, c.verdict, c.note)
			}
			if got.PAdjusted != got.Test.P {
				t.Errorf("family of one: adjusted p %v differs from p %v", got.PAdjusted, got.Test.P)
			}
			if got.A.Value != median(append([]float64(nil), c.f.A...)) || got.B.N != len(c.f.B) {
				t.Errorf("medians %+v %+v", got.A, got.B)
			}
			if (got.Ratio == nil) != strings.HasPrefix(c.note, "ratio:") {
				t.Errorf("ratio %+v with note %q", got.Ratio, c.note)
			}
		})
	}
	for _, bad := range []struct {
		f    Figure
		want string
	}{
		{Figure{Name: "x", A: low, B: high}, "x: no direction"},
		{Figure{Name: "x", A: low, B: []float64{1, math.NaN()}, Better: LowerIsBetter}, "x: runs of B: median: value 2 is NaN"},
		{Figure{Name: "x", A: low, B: high[:3], Better: LowerIsBetter, Paired: true}, "x: paired ratio: 7 values against 3"},
	} {
		if _, err := Compare(bad.f, Options{}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: err %v, want %q", bad.f, err, bad.want)
		}
	}
}

// A family's adjusted p-values come from Holm over the family.
func TestCompareFamilyHolm(t *testing.T) {
	low := []float64{10.1, 10.4, 9.8, 10.9, 10.2, 11.3, 10.0}
	high := []float64{12.0, 11.1, 12.5, 11.8, 12.9, 11.6, 12.2}
	mid := []float64{10.3, 11.0, 10.6, 11.5, 10.8, 12.0, 10.5}
	fs := []Figure{
		{Name: "far", A: low, B: high, Better: LowerIsBetter},
		{Name: "near", A: low, B: mid, Better: LowerIsBetter},
		{Name: "same", A: low, B: low, Better: LowerIsBetter},
	}
	cs, err := CompareFamily(fs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw := []float64{cs[0].Test.P, cs[1].Test.P, cs[2].Test.P}
	want, _ := Holm(raw)
	for i, c := range cs {
		if c.PAdjusted != want[i] {
			t.Errorf("%s: adjusted %v, want %v", c.Name, c.PAdjusted, want[i])
		}
	}
	if cs[0].Verdict != Worse || cs[2].Verdict != NoDifference {
		t.Errorf("verdicts %q %q %q", cs[0].Verdict, cs[1].Verdict, cs[2].Verdict)
	}
}

// simulate runs trials comparisons of a family of figures of n runs each,
// B's true median shift × A's, and returns how often any figure got a
// verdict other than "no difference", how often any raw p-value was below
// 5% (what a report without Holm's correction would call a difference), and
// how often the first figure got want.
func simulate(t *testing.T, trials, figures, n int, shift float64, draw func(*rand.Rand, int, float64) []float64, want Verdict) (anyDiff, anyRaw, hit float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(2024, 7))
	var nAny, nRaw, nHit int
	for k := 0; k < trials; k++ {
		fs := make([]Figure, figures)
		for i := range fs {
			fs[i] = Figure{Name: "f", A: draw(rng, n, 1), B: draw(rng, n, shift), Better: LowerIsBetter}
		}
		cs, err := CompareFamily(fs, Options{Resamples: 100, Seed: uint64(k)})
		if err != nil {
			t.Fatal(err)
		}
		diff, raw := false, false
		for _, c := range cs {
			diff = diff || c.Verdict != NoDifference
			raw = raw || c.Test.P < 0.05
		}
		if diff {
			nAny++
		}
		if raw {
			nRaw++
		}
		if cs[0].Verdict == want {
			nHit++
		}
	}
	f := float64(trials)
	return float64(nAny) / f, float64(nRaw) / f, float64(nHit) / f
}

func continuous(r *rand.Rand, n int, m float64) []float64 { return lognormal(r, n, m, 0.1) }

// discrete draws whole counts, as context switches per run are, so that
// ties push the test onto the normal approximation.
func discrete(r *rand.Rand, n int, m float64) []float64 {
	xs := lognormal(r, n, 20*m, 0.15)
	for i := range xs {
		xs[i] = math.Round(xs[i])
	}
	return xs
}

// With no true difference, a family of 5 figures reports any difference at
// most 5% of the time (plus a tolerance of three standard errors of 1,000
// trials); without Holm's correction it would be up to 1 − 0.95⁵ ≈ 23% (less
// with the exact test, whose p-values are discrete).
func TestAAFamilyFalsePositives(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation of 2,000 families; run without -short")
	}
	for name, draw := range map[string]func(*rand.Rand, int, float64) []float64{"continuous": continuous, "whole counts": discrete} {
		fwer, raw, _ := simulate(t, 1000, 5, 7, 1, draw, NoDifference)
		t.Logf("%s: A/A family of 5, n=7: some difference reported in %.1f%% of 1,000 families (%.1f%% uncorrected)", name, fwer*100, raw*100)
		if fwer > 0.05+0.02 {
			t.Errorf("%s: family-wise false positive rate %.3f, want at most 0.05", name, fwer)
		}
		// The simulation can produce false positives: the correction is
		// what keeps them down.
		if raw < 0.1 {
			t.Errorf("%s: uncorrected rate %.3f; the simulation shows nothing Holm corrects", name, raw)
		}
	}
}

// A 20% higher cost with n=7 runs a side and 10% run-to-run noise is found,
// in the right direction, most of the time.
func TestABPower(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation of 1,000 comparisons; run without -short")
	}
	_, _, power := simulate(t, 1000, 1, 7, 1.2, continuous, Worse)
	_, _, wrongWay := simulate(t, 1000, 1, 7, 1.2, continuous, Better)
	t.Logf("20%% shift, n=7, noise 10%%: detected as worse in %.1f%%, as better in %.1f%%", power*100, wrongWay*100)
	if power < 0.7 || wrongWay > 0.005 {
		t.Errorf("power %.3f (want ≥ 0.7), wrong direction %.3f (want ≈ 0)", power, wrongWay)
	}
}

func TestTarget(t *testing.T) {
	est := func(v, lo, hi float64) Estimate {
		return Estimate{Value: v, CI: &Interval{lo, hi}, Level: 0.95, N: 7}
	}
	cases := []struct {
		name   string
		t      Target
		e      Estimate
		want   TargetVerdict
		reason string
	}{
		{"met", Target{AtMost, 2}, est(1.8, 1.7, 1.9), Met, "the whole 95% interval of 1.8 [1.7–1.9] is at most 2"},
		{"met at the limit", Target{AtMost, 2}, est(1.9, 1.8, 2), Met, ""},
		{"not met", Target{AtMost, 2}, est(2.2, 2.1, 2.3), NotMet, "no value in the 95% interval of 2.2 [2.1–2.3] is at most 2"},
		{"straddles", Target{AtMost, 2}, est(1.95, 1.8, 2.2), Inconclusive, "straddles the target, at most 2"},
		{"no interval", Target{AtMost, 2}, Estimate{Value: 1.5, N: 3, Reason: "3 runs are too few"}, Inconclusive, "target at most 2: no interval (3 runs are too few)"},
		{"at least, met", Target{AtLeast, 10000}, est(12000, 11000, 13000), Met, ""},
		{"at least, not met", Target{AtLeast, 10000}, est(9000, 8000, 9900), NotMet, ""},
	}
	for _, c := range cases {
		got, err := c.t.Check(c.e)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Verdict != c.want || !strings.Contains(got.Reason, c.reason) {
			t.Errorf("%s: %q %q, want %q %q", c.name, got.Verdict, got.Reason, c.want, c.reason)
		}
	}
	if _, err := (Target{"below", 2}).Check(est(1, 1, 1)); err == nil || !strings.Contains(err.Error(), `bound "below"`) {
		t.Errorf("bad bound: %v", err)
	}
	if _, err := (Target{AtMost, math.NaN()}).Check(est(1, 1, 1)); err == nil {
		t.Error("NaN limit accepted")
	}
}
