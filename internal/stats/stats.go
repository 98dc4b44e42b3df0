// Package stats holds the latency-histogram conventions shared by the
// client and its merge step, so that every histogram in the kit has the same
// range and precision and can therefore be merged exactly.
package stats

import (
	"fmt"
	"math"
	"sync"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms record nanoseconds: loopback round trips are a few
// microseconds, so microsecond units would quantise them too coarsely.
const (
	LowestNs  = 1
	HighestNs = int64(3600) * 1e9 // one hour, far above any sane timeout
	SigFigs   = 3
	// Unit names the unit of recorded values, stored next to the encoding.
	Unit = "ns"
)

// New returns an empty latency histogram with the kit-wide parameters.
func New() *hdr.Histogram {
	return hdr.New(LowestNs, HighestNs, SigFigs)
}

// Summary is what humans and scripts read; values are microseconds.
type Summary struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

func us(ns int64) float64 { return math.Round(float64(ns)/1e3*1000) / 1000 }

// Summarize reports h (in ns) as microseconds, rounded to 1 ns.
func Summarize(h *hdr.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{
		Count: h.TotalCount(),
		Min:   us(h.Min()),
		P50:   us(h.ValueAtQuantile(50)),
		P90:   us(h.ValueAtQuantile(90)),
		P99:   us(h.ValueAtQuantile(99)),
		P999:  us(h.ValueAtQuantile(99.9)),
		Max:   us(h.Max()),
		Mean:  math.Round(h.Mean()) / 1e3,
	}
}

// Encode serialises h as base64 of the V2 compressed HdrHistogram format,
// which other HdrHistogram implementations can read too.
func Encode(h *hdr.Histogram) (string, error) {
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Decode is the inverse of Encode. hdrhistogram-go v1.1.2 panics on some
// malformed input (an index out of range on a short payload, found by
// FuzzMergeJSON); a JSON file given to `client merge` is outside input, so
// that panic becomes an error naming the problem.
func Decode(s string) (h *hdr.Histogram, err error) {
	if s == "" {
		return New(), nil
	}
	defer func() {
		if r := recover(); r != nil {
			h, err = nil, fmt.Errorf("decode histogram: malformed data (%v)", r)
		}
	}()
	h, err = hdr.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return h, nil
}

// Merge adds from into into; it fails rather than silently dropping values.
func Merge(into, from *hdr.Histogram) error {
	if d := into.Merge(from); d != 0 {
		return fmt.Errorf("merge dropped %d values outside the histogram range", d)
	}
	return nil
}

// Sharded spreads recording over several locked histograms so thousands of
// goroutines can record without all contending for one lock.
type Sharded struct {
	shards []shard
}

type shard struct {
	mu sync.Mutex
	h  *hdr.Histogram
	_  [40]byte // keep neighbouring locks off one cache line
}

// NewSharded returns a recorder with n shards (at least 1).
func NewSharded(n int) *Sharded {
	if n < 1 {
		n = 1
	}
	s := &Sharded{shards: make([]shard, n)}
	for i := range s.shards {
		s.shards[i].h = New()
	}
	return s
}

// Record adds one value in ns to h, which one goroutine owns. Values
// beyond the range are clamped so that they are still counted.
func Record(h *hdr.Histogram, ns int64) {
	_ = h.RecordValue(min(max(ns, LowestNs), HighestNs))
}

// Record adds one value in ns; key picks the shard (e.g. a connection id).
func (s *Sharded) Record(key int, ns int64) {
	sh := &s.shards[key%len(s.shards)]
	sh.mu.Lock()
	Record(sh.h, ns)
	sh.mu.Unlock()
}

// Snapshot merges all shards into a fresh histogram.
func (s *Sharded) Snapshot() *hdr.Histogram {
	out := New()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		out.Merge(sh.h)
		sh.mu.Unlock()
	}
	return out
}

// Count is the number of values recorded so far.
func (s *Sharded) Count() int64 {
	var n int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.h.TotalCount()
		sh.mu.Unlock()
	}
	return n
}

// FormatUs renders a microsecond value with a unit chosen for readability.
func FormatUs(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3f s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2f ms", v/1e3)
	default:
		return fmt.Sprintf("%.1f µs", v)
	}
}
