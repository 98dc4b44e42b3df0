package perfcount

import (
	"fmt"
	"slices"

	"github.com/prometheus/procfs"
)

// treeTasks lists the thread ids of the processes pids and of all their
// descendants (a prefork server's children, a -P server's workers).
func treeTasks(pids []int) ([]int, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		if _, err := fs.Proc(pid); err != nil {
			return nil, fmt.Errorf("process %d is not running", pid)
		}
	}
	procs, err := descendants(fs, pids)
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	var tids []int
	for _, pid := range procs {
		threads, err := fs.AllThreads(pid)
		if err != nil {
			continue // exited since it was listed
		}
		for _, t := range threads {
			if !seen[t.PID] {
				seen[t.PID] = true
				tids = append(tids, t.PID)
			}
		}
	}
	slices.Sort(tids)
	return tids, nil
}

// descendants returns pids and every process below them, from each
// process's parent in /proc/PID/stat.
func descendants(fs procfs.FS, pids []int) ([]int, error) {
	all, err := fs.AllProcs()
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, p := range all {
		st, err := p.Stat()
		if err != nil {
			continue // exited while listing
		}
		children[st.PPID] = append(children[st.PPID], p.PID)
	}
	seen := map[int]bool{}
	var out []int
	queue := slices.Clone(pids)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, pid)
		queue = append(queue, children[pid]...)
	}
	return out, nil
}

// lateTasks counts the tasks of the tree that were not there when the
// counters were attached. Attaching them now could count them twice (once
// through inheritance), so they are only reported.
func lateTasks(pids, attached []int) int {
	now, err := treeTasks(pids)
	if err != nil {
		return 0
	}
	late := 0
	for _, t := range now {
		if _, found := slices.BinarySearch(attached, t); !found {
			late++
		}
	}
	return late
}
