package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"tenkthreads/internal/runner/plots"
	"tenkthreads/internal/runner/results"
)

// Write writes results.csv, the plots and report.md into res.Dir; head,
// a mode's own summary, goes on top of report.md.
func Write(res *results.Results, head string) error {
	if err := WriteCSV(filepath.Join(res.Dir, "results.csv"), res.Cells); err != nil {
		return err
	}
	plots, err := plots.Write(res.Dir, res.Cells)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(res.Dir, "report.md"), []byte(head+Markdown(res, plots)), 0o644)
}

// Markdown is the whole report: answer first, then tables, plots, method,
// environment and how to reproduce.
func Markdown(res *results.Results, figs []plots.File) string {
	var b strings.Builder
	m := res.Meta
	title := "10kthreads experiment"
	if m.Started != "" {
		title += " — " + m.Started
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "**Answer.** %s\n\n", Answer(res.Cells))
	if h := Headline(res.Cells); h != "" {
		b.WriteString("## Headline\n\n" + h + "\n")
	}
	b.WriteString(Repetitions(m, res.Runs) + " " + SpreadLegend + " Status is the worst outcome over a cell's runs.\n\n")
	writeWorkloads(&b, res)
	writeCounts(&b, res.Cells)
	writeMachine(&b, res)
	if it := Interference(res.Runs); it != "" {
		b.WriteString("**Interference.** " + it + "\n\n")
	}
	if w := ClientWarnings(res.Cells); w != "" {
		b.WriteString("## Warnings the client gave\n\n" + w + "\n")
	}
	b.WriteString("## Runs that did not end cleanly\n\n")
	b.WriteString(FailedRuns(res.Runs))
	b.WriteString("\n")
	if len(figs) > 0 {
		b.WriteString("## Plots\n\nOne line per server; x is the number of concurrent connections on a log scale. Each figure is also in SVG.\n\n")
		for _, p := range figs {
			fmt.Fprintf(&b, "![%s](%s.png)\n\n%s ([SVG](%s.svg))\n\n", p.Name, p.Name, p.Caption, p.Name)
		}
	}
	writeMethod(&b, m.KStackPerThreadKiB)
	writeSetting(&b, m)
	writeReproduce(&b, m, "(`make experiment` builds the binaries and runs `bin/experiment`; it honours the same `QUICK=1` and `FULL=1`.)\n\n")
	return b.String()
}

// WriteBrief writes results.csv and report.md for a mode whose own
// summary, head, says what its runs found (the soak): the matrix's
// answer, tables and plots are about its workloads, so report.md has
// only the runs that did not end cleanly, the setting and how to
// reproduce, after head.
func WriteBrief(res *results.Results, head string) error {
	if err := WriteCSV(filepath.Join(res.Dir, "results.csv"), res.Cells); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("## Runs that did not end cleanly\n\n")
	b.WriteString(FailedRuns(res.Runs))
	b.WriteString("\n")
	writeSetting(&b, res.Meta)
	writeReproduce(&b, res.Meta, "")
	return os.WriteFile(filepath.Join(res.Dir, "report.md"), []byte(b.String()), 0o644)
}

// writeReproduce is the command that reproduces the run, with more to
// say about it, and where the raw data is.
func writeReproduce(b *strings.Builder, m results.Meta, more string) {
	b.WriteString("## Reproduce\n\nFrom the repository root, after `make`:\n\n```\n")
	if m.Command != "" {
		b.WriteString(m.Command + "\n")
	} else {
		b.WriteString("make experiment\n")
	}
	b.WriteString("```\n\n" + more + "Raw data: `runs.json` (every run: commands, exit status, what the runner sampled), `raw/` (each run's server and client JSON and logs), `results.csv` (one row per cell: median, min and max of every figure; empty = not measured). " +
		"A report can be rebuilt from a results directory with `bin/experiment -report DIR`.\n")
}

