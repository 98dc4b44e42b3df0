package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/remote"
	"tenkthreads/internal/srvreport"
	"tenkthreads/internal/testhosts"
)

// echoPort is where the server host's bin/10kthreads listens.
const echoPort = 1234

// sshCheck opens the ssh session from the control host to every other
// host, and prints each host's uname, environment and clock skew.
func (r *runner) sshCheck(ctx context.Context) error {
	var targets []remote.Target
	for _, h := range r.lab.Hosts[1:] {
		targets = append(targets, remote.Target{Host: h.Name})
	}
	opts := remote.Options{ConfigFile: r.lab.SSHConfig, Wrap: r.lab.Wrap(), ConnectTimeout: 5 * time.Second}
	s, err := remote.Open(ctx, opts, targets)
	if err != nil {
		return err
	}
	r.ssh = s
	fmt.Fprintln(r.out, "ssh: from the control host to each host (BatchMode, the run's key and known_hosts)")
	return r.each(s.Hosts(), func(h *remote.Host) (string, error) {
		uname, err := h.Run(ctx, "uname", "-a")
		if err != nil {
			return "", err
		}
		env, err := h.Env(ctx, filepath.Join(r.cfg.bin, remote.ProbeName))
		if err != nil {
			return "", err
		}
		skew, err := h.ClockSkew(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s\n  %-9s %d CPUs (%s), open files %d / %d, somaxconn %d, clock skew %s",
			strings.TrimSpace(string(uname)), "", env.CPUs, env.CPUsAllowed, env.System.FDSoft, env.System.FDHard,
			env.System.Somaxconn, skew), nil
	})
}

// each runs check on every host at once and prints what each says, in
// host order; the first error (by host order) is returned.
func (r *runner) each(hosts []*remote.Host, check func(*remote.Host) (string, error)) error {
	lines := make([]string, len(hosts))
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { lines[i], errs[i] = check(h) })
	}
	wg.Wait()
	for i, h := range hosts {
		if errs[i] != nil {
			return errs[i]
		}
		fmt.Fprintf(r.out, "  %-9s %s\n", h.Name, lines[i])
	}
	return nil
}

// host is the session's host for test host h.
func (r *runner) host(h *testhosts.Host) *remote.Host {
	for _, rh := range r.ssh.Hosts() {
		if rh.Host == h.Name {
			return rh
		}
	}
	panic("no session host for " + h.Name)
}

func (r *runner) clientHosts() []*remote.Host {
	var hs []*remote.Host
	for _, c := range r.lab.Clients() {
		hs = append(hs, r.host(c))
	}
	return hs
}

// startServer copies bin/10kthreads to the server host and starts it on
// the host's address, waiting until it listens.
func (r *runner) startServer(ctx context.Context) (*remote.Process, error) {
	h := r.host(r.lab.Server())
	if err := h.Install(ctx, filepath.Join(r.cfg.bin, "10kthreads")); err != nil {
		return nil, err
	}
	return r.listen(ctx, "echo", echoPort, "server.json")
}

