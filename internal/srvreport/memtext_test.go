package srvreport

import (
	"reflect"
	"strings"
	"testing"
)

// TestMemText: the budget's lines end the report, worded as the C
// server's rusage.c writes them.
func TestMemText(t *testing.T) {
	r := sample()
	r.MemLimitBytes, r.MemLimitSource, r.MemCgroup = 64<<20, "cgroup v1", "/sys/fs/cgroup/memory/app"
	r.MemHeadroomBytes, r.MemStartBytes = 4<<20, 2<<20
	r.MemConnBytes, r.MemConnUserBytes, r.MemConnSocketBytes = 5478, 4096, 1382
	r.MemCostSource, r.MemBudget, r.MemUsageBytes, r.OverBudget = "/proc/slabinfo", 11000, 40<<20, 7
	want := []string{
		"memory limit            64M (cgroup v1 /sys/fs/cgroup/memory/app; headroom 4.0M; 2.0M in use at start)",
		"memory per conn (est.)  5.35 KiB (user 4.00 + kernel stack 0.00 + task objects 0.00 + socket 1.35 KiB; object sizes from /proc/slabinfo)",
		"memory budget           11000 connections, 40M in use now; admission stops above 60M",
		"closed over budget      7 (budget 11000)",
	}
	lines := strings.Split(strings.TrimSuffix(r.Text(), "\n"), "\n")
	if got := lines[len(lines)-4:]; !reflect.DeepEqual(got, want) {
		t.Errorf("last lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	r.MemLimitSource, r.MemCgroup = "-m", ""
	if w := "memory limit            64M (-m; headroom 4.0M; 2.0M in use at start)"; !strings.Contains(r.Text(), "\n"+w+"\n") {
		t.Errorf("-m: no line %q in\n%s", w, r.Text())
	}
}
