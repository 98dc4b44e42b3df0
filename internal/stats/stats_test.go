package stats

import (
	"math"
	"sync"
	"testing"
)

func TestSummarize(t *testing.T) {
	cases := []struct {
		name   string
		values []int64 // ns
		want   Summary // µs; percentiles within HdrHistogram's 0.1%
	}{
		{"empty", nil, Summary{}},
		{"one value", []int64{25_000}, Summary{Count: 1, Min: 25, P50: 25, P90: 25, P99: 25, P999: 25, Max: 25, Mean: 25}},
		{"1..100 µs", seq(1_000, 100_000, 1_000), Summary{Count: 100, Min: 1, P50: 50, P90: 90, P99: 99, P999: 100, Max: 100, Mean: 50.5}},
		{"a stall dominates the tail", append(repeat(10_000, 990), repeat(500_000_000, 10)...), Summary{Count: 1000, Min: 10, P50: 10, P90: 10, P99: 10, P999: 500_000, Max: 500_000, Mean: 5009.9}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := New()
			for _, v := range tc.values {
				if err := h.RecordValue(v); err != nil {
					t.Fatal(err)
				}
			}
			got := Summarize(h)
			if got.Count != tc.want.Count {
				t.Errorf("count %d, want %d", got.Count, tc.want.Count)
			}
			for _, f := range []struct {
				name      string
				got, want float64
			}{{"min", got.Min, tc.want.Min}, {"p50", got.P50, tc.want.P50}, {"p90", got.P90, tc.want.P90}, {"p99", got.P99, tc.want.P99}, {"p999", got.P999, tc.want.P999}, {"max", got.Max, tc.want.Max}, {"mean", got.Mean, tc.want.Mean}} {
				if math.Abs(f.got-f.want) > f.want*0.002+0.001 {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
		})
	}
}

func seq(from, to, step int64) []int64 {
	var out []int64
	for v := from; v <= to; v += step {
		out = append(out, v)
	}
	return out
}

func repeat(v int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestEncodeDecodeMerge(t *testing.T) {
	a, b := New(), New()
	for i := int64(1); i <= 1000; i++ {
		_ = a.RecordValue(i * 1000)
		_ = b.RecordValue(i * 7)
	}
	_ = b.RecordValue(HighestNs)
	sa, err := Encode(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := Encode(b)
	da, err := Decode(sa)
	if err != nil {
		t.Fatal(err)
	}
	db, _ := Decode(sb)
	if !da.Equals(a) || !db.Equals(b) {
		t.Fatal("decode(encode(h)) differs from h")
	}
	// Merging decoded histograms equals recording everything in one.
	all := New()
	for i := int64(1); i <= 1000; i++ {
		_ = all.RecordValue(i * 1000)
		_ = all.RecordValue(i * 7)
	}
	_ = all.RecordValue(HighestNs)
	if err := Merge(da, db); err != nil {
		t.Fatal(err)
	}
	if da.TotalCount() != all.TotalCount() || Summarize(da) != Summarize(all) {
		t.Errorf("merged %+v, want %+v", Summarize(da), Summarize(all))
	}
	if h, err := Decode(""); err != nil || h.TotalCount() != 0 {
		t.Errorf("Decode(\"\") = %v, %v; want an empty histogram", h, err)
	}
	if _, err := Decode("not base64!"); err == nil {
		t.Error("Decode accepted garbage")
	}
}

func TestShardedConcurrentRecord(t *testing.T) {
	s := NewSharded(4)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				s.Record(g, int64(i+1)*1000)
			}
		}(g)
	}
	wg.Wait()
	// Out-of-range values are clamped, still counted.
	s.Record(1, 0)
	s.Record(2, HighestNs*10)
	if c := s.Count(); c != 16002 {
		t.Errorf("count %d, want 16002", c)
	}
	h := s.Snapshot()
	if h.TotalCount() != 16002 || h.Max() < HighestNs*999/1000 {
		t.Errorf("snapshot count %d max %d", h.TotalCount(), h.Max())
	}
}

func TestFormatUs(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{12.34, "12.3 µs"}, {1500, "1.50 ms"}, {2_500_000, "2.500 s"}} {
		if got := FormatUs(c.v); got != c.want {
			t.Errorf("FormatUs(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}