// writeWorkloads is one table per workload that ran.
func writeWorkloads(b *strings.Builder, res *results.Results) {
	sections := []struct{ workload, title, intro string }{
		{"hold", "Holding connections: the memory question", "All connections open at once, then idle."},
		{"echo", "Echo round trips: the CPU and latency question", "Closed loop: on every connection, send a message, read the whole echo, repeat."},
		{"reconnect", "Connection per request", "Every round trip on a new connection (connect, echo, close)."},
	}
	for _, s := range sections {
		cells := results.CellsOf(res.Cells, s.workload)
		if len(cells) == 0 {
			continue
		}
		fmt.Fprintf(b, "## %s\n\n%s", s.title, s.intro)
		if d := res.Meta.Workloads[s.workload]; d != "" {
			fmt.Fprintf(b, " Client: %s.", d)
		}
		b.WriteString("\n\n")
		if s.workload == "hold" {
			b.WriteString(HoldTable(cells))
		} else {
			b.WriteString(RoundTripTable(cells))
		}
		b.WriteString("\n")
	}
	if len(res.Cells) == 0 {
		b.WriteString("No runs were recorded.\n\n")
	}
}

// writeMethod says how each figure is measured.
func writeMethod(b *strings.Builder, kpt results.Num) {
	b.WriteString("## How the figures are measured\n\n")
	for _, l := range []string{
		"**client errors**: the sum of the client's error classes (refused, reset, timeout, mismatch, fd limit, address in use, other); a connection counts only when its echo was verified byte for byte.",
		"**server peak conns**: the server's own count of concurrent connections at its peak (`max_conc`).",
		"**peak resident KiB**: the server's resident high-water mark (VmHWM); for a model with several processes, the peak of the sum of their proportional set sizes (`pss_sum_peak_kib`) that the server sampled while it ran: at exit the connections' memory is gone. Not `ru_maxrss`: after fork and exec Linux carries the parent's high-water mark into the child's `ru_maxrss`, so a server started by a larger process would report the parent's size.",
		"**others' CPU %**: CPU time the whole machine spent (from /proc/stat) during the run minus the server's and the client's own, as a share of all CPUs over the run's wall time; high values mean other processes competed with the run.",
		"**client cores busy**: the client's CPU time over the steady part divided by its length; near 1 per core means the client, pinned to one core, was the bottleneck.",
		"**user-space KiB/conn**: the server's resident high-water mark (VmHWM) minus its resident size at start, divided by its peak connections (`kib_per_peak_conn`).",
		kstackLine(kpt),
		"**server CPU s**: the server's user + system CPU time over its whole life (start, ramp, workload, shutdown).",
		"**server CPU µs/round trip**: server CPU time divided by the round trips the client completed.",
		"**round trips/s, rtt p50/p99**: from the client's report (HdrHistogram, microseconds).",
		"**server threads (peak)**: `Threads` in /proc/PID/status, sampled by the runner; a thread-per-connection server shows about one per connection.",
		"Ports: every run uses a fresh server port (`-p 0`), so TIME_WAIT entries left by the previous run (the client closes first) never collide with the next run's 4-tuples, and the client spreads connections over several 127.0.0.x source addresses; `runs.json` records the TIME_WAIT count before each run.",
		"A server that exits before it is told to is **crashed**; one that does not exit within the timeout after SIGINT is **hung** and killed; a client that exceeds its timeout is killed (**client-timeout**). The runner itself never waits without a bound.",
	} {
		b.WriteString("- " + l + "\n")
	}
	b.WriteString("\n")
}

// writeSetting is the run's preconditions and tuning, its notes, its
// environment and the servers' command lines.
func writeSetting(b *strings.Builder, m results.Meta) {
	writeTopology(b, m.Topology)
	writePreconds(b, m)
	if len(m.Notes) > 0 {
		b.WriteString("## Notes from this run\n\n")
		for _, n := range m.Notes {
			b.WriteString("- " + n + "\n")
		}
		b.WriteString("\n")
	}
	if len(m.Env) > 0 {
		b.WriteString("## Environment\n\n| | |\n|---|---|\n")
		for _, kv := range m.Env {
			fmt.Fprintf(b, "| %s | %s |\n", kv[0], strings.ReplaceAll(kv[1], "|", "/"))
		}
		b.WriteString("\n")
	}
	if len(m.Servers) > 0 {
		b.WriteString("Servers:\n\n")
		for _, s := range m.Servers {
			fmt.Fprintf(b, "- %s: `%s`\n", s.Label, strings.Join(append(append([]string{s.Path}, s.Args...), "-p", "0", "-j", "FILE"), " "))
		}
		b.WriteString("\n")
	}
}

