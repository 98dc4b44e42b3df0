package sysinfo

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// stat builds a /proc/PID/stat line: utime, stime, cutime and cstime in
// ticks, the process group, threads and resident pages.
func stat(pid, pgrp, utime, stime, cutime, cstime, threads, rss int) string {
	return fmt.Sprintf("%d (a (b) c) S 1 %d %d 0 -1 4194560 100 0 0 0 %d %d %d %d 20 0 %d 0 1000 10000000 %d 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
		pid, pgrp, pgrp, utime, stime, cutime, cstime, threads, rss)
}

// fakeProc lays out a /proc tree: process 100 (single-threaded, with a
// schedstat), 102 (same process group, 5 threads, reaped children) and 101
// (another group).
func fakeProc(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"meminfo":                          "MemTotal:       24000000 kB\nMemAvailable:   16000000 kB\nKernelStack:        1340 kB\n",
		"stat":                             "cpu  100 20 300 5000 70 8 9 10 11 12\ncpu0 100 20 300 5000 70 8 9 10 11 12\nbtime 1700000000\n",
		"loadavg":                          "0.52 0.61 0.70 2/345 6789\n",
		"net/sockstat":                     "sockets: used 290\nTCP: inuse 5 orphan 0 tw 77 alloc 10 mem 1\nUDP: inuse 1 mem 0\n",
		"cpuinfo":                          "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 1 GHz\n\n",
		"sys/kernel/pid_max":               "32768\n",
		"sys/net/ipv4/ip_local_port_range": "32768\t60999\n",
		"100/stat":                         stat(100, 100, 7, 3, 0, 0, 1, 500),
		"100/status":                       "Name:\ta\nVmHWM:\t   39576 kB\nVmRSS:\t   12000 kB\nThreads:\t1\nCpus_allowed_list:\t0-2,5\n",
		"100/schedstat":                    "250000000 1000 7\n",
		"100/smaps_rollup":                 "00400000-7ffc [rollup]\nRss:               12000 kB\nPss:                8000 kB\n",
		"100/net/netstat":                  "TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed ListenOverflows ListenDrops\nTcpExt: 5 4 3 44980 44981\n",
		"101/net/netstat":                  "TcpExt: SyncookiesSent\nTcpExt: 5\n",
		"100/fd/0":                         "",
		"100/fd/1":                         "",
		"vmstat":                           "nr_free_pages 100\noom_kill 3\n",
		"101/stat":                         stat(101, 101, 1000, 1000, 0, 0, 1, 10),
		"102/stat":                         stat(102, 100, 150, 50, 400, 100, 5, 20),
		"102/status":                       "Name:\tb\nThreads:\t5\n",
		"102/smaps_rollup":                 "00400000-7ffc [rollup]\nRss:               300 kB\nPss:                 200 kB\n",
	}
	write(t, root, files)
	return root
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestProcess(t *testing.T) {
	fs := Open(fakeProc(t))
	m, err := fs.Mem(100)
	if err != nil || m != (Mem{VmRSSKiB: 12000, VmHWMKiB: 39576, Threads: 1}) {
		t.Errorf("Mem: %+v, %v", m, err)
	}
	if _, err := fs.Mem(102); err == nil {
		t.Error("Mem of a process without VmRSS did not fail")
	}
	c, err := fs.CPU(102)
	if err != nil || !near(c.UserS, 1.5) || !near(c.SysS, 0.5) || c.Threads != 5 || c.RSSKiB != 20*int64(os.Getpagesize())/1024 {
		t.Errorf("CPU: %+v, %v", c, err)
	}
	if p, err := fs.PSSKiB(100); err != nil || p != 8000 {
		t.Errorf("PSS %d, %v", p, err)
	}
	if n, err := fs.FDs(100); err != nil || n != 2 {
		t.Errorf("FDs %d, %v", n, err)
	}
	if cpus, err := fs.AllowedCPUs(100); err != nil || !slices.Equal(cpus, []int{0, 1, 2, 5}) {
		t.Errorf("AllowedCPUs %v, %v", cpus, err)
	}
	if _, err := fs.Threads(999); err == nil {
		t.Error("a process that does not exist has threads")
	}
}

