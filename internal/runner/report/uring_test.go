package report

import (
	"testing"

	"tenkthreads/internal/confidence"
	"tenkthreads/internal/runner/results"
)

// est is an estimate of value with the interval [lo, hi]; lo > hi for
// none (too few runs).
func est(value, lo, hi float64) confidence.Estimate {
	e := confidence.Estimate{Value: value, Level: 0.95, N: 6}
	if lo <= hi {
		e.CI = &confidence.Interval{Lo: lo, Hi: hi}
	} else {
		e.N, e.Reason = 3, "3 runs are too few"
	}
	return e
}

// The io_uring targets are judged against epoll's figures of the same
// run, by their intervals: memory at most 0.5 KiB above, CPU per round
// trip at most epoll's, at 1,000 connections and more only; a target
// whose interval straddles it, or that has none, is inconclusive.
func TestUringTargets(t *testing.T) {
	servers := []results.ServerSpec{{Key: "10kthreads:thread"}, {Key: epollKey}, {Key: uringKey}, {Key: goRefKey}}
	in := BenchInput{Counts: []int{100, 1000, 10000}, Compared: servers}
	for _, c := range []struct {
		name       string
		memU, memE confidence.Estimate
		ratio      confidence.Estimate
		want       string
	}{
		{"met", est(0.4, 0.38, 0.42), est(0.05, 0.04, 0.06), est(0.9, 0.85, 0.95), "met"},
		{"not met", est(0.9, 0.85, 0.95), est(0.05, 0.04, 0.06), est(1.2, 1.1, 1.3), "not met"},
		{"straddles", est(0.5, 0.4, 0.7), est(0.05, 0.04, 0.06), est(1.0, 0.9, 1.1), "inconclusive"},
		{"too few runs", est(0.4, 1, 0), est(0.05, 1, 0), est(0.9, 1, 0), "inconclusive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fig := func(key, server string, n int) BenchFigure {
				f := BenchFigure{Key: key, Server: server, Conns: n, N: 6}
				switch {
				case key == "mem_user_kib_per_conn" && server == uringKey:
					f.Median, f.est = results.N(c.memU.Value), c.memU
				case key == "mem_user_kib_per_conn" && server == epollKey:
					f.Median, f.est = results.N(c.memE.Value), c.memE
				case key == "cpu_us_per_rt" && server == uringKey:
					f.Median, f.VsEpoll, f.epoll = results.N(5*c.ratio.Value), results.N(c.ratio.Value), c.ratio
				case key == "cpu_us_per_rt" && server == epollKey:
					f.Median = results.N(5)
				}
				return f
			}
			got := uringTargets(in, fig)
			if len(got) != 3 {
				t.Fatalf("%d targets, want 3: %+v", len(got), got)
			}
			for _, tg := range got {
				met := tg.Met != nil && *tg.Met
				if tg.Verdict != c.want || (c.want == "inconclusive") != (tg.Met == nil) || met != (c.want == "met") {
					t.Errorf("%s (%s): verdict %q, met %v, want %q; measured %q, why %q", tg.Key, tg.Target, tg.Verdict, tg.Met, c.want, tg.Measured, tg.Why)
				}
			}
		})
	}
	in.Compared = []results.ServerSpec{{Key: "10kthreads:thread"}, {Key: epollKey}}
	if got := uringTargets(in, nil); got != nil {
		t.Errorf("targets without uring in the run: %+v", got)
	}
}

func TestUringC100K(t *testing.T) {
	for _, c := range []struct {
		counts []int
		want   int
	}{{[]int{25000, 50000, 100000}, 100000}, {[]int{25000, 100000, 200000}, 100000}, {[]int{10000, 25000}, 25000}} {
		if got := UringC100KCount(c.counts); got != c.want {
			t.Errorf("%v: %d, want %d", c.counts, got, c.want)
		}
	}
	row := C100KRow{Server: uringKey, Conns: 100000, Status: results.StatusOK, Verified: results.N(100000), Errors: results.N(0)}
	for _, c := range []struct {
		name string
		edit func(*C100KRow)
		met  bool
	}{
		{"held", func(*C100KRow) {}, true},
		{"errors", func(r *C100KRow) { r.Errors = results.N(3) }, false},
		{"short", func(r *C100KRow) { r.Verified = results.N(99999) }, false},
		{"crashed", func(r *C100KRow) { r.Status = results.StatusCrashed }, false},
	} {
		r := row
		c.edit(&r)
		tg, ok := uringHeld([]C100KRow{{Server: epollKey}, r})
		if !ok || tg.Met == nil || *tg.Met != c.met {
			t.Errorf("%s: %+v, want met %v", c.name, tg, c.met)
		}
	}
	if _, ok := uringHeld([]C100KRow{{Server: epollKey}}); ok {
		t.Errorf("a target without a uring row")
	}
}
