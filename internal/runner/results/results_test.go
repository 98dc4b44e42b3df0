package results

import (
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/srvreport"
)

func TestHoldWindowCheck(t *testing.T) {
	start := time.Now().Add(-10 * time.Second)
	cli := clientreport.New()
	cli.StartedAt, cli.ConnectAllS, cli.HoldS = start.UTC().Format(time.RFC3339Nano), 1, 2
	in := &Probe{HoldAt: start.Add(2 * time.Second).Format(time.RFC3339Nano)}
	HoldWindowCheck(in, cli)
	late := &Probe{HoldAt: start.Add(4 * time.Second).Format(time.RFC3339Nano)}
	HoldWindowCheck(late, cli)
	if in.HoldLate || !late.HoldLate || !strings.Contains(late.Detail, "after the client's hold ended") {
		t.Errorf("in window: %+v; late: %+v", in, late)
	}
	// A lingering client holds its connections through its round trips
	// and its linger: 4 s in is then within the hold, 6.5 s is not.
	lingering := *cli
	lingering.SteadyS, lingering.LingerS = 1, 2
	inLinger := &Probe{HoldAt: start.Add(4 * time.Second).Format(time.RFC3339Nano)}
	HoldWindowCheck(inLinger, &lingering)
	afterLinger := &Probe{HoldAt: start.Add(6500 * time.Millisecond).Format(time.RFC3339Nano)}
	HoldWindowCheck(afterLinger, &lingering)
	if inLinger.HoldLate || !afterLinger.HoldLate {
		t.Errorf("lingering client: report 4 s in late %v (want false), 6.5 s in late %v (want true)", inLinger.HoldLate, afterLinger.HoldLate)
	}
	// A late report must not become the table's memory figure.
	var m Metrics
	idle := &srvreport.Report{VmRSSKiB: 1000, Threads: 2, Processes: 1}
	hold := &srvreport.Report{VmRSSKiB: 9000, Threads: 1002, Now: 1000, Processes: 1}
	m.KiBPerConn = N(99)
	ProbeMetrics(&m, idle, hold, nil, late, N(16))
	if m.HoldKiBPerConn.V != 8 || m.HoldKStackPerC.V != 16 || m.KiBPerConn.V != 99 {
		t.Errorf("late probe: hold %v KiB, kstack %v, table figure %v", m.HoldKiBPerConn, m.HoldKStackPerC, m.KiBPerConn)
	}
	m = Metrics{}
	ProbeMetrics(&m, idle, hold, nil, in, N(16))
	if m.KiBPerConn.V != 8 || m.KStackPerC.V != 16 {
		t.Errorf("in-window probe: table figures %v, %v", m.KiBPerConn, m.KStackPerC)
	}
	// A process model's memory is its PSS sum, from idle and from start.
	m = Metrics{}
	multi := &srvreport.Report{PSSSumKiB: 5000, StartPSSKiB: 1000, VmRSSKiB: 99999, Threads: 8, Now: 1000, Processes: 3}
	ProbeMetrics(&m, &srvreport.Report{PSSSumKiB: 3000, Threads: 8, Processes: 3}, multi, nil, in, N(16))
	if m.HoldKiBPerConn.V != 2 || m.HoldKiBPerConnStart.V != 4 || m.HoldKStackPerC.V != 0 || m.HoldKStackAllPerC.V != 0.128 {
		t.Errorf("multi-process probe: %+v", m)
	}
}

// A report that is missing is not measured, never zero; an empty
// histogram has no percentiles.
func TestDeriveNotMeasured(t *testing.T) {
	m := Derive(nil, nil, Sample{}, N(16))
	for name, n := range map[string]Num{"errors": m.Errors, "max_conc": m.MaxConc, "rss": m.PeakRSSKiB, "kstack": m.KStackKiB, "cpu": m.CPUS, "p99": m.RTTP99us, "threads": m.Threads} {
		if n.Set {
			t.Errorf("%s measured without any report: %v", name, n)
		}
	}
	cli := clientreport.New()
	cli.Requested, cli.Verified, cli.Errors[clientreport.Reset] = 10, 7, 3
	cli.Derive()
	srv := &srvreport.Report{MaxConc: 10, UserCPUS: 1, SysCPUS: 1, VmHWMKiB: 500, PSSSumKiB: 300, PSSSumPeakKiB: 450, Processes: 2, KernelStackPeakDeltaKiB: 320}
	m = Derive(srv, cli, Sample{ThreadsPeak: N(12), ThreadsStart: N(2)}, N(16))
	if m.RTTP99us.Set || !m.RoundTrips.Set || m.CPUPerRTus.Set || m.Errors.V != 3 {
		t.Errorf("client without round trips: p99 %v, round trips %v, CPU/rt %v, errors %v", m.RTTP99us, m.RoundTrips, m.CPUPerRTus, m.Errors)
	}
	// Several processes: memory is the PSS sum's sampled peak (at exit the
	// connections' memory is gone), kernel stacks the server's own
	// system-wide peak, since the runner sees only the parent's threads.
	if m.PeakRSSKiB.V != 450 || m.KStackKiB.V != 320 || m.KStackPerC.V != 32 {
		t.Errorf("multi-process: RSS %v, kstack %v, per conn %v", m.PeakRSSKiB, m.KStackKiB, m.KStackPerC)
	}
	srv.Processes = 1
	if m = Derive(srv, cli, Sample{ThreadsPeak: N(12), ThreadsStart: N(2)}, N(16)); m.PeakRSSKiB.V != 500 || m.KStackKiB.V != 160 {
		t.Errorf("one process: RSS %v, kstack %v (10 threads × 16 KiB)", m.PeakRSSKiB, m.KStackKiB)
	}
}
