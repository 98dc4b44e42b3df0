package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"tenkthreads/internal/runner/results"
)

// mib shows KiB as MiB.
func mib(kib results.Num) string {
	if !kib.Set {
		return "–"
	}
	return results.FmtFloat(kib.V/1024) + " MiB"
}

func kibN(v int64) results.Num { return results.N(float64(v)) }

// sum adds parts, not measured unless each is.
func sum(parts ...results.Num) results.Num {
	s := 0.0
	for _, p := range parts {
		if !p.Set {
			return results.Num{}
		}
		s += p.V
	}
	return results.N(s)
}

// machineRuns is the runs that kept a machine record.
func machineRuns(runs []*results.Run) []*results.Run {
	var out []*results.Run
	for _, r := range runs {
		if r.Machine != nil {
			out = append(out, r)
		}
	}
	return out
}

// MachineCheck is report.md's check of the parts against the machine:
// for each run with a machine record, the growth of each /proc/meminfo
// counter from idle to the peak beside the parts (server and client)
// that should explain it, and the MemAvailable drop beside their sum.
func MachineCheck(runs []*results.Run) string {
	head := []string{"server", "connections", "rep", "AnonPages growth / user space", "KernelStack growth / kernel stacks",
		"Slab growth / thread objects + sockets", "of which reclaimable", "PageTables growth / page tables",
		"parts (server + client)", "the four counters' growth − parts", "MemAvailable drop", "drop − parts", "unexplained slab per conn, largest caches (KiB)"}
	right := []bool{false, true, true, true, true, true, true, true, true, true, true, true, false}
	var rows [][]string
	for _, r := range machineRuns(runs) {
		row := []string{r.Label, strconv.Itoa(r.Conns), strconv.Itoa(r.Rep)}
		a := r.Attribution
		if a == nil {
			why := r.Machine.Detail
			if why == "" {
				why = "no peak snapshot"
			}
			row = append(row, "not measured: "+strings.ReplaceAll(why, "|", "/"))
			for len(row) < len(head) {
				row = append(row, "–")
			}
			rows = append(rows, row)
			continue
		}
		s, c, g := a.Server, a.Client, a.Growth
		both := func(x, y results.Num) results.Num { return sum(x, y) }
		rows = append(rows, append(row,
			mib(kibN(g.AnonPages))+" / "+mib(both(s.User, c.User)),
			mib(kibN(g.KernelStack))+" / "+mib(both(s.KStack, c.KStack)),
			mib(a.SlabGrowth)+" / "+mib(sum(s.ThreadObjects, s.Sockets, c.ThreadObjects, c.Sockets)),
			mib(kibN(g.Slab-g.SUnreclaim)),
			mib(kibN(g.PageTables))+" / "+mib(both(s.PageTables, c.PageTables)),
			mib(r.M.PartsSumKiB)+" ("+mib(s.Sum())+" + "+mib(c.Sum())+")",
			diffText(minus(r.M.CountersKiB, r.M.PartsSumKiB), r.M.PartsSumKiB),
			mib(r.M.AvailDropKiB),
			diffText(r.M.CheckDiffKiB, r.M.PartsSumKiB),
			otherText(a),
		))
	}
	if len(rows) == 0 {
		return ""
	}
	return MDTable(head, rows, right)
}

// minus is a − b, not measured unless both are.
func minus(a, b results.Num) results.Num {
	if !a.Set || !b.Set {
		return results.Num{}
	}
	return results.N(a.V - b.V)
}

// diffText is d in MiB and as a share of the parts: "+4.27 MiB (+10%)".
func diffText(d, parts results.Num) string {
	if !d.Set {
		return "–"
	}
	s := mib(d)
	if d.V >= 0 {
		s = "+" + s
	}
	if parts.Set && parts.V != 0 {
		s += fmt.Sprintf(" (%+.0f%%)", 100*d.V/parts.V)
	}
	return s
}

// otherText is the unexplained slab per connection and the caches that
// moved most.
func otherText(a *results.Attribution) string {
	n := a.Conns
	if !a.OtherKernel.Set || !n.Set || n.V <= 0 {
		return "–"
	}
	s := results.FmtFloat(a.OtherKernel.V / n.V)
	var top []string
	for _, c := range a.OtherCaches {
		if len(top) == 3 || math.Abs(c.KiB/n.V) < 0.01 {
			break
		}
		top = append(top, fmt.Sprintf("%s %+.2f", c.Name, c.KiB/n.V))
	}
	if len(top) > 0 {
		s += ": " + strings.Join(top, ", ")
	}
	return s
}

