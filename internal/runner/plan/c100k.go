package plan

import (
	"fmt"
	"strconv"

	"tenkthreads/internal/runner/results"
)

// ListenBacklog is the listen backlog -tune sets net.core.somaxconn and
// net.ipv4.tcp_max_syn_backlog to: both servers listen with somaxconn,
// and the C server's -b and the kernel's 16-bit field go no higher.
const ListenBacklog = 65535

// AutoSources is how many 127.0.0.x source addresses the client binds for
// a loopback IPv4 target (its -source default, 127.0.0.2-127.0.0.33).
const AutoSources = 32

// ProcsFor is how many server processes (-P) and client processes
// (-procs) n connections need under the per-process fd limit. SO_REUSEPORT
// spreads connections by a hash of the 4-tuple, not evenly, so each server
// process is planned at 90% of what it could hold.
func ProcsFor(n int, sys System) (srvP, cliP int) {
	fit := sys.MaxConnsForFD()
	if fit < 1 {
		return 0, 0
	}
	srvP, cliP = 1, (n+fit-1)/fit
	if n > fit {
		per := max(1, fit*9/10)
		srvP = (n + per - 1) / per
	}
	return srvP, cliP
}

// C100KPreconds checks every limit a run of maxN connections, one thread
// each in srvP server processes and cliP client processes, runs into.
func C100KPreconds(sys System, maxN, srvP, cliP int) []results.Precond {
	var out []results.Precond
	fit := sys.MaxConnsForFD()
	out = append(out, results.Precond{Item: "open files per process (hard limit)", Have: strconv.FormatUint(sys.FDHard, 10),
		Need: fmt.Sprintf("%d connections → %d server processes (-P) and %d client processes (-procs), ≤ %d each", maxN, srvP, cliP, fit),
		OK:   fit >= 100, Fix: "raise the hard limit (`ulimit -Hn`, limits.conf); below 100 descriptors per process the run is pointless"})
	threads := sys.Tasks + maxN + cliP*64 + srvP*8 + 1024
	pc := results.Precond{Item: "kernel.pid_max (one id per thread)", Have: strconv.Itoa(sys.PidMax),
		Need: fmt.Sprintf("> %d (%d threads already running + %d connection threads + runtime threads)", threads, sys.Tasks, maxN), OK: sys.PidMax == 0 || sys.PidMax > threads}
	if !pc.OK {
		pc.Sysctl, pc.Want = "kernel.pid_max", strconv.Itoa(min(4194304, RoundUp(threads*2, 1024)))
	}
	out = append(out, pc)
	tm := results.Precond{Item: "kernel.threads-max", Have: strconv.Itoa(sys.ThreadsMax), Need: fmt.Sprintf("> %d", threads), OK: sys.ThreadsMax == 0 || sys.ThreadsMax > threads}
	if !tm.OK {
		tm.Sysctl, tm.Want = "kernel.threads-max", strconv.Itoa(RoundUp(threads*2, 1024))
	}
	out = append(out, tm)
	// A thread's stack and its guard page are two mappings; the busiest
	// server process holds a 10% share above the average.
	per := (maxN + srvP - 1) / max(1, srvP)
	maps := 2*(per+per/10) + 4096
	mm := results.Precond{Item: "vm.max_map_count (per process, ≈ 2 per thread)", Have: strconv.Itoa(sys.MaxMapCount),
		Need: fmt.Sprintf("> %d (%d threads in the busiest server process)", maps, per+per/10), OK: sys.MaxMapCount == 0 || sys.MaxMapCount > maps}
	if !mm.OK {
		mm.Sysctl, mm.Want = "vm.max_map_count", strconv.Itoa(RoundUp(maps*2, 1024))
	}
	out = append(out, mm)
	out = append(out, listenPreconds(sys)...)
	files := sys.FilesOpen + 2*maxN + 10000
	fm := results.Precond{Item: "fs.file-max (system-wide open files)", Have: strconv.Itoa(sys.FileMax), Need: fmt.Sprintf("> %d (both ends of every connection)", files), OK: sys.FileMax == 0 || sys.FileMax > files}
	if !fm.OK {
		fm.Sysctl, fm.Want = "fs.file-max", strconv.Itoa(RoundUp(files*2, 1024))
	}
	out = append(out, fm)
	if sys.ConntrackMax > 0 {
		ct := sys.ConntrackCount + maxN + 10000
		c := results.Precond{Item: "net.netfilter.nf_conntrack_max", Have: strconv.Itoa(sys.ConntrackMax), Need: fmt.Sprintf("> %d (if loopback is tracked)", ct), OK: sys.ConntrackMax > ct}
		if !c.OK {
			c.Sysctl, c.Want = "net.netfilter.nf_conntrack_max", strconv.Itoa(RoundUp(ct*2, 1024))
		}
		out = append(out, c)
	}
	ports := sys.PortHi - sys.PortLo + 1
	pp := results.Precond{Item: "ephemeral ports × source addresses", Have: fmt.Sprintf("%d ports (%d-%d) × %d addresses (127.0.0.2-127.0.0.33) = %d", ports, sys.PortLo, sys.PortHi, AutoSources, ports*AutoSources),
		Need: fmt.Sprintf("≥ %d 4-tuples towards one server port", maxN), OK: sys.PortLo == 0 || ports*AutoSources >= maxN,
		Fix: "widen net.ipv4.ip_local_port_range or give the client more addresses with -source"}
	out = append(out, pp)
	needKiB := float64(maxN)*64 + 1024*1024
	out = append(out, results.Precond{Item: "MemAvailable", Have: fmt.Sprintf("%.1f GiB", sys.MemAvailableKiB/1024/1024),
		Need: fmt.Sprintf("≥ %.1f GiB (≈ 64 KiB per connection: kernel stack, user stack, socket buffers both ends, the client's share)", needKiB/1024/1024),
		OK:   sys.MemAvailableKiB == 0 || sys.MemAvailableKiB >= needKiB, Fix: "free memory or use fewer connections (-counts)"})
	for i := range out {
		if !out[i].OK && out[i].Sysctl != "" {
			out[i].Fix = fmt.Sprintf("sysctl -w %s=%s", out[i].Sysctl, out[i].Want)
		}
	}
	return out
}

