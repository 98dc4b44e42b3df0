package confidence

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestOutliers(t *testing.T) {
	normal10 := []float64{2.33269488, 1.42195907, -0.57527698, -0.31293437, 2.2948158, 0.75813273, -1.0712388, -0.96394741, -1.15897446, 1.10976285}
	cases := []struct {
		name      string
		xs        []float64
		threshold float64
		want      []int // flagged indices
		score0    float64
	}{
		// Scores checked by hand (numpy): 13.153 for the 4.0.
		{"one far value", []float64{-0.2, 0, 0.2, 4.0}, 0, []int{3}, 13.153},
		{"one far of five", []float64{0.5, 0.30, 0.29, 0.31, 0.30}, 0, []int{0}, 13.49},
		{"normal sample", normal10, 0, nil, 0},
		{"two added, low and high", append(slices.Clone(normal10), 20, -500), 0, []int{10, 11}, 10.701},
		{"hyperfine's cut-off 10", append(slices.Clone(normal10), 20, -500), 10, []int{10, 11}, 10.701},
		{"cut-off 11 keeps the 20", append(slices.Clone(normal10), 20, -500), 11, []int{11}, -270.653},
		// MAD = 0: the scale falls back to the mean absolute deviation.
		{"MAD 0, one far", []float64{10, 10, 10, 10, 10, 10, 10, 100}, 0, []int{7}, 6.383},
		{"MAD 0, two far", []float64{10, 10, 10, 10, 10, 10, 10, 100, 100}, 0, []int{7, 8}, 3.591},
		{"MAD 0, one step", []float64{10, 10, 10, 11, 10, 10}, 0, []int{3}, 4.787},
		{"all equal", []float64{5, 5, 5, 5}, 0, nil, 0},
		{"one run", []float64{5}, 0, nil, 0},
		{"two runs", []float64{1000, 0}, 0, nil, 0},
	}
	for _, c := range cases {
		got, err := Outliers(c.xs, c.threshold)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var idx []int
		for _, o := range got {
			idx = append(idx, o.Index)
			if o.Value != c.xs[o.Index] {
				t.Errorf("%s: outlier %d has value %v, want %v", c.name, o.Index, o.Value, c.xs[o.Index])
			}
		}
		if !slices.Equal(idx, c.want) {
			t.Errorf("%s: flagged %v, want %v", c.name, idx, c.want)
			continue
		}
		if len(got) > 0 && math.Abs(got[0].Score-c.score0) > 0.001 {
			t.Errorf("%s: score %v, want %v", c.name, got[0].Score, c.score0)
		}
	}
	for _, bad := range []struct {
		xs        []float64
		threshold float64
		want      string
	}{{[]float64{1, math.NaN()}, 0, "value 2 is NaN"}, {[]float64{1}, -1, "threshold -1"}, {nil, 0, "no values"}} {
		if _, err := Outliers(bad.xs, bad.threshold); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Outliers(%v, %v): %v, want %q", bad.xs, bad.threshold, err, bad.want)
		}
	}
}
