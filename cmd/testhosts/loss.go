package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"syscall"
	"time"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/remote"
	"tenkthreads/internal/srvreport"
)

// The loss check: its server's port and idle sweep, the outage, and the
// holds of its two clients: one ends after the link is back (the sweep
// has closed its connections meanwhile, and the client finds them
// closed or reset), one while the link is still down (its round trips
// time out).
const (
	lossPort    = 1235
	lossIdle    = 2 // the server's -t, seconds
	lossOutage  = 6 * time.Second
	lossHold    = 9 * time.Second
	earlyHold   = 2500 * time.Millisecond
	lossTimeout = 2 * time.Second // the clients' -timeout and -connect-timeout
)

// lossCheck takes the last client host's link down during a hold for
// longer than the server's idle sweep (-t) waits: the server closes the
// idle connections while their client cannot hear it. Of two clients on
// that host, the one whose hold ends after the link is back finds its
// connections closed; the one whose hold ends during the outage times
// out. Once the link is back new connections from that host all echo.
// It reports what was lost and what came back, and fails if nothing was
// lost (the check would prove nothing), if the counts disagree, or if
// anything hangs.
func (r *runner) lossCheck(ctx context.Context) error {
	c := r.lab.Clients()[len(r.lab.Clients())-1]
	h := r.host(c)
	fmt.Fprintf(r.out, "loss: %s's link down for %s during holds of %s and %s, %d connections each, server idle sweep -t %d\n",
		c.Name, secs(lossOutage), secs(lossHold), secs(earlyHold), r.cfg.conns, lossIdle)
	srv, err := r.listen(ctx, "loss", lossPort, "loss-server.json", "-t", fmt.Sprint(lossIdle))
	if err != nil {
		return err
	}
	timeouts := []string{"-timeout", lossTimeout.String(), "-connect-timeout", lossTimeout.String()}
	type result struct {
		rep *clientreport.Result
		err error
	}
	early := make(chan result, 1)
	during := func(ctx context.Context) error {
		go func() {
			rep, _, err := r.clientReport(ctx, h, clientRun{port: lossPort, json: "early-client.json",
				args: append([]string{"-hold", earlyHold.String(), "-rounds", "1"}, timeouts...)})
			early <- result{rep, err}
		}()
		if err := r.waitEstablished(ctx, lossPort, 2*r.cfg.conns); err != nil {
			return err
		}
		if err := r.lab.LinkDown(ctx, c); err != nil {
			return err
		}
		time.Sleep(lossOutage)
		return r.lab.LinkUp(ctx, c)
	}
	late, _, err := r.clientReport(ctx, h, clientRun{port: lossPort, json: "late-client.json", during: during,
		args: append([]string{"-hold", lossHold.String(), "-rounds", "1"}, timeouts...)})
	if err != nil {
		return fmt.Errorf("loss: %w", err)
	}
	e := <-early // bounded: clientReport waits at most 2 minutes
	if e.err != nil {
		return fmt.Errorf("loss: %w", e.err)
	}
	back, err := r.runClient(ctx, h, clientRun{port: lossPort, json: "back-client.json", args: append([]string{"-rounds", "3"}, timeouts...)})
	if err != nil {
		return fmt.Errorf("loss: after the link came back: %w", err)
	}
	rep, err := r.stopLossServer(ctx, srv)
	if err != nil {
		return err
	}
	return r.judgeLoss(c.Name, late, e.rep, back, rep)
}

// stopLossServer stops the loss check's server and reads its report.
func (r *runner) stopLossServer(ctx context.Context, p *remote.Process) (*srvreport.Report, error) {
	if err := p.Signal(ctx, syscall.SIGINT); err != nil {
		return nil, err
	}
	exit, err := p.Wait(ctx, 30*time.Second)
	if err != nil {
		return nil, err
	}
	if exit.Code != 0 {
		return nil, fmt.Errorf("loss: server host: bin/10kthreads -t %d: %v after SIGINT, want exit status 0", lossIdle, exit)
	}
	data, err := p.Host.ReadFile(ctx, "loss-server.json")
	if err != nil {
		return nil, err
	}
	return srvreport.Decode(data)
}

// judgeLoss checks and prints what the outage cost and what came back.
func (r *runner) judgeLoss(host string, late, early, back *clientreport.Result, srv *srvreport.Report) error {
	n := int64(r.cfg.conns)
	var lines []string
	var lost int64
	for _, c := range []struct {
		name string
		hold time.Duration
		rep  *clientreport.Result
	}{{"hold ending after the outage", lossHold, late}, {"hold ending during the outage", earlyHold, early}} {
		dead := c.rep.Established - c.rep.Verified
		var failed int64
		for _, k := range c.rep.Errors {
			failed += k
		}
		switch {
		case c.rep.Established != n:
			return fmt.Errorf("loss: %s: %d of %d connections established before the outage", c.name, c.rep.Established, n)
		case dead == 0:
			return fmt.Errorf("loss: %s: every connection survived a %s outage with the server's -t %d: the check shows nothing", c.name, secs(lossOutage), lossIdle)
		case failed != dead:
			return fmt.Errorf("loss: %s: the client lost %d connections and classified %d failures %v", c.name, dead, failed, c.rep.Errors)
		}
		lost += dead
		lines = append(lines, fmt.Sprintf("  %-9s %s (%s): lost %d of %d connections (%s), %d verified", host, c.name, secs(c.hold), dead, n, classes(c.rep.Errors), c.rep.Verified))
	}
	switch {
	case srv.IdleTimeouts < late.Established-late.Verified:
		return fmt.Errorf("loss: the server's idle sweep closed %d connections, the client whose hold outlasted the outage lost %d", srv.IdleTimeouts, late.Established-late.Verified)
	case srv.Now != 0:
		return fmt.Errorf("loss: the server still held %d connections at exit", srv.Now)
	}
	for _, l := range lines {
		fmt.Fprintln(r.out, l)
	}
	fmt.Fprintf(r.out, "  %-9s bin/10kthreads -t %d: idle sweep closed %d connections, %d accepted in all, %d reset, none left open at exit\n", "server", lossIdle, srv.IdleTimeouts, srv.Total, srv.Resets)
	fmt.Fprintf(r.out, "  %-9s recovered: after the link came back, %d new connections, %d round trips, every echo verified; %d of %d lost in all\n", host, back.Verified, back.RoundTrips, lost, 2*n)
	return nil
}

// classes is a client's error classes that occurred, largest first.
func classes(errs map[string]int64) string {
	var ks []string
	for k, v := range errs {
		if v > 0 {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool { return errs[ks[i]] > errs[ks[j]] || errs[ks[i]] == errs[ks[j]] && ks[i] < ks[j] })
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s %d", k, errs[k]))
	}
	return strings.Join(parts, ", ")
}