func kstackLine(kpt results.Num) string {
	if kpt.Set {
		return fmt.Sprintf("**kernel stack KiB/conn**: the server's OS threads at the peak minus those it had when it started listening (`Threads` in /proc/PID/status, sampled every 100 ms), times the kernel stack one thread costs on this kernel, %s KiB (measured at the start: `KernelStack` growth in /proc/meminfo while the runner held 1,000 extra threads, median of 5 trials), divided by peak connections. RSS does not include it. For a model with several processes the runner cannot see the children's threads, so there the figure is the system-wide `KernelStack` growth at the peak (the server's own sample), which other processes also move. The system-wide `KernelStack` growth is in results.csv as `kstack_system_kib`; it also moves with every other process on the machine.", kpt)
	}
	return "**kernel stack KiB/conn**: growth of the system-wide `KernelStack` in /proc/meminfo from before the server started to the peak while the client ran (sampled every 100 ms), divided by peak connections (the per-thread calibration failed on this machine). It also moves with other processes; RSS does not include it."
}

// writePreconds is the limits checked before the first run and the
// sysctls -tune raised for the run.
func writePreconds(b *strings.Builder, m results.Meta) {
	if len(m.Preconditions) == 0 && len(m.Tuned) == 0 {
		return
	}
	b.WriteString("## Preconditions\n\n")
	if len(m.Preconditions) > 0 {
		var rows [][]string
		for _, p := range m.Preconditions {
			rows = append(rows, []string{p.Item, p.Have, p.Need, precondStatus(p)})
		}
		b.WriteString("Checked before the first run, for its largest run:\n\n")
		b.WriteString(MDTable([]string{"precondition", "this machine", "needed", "status"}, rows, []bool{false, false, false, false}))
		b.WriteString("\n")
	}
	if len(m.Tuned) > 0 {
		fmt.Fprintf(b, "Tuned for the run (-tune) and restored afterwards: %s.\n\n", ChangesText(m.Tuned))
	}
}

// writeTopology says where the sides ran, when not both on this machine
// over loopback: each host, its address, kernel, CPUs and clock skew,
// and how the hosts are linked.
func writeTopology(b *strings.Builder, t *results.Topology) {
	if t == nil {
		return
	}
	b.WriteString("## Topology\n\n")
	switch t.Kind {
	case "netns":
		b.WriteString("Server and client ran in network namespaces of this machine, each with its own address, talking over veth links and a bridge instead of loopback; the machine figures are this machine's, the client's share subtracted as on loopback.\n\n")
	case "ssh":
		b.WriteString("Server and clients ran on separate hosts, reached over ssh; `-n` was split between the client hosts, which started together at a shared `-start-at`, and their reports were merged exactly. The machine figures are the server host's alone (its /proc, read there by hostprobe): no client share is in them.\n\n")
	}
	var rows [][]string
	for _, h := range t.Hosts {
		skew := "-"
		if h.SkewMs.Set {
			skew = fmt.Sprintf("%+.3f ± %.3f", h.SkewMs.V, h.SkewWithinMs.V)
		}
		cpus := "-"
		if h.CPUs > 0 {
			cpus = fmt.Sprintf("%d (%s)", h.CPUs, h.CPUsAllowed)
		}
		rows = append(rows, []string{h.Role, h.Name, h.Address, orDash(strings.TrimSpace(h.Arch + " " + h.Kernel)), cpus, orDash(h.Pinned), skew})
	}
	b.WriteString(MDTable([]string{"role", "host", "address", "kernel", "CPUs", "pinned to", "clock skew ms"}, rows, []bool{false, false, false, false, false, false, true}))
	fmt.Fprintf(b, "\nLinks: %s.\n\n", t.Links)
	for _, n := range t.Notes {
		b.WriteString("- " + n + "\n")
	}
	if len(t.Notes) > 0 {
		b.WriteString("\n")
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
