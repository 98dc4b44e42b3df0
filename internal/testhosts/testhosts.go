// Package testhosts builds real hosts on this machine out of network
// namespaces, to run the kit across hosts over SSH without a second
// machine: a server host, two or more client hosts and a control host,
// each a namespace with its own address in 198.18.0.0/15 and its own
// link to a bridge that lives in a namespace of its own. Every host but
// the control host runs its own sshd with keys made for the run; the
// control host is where ssh runs from.
//
// A host's sessions get a TMPDIR of their own inside the run's directory,
// so whatever they leave in "the host's /tmp" goes with the run.
//
// Nothing is made in the machine's own namespace, and nothing there ever
// sends to a test address: every sender runs inside a test namespace
// (Lab.Command), and no test namespace has a route out. Build checks
// this before it starts anything and refuses otherwise.
//
// Close removes everything Build made; a run that crashed is cleaned up
// by the next one (CleanStale).
package testhosts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// subnetBits is the prefix length of the hosts' shared subnet.
const subnetBits = 24

// Addresses: the control host at .1, the server at .10, client i at .10+i.
var (
	controlAddr = netip.MustParseAddr("198.18.0.1")
	serverAddr  = netip.MustParseAddr("198.18.0.10")
	sourceBase  = netip.MustParseAddr("198.18.0.100")
)

// maxSources is how many further client addresses fit the subnet above
// sourceBase.
const maxSources = 154

// Config says what to build.
type Config struct {
	Clients int // client hosts, at least 2 (1 with NoSSH)
	// NoSSH builds the hosts and links only: no keys, configs or sshd,
	// for a caller that runs each side in its namespace itself
	// (bin/experiment -topology netns). It needs no openssh-server.
	NoSSH bool
	// Sources gives each client host that many more addresses, from
	// 198.18.0.100 up, for a client whose connections to one server
	// port need more ephemeral ports than one source address has.
	Sources int
	Shaping Shaping
	// ConnectTimeout goes into the control host's ssh_config (default 5s).
	ConnectTimeout time.Duration
	Log            io.Writer // what is cleaned up after an earlier run; nil for nowhere
}

// Shaping is what every link does to what it carries, in each direction.
type Shaping struct {
	RateMbit float64       // rate limit (tbf, or htb with HTB); 0 for none
	HTB      bool          // shape the rate with an htb class instead of tbf
	Delay    time.Duration // netem delay; needs netem in the kernel
	LossPct  float64       // netem loss; needs netem in the kernel
}

func (s Shaping) netem() bool { return s.Delay > 0 || s.LossPct > 0 }

func (s Shaping) netemArgs() []string {
	var a []string
	if s.Delay > 0 {
		a = append(a, "delay", fmt.Sprintf("%dus", s.Delay.Microseconds()))
	}
	if s.LossPct > 0 {
		a = append(a, "loss", fmt.Sprintf("%g%%", s.LossPct))
	}
	return a
}

// tbfArgs: a bucket of 10 ms at the rate (at least 16 KiB, so a burst of
// full-size segments passes) and at most 50 ms of queue.
func (s Shaping) tbfArgs() []string {
	burst := max(int(s.RateMbit*1e6/8/100), 16<<10)
	return []string{"rate", fmt.Sprintf("%gmbit", s.RateMbit), "burst", fmt.Sprint(burst), "latency", "50ms"}
}

func (s Shaping) rateQdisc() string {
	if s.HTB {
		return "htb"
	}
	return "tbf"
}

