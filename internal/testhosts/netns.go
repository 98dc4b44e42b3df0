package testhosts

import (
	"context"
	"fmt"
	"strings"
)

// The devices: each host's end of its link is eth0, and its other end is
// "v-HOST" on the bridge br0, all inside the namespaces.
const (
	hostDev   = "eth0"
	bridgeDev = "br0"
)

// bridgeEnd is the bridge's end of host h's link.
func bridgeEnd(h *Host) string { return "v-" + h.Name }

// addNS makes a network namespace with only loopback, up, and IPv6 off
// (so no link-local address or route appears beside the test range).
func (l *Lab) addNS(ctx context.Context, ns string) error {
	if err := ip(ctx, "netns", "add", ns); err != nil {
		return err
	}
	l.made = append(l.made, ns)
	for _, conf := range []string{"all", "default"} {
		key := "net.ipv6.conf." + conf + ".disable_ipv6=1"
		if _, err := inNS(ctx, ns, "sysctl", "-q", "-w", key); err != nil && ipv6Present(ctx, ns) {
			return err
		}
	}
	return ip(ctx, "-n", ns, "link", "set", "lo", "up")
}

// ipv6Present reports whether the kernel has IPv6 at all (without it the
// sysctls are missing and there is nothing to turn off).
func ipv6Present(ctx context.Context, ns string) bool {
	_, err := inNS(ctx, ns, "test", "-d", "/proc/sys/net/ipv6")
	return err == nil
}

// addBridge makes the bridge's namespace and the bridge in it.
func (l *Lab) addBridge(ctx context.Context) error {
	if err := l.addNS(ctx, l.BridgeNS); err != nil {
		return err
	}
	if err := ip(ctx, "-n", l.BridgeNS, "link", "add", bridgeDev, "type", "bridge"); err != nil {
		return err
	}
	return ip(ctx, "-n", l.BridgeNS, "link", "set", bridgeDev, "up")
}

// addHost makes host h's namespace and its link to the bridge. The veth
// pair is made inside the bridge's namespace with its far end created
// straight in the host's, so no device ever exists in the machine's own.
func (l *Lab) addHost(ctx context.Context, h *Host) error {
	if err := l.addNS(ctx, h.NS); err != nil {
		return err
	}
	br := l.BridgeNS
	steps := [][]string{
		{"-n", br, "link", "add", bridgeEnd(h), "type", "veth", "peer", "name", hostDev, "netns", h.NS},
		{"-n", br, "link", "set", bridgeEnd(h), "master", bridgeDev, "up"},
		{"-n", h.NS, "addr", "add", fmt.Sprintf("%s/%d", h.Addr, subnetBits), "dev", hostDev},
		{"-n", h.NS, "link", "set", hostDev, "up"},
	}
	for _, a := range h.Sources {
		steps = append(steps, []string{"-n", h.NS, "addr", "add", fmt.Sprintf("%s/%d", a, subnetBits), "dev", hostDev})
	}
	for _, s := range steps {
		if err := ip(ctx, s...); err != nil {
			return err
		}
	}
	return nil
}

// checkAll checks every namespace of the lab, and the machine's own.
func (l *Lab) checkAll(ctx context.Context) error {
	if err := CheckRoot(ctx); err != nil {
		return err
	}
	devs := []string{"lo", bridgeDev}
	for _, h := range l.Hosts {
		devs = append(devs, bridgeEnd(h))
		if err := checkNS(ctx, h.NS, []string{"lo", hostDev}); err != nil {
			return err
		}
	}
	// The bridge has no address, so its namespace routes loopback only.
	return checkNS(ctx, l.BridgeNS, devs)
}

// LinkDown takes host h's link down at the bridge, as a pulled cable
// would: the host keeps its address and routes, and nothing passes.
func (l *Lab) LinkDown(ctx context.Context, h *Host) error {
	return ip(ctx, "-n", l.BridgeNS, "link", "set", bridgeEnd(h), "down")
}

// LinkUp brings host h's link back.
func (l *Lab) LinkUp(ctx context.Context, h *Host) error {
	return ip(ctx, "-n", l.BridgeNS, "link", "set", bridgeEnd(h), "up")
}

// netemMissing probes for netem on the bridge's namespace: nil when the
// kernel has it, else why not.
func (l *Lab) netemMissing(ctx context.Context) error {
	tc := []string{"-n", l.BridgeNS, "qdisc"}
	if _, err := run(ctx, "tc", append(tc, "add", "dev", bridgeDev, "root", "netem", "delay", "1ms")...); err != nil {
		reason := err.Error()
		if ce, ok := err.(*cmdError); ok {
			reason = strings.TrimPrefix(ce.Reason, "Error: ")
		}
		return fmt.Errorf("this kernel has no netem (tc: %s)", reason)
	}
	_, err := run(ctx, "tc", append(tc, "del", "dev", bridgeDev, "root")...)
	return err
}

// shape applies s to both ends of host h's link, each end limiting what
// it sends. With netem, netem is the root and tbf hangs under it, as the
// netem documentation combines them; htb is the root with one class that
// takes everything, and netem, if any, under that class.
func (l *Lab) shape(ctx context.Context, h *Host, s Shaping) error {
	for _, end := range []struct{ ns, dev string }{{h.NS, hostDev}, {l.BridgeNS, bridgeEnd(h)}} {
		tc := func(what string, args ...string) error {
			_, err := run(ctx, "tc", append([]string{"-n", end.ns, what, "replace", "dev", end.dev}, args...)...)
			return err
		}
		if s.HTB && s.RateMbit > 0 {
			if err := shapeHTB(tc, s); err != nil {
				return err
			}
			continue
		}
		parent := []string{"root", "handle", "1:"}
		if s.netem() {
			if err := tc("qdisc", append([]string{"root", "handle", "1:", "netem"}, s.netemArgs()...)...); err != nil {
				return err
			}
			parent = []string{"parent", "1:1", "handle", "10:"}
		}
		if s.RateMbit > 0 {
			if err := tc("qdisc", append(append(parent, "tbf"), s.tbfArgs()...)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// shapeHTB is an htb root whose one class, the default, has the rate.
func shapeHTB(tc func(what string, args ...string) error, s Shaping) error {
	rate := fmt.Sprintf("%gmbit", s.RateMbit)
	if err := tc("qdisc", "root", "handle", "1:", "htb", "default", "10"); err != nil {
		return err
	}
	if err := tc("class", "parent", "1:", "classid", "1:10", "htb", "rate", rate, "ceil", rate); err != nil {
		return err
	}
	if s.netem() {
		return tc("qdisc", append([]string{"parent", "1:10", "handle", "10:", "netem"}, s.netemArgs()...)...)
	}
	return nil
}