// listen starts the installed bin/10kthreads on the server host for the
// check part, on port, with its report in file json and more flags, and waits until it
// listens.
func (r *runner) listen(ctx context.Context, part string, port int, json string, more ...string) (*remote.Process, error) {
	h := r.host(r.lab.Server())
	argv := append([]string{h.Bin("10kthreads"), "-a", r.lab.Server().Addr.String(), "-p", strconv.Itoa(port), "-j", json}, more...)
	p, err := h.Start(ctx, remote.Spec{Argv: argv})
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _, err := p.Output(ctx)
		if err == nil && strings.Contains(string(out), "listening on") {
			fmt.Fprintf(r.out, "%s: %s on server, %s:%d, pid %d in %s\n", part, strings.Join(append([]string{"bin/10kthreads"}, more...), " "), r.lab.Server().Addr, port, p.PGID, h.Bin(""))
			return p, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("server host: bin/10kthreads did not listen within 20s (%v): %s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// clientRun is one bin/client run on a client host.
type clientRun struct {
	port int      // the server's; 0 for echoPort
	json string   // its report's file; "" for client.json
	args []string // beyond -host, -n and -json
	// during runs while the client does, once its connections are up.
	during func(ctx context.Context) error
}

// runClient runs bin/client on host h against the server host and
// returns its report, checked: exit 0, every connection verified, every
// round trip done.
func (r *runner) runClient(ctx context.Context, h *remote.Host, c clientRun) (*clientreport.Result, error) {
	rep, exit, err := r.clientReport(ctx, h, c)
	if err != nil {
		return nil, err
	}
	if exit.Code != 0 {
		return nil, fmt.Errorf("host %s: bin/client: %v: %v", h.Name, exit, rep.FailureLines())
	}
	n := int64(r.cfg.conns)
	if !rep.OK() || rep.Verified != n || rep.RoundTrips != n*int64(rep.Config.Rounds) {
		return nil, fmt.Errorf("host %s: %d of %d connections verified, %d round trips of %d, errors %v",
			h.Name, rep.Verified, n, rep.RoundTrips, n*int64(rep.Config.Rounds), rep.Errors)
	}
	return rep, nil
}

// clientReport runs bin/client on host h as c says, bounded in time,
// and returns its report and how it exited, whatever that was.
func (r *runner) clientReport(ctx context.Context, h *remote.Host, c clientRun) (*clientreport.Result, remote.Exit, error) {
	port, json := c.port, c.json
	if port == 0 {
		port = echoPort
	}
	if json == "" {
		json = "client.json"
	}
	argv := append([]string{h.Bin("client"), "-host", fmt.Sprintf("%s:%d", r.lab.Server().Addr, port),
		"-n", strconv.Itoa(r.cfg.conns), "-quiet", "-json", json}, c.args...)
	p, err := h.Start(ctx, remote.Spec{Argv: argv})
	if err != nil {
		return nil, remote.Exit{}, err
	}
	if c.during != nil {
		if err := c.during(ctx); err != nil {
			return nil, remote.Exit{}, err
		}
	}
	exit, err := p.Wait(ctx, 2*time.Minute)
	if err != nil {
		return nil, exit, err
	}
	data, err := h.ReadFile(ctx, json)
	if err != nil {
		_, stderr, _ := p.Output(ctx)
		return nil, exit, fmt.Errorf("host %s: bin/client: %v, no report: %s", h.Name, exit, testhosts.LastLine(string(stderr)))
	}
	rep, err := clientreport.Decode(data)
	if err != nil {
		return nil, exit, fmt.Errorf("host %s: %s: %v", h.Name, json, err)
	}
	return rep, exit, nil
}

// echoCheck runs bin/client on every client host at once, each echo
// verified.
func (r *runner) echoCheck(ctx context.Context, server *remote.Process) error {
	err := r.each(r.clientHosts(), func(h *remote.Host) (string, error) {
		if err := h.Install(ctx, filepath.Join(r.cfg.bin, "client")); err != nil {
			return "", err
		}
		rep, err := r.runClient(ctx, h, clientRun{args: []string{"-rounds", strconv.Itoa(r.cfg.rounds)}})
		if err != nil {
			return "", err
		}
		r.count(rep)
		return fmt.Sprintf("bin/client: %d connections, %d round trips of %d B, every echo verified",
			rep.Verified, rep.RoundTrips, rep.Config.MessageBytes), nil
	})
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	return nil
}

// count adds a client's connections and bytes to what the server must report.
func (r *runner) count(rep *clientreport.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns += rep.Established
	r.bytes += rep.RoundTrips * int64(rep.Config.MessageBytes)
}

// faultCheck holds connections from the first client host while its
// link goes down and comes back, then checks every one still echoes.
func (r *runner) faultCheck(ctx context.Context) error {
	c := r.lab.Clients()[0]
	const hold, outage = 6 * time.Second, 2 * time.Second
	fmt.Fprintf(r.out, "fault: %s's link down for %s during a %s hold of %d connections\n", c.Name, secs(outage), secs(hold), r.cfg.conns)
	during := func(ctx context.Context) error {
		if err := r.waitEstablished(ctx, echoPort, r.cfg.conns); err != nil {
			return err
		}
		if err := r.lab.LinkDown(ctx, c); err != nil {
			return err
		}
		time.Sleep(outage)
		return r.lab.LinkUp(ctx, c)
	}
	rep, err := r.runClient(ctx, r.host(c), clientRun{args: []string{"-hold", hold.String(), "-rounds", "1"}, during: during})
	if err != nil {
		return fmt.Errorf("fault: %w", err)
	}
	fmt.Fprintf(r.out, "  %-9s all %d connections held through the outage and verified after it\n", c.Name, rep.Verified)
	r.count(rep)
	return nil
}

// waitEstablished waits until the server host has n established
// connections on port (counted with ss inside its namespace).
func (r *runner) waitEstablished(ctx context.Context, port, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := r.lab.Command(ctx, r.lab.Server(), "ss", "-Htn", "state", "established",
			fmt.Sprintf("( sport = :%d )", port)).Output()
		got := strings.Count(string(out), "\n")
		if err == nil && got >= n {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("fault: %d of %d connections established within 30s (%v)", got, n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stopServer sends the server SIGINT, waits for its exit and checks its
// report against what the clients did.
func (r *runner) stopServer(ctx context.Context, p *remote.Process) error {
	if err := p.Signal(ctx, syscall.SIGINT); err != nil {
		return err
	}
	exit, err := p.Wait(ctx, 30*time.Second)
	if err != nil {
		return err
	}
	if exit.Code != 0 {
		return fmt.Errorf("server host: bin/10kthreads: %v after SIGINT, want exit status 0", exit)
	}
	data, err := p.Host.ReadFile(ctx, "server.json")
	if err != nil {
		return err
	}
	rep, err := srvreport.Decode(data)
	if err != nil {
		return fmt.Errorf("server host: server.json: %v", err)
	}
	if rep.Total != r.conns || rep.BytesEchoed != r.bytes || rep.Resets != 0 {
		return fmt.Errorf("server host: bin/10kthreads accepted %d connections (%d reset) and echoed %d bytes, the clients made %d and sent %d",
			rep.Total, rep.Resets, rep.BytesEchoed, r.conns, r.bytes)
	}
	fmt.Fprintf(r.out, "  %-9s bin/10kthreads: exit status 0 on SIGINT, %d connections accepted, %d bytes echoed, as the clients counted\n", "server", rep.Total, rep.BytesEchoed)
	return nil
}
