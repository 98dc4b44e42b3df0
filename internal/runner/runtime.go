package runner

import (
	"fmt"
	"time"

	"tenkthreads/internal/runner/proc"
)

// A runTime is what one run's client spends, by part: what the ETA
// expects and what the timeout allows both follow from it, in one formula
// for every mode.
type runTime struct {
	// conns is how many connections the client opens (0: the run's n).
	conns int
	// hold and duration are the client's -hold and -duration.
	hold, duration time.Duration
	// wait is what the client may wait out after its duration: the
	// deadlines of requests a server has not answered yet.
	wait time.Duration
	// linger is how long a lingering client (proc.Params.Linger) may
	// wait for the runner's readings and the server's exit.
	linger time.Duration
}

// lingerTime is what a lingering run's client may wait for the runner:
// the readings, then the server's exit within stop.
func lingerTime(stop time.Duration) time.Duration { return proc.LingerReadings + stop }

const (
	// startStop is what a run is expected to spend besides its client's
	// work: the server's start and reports, its exit.
	startStop = 600 * time.Millisecond
	// rampPerConn is what one connection of the ramp is expected to take
	// (about 4,000 a second).
	rampPerConn = 250 * time.Microsecond
	// connectBudget is what the timeout allows one connection of the
	// ramp: twice the expected.
	connectBudget = 2 * rampPerConn
	// timeoutStart is what the timeout allows the client to start, and
	// the runner's probes to take their reports, on a busy machine.
	timeoutStart = 20 * time.Second
	// timeoutSlack is how many times its ramp, hold and duration a run
	// may take before its client is stopped.
	timeoutSlack = 2
)

// expected is what the run should take, for the ETA.
func (t runTime) expected(n int) time.Duration {
	return startStop + time.Duration(t.connsOf(n))*rampPerConn + t.hold + t.duration
}

// timeout is how long the run's client may take before it is
// interrupted: the start, twice the ramp at connectBudget a connection,
// the hold and the duration, and what the client may wait out.
func (t runTime) timeout(n int) time.Duration {
	work := time.Duration(t.connsOf(n))*connectBudget + t.hold + t.duration
	return timeoutStart + timeoutSlack*work + t.wait + t.linger
}

func (t runTime) connsOf(n int) int {
	if t.conns > 0 {
		return t.conns
	}
	return n
}

func fmtDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