// CheckLines is the terminal's check: one line per run with a machine
// record, the parts beside the MemAvailable drop.
func CheckLines(runs []*results.Run) string {
	var b strings.Builder
	for _, r := range machineRuns(runs) {
		fmt.Fprintf(&b, "machine check  %s %s rep %d: ", r.Label, results.Thousands(r.Conns), r.Rep)
		a := r.Attribution
		if a == nil || !r.M.PartsSumKiB.Set {
			why := r.Machine.Detail
			if why == "" {
				why = "a part was not measured"
			}
			b.WriteString("not measured (" + why + ")\n")
			continue
		}
		fmt.Fprintf(&b, "parts %s (server %s, client %s); AnonPages+KernelStack+Slab+PageTables grew %s, %s; %s, %s\n",
			mib(r.M.PartsSumKiB), mib(a.Server.Sum()), mib(a.Client.Sum()), mib(r.M.CountersKiB), vsParts(minus(r.M.CountersKiB, r.M.PartsSumKiB), r.M.PartsSumKiB),
			availText(r.M.AvailDropKiB), vsParts(r.M.CheckDiffKiB, r.M.PartsSumKiB))
	}
	return b.String()
}

// vsParts says how far a measured growth is from the parts.
func vsParts(d, parts results.Num) string {
	if !d.Set || !parts.Set || parts.V == 0 {
		return "–"
	}
	more := "more"
	if d.V < 0 {
		more = "less"
	}
	return fmt.Sprintf("%s (%.0f%%) %s than the parts", mib(results.N(math.Abs(d.V))), 100*math.Abs(d.V)/parts.V, more)
}

// availText says which way MemAvailable went.
func availText(drop results.Num) string {
	if drop.Set && drop.V < 0 {
		return "MemAvailable rose " + mib(results.N(-drop.V)) + " (other processes freed memory meanwhile)"
	}
	return "MemAvailable dropped " + mib(drop)
}

// noisy names the units whose trials differ by more than a quarter of
// their median: other processes moved the machine's counters meanwhile.
func noisy(cal *results.Calibration) []string {
	var out []string
	for _, u := range []struct {
		name string
		c    results.UnitCost
	}{{"threads", cal.Thread}, {"mappings", cal.Mapping}, {"socket ends", cal.Socket}, {"epoll registrations", cal.Epoll}} {
		if len(u.c.TrialKiB) == 0 || !u.c.SlabKiB.Set {
			continue
		}
		lo, hi := u.c.TrialKiB[0], u.c.TrialKiB[0]
		for _, t := range u.c.TrialKiB {
			lo, hi = math.Min(lo, t), math.Max(hi, t)
		}
		if hi-lo > math.Abs(u.c.SlabKiB.V)/4 {
			out = append(out, u.name)
		}
	}
	return out
}

// CalibrationTable is what one unit costs the kernel on this machine.
func CalibrationTable(cal *results.Calibration, kpt results.Num) string {
	head := []string{"unit", "held per trial", "KiB per unit (median)", "trials (KiB per unit)", "largest caches (KiB per unit)"}
	rows := [][]string{{"kernel stack of a thread", "1000", kpt.String(), "median of 5, in whole pages", "`KernelStack` in /proc/meminfo"}}
	for _, u := range []struct {
		name string
		c    results.UnitCost
	}{{"idle thread: its kernel objects", cal.Thread}, {"mapping (VMA)", cal.Mapping}, {"socket end (TCP, loopback)", cal.Socket}, {"epoll registration", cal.Epoll}} {
		var trials, caches []string
		for _, t := range u.c.TrialKiB {
			trials = append(trials, results.FmtFloat(t))
		}
		for _, c := range u.c.Caches {
			if len(caches) == 5 || c.KiB < 0.005 {
				break
			}
			caches = append(caches, fmt.Sprintf("%s %s", c.Name, results.FmtFloat(c.KiB)))
		}
		if len(caches) == 0 {
			caches = []string{"– (" + cal.Basis + " basis: no breakdown)"}
		}
		rows = append(rows, []string{u.name, strconv.Itoa(u.c.Units), u.c.SlabKiB.String(), strings.Join(trials, ", "), strings.Join(caches, ", ")})
	}
	t := MDTable(head, rows, []bool{false, true, true, false, false})
	if n := noisy(cal); len(n) > 0 {
		t += fmt.Sprintf("\n**Noisy calibration:** the trials of the %s differ by more than a quarter of their median: other processes allocated or freed kernel objects meanwhile. "+
			"The medians hold if most trials were quiet; rerun on a quiet machine to be sure.\n", strings.Join(n, ", "))
	}
	return t
}

