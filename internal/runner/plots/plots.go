// Package plots draws the report's figures with gonum.org/v1/plot: one
// line per server against the number of connections, each figure as PNG
// and SVG.
package plots

import (
	"fmt"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"tenkthreads/internal/runner/results"
)

// File is one figure the report embeds.
type File struct {
	Name    string // file stem; .png and .svg exist
	Caption string
}

type series struct {
	label  string
	dashed bool
	dashes []vg.Length // a dash pattern of its own (the marker stays that of its place)
	color  int
	xs     []float64
	med    []float64
	lo, hi []float64
}

type plotSpec struct {
	name, title, ylabel, caption string
	workload                     string
	series                       func(cells []*results.Cell) []series
	logY                         bool
	noValues                     bool // no value beside each point (many lines)
}

// seriesOf makes one line per server from one figure; scale converts
// units (e.g. µs to ms).
func seriesOf(f results.Figure, scale float64) func([]*results.Cell) []series {
	return func(cells []*results.Cell) []series {
		return byServer(cells, func(c *results.Cell) (results.Stat, bool) { s := c.Stat(f); return s, s.Med.Set }, scale, "", false)
	}
}

func byServer(cells []*results.Cell, get func(*results.Cell) (results.Stat, bool), scale float64, suffix string, dashed bool) []series {
	idx := map[string]int{}
	var out []series
	colorOf := serverColors(cells)
	for _, c := range cells {
		s, ok := get(c)
		if !ok {
			continue
		}
		i, seen := idx[c.Server]
		if !seen {
			i = len(out)
			idx[c.Server] = i
			out = append(out, series{label: c.Label + suffix, dashed: dashed, color: colorOf[c.Server]})
		}
		se := &out[i]
		se.xs = append(se.xs, float64(c.Conns))
		se.med = append(se.med, s.Med.V*scale)
		se.lo = append(se.lo, s.Min.V*scale)
		se.hi = append(se.hi, s.Max.V*scale)
	}
	return out
}

// serverColors keeps one colour per server across all figures.
func serverColors(cells []*results.Cell) map[string]int {
	m := map[string]int{}
	for _, c := range cells {
		if _, ok := m[c.Server]; !ok {
			m[c.Server] = len(m)
		}
	}
	return m
}

// memSeries draws user-space memory per connection, and for servers that
// ran a thread per connection a dashed line with the kernel stacks stacked
// on top, since RSS does not show them.
func memSeries(cells []*results.Cell) []series {
	out := byServer(cells, func(c *results.Cell) (results.Stat, bool) {
		s := c.Stat(results.KiBPerConn)
		return s, s.Med.Set
	}, 1, " — user space", false)
	threaded := threadedServers(cells)
	stacked := byServer(cells, func(c *results.Cell) (results.Stat, bool) {
		u, k := c.Stat(results.KiBPerConn), c.Stat(results.KStackKiBPerConn)
		if !threaded[c.Server] || !u.Med.Set || !k.Med.Set {
			return results.Stat{}, false
		}
		return results.Stat{Med: results.N(u.Med.V + k.Med.V), Min: results.N(u.Min.V + k.Min.V), Max: results.N(u.Max.V + k.Max.V), N: u.N}, true
	}, 1, " — user space + kernel stacks", true)
	// Each stacked line right after its server's user-space line, so the
	// legend reads in pairs.
	var paired []series
	for _, u := range out {
		paired = append(paired, u)
		for _, st := range stacked {
			if st.color == u.color {
				paired = append(paired, st)
			}
		}
	}
	return paired
}

// threadedServers judges each server at its largest count, where a few
// runtime threads can no longer pass for one per connection.
func threadedServers(cells []*results.Cell) map[string]bool {
	largest := map[string]*results.Cell{}
	for _, c := range cells {
		if !c.Stat(results.ServerThreadsPeak).Med.Set || !c.Stat(results.ServerMaxConc).Med.Set {
			continue
		}
		if l := largest[c.Server]; l == nil || c.Conns > l.Conns {
			largest[c.Server] = c
		}
	}
	out := map[string]bool{}
	for k, c := range largest {
		out[k] = c.ThreadPerConn()
	}
	return out
}

