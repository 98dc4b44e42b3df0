package report

import (
	"strings"

	"tenkthreads/internal/runner/results"
)

// modelsMachine is the long-lived rows' machine memory per connection by
// part, and what one unit costs the kernel here.
func modelsMachine(b *strings.Builder, rep ModelsReport) {
	var rows [][]string
	for _, l := range rep.LongLived {
		p := l.MachineParts
		machine := bold(l.MachinePerC.String())
		if l.MachineNote != "" {
			machine = "not measured: " + strings.ReplaceAll(l.MachineNote, "|", "/")
		}
		rows = append(rows, []string{l.Label, results.Thousands(l.Conns), p.User.String(), p.KStack.String(), p.ThreadObjects.String(),
			p.Sockets.String(), p.PageTables.String(), machine, l.OtherKernel.String(), l.ClientMachine.String()})
	}
	if len(rows) == 0 || rep.Calibration == nil {
		return
	}
	b.WriteString("\n## Long-lived connections: what a connection costs the machine\n\n")
	b.WriteString("The same runs, every part of a connection's memory: the runner reads /proc/meminfo and /proc/slabinfo with the server idle and again while the client holds every connection, " +
		"counts what the server added in between (threads, mappings, sockets and epoll registrations in /proc/PID, and page tables, `VmPTE`) and prices each by what one costs the kernel here (below). " +
		"User space and kernel stack are the table's \"from idle\" columns. A pre-creating model's workers exist at idle, so its machine KiB/conn is what one more connection costs it, without them " +
		"(its \"from start\" and \"all kernel stacks\" columns count them). **other kernel KiB/conn** is the slab growth the parts do not explain (a process's `mm_struct` and descriptor table, io_uring's requests, " +
		"and what other programs did meanwhile), not in machine KiB/conn. The client's column is every part of the client, on the same machine, its runtime included: large where a model holds few connections. " +
		"results.csv has each part and the check against the machine (`available_minus_parts_kib`); the snapshots are in `raw/*.machine.json`.\n\n")
	head := []string{"server", "connections", "user space", "kernel stack", "thread objects", "socket", "page tables", "**machine KiB/conn**",
		"other kernel KiB/conn (not in machine)", "client machine KiB/conn"}
	b.WriteString(MDTable(head, rows, []bool{false, true, true, true, true, true, true, true, true, true}))
	b.WriteString("\n")
	calibrationSection(b, rep.Calibration, rep.KStackPerThr)
}
