package confidence

import (
	"math"
	"strings"
	"testing"
)

// Expected values from scipy 1.10.1:
// mannwhitneyu(a, b, alternative="two-sided", method=M, use_continuity=True),
// which for these cases agrees with R's wilcox.test(a, b).
func TestMannWhitneyKnown(t *testing.T) {
	seq := func(from float64, n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = from + float64(i)
		}
		return xs
	}
	cases := []struct {
		name  string
		a, b  []float64
		u, p  float64
		exact bool
	}{
		{"3 below 3", []float64{1, 2, 3}, []float64{4, 5, 6}, 0, 0.1, true},
		{"5 below 5", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, 0, 0.007936507936507936, true},
		{"5 above 5", []float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5}, 25, 0.007936507936507936, true},
		{"interleaved", []float64{1.1, 2.2, 3.3, 4.4}, []float64{0.5, 1.5, 2.5, 3.5, 4.5}, 10, 1, true},
		{"7 v 7 shifted", []float64{10.1, 10.4, 9.8, 10.9, 10.2, 11.3, 10.0}, []float64{12.0, 11.1, 12.5, 11.8, 12.9, 11.6, 12.2}, 1, 0.0011655011655011655, true},
		{"6 v 8", []float64{3.1, 4.7, 2.2, 5.9, 4.1, 3.8}, []float64{4.4, 6.1, 5.2, 7.0, 6.6, 5.5, 4.9, 6.3}, 5, 0.012654012654012654, true},
		{"ties", []float64{1, 2, 2, 3, 3, 3}, []float64{2, 3, 4, 4, 5}, 5.5, 0.08871369199677616, false},
		{"ties 2", []float64{5, 5, 5, 6, 7}, []float64{5, 6, 6, 8, 9, 9, 9}, 6.5, 0.07814887754717204, false},
		{"55 v 55, no ties", seq(0, 55), seq(20.5, 55), 595, 4.206418292634863e-08, false},
		{"all equal", []float64{3, 3, 3}, []float64{3, 3}, 3, 1, false},
	}
	for _, c := range cases {
		r, err := MannWhitney(c.a, c.b)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r.U != c.u || r.Exact != c.exact || math.Abs(r.P-c.p) > 1e-9*math.Max(1, c.p)+1e-15 {
			t.Errorf("%s: U=%v p=%v exact=%v, want U=%v p=%v exact=%v", c.name, r.U, r.P, r.Exact, c.u, c.p, c.exact)
		}
	}
	if _, err := MannWhitney([]float64{1, math.NaN()}, []float64{2}); err == nil || !strings.Contains(err.Error(), "A: value 2 is NaN") {
		t.Errorf("NaN: %v", err)
	}
}

// The exact distribution has C(m+n, m) arrangements, symmetric about mn/2.
func TestUFreq(t *testing.T) {
	for _, c := range []struct{ m, n int }{{1, 1}, {3, 3}, {4, 7}, {10, 12}, {49, 49}} {
		f := uFreq(c.m, c.n)
		total := 0.0
		for k := range f {
			total += f[k]
			if f[k] != f[len(f)-1-k] {
				t.Fatalf("m=%d n=%d: f[%d]=%v, f[%d]=%v: not symmetric", c.m, c.n, k, f[k], len(f)-1-k, f[len(f)-1-k])
			}
		}
		lc, _ := math.Lgamma(float64(c.m + c.n + 1))
		la, _ := math.Lgamma(float64(c.m + 1))
		lb, _ := math.Lgamma(float64(c.n + 1))
		if want := math.Exp(lc - la - lb); math.Abs(total-want) > want*1e-9 {
			t.Errorf("m=%d n=%d: %v arrangements, want C(m+n, m) = %v", c.m, c.n, total, want)
		}
	}
}

func TestMinP(t *testing.T) {
	for _, c := range []struct {
		m, n int
		want float64
	}{{3, 3, 0.1}, {5, 5, 2.0 / 252}, {1, 1, 1}, {0, 4, 1}, {7, 7, 2.0 / 3432}} {
		if got := MinP(c.m, c.n); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("MinP(%d, %d) = %v, want %v", c.m, c.n, got, c.want)
		}
	}
}

// Expected values are R's p.adjust(p, "holm").
func TestHolm(t *testing.T) {
	cases := []struct {
		p, want []float64
	}{
		{[]float64{0.01, 0.04, 0.03, 0.005}, []float64{0.03, 0.06, 0.06, 0.02}},
		{[]float64{0.001, 0.2, 0.5}, []float64{0.003, 0.4, 0.5}},
		{[]float64{0.02, 0.02}, []float64{0.04, 0.04}},
		{[]float64{0.9, 0.6}, []float64{1, 1}},
		{[]float64{0.04}, []float64{0.04}},
		{nil, []float64{}},
	}
	for _, c := range cases {
		got, err := Holm(c.p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range c.want {
			if math.Abs(got[i]-c.want[i]) > 1e-12 {
				t.Errorf("Holm(%v) = %v, want %v", c.p, got, c.want)
				break
			}
		}
	}
	if _, err := Holm([]float64{0.1, 1.2}); err == nil || !strings.Contains(err.Error(), "p-value 2 is 1.2") {
		t.Errorf("Holm accepted 1.2: %v", err)
	}
}
