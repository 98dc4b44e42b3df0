package confidence

import "testing"

func TestFormat(t *testing.T) {
	ci := func(v, lo, hi float64) Estimate { return Estimate{Value: v, CI: &Interval{lo, hi}, N: 7, Level: 0.95} }
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"ratio", FormatRatio(ci(2.1, 1.9, 2.3)), "2.1× [1.9–2.3]"},
		{"narrow ratio", FormatRatio(ci(1.02, 0.98, 1.07)), "1.02× [0.98–1.07]"},
		{"width led by a 1", FormatRatio(ci(2.03, 1.95, 2.11)), "2.03× [1.95–2.11]"},
		{"wide ratio", FormatRatio(ci(2.1, 0.3, 5.3)), "2.1× [0.3–5.3]"},
		{"large ratio", FormatRatio(ci(42.3, 38.1, 47.9)), "42× [38–48]"},
		{"no width", FormatRatio(ci(2, 2, 2)), "2.0× [2.0–2.0]"},
		{"tiny width", FormatRatio(ci(1.0001234, 1.0001, 1.0001567)), "1.000× [1.000–1.000]"},
		{"no interval", FormatRatio(Estimate{Value: 2.14, N: 3}), "2.1× (n=3, no interval)"},
		{"µs", FormatMicros(ci(12.3, 11.9, 12.8)), "12.3 µs [11.9–12.8]"},
		{"ms", FormatMicros(ci(1520, 1480, 1600)), "1.52 ms [1.48–1.60]"},
		{"ns", FormatMicros(ci(0.83, 0.79, 0.87)), "830 ns [790–870]"},
		{"s", FormatMicros(ci(2.5e6, 2.4e6, 2.7e6)), "2.5 s [2.4–2.7]"},
		{"unit", Format(ci(2.04, 1.93, 2.12), "switches"), "2.04 switches [1.93–2.12]"},
		{"no unit", Format(ci(9400, 9100, 9800), ""), "9400 [9100–9800]"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
}