func medianNote(cells []*results.Cell) string {
	reps := 0
	for _, c := range cells {
		reps = max(reps, len(c.Runs))
	}
	if reps > 1 {
		return fmt.Sprintf("median of %d runs, bars show min–max", reps)
	}
	return "1 run per point"
}

func plotSpecs(cells []*results.Cell) []plotSpec {
	hold, echo := medianNote(results.CellsOf(cells, "hold")), medianNote(results.CellsOf(cells, "echo"))
	return []plotSpec{
		{
			name:     "mem_per_conn",
			title:    "Resident memory per idle connection (hold workload; " + hold + ")",
			ylabel:   "KiB per connection",
			workload: "hold",
			series:   memSeries,
			caption: "Solid: the server's user-space resident memory growth (VmHWM) divided by its peak connections. " +
				"Dashed (thread-per-connection servers only): the same plus the kernel stacks of the threads " +
				"(the server's extra threads at the peak × the kernel stack per thread), which RSS does not count. " +
				"Kernel socket buffers, which every server needs alike, are in neither line.",
		},
		{
			name:     "cpu_per_rt",
			title:    "Server CPU time per round trip (echo workload; " + echo + ")",
			ylabel:   "server CPU per round trip (µs, user + system)",
			workload: "echo",
			series:   seriesOf(results.ServerCPUPerRT, 1),
			caption:  "The server's user + system CPU time over the whole run divided by the round trips the client completed; lower is cheaper.",
		},
		{
			name:     "rtt_p99",
			title:    "99th percentile round-trip latency (echo workload; " + echo + ")",
			ylabel:   "p99 round-trip time (ms)",
			workload: "echo",
			series:   seriesOf(results.RTTP99, 1e-3),
			logY:     true,
			caption:  "Measured by the client from sending a message to receiving the last byte of its echo, closed loop on every connection; the y axis turns logarithmic when the values span more than 5×.",
		},
		{
			name:     "rt_per_s",
			title:    "Round trips per second, all connections together (echo workload; " + echo + ")",
			ylabel:   "round trips per second",
			workload: "echo",
			series:   seriesOf(results.RoundTripsPerS, 1),
			caption:  "Completed echo round trips per second over the whole client run; higher is better.",
		},
	}
}

// Write writes every figure as PNG and SVG into dir. A figure with no
// data still exists and says so, so a report never links a missing file.
func Write(dir string, cells []*results.Cell) ([]File, error) {
	var files []File
	specs := plotSpecs(cells)
	if rc := results.CellsOf(cells, "reconnect"); len(rc) > 0 {
		specs = append(specs, plotSpec{
			name:     "reconnect_rt_per_s",
			title:    "Connection per request: requests per second (" + medianNote(rc) + ")",
			ylabel:   "requests (connect, echo, close) per second",
			workload: "reconnect",
			series:   seriesOf(results.RoundTripsPerS, 1),
			caption:  "Each request opens a new connection, does one echo and closes; x is the number of concurrent clients.",
		})
	}
	for _, sp := range specs {
		if err := save(newPlot(sp, results.CellsOf(cells, sp.workload)), dir, sp.name); err != nil {
			return nil, err
		}
		files = append(files, File{Name: sp.name, Caption: sp.caption})
	}
	if hold := results.CellsOf(cells, "hold"); len(hold) > 0 {
		if err := save(partsPlot(hold), dir, "mem_parts"); err != nil {
			return nil, err
		}
		files = append(files, File{Name: "mem_parts", Caption: partsCaption})
	}
	if counted := results.CellsOf(cells, "counts"); len(counted) > 0 {
		if err := save(countsPlot(counted), dir, "counts_per_rt"); err != nil {
			return nil, err
		}
		files = append(files, File{Name: "counts_per_rt", Caption: countsCaption})
	}
	return files, nil
}

// save writes p as dir/name.png and dir/name.svg.
func save(p *plot.Plot, dir, name string) error {
	for _, ext := range []string{"png", "svg"} {
		if err := p.Save(9*vg.Inch, 5.5*vg.Inch, filepath.Join(dir, name+"."+ext)); err != nil {
			return fmt.Errorf("plot %s.%s: %v", name, ext, err)
		}
	}
	return nil
}
