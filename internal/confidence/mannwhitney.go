package confidence

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// ExactLimit: below this many values on each side and without ties the
// Mann–Whitney p-value comes from the exact distribution of U, as R's
// wilcox.test does; otherwise from the normal approximation.
const ExactLimit = 50

// MWU is the result of a two-sided Mann–Whitney U test.
type MWU struct {
	// U is the statistic of A: the number of pairs (a, b) with a > b,
	// ties counting one half.
	U float64 `json:"u"`
	P float64 `json:"p"`
	// Exact says whether P is from the exact distribution of U.
	Exact bool `json:"exact"`
}

// MannWhitney tests whether A and B come from the same distribution against
// the two-sided alternative that one tends to be larger. Small samples
// without ties get the exact p-value; otherwise the normal approximation
// with the tie-corrected variance and a continuity correction. These are
// R's wilcox.test(a, b) defaults, and scipy's mannwhitneyu with
// method="exact" or "asymptotic".
func MannWhitney(a, b []float64) (MWU, error) {
	if err := check("Mann–Whitney: A", a); err != nil {
		return MWU{}, err
	}
	if err := check("Mann–Whitney: B", b); err != nil {
		return MWU{}, err
	}
	ranks, ties := rank(a, b)
	ra := 0.0
	for _, r := range ranks[:len(a)] {
		ra += r
	}
	m, n := len(a), len(b)
	u := ra - float64(m*(m+1))/2
	if !ties && m < ExactLimit && n < ExactLimit {
		return MWU{U: u, P: exactP(u, m, n), Exact: true}, nil
	}
	return MWU{U: u, P: normalP(u, m, n, ranks)}, nil
}

// rank gives the mid-ranks (from 1) of a followed by b in their union, and
// whether any values tie.
func rank(a, b []float64) ([]float64, bool) {
	all := append(slices.Clone(a), b...)
	idx := make([]int, len(all))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return all[idx[i]] < all[idx[j]] })
	ranks := make([]float64, len(all))
	ties := false
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && all[idx[j+1]] == all[idx[i]] {
			j++
		}
		ties = ties || j > i
		mid := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[idx[k]] = mid
		}
		i = j + 1
	}
	return ranks, ties
}

// exactP is 2·min(P(U ≤ u), P(U ≥ u)), capped at 1, under the null.
func exactP(u float64, m, n int) float64 {
	f := uFreq(m, n)
	total, le, ge := 0.0, 0.0, 0.0
	for k, c := range f {
		total += c
		if float64(k) <= u {
			le += c
		}
		if float64(k) >= u {
			ge += c
		}
	}
	return math.Min(1, 2*math.Min(le, ge)/total)
}

// uFreq[k] is the number of the C(m+n, m) orderings of m values of A and n
// of B in which U = k. It builds the table with additions only,
// f(i, j, k) = f(i−1, j, k−j) + f(i, j−1, k): the last value is either A's
// (greater than all j of B's) or B's; floats hold C(98, 49) ≈ 2.5e28 to
// 15 digits, and sums of positive terms lose nothing to cancellation.
func uFreq(m, n int) []float64 {
	size := m*n + 1
	// row[i] holds f(i, j, ·) for the current j.
	row := make([][]float64, m+1)
	for i := range row {
		row[i] = make([]float64, size)
	}
	for i := range row {
		row[i][0] = 1 // j = 0: no B's values, U = 0
	}
	for j := 1; j <= n; j++ {
		for i := 1; i <= m; i++ {
			// f(i, j−1, ·) is still in row[i]; f(i−1, j, ·) is row[i−1].
			for k := size - 1; k >= j; k-- {
				row[i][k] += row[i-1][k-j]
			}
		}
	}
	return row[m]
}

// normalP is the two-sided p-value of the normal approximation with the
// tie-corrected variance and a continuity correction of one half. When U
// is within the correction of its mean the p-value is 1, as in scipy (R's
// wilcox.test then reports a p just under 1).
func normalP(u float64, m, n int, ranks []float64) float64 {
	fm, fn := float64(m), float64(n)
	N := fm + fn
	tieSum := 0.0
	sorted := slices.Clone(ranks)
	slices.Sort(sorted)
	for i := 0; i < len(sorted); {
		j := i
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		t := float64(j - i)
		tieSum += t*t*t - t
		i = j
	}
	variance := fm * fn / 12 * ((N + 1) - tieSum/(N*(N-1)))
	if !(variance > 0) {
		return 1 // every value is the same: nothing tells A from B
	}
	d := u - fm*fn/2
	z := (math.Abs(d) - 0.5) / math.Sqrt(variance)
	if z < 0 {
		z = 0
	}
	return math.Min(1, 2*distuv.UnitNormal.Survival(z))
}

// MinP is the smallest two-sided p-value the exact test can give for m
// against n runs: 2/C(m+n, m). With 3 runs a side it is 0.1, so no
// difference can be shown at 95% however large it is.
func MinP(m, n int) float64 {
	if m == 0 || n == 0 {
		return 1
	}
	lc, _ := math.Lgamma(float64(m + n + 1))
	la, _ := math.Lgamma(float64(m + 1))
	lb, _ := math.Lgamma(float64(n + 1))
	return math.Min(1, 2*math.Exp(la+lb-lc))
}

// Holm adjusts a family of p-values with Holm's step-down method, so that
// the chance of calling any true null in the family significant stays at
// most α (S. Holm, "A Simple Sequentially Rejective Multiple Test
// Procedure", Scand. J. Statist. 6, 1979). The adjusted values are in the
// input's order and equal R's p.adjust(p, "holm").
func Holm(p []float64) ([]float64, error) {
	for i, v := range p {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("holm: p-value %d is %v, not in [0, 1]", i+1, v)
		}
	}
	order := make([]int, len(p))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return p[order[i]] < p[order[j]] })
	adj := make([]float64, len(p))
	run := 0.0
	for rank, i := range order {
		v := math.Min(1, float64(len(p)-rank)*p[i])
		run = math.Max(run, v)
		adj[i] = run
	}
	return adj, nil
}
