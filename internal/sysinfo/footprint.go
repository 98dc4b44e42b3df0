package sysinfo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
)

// Footprint is what a set of processes holds of the machine that their
// resident memory does not show: threads (each a kernel stack and a
// task_struct), mappings (each a vm_area_struct), page tables, sockets
// and epoll registrations. Counted, not estimated, from /proc/PID.
type Footprint struct {
	Procs   int   `json:"procs"`
	Threads int   `json:"threads"`
	RSSKiB  int64 `json:"rss_kib"`
	// AnonKiB is RssAnon: the resident memory that is the processes' own,
	// where RSS also counts the program's pages in the page cache.
	AnonKiB int64 `json:"anon_kib"`
	// PageTablesKiB is VmPTE: the page tables of each address space.
	PageTablesKiB int64 `json:"page_tables_kib"`
	// Mappings is the lines of /proc/PID/maps (VMAs).
	Mappings int `json:"mappings"`
	FDs      int `json:"fds"`
	Sockets  int `json:"sockets"`
	// EpollWatches is the descriptors registered in the processes' epoll
	// instances: the "tfd:" lines of each eventpoll descriptor's fdinfo.
	EpollWatches int `json:"epoll_watches"`
}

// Footprint adds up the processes pids. A process that has gone is left
// out; none left is an error.
func (f FS) Footprint(pids []int) (Footprint, error) {
	var out Footprint
	var last error
	for _, pid := range pids {
		fp, err := f.footprint(pid)
		if err != nil {
			last = err
			continue
		}
		out.Procs++
		out.Threads += fp.Threads
		out.RSSKiB += fp.RSSKiB
		out.AnonKiB += fp.AnonKiB
		out.PageTablesKiB += fp.PageTablesKiB
		out.Mappings += fp.Mappings
		out.FDs += fp.FDs
		out.Sockets += fp.Sockets
		out.EpollWatches += fp.EpollWatches
	}
	if out.Procs == 0 {
		if last == nil {
			last = fmt.Errorf("no process")
		}
		return Footprint{}, last
	}
	return out, nil
}

func (f FS) footprint(pid int) (Footprint, error) {
	p, st, err := f.status(pid)
	if err != nil {
		return Footprint{}, err
	}
	stat, err := p.Stat()
	if err != nil {
		return Footprint{}, err
	}
	maps, err := p.ProcMaps()
	if err != nil {
		return Footprint{}, err
	}
	fp := Footprint{Threads: stat.NumThreads, RSSKiB: kib(st.VmRSS), AnonKiB: kib(st.RssAnon), PageTablesKiB: kib(st.VmPTE), Mappings: len(maps)}
	fds, err := p.FileDescriptors()
	if err != nil {
		return Footprint{}, err
	}
	fp.FDs = len(fds)
	dir := filepath.Join(f.root, strconv.Itoa(pid))
	for _, fd := range fds {
		name := strconv.FormatUint(uint64(fd), 10)
		target, err := os.Readlink(filepath.Join(dir, "fd", name))
		switch {
		case err != nil:
			// Closed while we looked.
		case strings.HasPrefix(target, "socket:"):
			fp.Sockets++
		case target == "anon_inode:[eventpoll]":
			b, err := os.ReadFile(filepath.Join(dir, "fdinfo", name))
			if err == nil {
				fp.EpollWatches += epollWatches(b)
			}
		}
	}
	return fp, nil
}

// epollWatches counts the registrations in an eventpoll descriptor's
// fdinfo: one "tfd:" line each.
func epollWatches(fdinfo []byte) int {
	n := 0
	for _, l := range bytes.Split(fdinfo, []byte("\n")) {
		if bytes.HasPrefix(l, []byte("tfd:")) {
			n++
		}
	}
	return n
}

// GroupPIDs lists the processes of process group pgid.
func (f FS) GroupPIDs(pgid int) ([]int, error) {
	return f.pids(func(st procfs.ProcStat) bool { return st.PGRP == pgid })
}

// TreePIDs lists pid and its children (a client that runs -procs P
// starts them itself).
func (f FS) TreePIDs(pid int) ([]int, error) {
	return f.pids(func(st procfs.ProcStat) bool { return st.PID == pid || st.PPID == pid })
}

func (f FS) pids(match func(procfs.ProcStat) bool) ([]int, error) {
	if f.err != nil {
		return nil, f.err
	}
	procs, err := f.fs.AllProcs()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, p := range procs {
		if st, err := p.Stat(); err == nil && match(st) {
			out = append(out, p.PID)
		}
	}
	slices.Sort(out)
	return out, nil
}
