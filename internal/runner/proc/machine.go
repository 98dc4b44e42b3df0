package proc

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
)

// machineWatch keeps a run's machine record: the machine-wide counters
// and the server's and client's footprints, once with the server idle
// before the client starts and once while the client holds every
// connection.
type machineWatch struct {
	proc sysinfo.FS // the machine's counters: /proc, or a test's tree
	pgid int        // the server's process group
	rec  results.Machine
}

func newMachineWatch(proc sysinfo.FS, pgid int) *machineWatch {
	w := &machineWatch{proc: proc, pgid: pgid}
	w.rec.Idle = w.snapshot(0)
	return w
}

// snapshot reads the machine's counters and the footprints of the server's
// group and of the client (pid 0: not started); nil when /proc/meminfo
// cannot be read.
func (w *machineWatch) snapshot(client int) *results.Snapshot {
	s := &results.Snapshot{At: time.Now().Format(time.RFC3339Nano)}
	// The machine's counters first: reading the footprints makes a /proc
	// inode and dentry for every descriptor looked at, kernel memory the
	// runner, not the run, spends.
	m, err := w.proc.Meminfo()
	if err != nil {
		w.note("meminfo: " + err.Error())
		return nil
	}
	s.Meminfo = m
	if c, err := w.proc.SlabCaches(); err == nil {
		s.Slab = c
	} else {
		w.rec.SlabInfoError = err.Error()
	}
	// The client first: it is one process tree, read in milliseconds,
	// where a server of a thousand processes takes seconds, and both
	// footprints must be read before the client ends.
	if client > 0 {
		if pids, err := sysinfo.Host.TreePIDs(client); err == nil {
			if fp, err := sysinfo.Host.Footprint(pids); err == nil {
				s.Client = &fp
			}
		}
	}
	if pids, err := sysinfo.Host.GroupPIDs(w.pgid); err == nil {
		if fp, err := sysinfo.Host.Footprint(pids); err == nil {
			s.Server = &fp
		}
	}
	if s.Server == nil {
		w.note("the server's footprint could not be read")
	}
	return s
}

func (w *machineWatch) note(s string) {
	if w.rec.Detail == "" {
		w.rec.Detail = s
	}
}

// peak waits until the server's group holds n more descriptors than when
// idle and their count is steady, lets the connections settle, and takes
// the peak snapshot with the client's footprint. It gives up when ctx
// ends (the client exited).
func (w *machineWatch) peak(ctx context.Context, n, client int) {
	fds0 := w.groupFDs()
	if w.rec.Idle != nil && w.rec.Idle.Server != nil {
		fds0 = w.rec.Idle.Server.FDs
	}
	// Steady too: a model with a process per connection adds several
	// descriptors for each (its copy of the listener and of stdio), so
	// n more come long before n connections.
	for last, fds := -1, w.groupFDs(); fds < fds0+n || fds != last; last, fds = fds, w.groupFDs() {
		select {
		case <-ctx.Done():
			w.note(fmt.Sprintf("no peak snapshot: the server never held %d connections while the client ran", n))
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Threads created for the last connections may not have run yet.
	select {
	case <-ctx.Done():
		w.rec.PeakLate = true
		w.note("no peak snapshot: the client ended before it could be taken")
		return
	case <-time.After(300 * time.Millisecond):
	}
	w.rec.Peak = w.snapshot(client)
	if ctx.Err() != nil {
		w.rec.PeakLate = true
		w.note("the client ended while the peak snapshot was taken")
	}
}

// groupFDs is the open descriptors of the server's group.
func (w *machineWatch) groupFDs() int {
	return groupCount(w.pgid).fds
}

// groupSize is how many processes a process group has, and their open
// descriptors.
type groupSize struct{ procs, fds int }

// groupCount counts the group's processes and descriptors: it costs the
// server nothing, where a SIGUSR1 report would, and the kernel no memory
// (see sysinfo.FDCount).
func groupCount(pgid int) groupSize {
	pids, _ := sysinfo.Host.GroupPIDs(pgid)
	g := groupSize{procs: len(pids)}
	for _, pid := range pids {
		if f, err := sysinfo.Host.FDCount(pid); err == nil {
			g.fds += f
		}
	}
	return g
}

// write saves the record as raw/BASE.machine.json and returns its name.
func (w *machineWatch) write(rawDir, base string) string {
	name := base + ".machine.json"
	if results.WriteJSON(filepath.Join(rawDir, name), w.rec) != nil {
		return ""
	}
	return name
}

// IdleRecord is a machine record with only its idle snapshot of the
// server's group pgid, read on the server's host (cmd/hostprobe, when
// the runner reaches the host over ssh): the client runs on other
// hosts, so no snapshot has a client footprint.
func IdleRecord(pgid int) results.Machine {
	return newMachineWatch(sysinfo.Host, pgid).rec
}

// PeakRecord waits, as a local run's watch does, until the group pgid
// holds n more descriptors than idleFDs and their count is steady, and
// returns a record with only the peak snapshot; when ctx ends first the
// record says why it has none.
func PeakRecord(ctx context.Context, pgid, idleFDs, n int) results.Machine {
	w := &machineWatch{proc: sysinfo.Host, pgid: pgid}
	w.rec.Idle = &results.Snapshot{Server: &sysinfo.Footprint{FDs: idleFDs}}
	w.peak(ctx, n, 0)
	w.rec.Idle = nil
	return w.rec
}