func (s Shaping) String() string {
	var parts []string
	if s.RateMbit > 0 {
		parts = append(parts, fmt.Sprintf("rate %g Mbit/s (%s)", s.RateMbit, s.rateQdisc()))
	}
	if s.Delay > 0 {
		parts = append(parts, fmt.Sprintf("delay %v (netem)", s.Delay))
	}
	if s.LossPct > 0 {
		parts = append(parts, fmt.Sprintf("loss %g%% (netem)", s.LossPct))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Host is one test host.
type Host struct {
	Name string     // control, server, client1, client2, ...
	NS   string     // its network namespace
	Addr netip.Addr // its address, in Bench
	// Sources are a client host's further addresses (Config.Sources).
	Sources []netip.Addr

	sshd     *exec.Cmd
	sshdDone chan struct{}
}

// Link is the bridge's end of the host's link, as `ip -n BridgeNS` names it.
func (h *Host) Link() string { return bridgeEnd(h) }

// Lab is a set of test hosts.
type Lab struct {
	ID       string // unique per run, in every name below
	Dir      string // the run's keys, configs and sshd logs
	BridgeNS string
	Hosts    []*Host // control, server, client1, client2, ...
	Shaping  Shaping // what the links do (netem parts dropped when the kernel lacks it)
	Notes    []string

	// For the control host's ssh: ssh -F SSHConfig NAME, run through
	// Command(Control(), ...). The config names every key file.
	SSHConfig, KnownHosts, UserKey string

	connectTimeout time.Duration
	noSSH          bool     // hosts and links only (Config.NoSSH)
	made           []string // namespaces, in the order made
}

// Control is the host ssh runs from; Server the server host.
func (l *Lab) Control() *Host { return l.Hosts[0] }
func (l *Lab) Server() *Host  { return l.Hosts[1] }

// Clients are the client hosts.
func (l *Lab) Clients() []*Host { return l.Hosts[2:] }

// Host is the host named name, or nil.
func (l *Lab) Host(name string) *Host {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// sshHosts are the hosts that run an sshd: all but the control host.
func (l *Lab) sshHosts() []*Host { return l.Hosts[1:] }

func (l *Lab) path(name string) string { return filepath.Join(l.Dir, name) }

// Command is argv run inside host h's namespace: the way, and the only
// way, anything in a test sends to a test address.
func (l *Lab) Command(ctx context.Context, h *Host, argv ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS}, argv...)...)
}

// Wrap is the command prefix that runs a program on the control host,
// for a caller that runs ssh itself (internal/remote's Options.Wrap).
func (l *Lab) Wrap() []string { return []string{"ip", "netns", "exec", l.Control().NS} }

// SSH runs `ssh -F SSHConfig ARGS` from the control host.
func (l *Lab) SSH(ctx context.Context, args ...string) *exec.Cmd {
	return l.Command(ctx, l.Control(), append([]string{"ssh", "-F", l.SSHConfig}, args...)...)
}

// newLab names the hosts of cfg, without making anything.
func newLab(cfg Config) *Lab {
	id := newRunID()
	l := &Lab{ID: id, BridgeNS: Prefix + id + "-bridge", Shaping: cfg.Shaping,
		connectTimeout: cfg.ConnectTimeout}
	if l.connectTimeout <= 0 {
		l.connectTimeout = 5 * time.Second
	}
	add := func(name string, addr netip.Addr) {
		l.Hosts = append(l.Hosts, &Host{Name: name, NS: Prefix + id + "-" + name, Addr: addr})
	}
	add("control", controlAddr)
	add("server", serverAddr)
	a, src := serverAddr, sourceBase
	for i := 1; i <= cfg.Clients; i++ {
		a = a.Next()
		add(fmt.Sprintf("client%d", i), a)
		h := l.Hosts[len(l.Hosts)-1]
		for range cfg.Sources {
			h.Sources = append(h.Sources, src)
			src = src.Next()
		}
	}
	return l
}

// Build makes the test hosts cfg asks for and returns them running, or
// removes whatever it made and returns why not. The caller must Close a
// Lab it got.
func Build(ctx context.Context, cfg Config) (*Lab, error) {
	least, avail := 2, Available
	if cfg.NoSSH {
		least, avail = 1, availableNetns
	}
	if cfg.Clients < least || cfg.Clients > 200 {
		return nil, fmt.Errorf("testhosts: %d client hosts: want %d to 200", cfg.Clients, least)
	}
	// The client hosts' own addresses must stay below the further ones.
	if cfg.Sources < 0 || cfg.Sources > 0 && (cfg.Clients > 89 || cfg.Clients*cfg.Sources > maxSources) {
		return nil, fmt.Errorf("testhosts: %d further addresses on each of %d client hosts: at most %d in all, with at most 89 client hosts", cfg.Sources, cfg.Clients, maxSources)
	}
	sshd, err := avail()
	if err != nil {
		return nil, err
	}
	if err := CleanStale(ctx, logOrDiscard(cfg.Log)); err != nil {
		return nil, fmt.Errorf("testhosts: cleaning up after an earlier run: %w", err)
	}
	// Refuse before anything exists if the machine already routes the range.
	if err := CheckRoot(ctx); err != nil {
		return nil, fmt.Errorf("testhosts: %w", err)
	}
	l := newLab(cfg)
	l.noSSH = cfg.NoSSH
	if err := l.build(ctx, sshd); err != nil {
		return nil, errors.Join(fmt.Errorf("testhosts: %w", err), l.Close())
	}
	return l, nil
}

func logOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// buildHook, when a test sets it, runs after each step of a build and
// can fail it there.
var buildHook func(step string) error

func (l *Lab) build(ctx context.Context, sshd string) error {
	steps := []struct {
		name string
		do   func() error
	}{
		{"directory", func() (err error) { l.Dir, err = os.MkdirTemp("", Prefix+l.ID+"-"); return err }},
		{"bridge", func() error { return l.addBridge(ctx) }},
		{"hosts", func() error { return each(l.Hosts, func(h *Host) error { return l.addHost(ctx, h) }) }},
		{"shaping", func() error { return l.shapeAll(ctx) }},
		// Every namespace exists and nothing runs in any yet.
		{"check", func() error { return l.checkAll(ctx) }},
		{"keys", func() error { return l.writeKeys(ctx) }},
		{"configs", l.writeConfigs},
		{"sshd", func() error { return each(l.sshHosts(), func(h *Host) error { return l.startSSHD(ctx, h, sshd) }) }},
	}
	if l.noSSH {
		steps = steps[:5] // up to and including the route check
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return err
		}
		if buildHook != nil {
			if err := buildHook(s.name); err != nil {
				return err
			}
		}
	}
	return nil
}

func each(hosts []*Host, do func(*Host) error) error {
	for _, h := range hosts {
		if err := do(h); err != nil {
			return err
		}
	}
	return nil
}

// shapeAll shapes every link, leaving out netem, with a note, when the
// kernel lacks it.
func (l *Lab) shapeAll(ctx context.Context) error {
	s := l.Shaping
	if s.netem() {
		if missing := l.netemMissing(ctx); missing != nil {
			l.Notes = append(l.Notes, fmt.Sprintf("%v: delay and loss skipped, links are only rate limited", missing))
			s.Delay, s.LossPct = 0, 0
			l.Shaping = s
		}
	}
	for _, h := range l.Hosts {
		if err := l.shape(ctx, h, s); err != nil {
			return err
		}
	}
	return nil
}

// Close stops every sshd, kills whatever else runs in the hosts, and
// removes the namespaces (and with them the links and the bridge) and
// the run's directory. It carries on past failures and returns them all.
// Calling it twice is harmless.
func (l *Lab) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, h := range l.Hosts {
		errs = append(errs, stopSSHD(h))
		h.sshd = nil
	}
	for i := len(l.made) - 1; i >= 0; i-- {
		if err := deleteNS(ctx, l.made[i]); err != nil {
			errs = append(errs, err)
			continue
		}
		l.made = l.made[:i]
	}
	if l.Dir != "" {
		errs = append(errs, os.RemoveAll(l.Dir))
	}
	return errors.Join(errs...)
}

// CloseOnInterrupt closes l and exits with status 130 if the process
// gets SIGINT or SIGTERM before stop is called: for a program, or a test
// binary, whose own interrupt handling would not reach Close.
func CloseOnInterrupt(l *Lab, log io.Writer) (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			fmt.Fprintf(logOrDiscard(log), "testhosts: %v: tearing the test hosts down\n", sig)
			l.Close()
			os.Exit(130)
		case <-done:
		}
	}()
	return func() { signal.Stop(sigs); close(done) }
}

// Available returns the path of sshd, or why test hosts cannot be built
// here: not root, or a tool missing.
func Available() (sshd string, err error) {
	if _, err := availableNetns(); err != nil {
		return "", err
	}
	for _, tool := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("test hosts need %s, not found on PATH", tool)
		}
	}
	sshd, err = exec.LookPath("sshd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/sshd"); serr != nil {
			return "", errors.New("test hosts need sshd: install openssh-server")
		}
		sshd = "/usr/sbin/sshd"
	}
	// sshd re-executes itself and insists on an absolute path.
	return filepath.Abs(sshd)
}

// AvailableNetns says why hosts without sshd (Config.NoSSH) cannot be
// built here, or nil.
func AvailableNetns() error {
	_, err := availableNetns()
	return err
}

func availableNetns() (string, error) {
	if os.Geteuid() != 0 {
		return "", errors.New("test hosts need root (network namespaces, veth, a bridge, sshd)")
	}
	for _, tool := range []string{"ip", "tc", "sysctl", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("test hosts need %s, not found on PATH", tool)
		}
	}
	if _, err := run(context.Background(), "ip", "netns", "list"); err != nil {
		return "", fmt.Errorf("test hosts need `ip netns`: %w", err)
	}
	return "", nil
}
