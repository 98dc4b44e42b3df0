package report

import (
	"slices"
	"strings"
	"testing"

	"tenkthreads/internal/runner/results"
)

// A comparison whose calibration was disturbed says so under its table,
// and names the units; a quiet one says nothing.
func TestCompareNoisyCalibration(t *testing.T) {
	quiet := results.UnitCost{Units: 1000, SlabKiB: results.N(3.6), TrialKiB: []float64{3.5, 3.6, 3.6, 3.7, 3.6}}
	disturbed := results.UnitCost{Units: 1000, SlabKiB: results.N(4.9), TrialKiB: []float64{3.7, 0.8, 5.1, 7.0, 6.7}}
	for _, tc := range []struct {
		name   string
		socket results.UnitCost
		want   []string
	}{
		{"quiet", quiet, nil},
		{"socket trials disturbed", disturbed, []string{"socket ends"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cal := &results.Calibration{Thread: quiet, Mapping: quiet, Socket: tc.socket, Epoll: quiet}
			got := noisy(cal)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("noisy: %v, want %v", got, tc.want)
			}
			foot := compareFooter(CompareReport{Sides: [2]string{"a", "b"}, Reps: 6, NoisyCalibration: got})
			has := strings.Contains(foot, "Note: the calibration's trials of the socket ends differ")
			if has != (tc.want != nil) {
				t.Errorf("footer says the calibration was noisy: %v, want %v:\n%s", has, tc.want != nil, foot)
			}
		})
	}
}
