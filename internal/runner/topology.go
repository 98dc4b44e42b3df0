package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"slices"
	"strings"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/proc"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/testhosts"
)

// A topology is where a campaign's server and clients run, and the
// executor that starts them there: this machine over loopback
// (proc.Run), network namespaces of this machine (proc.Run with a
// Placement) or hosts over ssh (proc.Hosts). Each run's record is the
// same whichever it is.
type topology struct {
	rec   *results.Topology // nil for this machine over loopback
	where *proc.Placement
	// both: only the columns marked Netns run in the namespaces, beside
	// the same columns on loopback (-topology both).
	both  bool
	hosts *proc.Hosts
	// clientEnvs are the client hosts as the setup found them.
	clientEnvs []hostSetup
	lab        *testhosts.Lab
	// sys is the server host's limits, which the preconditions check and
	// -tune raises; nil for this machine's.
	sys    *plan.System
	tuning func(*Tuning) // points -tune at the server host
	// envOf rewrites meta.json's environment table for where the
	// figures were measured; nil keeps this machine's.
	envOf  func([][2]string) [][2]string
	closer func() error // ends what the topology made
}

// openTopology makes the topology o asks for; the caller must close it.
func openTopology(ctx context.Context, o plan.Options, kit plan.Kit, stderr io.Writer) (*topology, error) {
	switch {
	case o.Remote():
		return openHosts(ctx, o, kit, stderr)
	case o.Namespaces():
		return openNetns(ctx, o, stderr)
	}
	return &topology{}, nil
}

// close ends what the topology made: remote processes and files, the
// namespaces. It is safe to call more than once.
func (t *topology) close() error {
	if t == nil || t.closer == nil {
		return nil
	}
	err := t.closer()
	t.closer = nil
	return err
}

// execute is the run function of the topology for a run of spec (nil:
// this machine).
func (t *topology) execute(spec results.ServerSpec, p *proc.Params) func(results.ServerSpec, string, int, int, proc.Params) results.Run {
	switch {
	case t == nil:
		return proc.Run
	case t.hosts != nil:
		return t.hosts.Run
	}
	if !t.both || spec.Netns {
		p.Where = t.where
	}
	return proc.Run
}

// overVeth adds to the plan, for -topology both, every run again in the
// namespaces, as a column of its own ("over veth") beside the loopback
// one, so the campaign interleaves the two.
func (t *topology) overVeth(p *Plan) {
	if t == nil || !t.both {
		return
	}
	var runs []runSpec
	for _, rs := range p.Runs {
		v := rs
		v.spec.Key, v.spec.Label, v.spec.Netns = rs.spec.Key+"@netns", rs.spec.Label+" over veth", true
		runs = append(runs, rs, v)
	}
	p.Runs = runs
	for _, s := range slices.Clone(p.Servers) {
		s.Key, s.Label, s.Netns = s.Key+"@netns", s.Label+" over veth", true
		p.Servers = append(p.Servers, s)
	}
}

// remote is the executor across hosts, nil for a topology of this machine.
func (t *topology) remote() *proc.Hosts {
	if t == nil {
		return nil
	}
	return t.hosts
}

// netnsSysctls are copied from this machine's namespace into each test
// namespace, which starts with the kernel's defaults: the two sides must
// see the same limits as on loopback for the comparison to hold.
var netnsSysctls = []string{"net.core.somaxconn", "net.ipv4.ip_local_port_range",
	"net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_tw_reuse", "net.ipv4.tcp_syncookies"}

// netnsSources are the client namespace's further addresses: with its
// own, the client spreads its connections over 32 source addresses, as
// it does over 127.0.0.2-127.0.0.33 on loopback, so its ephemeral ports
// last as long.
const netnsSources = 31

// openNetns builds a server host and one client host out of network
// namespaces (internal/testhosts, without sshd) and places the sides in them.
func openNetns(ctx context.Context, o plan.Options, stderr io.Writer) (*topology, error) {
	shaping := testhosts.Shaping{RateMbit: o.Link.RateMbit, HTB: o.Link.HTB, Delay: o.Link.Delay, LossPct: o.Link.LossPct}
	lab, err := testhosts.Build(ctx, testhosts.Config{Clients: 1, NoSSH: true, Sources: netnsSources, Shaping: shaping, Log: stderr})
	if err != nil {
		return nil, fmt.Errorf("-topology netns: %w", err)
	}
	t := &topology{lab: lab, closer: lab.Close, both: o.Topology == "both"}
	srv, cli := lab.Server(), lab.Clients()[0]
	for _, ns := range []string{srv.NS, cli.NS} {
		if err := copySysctls(ns); err != nil {
			return nil, errors.Join(fmt.Errorf("-topology netns: %w", err), t.close())
		}
	}
	t.where = &proc.Placement{ServerNS: srv.NS, ClientNS: cli.NS, ServerAddr: srv.Addr,
		ClientSources: append([]netip.Addr{cli.Addr}, cli.Sources...)}
	t.rec = &results.Topology{Kind: "netns", Notes: lab.Notes,
		Links: fmt.Sprintf("each namespace's eth0, a veth pair to bridge br0 in namespace %s; shaping each way: %s", lab.BridgeNS, lab.Shaping),
		Hosts: []results.TopoHost{
			{Role: "server", Name: srv.NS, Address: srv.Addr.String()},
			{Role: "client", Name: cli.NS, Address: fmt.Sprintf("%s, and %s-%s as sources", cli.Addr, cli.Sources[0], cli.Sources[len(cli.Sources)-1])},
		}}
	if t.both {
		t.rec.Notes = append(t.rec.Notes, "each column marked \"over veth\" ran in these namespaces; the same column without it ran on loopback, in the same rounds")
	}
	fmt.Fprintf(stderr, "experiment: -topology %s: server in %s (%s), client in %s (%s), %s\n", o.Topology, srv.NS, srv.Addr, cli.NS, cli.Addr, t.rec.Links)
	return t, nil
}

// copySysctls sets netnsSysctls in namespace ns to this namespace's values.
func copySysctls(ns string) error {
	for _, name := range netnsSysctls {
		v := plan.Sysctl(name)
		if v == "" {
			continue
		}
		out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-q", "-w", name+"="+v).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s in %s: %v: %s", name, ns, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// calibrate measures the kernel's costs where the machine records are
// kept: on the server host for a run across hosts, else here.
func (c *campaign) calibrate() (results.Num, *results.Calibration) {
	if hs := c.topo.remote(); hs != nil {
		kpt, cal, err := hs.Calibrate()
		if err == nil {
			return kpt, cal
		}
		fmt.Fprintf(c.stderr, "experiment: note: calibrating on the server host failed (%v); the machine figures are divided with no calibration\n", err)
		return results.Num{}, nil
	}
	return proc.Calibrate(proc.Params{ProcRoot: c.env.ProcRoot}.ProcFS())
}
