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

// The keys of the engines' figures in bench.json, one per loop: CPU per
// message, and its user-space part.
const (
	figClientCPU     = "client_cpu_us_per_msg_"
	figClientUserCPU = "client_user_cpu_us_per_msg_"
)

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
		out = append(out, engineFigure(el, gr, results.ClientCPUPerMsg, figClientCPU+c.loop, c.title, c.n)...)
		out = append(out, engineFigure(el, gr, results.ClientUserCPUPerMsg, figClientUserCPU+c.loop, strings.Replace(c.title, "CPU", "user-space CPU", 1), c.n)...)
	}
	return out
}

// engineFigure is figure fig of the event-loop engine's cell el and the
// goroutine engine's gr, the first with its ratio to the second.
func engineFigure(el, gr *results.Cell, fig results.Figure, key, title string, n int) []BenchFigure {
	// Runs older than the figure have it on neither side.
	if !el.Stat(fig).Med.Set && !gr.Stat(fig).Med.Set {
		return nil
	}
	var out []BenchFigure
	for _, e := range []struct {
		name string
		cell *results.Cell
	}{{"eventloop", el}, {"goroutine", gr}} {
		st := e.cell.Stat(fig)
		f := BenchFigure{Key: key, Title: title, Unit: "µs", Conns: n, Server: "client:" + e.name, Label: "client, " + e.name + " engine",
			Median: st.Med, Min: st.Min, Max: st.Max, N: st.N, Runs: len(e.cell.Runs), CI: st.CI, est: st.Estimate(), Note: figureNote(e.cell, fig)}
		if e.name == "eventloop" {
			if r, ok := results.RatioCI(el, gr, fig); ok {
				f.Note = joinNote(f.Note, "× goroutine engine "+confidence.FormatRatio(r))
				f.ref = r
			}
		}
		out = append(out, f)
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
			if u := userFigure(figs, loop); u != nil && u.ref.N > 0 {
				t.Measured += fmt.Sprintf("; its user-space part alone %s (event loop %s): the rest is the kernel's", confidence.FormatRatio(u.ref), confidence.FormatMicros(u.est))
			}
		}
		out = append(out, t)
	}
	return out
}

// userFigure is the event-loop engine's user-space CPU figure of loop.
func userFigure(figs []BenchFigure, loop string) *BenchFigure {
	for i := range figs {
		if figs[i].Key == figClientUserCPU+loop && figs[i].Server == "client:eventloop" {
			return &figs[i]
		}
	}
	return nil
}
