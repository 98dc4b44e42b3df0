package report

import (
	"fmt"
	"sort"
	"strings"

	"tenkthreads/internal/confidence"
	"tenkthreads/internal/runner/results"
)

// Answer states the result in two sentences computed from the data: what
// holding the most connections cost each server, and what a round trip
// cost each server at the largest count.
func Answer(cells []*results.Cell) string {
	var s1, s2 string
	hold := results.CellsOf(cells, "hold")
	if n := largestCommon(hold); n > 0 {
		var parts []string
		for _, c := range hold {
			if c.Conns != n {
				continue
			}
			held := c.Stat(results.ServerMaxConc).Med
			p := c.Label + " held "
			if held.Set {
				p += fmt.Sprintf("%s of %s", results.Thousands(int(held.V)), results.Thousands(n))
			} else {
				p += "an unknown number (no server report)"
			}
			if e := c.Stat(results.Errors).Med; e.Set {
				p += fmt.Sprintf(" with %s client errors", results.Thousands(int(e.V)))
			}
			if st := c.Status(); st != results.StatusOK {
				p += " (" + st + ")"
			}
			u, k := c.Stat(results.KiBPerConn).Med, c.Stat(results.KStackKiBPerConn).Med
			switch {
			case c.Stat(results.MachineKiBPerConn).Med.Set:
				p += ", at " + machineText(c)
			case u.Set && c.ThreadPerConn() && k.Set:
				p += fmt.Sprintf(", at %s KiB of user-space memory plus %s KiB of kernel stack per connection", u, k)
			case u.Set:
				p += fmt.Sprintf(", at %s KiB per connection", u)
			}
			parts = append(parts, p)
		}
		s1 = fmt.Sprintf("Asked to hold %s connections open, %s.", results.Thousands(n), joinAnd(parts))
	} else {
		s1 = "No hold run produced results."
	}
	echo := results.CellsOf(cells, "echo")
	if n := largestCommon(echo); n > 0 {
		var parts []string
		epoll := results.FindCell(echo, epollKey, "echo", n)
		for _, c := range echo {
			if c.Conns != n {
				continue
			}
			var fig []string
			if st := c.Stat(results.ServerCPUPerRT); st.Med.Set {
				f := FmtUs(st.Med) + " of server CPU per round trip"
				if st.CI != nil {
					f = confidence.FormatMicros(st.Estimate()) + " of server CPU per round trip"
				}
				if r := RatioText(c, epoll, results.ServerCPUPerRT); r != "" && c != epoll {
					f += " (" + r + " epoll's)"
				}
				fig = append(fig, f)
			}
			if v := c.Stat(results.RTTP99).Med; v.Set {
				fig = append(fig, "p99 latency "+FmtUs(v))
			}
			if v := c.Stat(results.RoundTripsPerS).Med; v.Set {
				fig = append(fig, results.Thousands(int(v.V))+" round trips/s")
			}
			p := c.Label
			if len(fig) == 0 {
				p += " had no round-trip figures (not reported)"
			} else {
				p += " needed " + strings.Join(fig, ", ")
			}
			if st := c.Status(); st != results.StatusOK {
				p += " (" + st + ")"
			}
			parts = append(parts, p)
		}
		s2 = fmt.Sprintf("With %s connections doing closed-loop echo, %s.", results.Thousands(n), joinAnd(parts))
	} else {
		s2 = "CPU per round trip and latency were not measured in this run (the client offers no -duration or -rounds workload yet, or the echo workload was not selected)."
	}
	return s1 + " " + s2 + saturation(echo)
}

// machineText is the machine memory per connection and its parts.
func machineText(c *results.Cell) string {
	var parts []string
	for _, p := range results.MachineParts {
		parts = append(parts, c.Stat(p.Figure).Med.String()+" "+p.Name)
	}
	return fmt.Sprintf("%s KiB of machine memory per connection (%s)", c.Stat(results.MachineKiBPerConn).Med, strings.Join(parts, ", "))
}

// saturation warns when the client, not the server, may have set the pace.
func saturation(cells []*results.Cell) string {
	n := 0
	for _, c := range cells {
		if b := c.Stat(results.ClientCoresBusy).Med; b.Set && b.V >= 0.9 {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" Caution: in %d of %d echo cells the client kept at least 0.9 of its core busy, so round trips/s and latency there are bounded by the client as much as by the server.", n, len(cells))
}

// largestCommon is the largest connection count every server ran, so the
// sentence compares like with like; failing that, the largest any ran.
func largestCommon(cells []*results.Cell) int {
	per := map[string]map[int]bool{}
	all := map[int]bool{}
	for _, c := range cells {
		if per[c.Server] == nil {
			per[c.Server] = map[int]bool{}
		}
		per[c.Server][c.Conns] = true
		all[c.Conns] = true
	}
	var counts []int
	for n := range all {
		counts = append(counts, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	for _, n := range counts {
		ok := true
		for _, m := range per {
			if !m[n] {
				ok = false
			}
		}
		if ok {
			return n
		}
	}
	if len(counts) > 0 {
		return counts[0]
	}
	return 0
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], "; ") + "; and " + parts[len(parts)-1]
}
