package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"tenkthreads/internal/stats"
)

// readResult loads one client JSON report and decodes its histograms.
func readResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := newResult()
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("%s: schema %q, want %q", path, r.Schema, Schema)
	}
	for _, name := range histNames {
		h, err := stats.Decode(r.Latency[name].Hdr)
		if err != nil {
			return nil, fmt.Errorf("%s: latency.%s: %v", path, name, err)
		}
		r.hists[name] = &histHolder{h}
	}
	return r, nil
}

// mergeResults combines runs that happened side by side: counters and
// histograms add up exactly; times are the longest; rates add up because
// the processes ran concurrently.
func mergeResults(rs []*Result, names []string) (*Result, error) {
	if len(rs) == 0 {
		return nil, errors.New("nothing to merge")
	}
	m := newResult()
	m.Target = rs[0].Target
	m.StartedAt = rs[0].StartedAt
	m.Config = rs[0].Config
	m.Environment = rs[0].Environment
	m.Processes = 0
	m.SourceDesc = ""
	var steadyCPU float64
	hosts := map[string]bool{}
	m.Environment.Cores = 0
	for i, r := range rs {
		// Processes on one host share its cores; hosts add theirs.
		if !hosts[r.Environment.Hostname] {
			hosts[r.Environment.Hostname] = true
			m.Environment.Cores += r.Environment.Cores
		}
		if r.Target != m.Target {
			m.addWarning(fmt.Sprintf("%s targets %s, not %s", names[i], r.Target, m.Target))
		}
		if r.StartedAt < m.StartedAt {
			m.StartedAt = r.StartedAt
		}
		m.Processes += r.Processes
		m.Requested += r.Requested
		m.Established += r.Established
		m.Verified += r.Verified
		m.Failed += r.Failed
		m.MaxConc += r.MaxConc
		m.Total += r.Total
		m.Now += r.Now
		for c, n := range r.Errors {
			m.Errors[c] += n
		}
		for c, names := range r.Errnos {
			if m.Errnos[c] == nil {
				m.Errnos[c] = map[string]int64{}
			}
			for n, k := range names {
				m.Errnos[c][n] += k
			}
		}
		m.Examples = append(m.Examples, r.Examples...)
		m.ElapsedS = max(m.ElapsedS, r.ElapsedS)
		m.ConnectAllS = max(m.ConnectAllS, r.ConnectAllS)
		m.HoldS = max(m.HoldS, r.HoldS)
		m.SteadyS = max(m.SteadyS, r.SteadyS)
		m.Sent += r.Sent
		m.RoundTrips += r.RoundTrips
		m.InFlightLost += r.InFlightLost
		m.BytesSent += r.BytesSent
		m.BytesReceived += r.BytesReceived
		m.Rate.RequestedPerS += r.Rate.RequestedPerS
		m.Rate.LateSends += r.Rate.LateSends
		m.Rate.MissedSends += r.Rate.MissedSends
		m.UserCPUS += r.UserCPUS
		m.SysCPUS += r.SysCPUS
		steadyCPU += r.SteadyCPUS
		m.Interrupted = m.Interrupted || r.Interrupted
		for _, w := range r.Warnings {
			m.addWarning(names[i] + ": " + w)
		}
		if len(r.MergedFrom) > 0 {
			m.MergedFrom = append(m.MergedFrom, r.MergedFrom...)
		} else {
			m.MergedFrom = append(m.MergedFrom, names[i])
		}
		for name, hh := range r.hists {
			if err := stats.Merge(m.hists[name].h, hh.h); err != nil {
				return nil, fmt.Errorf("%s: latency.%s: %v", names[i], name, err)
			}
		}
	}
	m.SteadyCPUS = steadyCPU
	m.Config.N = int(m.Requested)
	m.derive()
	// Per-process rates add up; the longest steady phase would understate them.
	m.RoundTripsPS, m.MBPerS, m.ConnectsPerS, m.Rate.AchievedPerS = 0, 0, 0, 0
	for _, r := range rs {
		m.RoundTripsPS += r.RoundTripsPS
		m.MBPerS += r.MBPerS
		m.ConnectsPerS += r.ConnectsPerS
		m.Rate.AchievedPerS += r.Rate.AchievedPerS
	}
	return m, nil
}

func mergeMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("client merge", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("json", "", "write the merged report as JSON to FILE")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, usageLine)
			return 0
		}
		fmt.Fprintf(stderr, "client merge: %v\n%s\n", err, usageLine)
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "client merge: no JSON files given\n%s\n", usageLine)
		return 2
	}
	var rs []*Result
	for _, p := range fs.Args() {
		r, err := readResult(p)
		if err != nil {
			fmt.Fprintf(stderr, "client merge: %v\n", err)
			return 1
		}
		rs = append(rs, r)
	}
	m, err := mergeResults(rs, fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "client merge: %v\n", err)
		return 1
	}
	return finish(m, *out, stdout, stderr)
}
