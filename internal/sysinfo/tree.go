package sysinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Tree is what a process and all its descendants hold together.
type Tree struct {
	Procs, Threads int
	// PSSKiB sums their proportional set sizes: shared pages once.
	PSSKiB int64
}

// Tree adds up process pid and its descendants (a client and its -procs
// children, say); a process that exits during the scan is left out.
func (f FS) Tree(pid int) (Tree, error) {
	var t Tree
	if f.err != nil {
		return t, f.err
	}
	procs, err := f.fs.AllProcs()
	if err != nil {
		return t, err
	}
	parent := map[int]int{}
	threads := map[int]int{}
	for _, p := range procs {
		if st, err := p.Stat(); err == nil {
			parent[p.PID], threads[p.PID] = st.PPID, st.NumThreads
		}
	}
	for p := range parent {
		if !descends(p, pid, parent) {
			continue
		}
		pss, err := f.PSSKiB(p)
		if err != nil {
			continue
		}
		t.Procs++
		t.Threads += threads[p]
		t.PSSKiB += pss
	}
	if t.Procs == 0 {
		return t, fmt.Errorf("process %d: not found", pid)
	}
	return t, nil
}

// descends says p is root or one of its descendants.
func descends(p, root int, parent map[int]int) bool {
	for hops := 0; p > 1 && hops < 64; hops++ {
		if p == root {
			return true
		}
		p = parent[p]
	}
	return p == root
}

// OOMKills is how many processes the kernel's OOM killer has killed since
// boot (oom_kill in /proc/vmstat, which procfs does not parse).
func (f FS) OOMKills() (int64, error) {
	if f.err != nil {
		return 0, f.err
	}
	b, err := os.ReadFile(filepath.Join(f.root, "vmstat"))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("oom_kill ")); ok {
			return strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: oom_kill: %w", filepath.Join(f.root, "vmstat"), errNoField)
}
