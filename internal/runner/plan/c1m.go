package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"tenkthreads/internal/runner/results"
)

// C1MNeed is what the largest runs of make c1m need of the machine: Conns
// connections in the largest run of any model, Threads in the largest run
// of the thread model (a thread each), and the source addresses the
// client spreads them over.
type C1MNeed struct {
	Conns, Threads int
	Sources        int
}

// SourcesFor is how many 127.0.0.x source addresses n connections to one
// server port need, never fewer than the client's own default. connect()
// picks a source port by searching from a hashed offset through the
// even ports first (the odd ones are bind()'s), so only half the range
// is at hand, and the search gets slow as it fills: past half full it
// took 9 ms a connect here. So each address is planned at a quarter of
// its ports: half of the even ones.
func SourcesFor(n int, sys System) int {
	ports := sys.PortHi - sys.PortLo + 1
	if sys.PortLo == 0 || ports <= 0 {
		return AutoSources
	}
	return min(250, max(AutoSources, RoundUp((4*n+ports-1)/ports, 8)))
}

// SourceRange is the client's -source for k addresses from 127.0.0.2.
func SourceRange(k int) string { return fmt.Sprintf("127.0.0.2-127.0.0.%d", 1+k) }

// C1MPreconds checks every limit make c1m runs into: the thread limits
// for the thread model's largest run, the descriptors, listen queues,
// conntrack, file and 4-tuple limits for the largest run of any model,
// and the kernel's TCP memory and orphan limits (the server exits with
// every connection open, orphaning them all). Memory is checked before
// each run, from what the run before it cost.
func C1MPreconds(sys System, need C1MNeed) []results.Precond {
	tp, tc := ProcsFor(need.Threads, sys)
	sp, cp := ProcsFor(need.Conns, sys)
	isThread := func(p results.Precond) bool {
		return slices.Contains([]string{"kernel.pid_max", "kernel.threads-max", "vm.max_map_count"}, p.Sysctl) ||
			strings.HasPrefix(p.Item, "kernel.") || strings.HasPrefix(p.Item, "vm.")
	}
	var out []results.Precond
	for _, p := range C100KPreconds(sys, need.Threads, tp, tc) {
		if isThread(p) {
			out = append(out, p)
		}
	}
	for _, p := range C100KPreconds(sys, need.Conns, sp, cp) {
		if !isThread(p) && p.Item != "MemAvailable" && !strings.HasPrefix(p.Item, "ephemeral") {
			out = append(out, p)
		}
	}
	ports := sys.PortHi - sys.PortLo + 1
	out = append(out, results.Precond{Item: "ephemeral ports × source addresses",
		Have: fmt.Sprintf("%d ports (%d-%d) × %d addresses (%s) = %d", ports, sys.PortLo, sys.PortHi, need.Sources, SourceRange(need.Sources), ports*need.Sources),
		Need: fmt.Sprintf("≥ %d 4-tuples towards one server port", need.Conns), OK: sys.PortLo == 0 || ports*need.Sources >= need.Conns,
		Fix: "widen net.ipv4.ip_local_port_range"})
	out = append(out, TCPPreconds(sys, need.Conns)...)
	if p, ok := PageFragPrecond(sys); ok {
		out = append(out, p)
	}
	return out
}

// PageFragPrecond: a thread that has written to a TCP socket keeps the
// page its data was copied into (current->task_frag) until it writes
// again or exits, and that page is an order-3 one, 32 KiB, unless
// net.core.high_order_alloc_disable is 1, when it is 4 KiB. No counter
// of /proc/meminfo shows it: here it was 24-28 KiB of every thread
// connection's machine memory, what MemAvailable lost beyond the parts.
// An event loop writes every socket from one thread, so only a thread
// (or process) per connection pays it. The run goes ahead either way
// (fewer threads fit), so it is optional; -tune sets it. ok is false
// when the sysctl cannot be read.
func PageFragPrecond(sys System) (results.Precond, bool) {
	if sys.HighOrderAllocDisable == "" {
		return results.Precond{}, false
	}
	p := results.Precond{Item: "net.core.high_order_alloc_disable (page fragments of order 0)", Have: sys.HighOrderAllocDisable,
		Need: "1: each connection thread then keeps a 4 KiB page of its last write, not a 32 KiB one", OK: sys.HighOrderAllocDisable == "1", Optional: true}
	if !p.OK {
		p.Sysctl, p.Want = "net.core.high_order_alloc_disable", "1"
		p.Fix = "sysctl -w net.core.high_order_alloc_disable=1"
	}
	return p, true
}

// TCPPreconds are the kernel's TCP memory and orphan limits for n
// connections.
func TCPPreconds(sys System, n int) []results.Precond {
	return []results.Precond{tcpMemPrecond(sys, n), orphansPrecond(sys, n)}
}

// tcpMemPrecond: every socket end holds at least a page of TCP memory
// while an echo or a FIN is queued on it, so n connections (2n ends) can
// take 2n pages at once; above tcp_mem's third field the kernel refuses
// the memory ("TCP: out of memory -- consider tuning tcp_mem") and drops
// or resets connections. The run needs the third field at 3n pages, the
// pressure threshold (the second) at 2n.
func tcpMemPrecond(sys System, n int) results.Precond {
	have := strings.Trim(fmt.Sprint(sys.TCPMem), "[]")
	p := results.Precond{Item: "net.ipv4.tcp_mem (pages: low, pressure, max)", Have: have,
		Need: fmt.Sprintf("pressure ≥ %d, max ≥ %d (a page per socket end of %d connections, half again to spare)", 2*n, 3*n, n), OK: true}
	if len(sys.TCPMem) != 3 {
		p.Have, p.Optional = "not readable", true
		return p
	}
	if sys.TCPMem[1] >= 2*n && sys.TCPMem[2] >= 3*n {
		return p
	}
	p.OK, p.Sysctl = false, "net.ipv4.tcp_mem"
	p.Want = fmt.Sprintf("%d %d %d", sys.TCPMem[0], max(sys.TCPMem[1], 2*n), max(sys.TCPMem[2], 3*n))
	p.Fix = fmt.Sprintf("sysctl -w net.ipv4.tcp_mem=%q", p.Want)
	return p
}

// orphansPrecond: a server that exits with every connection open leaves
// its ends orphaned until the client closes; past tcp_max_orphans the
// kernel resets them with "too many orphaned sockets". The run goes
// ahead either way (the client is only lingering then), so it is a note
// without -tune.
func orphansPrecond(sys System, n int) results.Precond {
	p := results.Precond{Item: "net.ipv4.tcp_max_orphans", Have: strconv.Itoa(sys.MaxOrphans),
		Need: fmt.Sprintf("≥ %d (every server end, when the server exits before the client closes)", n),
		OK:   sys.MaxOrphans == 0 || sys.MaxOrphans >= n, Optional: true}
	if !p.OK {
		p.Sysctl, p.Want = "net.ipv4.tcp_max_orphans", strconv.Itoa(RoundUp(n, 1024))
		p.Fix = fmt.Sprintf("sysctl -w %s=%s", p.Sysctl, p.Want)
	}
	return p
}
