package clientreport

import (
	"fmt"
	"slices"
)

// PerConn is the fairness of a run: how many round trips each active
// connection (each of -n; with -reconnect, each concurrent client)
// completed. Counts is the whole distribution, exact, as [round trips,
// connections] pairs in increasing order of round trips; a merge adds
// the distributions, and every other figure is derived from them, so a
// merged median is the median of all connections, not of the inputs'.
type PerConn struct {
	Conns int64 `json:"conns"`
	// Starved is the connections that completed no round trip, whatever
	// stopped them: never served, never connected, or failed before
	// their first echo (the errors say which).
	Starved int64 `json:"starved"`
	Min     int64 `json:"min"`
	// Median is the nearest-rank median: the count of the connection at
	// rank ceil(conns/2) in increasing order, so it is a count some
	// connection really had.
	Median int64      `json:"median"`
	Max    int64      `json:"max"`
	Counts [][2]int64 `json:"counts"`
}

// NewPerConn is the distribution of counts, one per connection.
func NewPerConn(counts []int64) PerConn {
	by := map[int64]int64{}
	for _, c := range counts {
		by[c]++
	}
	p := PerConn{Counts: [][2]int64{}}
	for c, n := range by {
		p.Counts = append(p.Counts, [2]int64{c, n})
	}
	p.derive()
	return p
}

// add adds q's connections to p.
func (p *PerConn) add(q PerConn) {
	p.Counts = append(p.Counts, q.Counts...)
	p.derive()
}

// derive sorts and folds Counts (one pair per round-trip count, none
// with no connection) and computes the summary from it.
func (p *PerConn) derive() {
	slices.SortFunc(p.Counts, func(a, b [2]int64) int {
		switch {
		case a[0] < b[0]:
			return -1
		case a[0] > b[0]:
			return 1
		}
		return 0
	})
	folded := [][2]int64{}
	for _, c := range p.Counts {
		switch {
		case c[1] == 0:
		case len(folded) > 0 && folded[len(folded)-1][0] == c[0]:
			folded[len(folded)-1][1] += c[1]
		default:
			folded = append(folded, c)
		}
	}
	p.Counts = folded
	p.Conns, p.Starved, p.Min, p.Median, p.Max = 0, 0, 0, 0, 0
	for _, c := range folded {
		p.Conns += c[1]
		if c[0] == 0 {
			p.Starved += c[1]
		}
	}
	if len(folded) == 0 {
		return
	}
	p.Min, p.Max = folded[0][0], folded[len(folded)-1][0]
	rank, seen := (p.Conns+1)/2, int64(0)
	for _, c := range folded {
		if seen += c[1]; seen >= rank {
			p.Median = c[0]
			break
		}
	}
}

// roundTrips is the round trips the distribution accounts for.
func (p PerConn) roundTrips() int64 {
	var n int64
	for _, c := range p.Counts {
		n += c[0] * c[1]
	}
	return n
}

// check says whether the distribution agrees with the report's own
// counts: one entry per requested connection, adding up to its round
// trips. A merge relies on both.
func (p PerConn) check(r *Result) error {
	for _, c := range p.Counts {
		if c[0] < 0 || c[1] < 0 {
			return fmt.Errorf("round_trips_per_conn.counts: negative pair %v", c)
		}
	}
	q := PerConn{Counts: slices.Clone(p.Counts)}
	q.derive()
	switch {
	case q.Conns != r.Requested:
		return fmt.Errorf("round_trips_per_conn.counts: %d connections, but requested is %d", q.Conns, r.Requested)
	case q.roundTrips() != r.RoundTrips:
		return fmt.Errorf("round_trips_per_conn.counts: %d round trips, but round_trips is %d", q.roundTrips(), r.RoundTrips)
	}
	return nil
}

// Idle is -idle: connections opened before the active ones and kept open
// and idle for the whole run, each verified with one echo at the end.
// They are counted here and nowhere else, except in max_conc, total and
// now (connections open) and in the connect histogram.
type Idle struct {
	Requested   int64                       `json:"requested"`
	Established int64                       `json:"established"`
	Verified    int64                       `json:"verified"`
	Failed      int64                       `json:"failed"`
	Errors      map[string]int64            `json:"errors"`
	Errnos      map[string]map[string]int64 `json:"errnos"`
}

func newIdle() Idle {
	return Idle{Errors: zeroClasses(), Errnos: map[string]map[string]int64{}}
}

// zeroClasses is every error class at 0: the JSON always names them all.
func zeroClasses() map[string]int64 {
	m := map[string]int64{}
	for _, c := range Classes {
		m[c] = 0
	}
	return m
}

func (i *Idle) add(o Idle) {
	i.Requested += o.Requested
	i.Established += o.Established
	i.Verified += o.Verified
	i.Failed += o.Failed
	addErrors(i.Errors, i.Errnos, o.Errors, o.Errnos)
}

// addErrors adds the error counts of one report into another's.
func addErrors(errs map[string]int64, errnos map[string]map[string]int64, from map[string]int64, fromNos map[string]map[string]int64) {
	for c, n := range from {
		errs[c] += n
	}
	for c, names := range fromNos {
		if errnos[c] == nil {
			errnos[c] = map[string]int64{}
		}
		for n, k := range names {
			errnos[c][n] += k
		}
	}
}
