package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"tenkthreads/internal/confidence"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/srvreport"
)

// InMatrix says the model is in the default matrix: one the server says
// the main experiment compares (Compared in -M list), and that can hold
// every count of it: unbounded, in one process. The others run when asked
// for with -servers, and in the modes made for them (-models, -keepalive).
func InMatrix(m srvreport.Model) bool {
	return m.Compared && !m.Bounded && !m.Processes && m.SameAs == ""
}

// MatrixServers is the servers of the experiment matrix: those of
// -servers, or by default every model InMatrix and the Go reference, with
// a note naming the models left out.
func (k Kit) MatrixServers(servers []string) ([]results.ServerSpec, []string, error) {
	names := k.Models.Names()
	if len(servers) == 0 {
		var out []results.ServerSpec
		var skipped, notes []string
		for _, m := range k.Models.Models {
			if InMatrix(m) {
				out = append(out, k.Spec(m.Name))
			} else {
				skipped = append(skipped, m.Name)
			}
		}
		if len(skipped) > 0 {
			notes = append(notes, fmt.Sprintf("models %s of bin/10kthreads are not in the default matrix (it compares the models -M list marks compared; make models runs them all); select them with -servers 10kthreads:MODEL", strings.Join(skipped, ", ")))
		}
		return append(out, k.GoRef()), notes, nil
	}
	var out []results.ServerSpec
	for _, s := range servers {
		s = strings.TrimSpace(s)
		switch {
		case s == "ref_async_server" || s == "goroutine":
			out = append(out, k.GoRef())
		case s == "10kthreads":
			out = append(out, k.Spec(DefaultModel))
		case strings.HasPrefix(s, "10kthreads:"):
			m := strings.TrimPrefix(s, "10kthreads:")
			if !slices.Contains(names, m) {
				return nil, nil, UsageError{fmt.Sprintf("bin/10kthreads -M list does not list model %q (it lists %s)", m, strings.Join(names, ", "))}
			}
			out = append(out, k.Spec(m))
		case slices.Contains(names, s):
			out = append(out, k.Spec(s))
		default:
			return nil, nil, UsageError{fmt.Sprintf("unknown server %q (known: 10kthreads, 10kthreads:MODEL with MODEL one of %s, ref_async_server)", s, strings.Join(names, ", "))}
		}
	}
	return out, nil, nil
}

// Workload is how one workload of the matrix maps onto the client's flags.
type Workload struct {
	Name     string
	Args     []string
	Desc     string
	MaxConns int // 0 = any; larger counts run at MaxConns instead
	// Hold and Duration are the client's -hold and -duration.
	Hold, Duration time.Duration
}

// MatrixReps is the matrix's repetitions per cell: -reps, else the
// fewest that give a 95% confidence interval of a median (6; 1 with
// -quick).
func (o Options) MatrixReps() int {
	if o.Quick {
		return o.Reps.Or(1)
	}
	return o.Reps.Or(confidence.MinSamples(confidence.DefaultLevel))
}

// matrixTimes is the matrix's -hold and -duration: the flags', else 1 s
// each (200 ms and 500 ms with -quick). A second: the matrix compares four
// servers (thread, epoll, uring, Go) in about 2 minutes, and a second of
// closed-loop echo is tens of thousands of round trips per cell.
func (o Options) matrixTimes() (hold, echo time.Duration) {
	if o.Quick {
		return o.Hold.Or(200 * time.Millisecond), o.Echo.Or(500 * time.Millisecond)
	}
	return o.Hold.Or(time.Second), o.Echo.Or(time.Second)
}

// Counts is the connection counts w runs at: counts, with those over
// MaxConns run at MaxConns, once.
func (w Workload) Counts(counts []int) []int {
	var out []int
	for _, n := range counts {
		if w.MaxConns > 0 {
			n = min(n, w.MaxConns)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Workloads is the matrix's workloads, or those of -workloads.
func Workloads(o Options) []Workload {
	hold, echo := o.matrixTimes()
	all := []Workload{
		{Name: "hold", Args: []string{"-hold", hold.String(), "-quiet"}, Hold: hold,
			Desc: fmt.Sprintf("`-hold %s` (all connections open, idle for %s, then verified)", hold, hold)},
		{Name: "echo", Args: []string{"-duration", echo.String(), "-size", "64", "-quiet"}, Duration: echo,
			Desc: fmt.Sprintf("`-duration %s -size 64` (closed-loop round trips on every connection)", echo)},
		{Name: "reconnect", Args: []string{"-reconnect", "-duration", echo.String(), "-quiet"}, Duration: echo, MaxConns: 1000,
			Desc: fmt.Sprintf("`-reconnect -duration %s` (a new connection per round trip; at most 1,000 concurrent clients, since more would churn tens of thousands of ports per second)", echo)},
	}
	if len(o.Workloads) == 0 {
		return all
	}
	var keep []Workload
	for _, w := range all {
		if slices.Contains(o.Workloads, w.Name) {
			keep = append(keep, w)
		}
	}
	return keep
}

// MatrixCounts is the list of connection counts to run. Explicit -counts
// are kept as asked (the precondition check stops the run if one does not
// fit); default counts that do not fit the fd limit are dropped, with why.
func MatrixCounts(o Options, sys System) (counts []int, dropped []string) {
	if o.Counts.Given {
		return o.Counts.V, nil
	}
	// Smaller counts are left to -counts and -full: six repetitions of
	// every cell fit the matrix's two minutes with one count (reconnect
	// runs at its 1,000).
	counts = []int{10000}
	if o.Quick {
		counts = []int{10, 100}
	}
	fit := sys.MaxConnsForFD()
	if o.Full {
		top := fit / 100 * 100
		var keep []int
		for _, c := range []int{100, 1000, 5000, 10000, 15000, 20000, 50000, 100000} {
			if c < top {
				keep = append(keep, c)
			}
		}
		counts = append(keep, top)
	}
	var keep []int
	for _, c := range counts {
		if c <= fit {
			keep = append(keep, c)
			continue
		}
		dropped = append(dropped, fmt.Sprintf("%d connections dropped from the matrix: the open-file hard limit %d leaves room for %d per process (raise it as root with `ulimit -Hn %d` to include it)", c, sys.FDHard, fit, RoundUp(c+FDSlack, 1000)))
	}
	// A matrix with no count left runs at the largest round count that
	// fits, rather than not at all.
	if len(keep) == 0 && fit >= 100 {
		keep = []int{min(1000, fit/100*100)}
	}
	return keep, dropped
}

// PlanNames is the workloads' names, comma-separated.
func PlanNames(ws []Workload) string {
	var n []string
	for _, w := range ws {
		n = append(n, w.Name)
	}
	return strings.Join(n, ",")
}
