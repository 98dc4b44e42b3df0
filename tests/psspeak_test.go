package tests

import (
	"math"
	"path/filepath"
	"syscall"
	"testing"
)

// TestPSSPeakUnderProcs: with -P, memory per connection is the growth of
// the peak of the processes' PSS sum, which the server samples while it
// runs: the exit report, taken after every connection has gone, still
// holds what the connections cost while they were held.
func TestPSSPeakUnderProcs(t *testing.T) {
	n := connScale(t, 2000)
	for _, c := range []struct {
		kind serverKind
		// floor is the least one held connection costs in user space: a
		// thread touches at least one page of its stack, a goroutine has
		// a stack of at least 2 KiB.
		floor float64
	}{{cServer, 4}, {refServer, 2}} {
		t.Run(c.kind.name, func(t *testing.T) {
			jsonPath := filepath.Join(t.TempDir(), "r.json")
			s := startServer(t, c.kind, "-P", "2", "-j", jsonPath)
			p := holdWithClient(t, s, n)
			held := readJSONReport(t, jsonPath)
			p.Signal(t, syscall.SIGKILL)
			<-p.Done
			s.waitIdle()
			s.stop()
			exit := readJSONReport(t, jsonPath)
			start := held["start_pss_kib"].(float64)
			heldPeak, exitPeak := held["pss_sum_peak_kib"].(float64), exit["pss_sum_peak_kib"].(float64)
			if held["now"].(float64) != float64(n) || exit["now"].(float64) != 0 {
				t.Fatalf("now %v at the hold, %v at exit; want %d and 0", held["now"], exit["now"], n)
			}
			if per := (heldPeak - start) / float64(n); per < c.floor {
				t.Errorf("PSS sum peak at the hold grew %.2f KiB per held connection, want at least %v", per, c.floor)
			}
			if exitPeak < heldPeak {
				t.Errorf("pss_sum_peak_kib fell from %v at the hold to %v at exit: a peak never falls", heldPeak, exitPeak)
			}
			if ms := exit["pss_sample_interval_ms"].(float64); ms < 100 {
				t.Errorf("pss_sample_interval_ms %v, want at least the 100 ms tick", ms)
			}
			want := (exitPeak - start) / exit["max_conc"].(float64)
			if got := exit["kib_per_peak_conn"].(float64); math.Abs(got-want) > 0.001 || got < c.floor {
				t.Errorf("kib_per_peak_conn at exit %v, want (pss_sum_peak_kib - start_pss_kib) / max_conc = %.4f, at least %v", got, want, c.floor)
			}
		})
	}
}
