package report

import (
	"fmt"
	"strings"

	"tenkthreads/internal/confidence"
	"tenkthreads/internal/runner/results"
)

// The bench's runs of the client's engines (runner.engineRuns): the
// goroutine engine's closed loop, and both engines' open loop.
const (
	EchoGoroutine = "echo-goroutine"
	OpenLoop      = "open"
	OpenGoroutine = "open-goroutine"
	OpenRate      = 50000
	OpenConns     = 100
)

// The keys of the engines' figures in bench.json, one per loop.
const figClientCPU = "client_cpu_us_per_msg_"

// engineFigures are the client's CPU per message with each engine, in
// closed loop at n connections and in the open loop, against server.
func engineFigures(res *results.Results, server string, n int) []BenchFigure {
	var out []BenchFigure
	for _, c := range []struct {
		loop, title, eventloop, goroutine string
		n                                 int
	}{
		{"closed", fmt.Sprintf("client CPU per message, closed loop (64 B, %s connections)", results.Thousands(n)), "echo", EchoGoroutine, n},
		{"open", fmt.Sprintf("client CPU per message, open loop (%s messages/s over %d connections, 64 B)", results.Thousands(OpenRate), OpenConns), OpenLoop, OpenGoroutine, OpenConns},
	} {
		el, gr := results.FindCell(res.Cells, server, c.eventloop, c.n), results.FindCell(res.Cells, server, c.goroutine, c.n)
		if el == nil || gr == nil {
			continue
		}
		for _, e := range []struct {
			name string
			cell *results.Cell
		}{{"eventloop", el}, {"goroutine", gr}} {
			st := e.cell.Stat(results.ClientCPUPerMsg)
			f := BenchFigure{Key: figClientCPU + c.loop, Title: c.title, Unit: "µs", Conns: c.n, Server: "client:" + e.name, Label: "client, " + e.name + " engine",
				Median: st.Med, Min: st.Min, Max: st.Max, N: st.N, Runs: len(e.cell.Runs), CI: st.CI, est: st.Estimate(), Note: figureNote(e.cell, results.ClientCPUPerMsg)}
			if e.name == "eventloop" {
				if r, ok := results.RatioCI(el, gr, results.ClientCPUPerMsg); ok {
					f.Note = joinNote(f.Note, "× goroutine engine "+confidence.FormatRatio(r))
					f.ref = r
				}
			}
			out = append(out, f)
		}
	}
	return out
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// engineTargets judge the event-loop engine against the goroutine
// engine: at most 0.6× its CPU per message, closed and open loop.
func engineTargets(figs []BenchFigure) []BenchTarget {
	var out []BenchTarget
	for _, f := range figs {
		loop, ok := strings.CutPrefix(f.Key, figClientCPU)
		if !ok || f.Server != "client:eventloop" {
			continue
		}
		t := BenchTarget{Key: "client_cpu_per_msg_" + loop, Unit: "ratio",
			Target: fmt.Sprintf("client: the event-loop engine's CPU per message ≤ 0.6× the goroutine engine's, %s loop", loop)}
		if f.ref.N > 0 {
			t.Value = results.N(f.ref.Value)
			judge(&t, f.ref, confidence.Target{Bound: confidence.AtMost, Limit: 0.6})
			t.Measured = fmt.Sprintf("%s (event loop %s)", confidence.FormatRatio(f.ref), confidence.FormatMicros(f.est))
		}
		out = append(out, t)
	}
	return out
}
