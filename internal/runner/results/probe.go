package results

import (
	"fmt"
	"time"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/srvreport"
)

// HoldWindowCheck compares when the hold report was asked for with the
// client's own hold phase (started_at + connect_all_s, for hold_s).
func HoldWindowCheck(pr *Probe, cli *clientreport.Result) {
	if pr == nil {
		return
	}
	if late, by := afterHold(pr.HoldAt, cli); late {
		pr.HoldLate = true
		pr.Detail = fmt.Sprintf("hold report asked for %.3f s after the client's hold ended", by)
	}
}

// afterHold says whether the moment at (RFC 3339) came after the
// client's hold phase (started_at + connect_all_s, for hold_s, or to the
// end of its linger), and by how many seconds.
func afterHold(at string, cli *clientreport.Result) (bool, float64) {
	if at == "" || cli == nil {
		return false, 0
	}
	t, err1 := time.Parse(time.RFC3339Nano, at)
	st, err2 := time.Parse(time.RFC3339Nano, cli.StartedAt)
	if err1 != nil || err2 != nil {
		return false, 0
	}
	held := cli.ConnectAllS + cli.HoldS
	if cli.LingerS > 0 {
		// A lingering client holds every connection through its round
		// trips (one each) and its linger, until it is told to close.
		held += cli.SteadyS + cli.LingerS
	}
	holdEnd := st.Add(time.Duration(held * float64(time.Second)))
	return t.After(holdEnd), t.Sub(holdEnd).Seconds()
}

// memOf is the resident memory a report stands for: the proportional set
// size summed over all processes for a multi-process server (shared pages
// counted once), VmRSS for a single process.
func memOf(d *srvreport.Report) Num {
	switch {
	case d == nil:
		return Num{}
	case d.Processes > 1:
		return N(float64(d.PSSSumKiB))
	}
	return N(float64(d.VmRSSKiB))
}

// startMemOf is the same at the server's start, before any worker or
// connection existed.
func startMemOf(d *srvreport.Report) Num {
	switch {
	case d == nil:
		return Num{}
	case d.Processes > 1:
		return N(float64(d.StartPSSKiB))
	}
	return N(float64(d.StartRSSKiB))
}

func cpuOf(d *srvreport.Report) Num {
	if d == nil {
		return Num{}
	}
	return N(d.UserCPUS + d.SysCPUS)
}

func threadsOf(d *srvreport.Report) Num {
	if d == nil {
		return Num{}
	}
	return N(float64(d.Threads))
}

// ProbeMetrics fills the figures that come from the idle and hold reports.
// With them, the per-connection memory and kernel stacks of the standard
// tables are the idle-to-hold growth, not the exit report's high-water mark.
func ProbeMetrics(m *Metrics, idle, hold, srv *srvreport.Report, pr *Probe, kpt Num) {
	m.AcceptServerS = pr.AcceptS
	if hold == nil || hold.Now <= 0 {
		return
	}
	now := N(float64(hold.Now))
	m.HeldConns = now
	if a, b := memOf(idle), memOf(hold); a.Set && b.Set {
		m.HoldKiBPerConn = N((b.V - a.V) / now.V)
	}
	if a, b := startMemOf(hold), memOf(hold); a.Set && b.Set {
		m.HoldKiBPerConnStart = N((b.V - a.V) / now.V)
	}
	if a, b := threadsOf(idle), threadsOf(hold); a.Set && b.Set && kpt.Set {
		m.HoldKStackPerC = N(max(0, b.V-a.V) * kpt.V / now.V)
	}
	if kpt.Set {
		m.HoldKStackAllPerC = N(float64(hold.Threads) * kpt.V / now.V)
	}
	if m.RoundTrips.Set && m.RoundTrips.V > 0 {
		if a, b := pr.HoldGroupCPUS, pr.EndGroupCPUS; a.Set && b.Set {
			m.HoldCPUPerRTus = N((b.V - a.V) / m.RoundTrips.V * 1e6)
		} else if a, b := cpuOf(hold), cpuOf(srv); a.Set && b.Set {
			m.HoldCPUPerRTus = N((b.V - a.V) / m.RoundTrips.V * 1e6)
		}
	}
	if pr.HoldLate {
		return
	}
	if m.HoldKiBPerConn.Set {
		m.KiBPerConn = m.HoldKiBPerConn
	}
	if m.HoldKStackPerC.Set {
		m.KStackPerC = m.HoldKStackPerC
		m.KStackKiB = N(m.HoldKStackPerC.V * now.V)
	}
	if m.HoldCPUPerRTus.Set {
		m.CPUPerRTus = m.HoldCPUPerRTus
	}
}
