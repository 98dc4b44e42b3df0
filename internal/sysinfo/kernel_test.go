package sysinfo

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A recorded /proc/slabinfo (Linux 6.18, SLUB), a few caches.
const slabinfoSample = `slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
TCP                   54    104   2368   13    8 : tunables    0    0    0 : slabdata      8      8      0
eventpoll_epi     130322 303168    128   32    1 : tunables    0    0    0 : slabdata   9474   9474      0
task_struct          109    145   5952    5    8 : tunables    0    0    0 : slabdata     29     29      0
pid                  466    735    192   21    1 : tunables    0    0    0 : slabdata     35     35      0
`

// A recorded /proc/meminfo, shortened.
const meminfoSample = `MemTotal:       24596528 kB
MemFree:        22369980 kB
MemAvailable:   24155704 kB
AnonPages:         20712 kB
Slab:             164720 kB
SReclaimable:     131336 kB
SUnreclaim:        33384 kB
KernelStack:        1568 kB
PageTables:        14712 kB
`

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMeminfoAndSlab(t *testing.T) {
	root := fakeProc(t)
	write(t, root, map[string]string{"meminfo": meminfoSample, "slabinfo": slabinfoSample})
	fs := Open(root)
	m, err := fs.Meminfo()
	want := Meminfo{MemAvailable: 24155704, MemFree: 22369980, AnonPages: 20712, KernelStack: 1568, Slab: 164720, SUnreclaim: 33384, PageTables: 14712}
	if err != nil || m != want {
		t.Errorf("Meminfo %+v, %v; want %+v", m, err, want)
	}
	caches, err := fs.SlabCaches()
	if err != nil {
		t.Fatal(err)
	}
	page := float64(os.Getpagesize())
	ts := caches["task_struct"]
	// Five 5952-byte objects share eight pages: each takes a fifth of them.
	if ts.Objects != 109 || ts.ObjectBytes != 8*page/5 || ts.SlabKiB != int64(29*8*page/1024) {
		t.Errorf("task_struct %+v", ts)
	}
	if got := caches["pid"].KiB(); got != 466*page/21/1024 {
		t.Errorf("pid KiB %v", got)
	}
	if len(caches) != 4 {
		t.Errorf("%d caches, want 4", len(caches))
	}
}

// Without slabinfo (not root, or a kernel without it), the error says so;
// a meminfo without one of the fields names it.
func TestSlabAndMeminfoMissing(t *testing.T) {
	root := fakeProc(t)
	if _, err := Open(root).SlabCaches(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no slabinfo: %v", err)
	}
	write(t, root, map[string]string{"meminfo": "MemAvailable: 1 kB\nMemFree: 1 kB\n"})
	if _, err := Open(root).Meminfo(); !errors.Is(err, errNoField) {
		t.Errorf("short meminfo: %v", err)
	}
}

// A process's footprint: threads, VmPTE, mappings, and its descriptors
// told apart by what they point to; an epoll descriptor's registrations
// are its fdinfo's tfd lines.
func TestFootprint(t *testing.T) {
	root := fakeProc(t)
	write(t, root, map[string]string{
		"200/stat":     stat(200, 200, 1, 1, 0, 0, 3, 100),
		"200/status":   "Name:\tsrv\nVmHWM:\t 5000 kB\nVmRSS:\t 4000 kB\nRssAnon:\t 3000 kB\nVmPTE:\t 120 kB\nThreads:\t3\n",
		"200/maps":     "00400000-00452000 r-xp 00000000 08:02 173521 /bin/srv\n7f0000000000-7f0000004000 rw-p 00000000 00:00 0\n7f0000004000-7f0000005000 ---p 00000000 00:00 0\n",
		"200/fdinfo/5": "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1044\ntfd:        3 events:       19 data:                3  pos:0 ino:f0e2e3 sdev:9\ntfd:        4 events:       19 data:                4  pos:0 ino:f0e2e4 sdev:9\n",
		"201/stat":     stat(201, 200, 1, 1, 0, 0, 1, 100),
		"201/status":   "Name:\tw\nVmRSS:\t 1000 kB\nRssAnon:\t 600 kB\nVmPTE:\t 8 kB\nThreads:\t1\n",
		"201/maps":     "00400000-00452000 r-xp 00000000 08:02 173521 /bin/srv\n",
		"202/stat":     stat(202, 202, 1, 1, 0, 0, 1, 100),
	})
	links := map[string]string{"0": "/dev/null", "3": "socket:[100]", "4": "socket:[101]", "5": "anon_inode:[eventpoll]"}
	if err := os.MkdirAll(filepath.Join(root, "200/fd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "201/fd"), 0o755); err != nil {
		t.Fatal(err)
	}
	for fd, target := range links {
		if err := os.Symlink(target, filepath.Join(root, "200/fd", fd)); err != nil {
			t.Fatal(err)
		}
	}
	fs := Open(root)
	pids, err := fs.GroupPIDs(200)
	if err != nil || !slices.Equal(pids, []int{200, 201}) {
		t.Fatalf("group 200: %v, %v", pids, err)
	}
	fp, err := fs.Footprint(append(pids, 999))
	want := Footprint{Procs: 2, Threads: 4, RSSKiB: 5000, AnonKiB: 3600, PageTablesKiB: 128, Mappings: 4, FDs: 4, Sockets: 2, EpollWatches: 2}
	if err != nil || fp != want {
		t.Errorf("footprint %+v, %v; want %+v (the process that is gone left out)", fp, err, want)
	}
	if _, err := fs.Footprint([]int{999}); err == nil {
		t.Error("a footprint of no process")
	}
	// Process 102's parent is 1 in the fake tree; 100 has no children.
	if pids, err := fs.TreePIDs(100); err != nil || !slices.Equal(pids, []int{100}) {
		t.Errorf("tree of 100: %v, %v", pids, err)
	}
}
