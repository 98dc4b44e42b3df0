package proc

import (
	"net/netip"
	"strings"
)

// Placement puts a run's two sides in network namespaces of their own
// on this machine (bin/experiment -topology netns): each process is
// started through `ip netns exec NS`, which enters the namespace and
// then executes the program, so the pid the runner watches is the
// program's own and every /proc probe works as for a local run. The
// server listens on its namespace's address; the client connects to it
// over the veth links and the bridge instead of loopback.
type Placement struct {
	ServerNS, ClientNS string
	ServerAddr         netip.Addr
	// ClientSources are the client namespace's own addresses, given to
	// the client as -source so its ephemeral ports spread over them.
	ClientSources []netip.Addr
}

// server is the server's command line in its namespace, listening on
// the namespace's address.
func (pl *Placement) server(argv []string) []string {
	if pl == nil {
		return argv
	}
	out := append([]string{"ip", "netns", "exec", pl.ServerNS}, argv...)
	return append(out, "-a", pl.ServerAddr.String())
}

// client is the client's command line in its namespace.
func (pl *Placement) client(argv []string) []string {
	if pl == nil {
		return argv
	}
	out := append([]string{"ip", "netns", "exec", pl.ClientNS}, argv...)
	if len(pl.ClientSources) > 0 {
		out = append(out, "-source", sourceList(pl.ClientSources))
	}
	return out
}

// sourceList is addrs as -source takes them, each run of consecutive
// addresses as a range A-B.
func sourceList(addrs []netip.Addr) string {
	var parts []string
	for i := 0; i < len(addrs); {
		j := i
		for j+1 < len(addrs) && addrs[j].Next() == addrs[j+1] {
			j++
		}
		p := addrs[i].String()
		if j > i {
			p += "-" + addrs[j].String()
		}
		parts = append(parts, p)
		i = j + 1
	}
	return strings.Join(parts, ",")
}
