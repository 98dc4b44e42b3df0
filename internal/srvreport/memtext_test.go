package srvreport

import "testing"

// TestMemText: the budget's lines, worded as the C server's rusage.c
// writes them.
func TestMemText(t *testing.T) {
	r := sample()
	r.MemLimitBytes, r.MemLimitSource, r.MemCgroup = 64<<20, "cgroup v1", "/sys/fs/cgroup/memory/app"
	r.MemHeadroomBytes, r.MemStartBytes = 4<<20, 2<<20
	r.MemConnBytes, r.MemConnUserBytes, r.MemConnSocketBytes = 5478, 4096, 1382
	r.MemCostSource, r.MemBudget, r.MemUsageBytes, r.OverBudget = "/proc/slabinfo", 11000, 40<<20, 7
	for label, w := range map[string]string{
		"memory limit":           "64M (cgroup v1 /sys/fs/cgroup/memory/app; headroom 4.0M; 2.0M in use at start)",
		"memory per conn (est.)": "5.35 KiB (user 4.00 + kernel stack 0.00 + task objects 0.00 + socket 1.35 KiB; object sizes from /proc/slabinfo)",
		"memory budget":          "11000 connections, 40M in use now; admission stops above 60M",
		"closed over budget":     "7 (budget 11000)",
	} {
		if !hasLine(r.Text(), label, w) {
			t.Errorf("no line %q %q in\n%s", label, w, r.Text())
		}
	}
	r.MemLimitSource, r.MemCgroup = "-m", ""
	if w := "64M (-m; headroom 4.0M; 2.0M in use at start)"; !hasLine(r.Text(), "memory limit", w) {
		t.Errorf("-m: no line %q %q in\n%s", "memory limit", w, r.Text())
	}
}