// listenPreconds are the listen queue's limits. The client opens
// connections as fast as the kernel completes them, and a server that
// falls behind (busy creating threads, or sharing its CPU) leaves them in
// the accept queue: once somaxconn of them wait, SYNs are dropped (a 1 s
// retransmission each) and completed handshakes too, which can end in a
// reset. Below 1,024 the run cannot go ahead; below ListenBacklog it may,
// and -tune raises it.
func listenPreconds(sys System) []results.Precond {
	out := []results.Precond{{Item: "net.core.somaxconn (listen backlog)", Have: strconv.Itoa(sys.Somaxconn),
		Need: fmt.Sprintf("≥ 1024; %d lets the accept queue absorb a server %d connections behind the client", ListenBacklog, ListenBacklog),
		OK:   sys.Somaxconn == 0 || sys.Somaxconn >= ListenBacklog, Optional: sys.Somaxconn >= 1024, Sysctl: "net.core.somaxconn"},
		{Item: "net.ipv4.tcp_max_syn_backlog (half-open connections)", Have: strconv.Itoa(sys.SynBacklog),
			Need: fmt.Sprintf("%d, as the listen backlog; it drops SYNs only while tcp_syncookies is 0, and it is %d here", ListenBacklog, sys.Syncookies),
			OK:   sys.SynBacklog == 0 || sys.SynBacklog >= ListenBacklog, Optional: true, Sysctl: "net.ipv4.tcp_max_syn_backlog"}}
	for i := range out {
		if out[i].OK {
			out[i].Sysctl = ""
		} else {
			out[i].Want = strconv.Itoa(ListenBacklog)
		}
	}
	return out
}
