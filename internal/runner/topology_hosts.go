package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"tenkthreads/internal/remote"
	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/proc"
	"tenkthreads/internal/runner/results"
)

// hostsSetupTimeout bounds reaching every host, copying the binaries
// and reading each host's environment.
const hostsSetupTimeout = 3 * time.Minute

// targets are the server host and the client hosts the options name.
func targets(o plan.Options) ([]remote.Target, error) {
	if o.HostsFile != "" {
		ts, err := remote.ReadHostsFile(o.HostsFile)
		if err != nil {
			return nil, err
		}
		if len(ts) < 2 {
			return nil, fmt.Errorf("%s: one host; want the server host, then at least one client host", o.HostsFile)
		}
		return ts, nil
	}
	return remote.ParseTargets(strings.Join(append([]string{o.ServerHost}, o.ClientHosts...), ","))
}

// hostSetup is what the runner learns of one host before the first run.
type hostSetup struct {
	h    *remote.Host
	env  remote.Env
	skew remote.Skew
	addr string // the host's address as its ssh connection arrived
}

// openHosts reaches every host over ssh, copies the kit's binaries after
// checking they fit, and reads each host's environment, address and
// clock skew; a host that fails any of it fails the run up front, named.
func openHosts(ctx context.Context, o plan.Options, kit plan.Kit, stderr io.Writer) (*topology, error) {
	ts, err := targets(o)
	if err != nil {
		return nil, plan.UsageError{Msg: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, hostsSetupTimeout)
	defer cancel()
	s, err := remote.Open(ctx, remote.Options{ConfigFile: o.SSHConfig}, ts)
	if err != nil {
		return nil, err
	}
	t := &topology{closer: s.Close}
	setups := make([]hostSetup, len(s.Hosts()))
	errs := make([]error, len(setups))
	var wg sync.WaitGroup
	for i, h := range s.Hosts() {
		bins := []string{kit.Client}
		if i == 0 {
			bins = []string{kit.Server, kit.Ref}
		}
		wg.Go(func() { setups[i], errs[i] = setupHost(ctx, h, append(bins, probePath(kit))) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, t.close())
	}
	if err := t.useHosts(o, setups, stderr); err != nil {
		return nil, errors.Join(err, t.close())
	}
	return t, nil
}

// probePath is bin/hostprobe beside the kit's other programs.
func probePath(kit plan.Kit) string {
	return filepath.Join(filepath.Dir(kit.Client), remote.ProbeName)
}

// setupHost installs bins on h and reads what the run needs of it.
func setupHost(ctx context.Context, h *remote.Host, bins []string) (hostSetup, error) {
	hs := hostSetup{h: h}
	if err := h.Install(ctx, bins...); err != nil {
		return hs, err
	}
	var err error
	if hs.env, err = h.Env(ctx, bins[len(bins)-1]); err != nil {
		return hs, err
	}
	if hs.skew, err = h.ClockSkew(ctx); err != nil {
		return hs, err
	}
	out, err := h.Run(ctx, "sh", "-c", `echo "$SSH_CONNECTION"`)
	if f := strings.Fields(string(out)); err == nil && len(f) == 4 {
		hs.addr = f[2]
	} else if err == nil {
		err = fmt.Errorf("host %s: ssh set no SSH_CONNECTION there, so its address is unknown", h.Name)
	}
	return hs, err
}

// useHosts makes the executor and the topology's record from the hosts'
// setups: the server on the first, clients on the rest, each pinned to
// -server-cpus or -client-cpus, else to every CPU its host allows.
func (t *topology) useHosts(o plan.Options, setups []hostSetup, stderr io.Writer) error {
	srv := setups[0]
	hs := &proc.Hosts{Server: srv.h, ServerAddr: srv.addr, ServerCPUs: pinTo(o.ServerCPUs, srv.env), Lead: 3 * time.Second}
	t.rec = &results.Topology{Kind: "ssh",
		Links: fmt.Sprintf("the clients connect to %s, the address the server host's ssh connection arrived at; the route between the hosts is the network's own", srv.addr)}
	t.rec.Hosts = append(t.rec.Hosts, results.TopoHost{Role: "control", Name: hostName(), Address: "-"})
	var worst time.Duration
	for i, su := range setups {
		role, pin := "server", hs.ServerCPUs
		if i > 0 {
			role, pin = "client", pinTo(o.ClientCPUs, su.env)
			hs.Clients = append(hs.Clients, su.h)
			hs.ClientCPUs = pin
		}
		worst = max(worst, max(su.skew.Offset, -su.skew.Offset)+su.skew.Within)
		t.rec.Hosts = append(t.rec.Hosts, topoHost(role, su, pin))
		fmt.Fprintf(stderr, "experiment: %s host %s (%s): %s, %d CPUs, pinned to %s, clock skew %s\n",
			role, su.h.Name, su.addr, su.env.Kernel, su.env.CPUs, pin, su.skew)
	}
	// The clients start together within the worst skew; the lead covers
	// starting them all and that skew.
	hs.Lead += 2 * worst
	t.hosts = hs
	t.clientEnvs = setups[1:]
	sys := srv.env.System
	t.sys = &sys
	t.envOf = func(env [][2]string) [][2]string { return serverEnvironment(env, srv) }
	t.tuning = func(tu *Tuning) { tu.remote(srv.h) }
	return nil
}

// pinTo is the CPU list of a side on a host: the flag's, else every CPU
// the host lets a process use.
func pinTo(flag string, env remote.Env) string {
	if flag != "" {
		return flag
	}
	return env.CPUsAllowed
}

func topoHost(role string, su hostSetup, pin string) results.TopoHost {
	e, f := su.env, su.h.Facts
	return results.TopoHost{Role: role, Name: su.h.Name, Address: su.addr, Arch: f.Arch, Kernel: e.Kernel,
		Libc: strings.TrimSpace(f.Libc + " " + f.LibcVersion), CPUs: e.CPUs, CPUsAllowed: e.CPUsAllowed, Pinned: pin,
		FDSoft: e.System.FDSoft, FDHard: e.System.FDHard, MemAvailKiB: e.System.MemAvailableKiB, Sysctls: e.Sysctls,
		SkewMs:       results.N(float64(su.skew.Offset) / float64(time.Millisecond)),
		SkewWithinMs: results.N(float64(su.skew.Within) / float64(time.Millisecond))}
}

func hostName() string {
	h, _ := os.Hostname()
	return h
}

// remote points the tuning at host h's /proc/sys, over ssh.
func (t *Tuning) remote(h *remote.Host) {
	t.Root, t.Host = "/proc/sys", h.Name
	t.read = func(path string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return h.Run(ctx, "cat", "--", path)
	}
	t.write = func(path string, data []byte) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := h.Run(ctx, "sh", "-c", `printf '%s\n' "$1" > "$2"`, "sh", strings.TrimSpace(string(data)), path)
		return err
	}
}

// serverEnvironment is the environment table with the server host's
// kernel, CPUs and sysctls in place of this machine's: the table says
// where the figures were measured. The rest (the build, the pinning) is
// the runner's.
func serverEnvironment(env [][2]string, srv hostSetup) [][2]string {
	e := srv.env
	host := map[string]string{
		"kernel":      e.Kernel,
		"CPU model":   e.CPUModel,
		"CPUs online": fmt.Sprintf("%d (a process started over ssh may use: %s)", e.CPUs, e.CPUsAllowed),
	}
	for k, v := range e.Sysctls {
		host[k] = v
	}
	out := [][2]string{{"measured on", "the server host, " + srv.h.Name + " (" + srv.addr + "), load average " + e.LoadAvg}}
	for _, kv := range env {
		if v, ok := host[kv[0]]; ok && v != "" {
			kv[1] = strings.Join(strings.Fields(v), " ")
		}
		out = append(out, kv)
	}
	return out
}

// checkClients says why a client host cannot make its share of n
// connections to the server's one port: each needs an ephemeral port of
// the host's range, from its one address.
func (t *topology) checkClients(n int) error {
	var bad []string
	for i, su := range t.clientEnvs {
		share := n / len(t.clientEnvs)
		if i < n%len(t.clientEnvs) {
			share++
		}
		sys := su.env.System
		if ports := sys.PortHi - sys.PortLo + 1; sys.PortHi > 0 && share > ports {
			bad = append(bad, fmt.Sprintf("client host %s: %d connections to one server port need as many ephemeral ports, and its net.ipv4.ip_local_port_range (%d-%d) has %d: add client hosts or widen the range there",
				su.h.Name, share, sys.PortLo, sys.PortHi, ports))
		}
	}
	if len(bad) > 0 {
		return &ExitError{Code: exitFailed, Msg: strings.Join(bad, "; ")}
	}
	return nil
}
