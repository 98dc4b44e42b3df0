package perfcount

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Rate is a count per round trip; Missing says why it is not Set.
type Rate struct {
	Value   float64 `json:"value"`
	Set     bool    `json:"set"`
	Missing string  `json:"missing,omitempty"`
}

// PerRoundTrip is every count divided by the round trips the server
// echoed while it was counted.
type PerRoundTrip struct {
	ContextSwitches Rate `json:"context_switches"`
	Syscalls        Rate `json:"syscalls"`
	Migrations      Rate `json:"cpu_migrations"`
	PageFaults      Rate `json:"page_faults"`
	Cycles          Rate `json:"cycles"`
	Instructions    Rate `json:"instructions"`
}

// PerRoundTrips divides c by roundTrips, which must be positive: counts
// over no work have no per-round-trip meaning.
func PerRoundTrips(c Counts, roundTrips int64) (PerRoundTrip, error) {
	if roundTrips <= 0 {
		return PerRoundTrip{}, fmt.Errorf("perfcount: %d round trips: counts per round trip need at least one", roundTrips)
	}
	rate := func(k Counter) Rate {
		if !k.Set {
			return Rate{Missing: k.Missing}
		}
		return Rate{Value: float64(k.Value) / float64(roundTrips), Set: true}
	}
	return PerRoundTrip{
		ContextSwitches: rate(c.ContextSwitches), Syscalls: rate(c.Syscalls),
		Migrations: rate(c.Migrations), PageFaults: rate(c.PageFaults),
		Cycles: rate(c.Cycles), Instructions: rate(c.Instructions),
	}, nil
}

// Server names one server's per-round-trip counts for Explain.
type Server struct {
	Name string
	Per  PerRoundTrip
}

// Explain says in one line why servers differ in CPU: "the thread server
// makes 2.0 context switches and 4.0 system calls per round trip, the epoll
// server 0.10 and 2.3". Only the figures every server has are compared;
// one that any server lacks is named at the end with the reason.
func Explain(servers ...Server) (string, error) {
	if len(servers) == 0 {
		return "", errors.New("perfcount: no server to explain")
	}
	type figure struct {
		noun string
		rate func(PerRoundTrip) Rate
	}
	var have []figure
	var lacking []string
	for _, f := range []figure{
		{"context switches", func(p PerRoundTrip) Rate { return p.ContextSwitches }},
		{"system calls", func(p PerRoundTrip) Rate { return p.Syscalls }},
	} {
		if why := missingIn(servers, f.rate); why != "" {
			lacking = append(lacking, f.noun+" not counted: "+why)
		} else {
			have = append(have, f)
		}
	}
	if len(have) == 0 {
		return "no counts to explain the difference (" + strings.Join(lacking, "; ") + ")", nil
	}
	parts := make([]string, len(servers))
	for i, s := range servers {
		vals := make([]string, len(have))
		for j, f := range have {
			vals[j] = count(f.rate(s.Per).Value)
			if i == 0 {
				vals[j] += " " + f.noun
			}
		}
		parts[i] = "the " + s.Name + " server " + andList(vals)
		if i == 0 {
			parts[i] = "the " + s.Name + " server makes " + andList(vals) + " per round trip"
		}
	}
	line := strings.Join(parts, ", ")
	if len(lacking) > 0 {
		line += " (" + strings.Join(lacking, "; ") + ")"
	}
	return line, nil
}

// missingIn is the first server's reason for lacking a figure, or "".
func missingIn(servers []Server, rate func(PerRoundTrip) Rate) string {
	for _, s := range servers {
		if r := rate(s.Per); !r.Set {
			return "the " + s.Name + " server's " + r.Missing
		}
	}
	return ""
}

func andList(xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// count shows a per-round-trip count with two significant digits, and
// whole numbers from 100 on: "2.0", "0.10", "23", "4100".
func count(v float64) string {
	if v == 0 {
		return "0"
	}
	if v >= 100 {
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	d := max(0, 1-int(math.Floor(math.Log10(v))))
	return strconv.FormatFloat(v, 'f', d, 64)
}
