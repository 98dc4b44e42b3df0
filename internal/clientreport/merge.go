package clientreport

import (
	"errors"
	"fmt"

	"tenkthreads/internal/stats"
)

// Merge combines runs that happened side by side, named by names (for
// warnings and merged_from): counters and histograms add up exactly;
// times are the longest; rates add up because the processes ran
// concurrently.
func Merge(rs []*Result, names []string) (*Result, error) {
	if len(rs) == 0 {
		return nil, errors.New("nothing to merge")
	}
	m := New()
	m.Engine = rs[0].Engine
	m.Target = rs[0].Target
	m.StartedAt = rs[0].StartedAt
	m.Config = rs[0].Config
	m.Environment = rs[0].Environment
	m.Environment.Cores = 0
	m.Processes = 0
	hosts := map[string]bool{}
	for i, r := range rs {
		// Processes on one host share its cores; hosts add theirs.
		if !hosts[r.Environment.Hostname] {
			hosts[r.Environment.Hostname] = true
			m.Environment.Cores += r.Environment.Cores
		}
		if r.Engine != m.Engine && m.Engine != EngineMixed {
			m.AddWarning(fmt.Sprintf("%s ran the %s engine, %s the %s engine: the merge mixes them", names[0], rs[0].Engine, names[i], r.Engine))
			m.Engine = EngineMixed
		}
		if r.Target != m.Target {
			m.AddWarning(fmt.Sprintf("%s targets %s, not %s", names[i], r.Target, m.Target))
		}
		if r.StartedAt < m.StartedAt {
			m.StartedAt = r.StartedAt
		}
		if err := m.add(r); err != nil {
			return nil, fmt.Errorf("%s: %v", names[i], err)
		}
		for _, w := range r.Warnings {
			m.AddWarning(names[i] + ": " + w)
		}
		if len(r.MergedFrom) > 0 {
			m.MergedFrom = append(m.MergedFrom, r.MergedFrom...)
		} else {
			m.MergedFrom = append(m.MergedFrom, names[i])
		}
	}
	m.Config.N = int(m.Requested)
	m.Config.Idle = int(m.Idle.Requested)
	m.Derive()
	// Per-process rates add up; the longest steady phase would understate them.
	m.RoundTripsPS, m.MBPerS, m.ConnectsPerS, m.Rate.AchievedPerS, m.WindowRoundTripsPS = 0, 0, 0, 0, 0
	for _, r := range rs {
		m.RoundTripsPS += r.RoundTripsPS
		m.WindowRoundTripsPS += r.WindowRoundTripsPS
		m.MBPerS += r.MBPerS
		m.ConnectsPerS += r.ConnectsPerS
		m.Rate.AchievedPerS += r.Rate.AchievedPerS
	}
	return m, nil
}

// AddPart adds p, one part of this same process's run (an event loop's
// connections), into r: its counters, error counts, fairness and
// histograms add up exactly as Merge adds processes. A part carries no
// times, CPU or examples of its own, and r stays one process.
func (r *Result) AddPart(p *Result) error {
	procs := r.Processes
	err := r.add(p)
	r.Processes = procs
	return err
}

// add adds r's counters and histograms into m: sums, and the longest of
// the times.
func (m *Result) add(r *Result) error {
	m.Processes += r.Processes
	m.Loops += r.Loops
	m.Requested += r.Requested
	m.Established += r.Established
	m.Verified += r.Verified
	m.Failed += r.Failed
	m.MaxConc += r.MaxConc
	m.Total += r.Total
	m.Now += r.Now
	addErrors(m.Errors, m.Errnos, r.Errors, r.Errnos)
	m.PerConn.add(r.PerConn)
	m.Idle.add(r.Idle)
	m.Examples = append(m.Examples, r.Examples...)
	m.ElapsedS = max(m.ElapsedS, r.ElapsedS)
	m.ConnectAllS = max(m.ConnectAllS, r.ConnectAllS)
	m.HoldS = max(m.HoldS, r.HoldS)
	m.LingerS = max(m.LingerS, r.LingerS)
	m.SteadyS = max(m.SteadyS, r.SteadyS)
	m.Sent += r.Sent
	m.RoundTrips += r.RoundTrips
	m.WindowRoundTrips += r.WindowRoundTrips
	m.InFlightLost += r.InFlightLost
	m.BytesSent += r.BytesSent
	m.BytesReceived += r.BytesReceived
	m.Rate.RequestedPerS += r.Rate.RequestedPerS
	m.Rate.LateSends += r.Rate.LateSends
	m.Rate.MissedSends += r.Rate.MissedSends
	m.UserCPUS += r.UserCPUS
	m.SysCPUS += r.SysCPUS
	m.SteadyCPUS += r.SteadyCPUS
	m.SteadyUserCPUS += r.SteadyUserCPUS
	m.Interrupted = m.Interrupted || r.Interrupted
	for name, h := range r.Hists {
		if err := stats.Merge(m.Hists[name], h); err != nil {
			return fmt.Errorf("latency.%s: %v", name, err)
		}
	}
	return nil
}
