package testhosts

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Bench is the range the test hosts take their addresses from: RFC 2544's
// benchmarking range, which no real network routes.
var Bench = netip.MustParsePrefix("198.18.0.0/15")

var loopback4 = netip.MustParsePrefix("127.0.0.0/8")

// route is one line of `ip -j route show table all`; Type is empty for
// an ordinary (unicast) route.
type route struct {
	Type    string `json:"type"`
	Dst     string `json:"dst"`
	Gateway string `json:"gateway"`
	Via     any    `json:"via"`
	Dev     string `json:"dev"`
	Table   string `json:"table"`
}

func (r route) String() string {
	var b strings.Builder
	if r.Type != "" {
		b.WriteString(r.Type + " ")
	}
	b.WriteString(r.Dst)
	if r.Gateway != "" {
		b.WriteString(" via " + r.Gateway)
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	if r.Table != "" {
		b.WriteString(" table " + r.Table)
	}
	return b.String()
}

// discards reports whether the route sends nothing anywhere.
func (r route) discards() bool {
	switch r.Type {
	case "unreachable", "blackhole", "prohibit", "throw":
		return true
	}
	return false
}

// prefix is the route's destination; a bare address is a /32 (or /128).
func (r route) prefix() (netip.Prefix, error) {
	if strings.Contains(r.Dst, "/") {
		return netip.ParsePrefix(r.Dst)
	}
	a, err := netip.ParseAddr(r.Dst)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkHostRoutes refuses any route of a test namespace that could lead
// out of it: a default route, a gateway, a destination outside the test
// range and loopback, or a device the harness did not make.
func checkHostRoutes(ns string, routes []route, devs []string) error {
	for _, r := range routes {
		if r.discards() {
			continue
		}
		bad := ""
		p, err := r.prefix()
		switch {
		case r.Dst == "default" || (err == nil && p.Bits() == 0):
			bad = "a default route"
		case r.Gateway != "" || r.Via != nil:
			bad = "a route through a gateway"
		case err != nil:
			bad = fmt.Sprintf("a route the harness cannot read (%v)", err)
		case !within(p, Bench) && !within(p, loopback4) && p != netip.MustParsePrefix("::1/128"):
			bad = "a route outside " + Bench.String() + " and loopback"
		case !slices.Contains(devs, r.Dev):
			bad = "a route through a device the harness did not make"
		}
		if bad != "" {
			return fmt.Errorf("test namespace %s has %s (%s): it must have no way out; refusing to start", ns, bad, r)
		}
	}
	return nil
}

// within reports whether p lies entirely inside outer.
func within(p, outer netip.Prefix) bool {
	return p.Addr().Is4() == outer.Addr().Is4() && p.Bits() >= outer.Bits() && outer.Contains(p.Addr())
}

// checkRootRoutes refuses a machine whose own namespace routes any part
// of the test range anywhere (an unreachable or blackhole route is fine):
// then a real network may use those addresses, and the test hosts must
// not look like it. The default route does not count: nothing in this
// namespace sends to a test address.
func checkRootRoutes(routes []route) error {
	for _, r := range routes {
		if r.discards() || r.Dst == "default" {
			continue
		}
		p, err := r.prefix()
		if err != nil {
			return fmt.Errorf("root namespace: route %s: cannot read its destination: %v", r, err)
		}
		if p.Bits() > 0 && p.Overlaps(Bench) {
			return fmt.Errorf("the machine's own namespace has a route to %s (%s): the test hosts' range must be unreachable from it; remove that route or use another machine", Bench, r)
		}
	}
	return nil
}

// link is one interface of `ip -j addr show`.
type link struct {
	Name     string `json:"ifname"`
	AddrInfo []struct {
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

// checkRootAddrs refuses an address in the test range on any interface of
// the machine's own namespace.
func checkRootAddrs(links []link) error {
	for _, l := range links {
		for _, a := range l.AddrInfo {
			addr, err := netip.ParseAddr(a.Local)
			if err == nil && Bench.Contains(addr) {
				return fmt.Errorf("the machine's own namespace has %s/%d on %s, inside the test hosts' range %s: remove it or use another machine",
					a.Local, a.PrefixLen, l.Name, Bench)
			}
		}
	}
	return nil
}

// CheckRoot checks the machine's own namespace: no address in the test
// range and no route to it other than unreachable ones.
func CheckRoot(ctx context.Context) error {
	var routes []route
	if err := ipJSON(ctx, "", &routes, "route", "show", "table", "all"); err != nil {
		return err
	}
	if err := checkRootRoutes(routes); err != nil {
		return err
	}
	var links []link
	if err := ipJSON(ctx, "", &links, "addr", "show"); err != nil {
		return err
	}
	return checkRootAddrs(links)
}

// checkNS checks one test namespace: its interfaces are exactly devs and
// its routes lead nowhere else.
func checkNS(ctx context.Context, ns string, devs []string) error {
	var links []link
	if err := ipJSON(ctx, ns, &links, "addr", "show"); err != nil {
		return err
	}
	for _, l := range links {
		if !slices.Contains(devs, l.Name) {
			return fmt.Errorf("test namespace %s has interface %s, which the harness did not make; refusing to start", ns, l.Name)
		}
	}
	var routes []route
	if err := ipJSON(ctx, ns, &routes, "route", "show", "table", "all"); err != nil {
		return err
	}
	return checkHostRoutes(ns, routes, devs)
}
