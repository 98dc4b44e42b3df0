package plan

import (
	"fmt"
	"slices"
	"strings"

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
	MaxConns int // 0 = any
	Seconds  float64
}

// Workloads is the matrix's workloads, or those of -workloads.
func Workloads(o Options) []Workload {
	all := []Workload{
		{Name: "hold", Args: []string{"-hold", o.Hold.String(), "-quiet"}, Seconds: o.Hold.Seconds(),
			Desc: fmt.Sprintf("`-hold %s` (all connections open, idle for %s, then verified)", o.Hold, o.Hold)},
		{Name: "echo", Args: []string{"-duration", o.Echo.String(), "-size", "64", "-quiet"}, Seconds: o.Echo.Seconds(),
			Desc: fmt.Sprintf("`-duration %s -size 64` (closed-loop round trips on every connection)", o.Echo)},
		{Name: "reconnect", Args: []string{"-reconnect", "-duration", o.Echo.String(), "-quiet"}, Seconds: o.Echo.Seconds(), MaxConns: 1000,
			Desc: fmt.Sprintf("`-reconnect -duration %s` (a new connection per round trip; run up to 1,000 concurrent clients, since more would churn tens of thousands of ports per second)", o.Echo)},
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
	if o.CountsSet {
		return o.Counts, nil
	}
	counts = []int{100, 1000, 10000}
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
