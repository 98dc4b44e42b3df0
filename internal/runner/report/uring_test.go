package report

import (
	"testing"

	"tenkthreads/internal/runner/results"
)

// The io_uring targets are judged against epoll's figures of the same
// run: memory at most 0.5 KiB above, CPU per round trip at most epoll's,
// at 1,000 connections and more only.
func TestUringTargets(t *testing.T) {
	servers := []results.ServerSpec{{Key: "10kthreads:thread"}, {Key: epollKey}, {Key: uringKey}, {Key: goRefKey}}
	in := BenchInput{Counts: []int{100, 1000, 10000}, Compared: servers}
	for _, c := range []struct {
		name                 string
		memU, memE, cpuRatio float64
		want                 map[string]bool
	}{
		{"met", 0.40, 0.05, 0.9, map[string]bool{"uring_memory": true, "uring_cpu_per_rt_1000": true, "uring_cpu_per_rt_10000": true}},
		{"equal", 0.75, 0.25, 1, map[string]bool{"uring_memory": true, "uring_cpu_per_rt_1000": true, "uring_cpu_per_rt_10000": true}},
		{"not met", 0.56, 0.05, 1.01, map[string]bool{"uring_memory": false, "uring_cpu_per_rt_1000": false, "uring_cpu_per_rt_10000": false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fig := func(key, server string, n int) BenchFigure {
				f := BenchFigure{Key: key, Server: server, Conns: n, N: 3}
				switch {
				case key == "mem_user_kib_per_conn" && server == uringKey:
					f.Median = results.N(c.memU)
				case key == "mem_user_kib_per_conn" && server == epollKey:
					f.Median = results.N(c.memE)
				case key == "cpu_us_per_rt" && server == uringKey:
					f.Median, f.VsEpoll = results.N(5*c.cpuRatio), results.N(c.cpuRatio)
				case key == "cpu_us_per_rt" && server == epollKey:
					f.Median = results.N(5)
				}
				return f
			}
			got := uringTargets(in, fig)
			if len(got) != len(c.want) {
				t.Fatalf("%d targets, want %d: %+v", len(got), len(c.want), got)
			}
			for _, tg := range got {
				want, ok := c.want[tg.Key]
				if !ok || tg.Met == nil || *tg.Met != want {
					t.Errorf("%s (%s): met %v, want %v; measured %q", tg.Key, tg.Target, tg.Met, want, tg.Measured)
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
