package confidence

import (
	"fmt"
	"math"
	"slices"
)

// DefaultOutlierThreshold is Iglewicz and Hoaglin's cut-off for the
// modified z-score (B. Iglewicz, D. Hoaglin, "How to Detect and Handle
// Outliers", ASQC 1993). hyperfine uses the same score with a cut-off of 10,
// which only catches gross disturbances; 3.5 also flags a run that is
// merely suspicious, which is what a flag (never a deletion) is for.
const DefaultOutlierThreshold = 3.5

// madScale turns a MAD into a standard deviation for normal data
// (1/Φ⁻¹(3/4)); meanADScale does the same for the mean absolute deviation
// (√(π/2)).
const (
	madScale    = 1.4826
	meanADScale = 1.2533
)

// Outlier is one run flagged as far from the others.
type Outlier struct {
	Index int     `json:"index"` // position in the input, from 0
	Value float64 `json:"value"`
	Score float64 `json:"score"` // (x − median) / scale, signed
}

// Outliers flags the values whose modified z-score |x − median| / scale is
// above threshold (0 means DefaultOutlierThreshold), where scale is
// 1.4826·MAD. It never drops anything: the caller shows the flags beside the
// runs. When more than half the runs are equal the MAD is 0 and every other
// run would score infinity; the scale is then 1.2533 × the mean absolute
// deviation from the median (the same fallback as IBM's and Iglewicz and
// Hoaglin's), and when that is 0 too all runs are equal and none is flagged.
func Outliers(xs []float64, threshold float64) ([]Outlier, error) {
	if threshold == 0 {
		threshold = DefaultOutlierThreshold
	}
	if !(threshold > 0) || math.IsInf(threshold, 0) {
		return nil, fmt.Errorf("outlier threshold %v is not a positive number", threshold)
	}
	if err := check("outliers", xs); err != nil {
		return nil, err
	}
	med := median(slices.Clone(xs))
	dev := make([]float64, len(xs))
	sum := 0.0
	for i, x := range xs {
		dev[i] = math.Abs(x - med)
		sum += dev[i]
	}
	scale := madScale * median(dev)
	if scale == 0 {
		scale = meanADScale * sum / float64(len(xs))
	}
	if scale == 0 {
		return nil, nil
	}
	var out []Outlier
	for i, x := range xs {
		if z := (x - med) / scale; math.Abs(z) > threshold {
			out = append(out, Outlier{Index: i, Value: x, Score: z})
		}
	}
	return out, nil
}