func TestMachine(t *testing.T) {
	fs := Open(fakeProc(t))
	if k, err := fs.KernelStackKiB(); err != nil || k != 1340 {
		t.Errorf("KernelStack %d, %v", k, err)
	}
	if k, err := fs.MemAvailableKiB(); err != nil || k != 16000000 {
		t.Errorf("MemAvailable %d, %v", k, err)
	}
	// user + nice + system + irq + softirq + steal, at 100 ticks a second.
	if b, err := fs.BusyCPUSeconds(); err != nil || !near(b, (100+20+300+8+9+10)/100.0) {
		t.Errorf("busy %v, %v", b, err)
	}
	if l, err := fs.LoadAvg(); err != nil || l.Load1 != 0.52 || l.Load15 != 0.70 {
		t.Errorf("loadavg %+v, %v", l, err)
	}
	if tw, err := fs.TimeWait(); err != nil || tw != 77 {
		t.Errorf("TIME_WAIT %d, %v", tw, err)
	}
	if m, err := fs.CPUModel(); err != nil || m != "Test CPU @ 1 GHz" {
		t.Errorf("CPU model %q, %v", m, err)
	}
	if v, err := fs.Sysctl("net.ipv4.ip_local_port_range"); err != nil || v != "32768 60999" {
		t.Errorf("port range %q, %v", v, err)
	}
	if v, err := fs.SysctlInts("kernel.pid_max"); err != nil || !slices.Equal(v, []int{32768}) {
		t.Errorf("pid_max %v, %v", v, err)
	}
	if _, err := fs.Sysctl("kernel.nonexistent"); err == nil {
		t.Error("a missing sysctl was read")
	}
	if n, err := fs.Tasks(); err != nil || n != 7 {
		t.Errorf("tasks %d, %v; want 1 + 1 + 5", n, err)
	}
	if l, err := fs.ListenStats(100); err != nil || l != (ListenStats{Overflows: 44980, Drops: 44981, SyncookiesFailed: 3}) {
		t.Errorf("listen stats %+v, %v", l, err)
	}
	if l, err := fs.ListenStats(101); !errors.Is(err, errNoField) {
		t.Errorf("listen stats without the counters: %+v, %v; want a missing field", l, err)
	}
}

func TestMissingFields(t *testing.T) {
	root := fakeProc(t)
	if err := os.WriteFile(filepath.Join(root, "meminfo"), []byte("MemTotal: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "net/sockstat"), []byte("TCP: inuse 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := Open(root)
	if _, err := fs.KernelStackKiB(); !errors.Is(err, errNoField) {
		t.Errorf("KernelStack without the field: %v", err)
	}
	if _, err := fs.TimeWait(); !errors.Is(err, errNoField) {
		t.Errorf("TIME_WAIT without tw: %v", err)
	}
	if _, err := Open(filepath.Join(root, "nonexistent")).KernelStackKiB(); err == nil {
		t.Error("a missing /proc was read")
	}
}

// Group adds the processes of one group: schedstat's exact run time for a
// single-threaded one, clock ticks otherwise, plus reaped children.
// Process 102's parent is 1 in the fake stat lines, so a tree rooted at
// 100 holds 100 alone; rooted at 1 it holds both processes with smaps.
func TestTree(t *testing.T) {
	fs := Open(fakeProc(t))
	if tr, err := fs.Tree(100); err != nil || tr != (Tree{Procs: 1, Threads: 1, PSSKiB: 8000}) {
		t.Errorf("tree of 100: %+v, %v", tr, err)
	}
	if tr, err := fs.Tree(1); err != nil || tr != (Tree{Procs: 2, Threads: 6, PSSKiB: 8200}) {
		t.Errorf("tree of 1: %+v, %v", tr, err)
	}
	if _, err := fs.Tree(999); err == nil {
		t.Error("a tree of a process that does not exist")
	}
	if n, err := fs.OOMKills(); err != nil || n != 3 {
		t.Errorf("oom kills %d, %v", n, err)
	}
	if n, err := Open(t.TempDir()).OOMKills(); err == nil {
		t.Errorf("oom kills %d without /proc/vmstat", n)
	}
}

func TestGroup(t *testing.T) {
	fs := Open(fakeProc(t))
	g, err := fs.Group(100)
	if err != nil {
		t.Fatal(err)
	}
	want := 0.25 + (150+50)/100.0 + (400+100)/100.0
	if g.Procs != 2 || g.Threads != 6 || !near(g.CPUS, want) {
		t.Errorf("group %+v, want 2 processes, 6 threads, %v s", g, want)
	}
	if g, _ := fs.Group(12345); g.Procs != 0 {
		t.Errorf("a group that does not exist has %d processes", g.Procs)
	}
}

// The live /proc must read on the machine the kit runs on.
func TestHost(t *testing.T) {
	self := os.Getpid()
	m, err := Host.Mem(self)
	if err != nil || m.VmRSSKiB <= 0 || m.VmHWMKiB < m.VmRSSKiB || m.Threads < 1 {
		t.Errorf("own memory %+v, %v", m, err)
	}
	if k, err := Host.KernelStackKiB(); err != nil || k <= 0 {
		t.Errorf("KernelStack %d, %v", k, err)
	}
	if b, err := Host.BusyCPUSeconds(); err != nil || b <= 0 {
		t.Errorf("busy CPU %v, %v", b, err)
	}
	if _, err := Host.TimeWait(); err != nil {
		t.Error(err)
	}
	if cpus, err := Host.AllowedCPUs(self); err != nil || len(cpus) == 0 {
		t.Errorf("allowed CPUs %v, %v", cpus, err)
	}
	if g, err := Host.Group(syscall.Getpgrp()); err != nil || g.Procs < 1 || g.Threads < 1 || g.CPUS <= 0 {
		t.Errorf("own process group %+v, %v", g, err)
	}
	if n, err := Host.Tasks(); err != nil || n < m.Threads {
		t.Errorf("tasks %d, %v", n, err)
	}
	if soft, hard, err := FDLimits(); err != nil || soft == 0 || soft > hard {
		t.Errorf("fd limits %d/%d, %v", soft, hard, err)
	}
}