// machineMethod says how machine KiB/conn is made and what is left out.
var machineMethod = []string{
	"**machine KiB/conn** is the sum of five parts, each per connection the server held: **user space** and **kernel stack** as in the table above; " +
		"**thread objects**: the threads the server added from idle to the peak × what one idle thread costs the kernel's slab (its `task_struct`, `pid` and the bookkeeping of its kernel stack), " +
		"plus the mappings it added × what one mapping costs (`vm_area_struct`, its anon_vma links, maple tree nodes; a thread's stack and guard page are two mappings); " +
		"**socket**: the sockets it added × what one end of a loopback TCP connection costs (the TCP sock, its inode, file and dentry), plus the epoll registrations it added × what one registration costs " +
		"(the epoll model and Go's netpoller register every connection; the thread and io_uring models register none); " +
		"**page tables**: the growth of the server's page tables (`VmPTE` in /proc/PID/status), measured directly.",
	"Threads, mappings, sockets and epoll registrations are counted in /proc/PID (`stat`, `maps`, the targets of `fd/*`, and the `tfd:` lines of each epoll descriptor's `fdinfo`), for every process of the server's group. " +
		"What one of each costs is calibrated once at the start (the table below): the runner holds 1,000 of them, 5 times, and keeps each slab cache's median growth per unit.",
	"The runner snapshots /proc/meminfo (and /proc/slabinfo, which needs root) with the server idle, before the client starts, and again once the server's descriptors show every connection (plus 300 ms); both snapshots are in `raw/*.machine.json`. " +
		"The client, on the same machine, is priced the same way from its whole footprint at the peak (its anonymous resident memory `RssAnon`, threads, mappings, sockets, epoll registrations and page tables).",
	"**other kernel KiB/conn** is the slab growth of the run (objects in use × what each takes, cache by cache, from /proc/slabinfo; or the `Slab` total of /proc/meminfo) minus the thread objects and sockets of the server and the client: " +
		"what the calibration does not explain. It holds a model's own kernel objects (io_uring's requests, a process's `mm_struct` and descriptor table) and whatever other processes allocated or freed meanwhile, so it is not in machine KiB/conn. " +
		"Kernel memory outside the slab and these counters (per-CPU data, vmalloc'd descriptor tables) is not counted.",
}

// calibrationSection is what one unit costs the kernel here, and what
// could not be measured.
func calibrationSection(b *strings.Builder, cal *results.Calibration, kpt results.Num) {
	if cal.SlabInfoError != "" {
		fmt.Fprintf(b, "**Not measured here:** /proc/slabinfo could not be read (%s). The slab costs come from the `Slab` total of /proc/meminfo, in whole slab pages, "+
			"so they are coarser, and neither the calibration nor the unexplained growth is broken down by cache.\n\n", cal.SlabInfoError)
	}
	fmt.Fprintf(b, "What one unit costs the kernel on this machine, measured once at the start of the run (slab basis: %s). Cache names are those of /proc/slabinfo: the kernel merges caches of one object size under one name, "+
		"so epoll's wait-queue entries can count under `anon_vma_chain` and TCP's bind buckets under `eventpoll_epi`.\n\n%s\n", cal.Basis, CalibrationTable(cal, kpt))
}

// writeMachine is report.md's section on machine memory: how the parts
// are made, the calibration, and the check against the machine.
func writeMachine(b *strings.Builder, res *results.Results) {
	cal := res.Meta.Calibration
	if cal == nil || len(machineRuns(res.Runs)) == 0 {
		return
	}
	b.WriteString("## Where a connection's memory goes\n\n")
	for _, l := range machineMethod {
		b.WriteString(l + "\n\n")
	}
	calibrationSection(b, cal, res.Meta.KStackPerThreadKiB)
	if t := MachineCheck(res.Runs); t != "" {
		b.WriteString("**Check against the machine.** For each run, the growth of each /proc/meminfo counter from idle to the peak beside the parts of the server and the client that should explain it; " +
			"the growth of the four counters together beside the sum of all the parts; and the drop of `MemAvailable` beside that sum. The counters are machine-wide: whatever other processes did meanwhile is in them. " +
			"`MemAvailable` moves with everything else too (page cache, socket buffers, other processes' exits), and it counts reclaimable slab (dentries, socket inodes) as available, though it cannot be freed while its socket is open.\n\n")
		b.WriteString(t + "\n")
	}
}
