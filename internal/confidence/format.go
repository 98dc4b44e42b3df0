package confidence

import (
	"fmt"
	"math"
	"strconv"
)

// FormatRatio renders a ratio as "2.1× [1.9–2.3]".
func FormatRatio(e Estimate) string { return render(e, 1, "×") }

// FormatMicros renders an estimate in microseconds with the unit that suits
// its value: "12.3 µs [11.9–12.8]", "1.52 ms [1.48–1.60]", "830 ns [790–870]".
func FormatMicros(e Estimate) string {
	v := math.Abs(e.Value)
	switch {
	case v >= 1e6:
		return render(e, 1e6, " s")
	case v >= 1e3:
		return render(e, 1e3, " ms")
	case v >= 1 || v == 0:
		return render(e, 1, " µs")
	default:
		return render(e, 1e-3, " ns")
	}
}

// Format renders an estimate with a unit ("" for none) after the value:
// "2.0 switches [1.9–2.1]".
func Format(e Estimate, unit string) string {
	if unit != "" {
		unit = " " + unit
	}
	return render(e, 1, unit)
}

// render shows value/scale with the interval in brackets, or says why
// there is no interval. The decimals follow the interval: enough that its
// ends differ (one significant digit of its width, two when that digit is
// a 1, as physicists round an uncertainty), at least two significant
// digits of the value, at most four, so that "2.1× [1.9–2.3]" and
// "1.02× [0.98–1.07]" each show what the runs can tell and no more.
func render(e Estimate, scale float64, unit string) string {
	v := e.Value / scale
	if e.CI == nil {
		d := decimals(v, math.NaN())
		why := fmt.Sprintf("n=%d, no interval", e.N)
		return strconv.FormatFloat(v, 'f', d, 64) + unit + " (" + why + ")"
	}
	lo, hi := e.CI.Lo/scale, e.CI.Hi/scale
	d := decimals(v, hi-lo)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', d, 64) }
	return f(v) + unit + " [" + f(lo) + "–" + f(hi) + "]"
}

// decimals picks the digits after the point for value v and interval width
// w (NaN when there is no interval).
func decimals(v, w float64) int {
	mag := 0
	if v != 0 {
		mag = int(math.Floor(math.Log10(math.Abs(v))))
	}
	least, most := max(0, 1-mag), max(0, 3-mag) // 2 and 4 significant digits
	d := least
	if w > 0 && !math.IsInf(w, 0) {
		// 1.9 − 1.7 is 0.19999999999999996 in floats: its leading digit
		// is a 2 once float noise is rounded off.
		w, _ = strconv.ParseFloat(strconv.FormatFloat(w, 'g', 10, 64), 64)
		l := math.Floor(math.Log10(w))
		dw := -int(l)
		if w/math.Pow(10, l) < 2 {
			dw++
		}
		d = max(d, dw)
	}
	return min(d, most)
}
