package results

import (
	"fmt"
	"sort"

	"tenkthreads/internal/confidence"
)

// Stat is the median and spread of one figure over a cell's repetitions,
// counting only the repetitions where it was measured. A compared figure
// (Figure.Compared) also has the 95% confidence interval of its median,
// or the Reason it has none, and the repetitions that stand out.
type Stat struct {
	Med, Min, Max Num
	N             int
	CI            *confidence.Interval
	Reason        string
	Outliers      []int
}

// StatOf is the Stat of the measured values among vals.
func StatOf(vals []Num) Stat {
	var xs []float64
	for _, v := range vals {
		if v.Set {
			xs = append(xs, v.V)
		}
	}
	if len(xs) == 0 {
		return Stat{}
	}
	sort.Float64s(xs)
	med := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		med = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return Stat{Med: N(med), Min: N(xs[0]), Max: N(xs[len(xs)-1]), N: len(xs)}
}

// Cell is one (server, workload, connections) point with all its runs.
type Cell struct {
	Server, Label, Model, Workload string
	Conns                          int
	Runs                           []*Run
	// stats holds each Figure's Stat, indexed by the Figure.
	stats []Stat
}

// Status is the worst status of the cell's runs, with how many runs had it.
func (c *Cell) Status() string {
	worst, n := StatusOK, 0
	for _, r := range c.Runs {
		if statusRank[r.Status] > statusRank[worst] {
			worst, n = r.Status, 0
		}
		if r.Status == worst {
			n++
		}
	}
	if worst == StatusOK || len(c.Runs) == 1 {
		return worst
	}
	return fmt.Sprintf("%s %d/%d", worst, n, len(c.Runs))
}

// Stat is the cell's figure f over its runs.
func (c *Cell) Stat(f Figure) Stat {
	if int(f) >= len(c.stats) {
		return Stat{}
	}
	return c.stats[f]
}

// ThreadPerConn says whether the server paid a kernel stack per
// connection (a thread or a process each), judged from the data, so the
// kernel stacks are charged to the models that really pay them.
func (c *Cell) ThreadPerConn() bool {
	k := c.Stat(KStackKiBPerConn).Med
	return k.Set && k.V >= 1
}

// WorkloadOrder sorts the matrix's workloads.
var WorkloadOrder = map[string]int{"hold": 0, "echo": 1, "reconnect": 2, "counts": 3}

// Aggregate groups runs into cells in a stable order: servers as first
// seen, then workload, then connections.
func Aggregate(runs []*Run) []*Cell {
	serverOrder := map[string]int{}
	cells := map[string]*Cell{}
	var list []*Cell
	for _, r := range runs {
		if r.Superseded != "" {
			continue
		}
		if _, ok := serverOrder[r.Server]; !ok {
			serverOrder[r.Server] = len(serverOrder)
		}
		k := fmt.Sprintf("%s|%s|%d", r.Server, r.Workload, r.Conns)
		c, ok := cells[k]
		if !ok {
			c = &Cell{Server: r.Server, Label: r.Label, Model: r.Model, Workload: r.Workload, Conns: r.Conns}
			cells[k] = c
			list = append(list, c)
		}
		c.Runs = append(c.Runs, r)
	}
	for _, c := range list {
		c.stats = make([]Stat, numFigures)
		for _, f := range Figures() {
			vals := make([]Num, len(c.Runs))
			for i, r := range c.Runs {
				vals[i] = f.Of(r.M)
			}
			c.stats[f] = StatOf(vals)
			if f.Compared() {
				c.stats[f] = withCI(c.stats[f], vals, c.Runs)
			}
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if serverOrder[a.Server] != serverOrder[b.Server] {
			return serverOrder[a.Server] < serverOrder[b.Server]
		}
		if WorkloadOrder[a.Workload] != WorkloadOrder[b.Workload] {
			return WorkloadOrder[a.Workload] < WorkloadOrder[b.Workload]
		}
		return a.Conns < b.Conns
	})
	return list
}

// CellsOf is the cells of one workload.
func CellsOf(cells []*Cell, workload string) []*Cell {
	var out []*Cell
	for _, c := range cells {
		if c.Workload == workload {
			out = append(out, c)
		}
	}
	return out
}

// FindCell is the cell of (server, workload, n), or nil.
func FindCell(cells []*Cell, server, workload string, n int) *Cell {
	for _, c := range cells {
		if c.Server == server && c.Workload == workload && c.Conns == n {
			return c
		}
	}
	return nil
}
