// Package results is the runner's record of what ran (runs.json,
// meta.json) and the figures derived from it: each run's server and
// client reports, decoded into their types, become Metrics; the runs of
// one (server, workload, connections) point become a Cell with the median
// and range of every figure.
package results

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Num is a measured value or "not measured". A figure that was not
// measured (no report, a crashed server, an empty histogram) must show as
// "–" and never as 0, because 0 errors or 0 KiB would be a claim.
type Num struct {
	V   float64
	Set bool
}

// N is the measured value v.
func N(v float64) Num { return Num{V: v, Set: true} }

// String formats with a precision that suits the magnitude.
func (n Num) String() string {
	if !n.Set {
		return "–"
	}
	return FmtFloat(n.V)
}

// MarshalJSON writes an unmeasured value as null.
func (n Num) MarshalJSON() ([]byte, error) {
	if !n.Set {
		return []byte("null"), nil
	}
	return json.Marshal(n.V)
}

// UnmarshalJSON reads null as "not measured".
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num{}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = N(f)
	return nil
}

// FmtFloat shows three significant digits, so a median and its range
// read alike.
func FmtFloat(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// Thousands writes n with comma separators: 10,000.
func Thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Ratio is a / b, not measured when either is not or b is 0.
func Ratio(a, b Num) Num {
	if !a.Set || !b.Set || b.V == 0 {
		return Num{}
	}
	return N(a.V / b.V)
}
