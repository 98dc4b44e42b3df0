package proc

import (
	"context"
	"os"
	"syscall"
	"time"

	"tenkthreads/internal/runner/results"
)

// LingerMax is the longest a lingering client keeps its connections: the
// runner ends the linger with SIGUSR1 once its readings are taken and the
// server stopped, long before; this only bounds a runner that died.
const LingerMax = 10 * time.Minute

// LingerReadings bounds the readings of one linger: a server that never
// reports every connection open (some failed) must not keep the client
// waiting until its timeout.
const LingerReadings = 2 * time.Minute

// lingerRun is what the probes of a lingering run work on.
type lingerRun struct {
	srv  *Server
	pb   probe
	w    *watch
	mw   *machineWatch
	note string // the client's -notify file
	n    int
	p    Params
}

// lingerProbes waits for the client's linger (every round trip done),
// takes the hold report and the machine's peak snapshot while the client
// holds every connection, stops the server and times its exit, and ends
// the linger. The readings run one after the other, not side by side:
// each would slow the other on a machine this full.
func lingerProbes(ctx context.Context, r *results.Run, l lingerRun) {
	defer func() { _ = syscall.Kill(l.pb.clientPid, syscall.SIGUSR1) }()
	for {
		if _, err := os.Stat(l.note); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			if l.pb.pr != nil {
				l.pb.pr.Detail = "the client ended before its linger"
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = os.Remove(l.note)
	if l.srv.Exited() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, LingerReadings)
	defer cancel()
	l.w.run(rctx, l.pb, l.n, l.p)
	if l.mw != nil {
		l.mw.peak(rctx, l.n, l.pb.clientPid)
	}
	t0 := time.Now()
	l.srv.Stop(l.p.StopTimeout)
	r.StopS = results.N(time.Since(t0).Seconds())
}
