package proc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
)

// The calibration on this machine: every unit measured in every trial,
// the kernel stack in whole pages, and without /proc/slabinfo the Slab
// total of /proc/meminfo instead, with the reason kept. The values move
// with what other processes do, so only their presence is checked here.
func TestCalibrate(t *testing.T) {
	proc := t.TempDir()
	if err := os.Symlink("/proc/meminfo", filepath.Join(proc, "meminfo")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		proc  sysinfo.FS
		basis string
	}{
		{"proc", sysinfo.Host, ""},
		{"no slabinfo", sysinfo.Open(proc), results.BasisMeminfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kpt, cal := Calibrate(tc.proc)
			page := float64(os.Getpagesize()) / 1024
			if !kpt.Set || kpt.V < page || kpt.V/page != float64(int(kpt.V/page)) {
				t.Errorf("kernel stack per thread %v KiB: want whole pages", kpt)
			}
			if tc.basis != "" && (cal.Basis != tc.basis || !strings.Contains(cal.SlabInfoError, "slabinfo")) {
				t.Errorf("basis %q, error %q; want %q and the reason", cal.Basis, cal.SlabInfoError, tc.basis)
			}
			for name, u := range map[string]results.UnitCost{"thread": cal.Thread, "mapping": cal.Mapping, "socket": cal.Socket, "epoll": cal.Epoll} {
				if u.Units != calUnits || u.Trials != calTrials || len(u.TrialKiB) != calTrials || !u.SlabKiB.Set {
					t.Errorf("%s: %+v; want %d trials of %d units", name, u, calTrials, calUnits)
				}
				if cal.Basis == results.BasisMeminfo && len(u.Caches) != 0 {
					t.Errorf("%s: caches %v without slabinfo", name, u.Caches)
				}
			}
			// Go's runtime maps a stack and a guard page per thread.
			if cal.ThreadTrialMappings < 1 {
				t.Errorf("thread trial mappings %v per thread", cal.ThreadTrialMappings)
			}
		})
	}
}

func TestCalibrationArithmetic(t *testing.T) {
	if m := median([]float64{3, 1}, 3); m != 1 {
		t.Errorf("median of 3, 1 and a missing 0: %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}, 4); m != 2.5 {
		t.Errorf("median of 1..4: %v", m)
	}
	thread := results.UnitCost{SlabKiB: results.N(7), TrialKiB: []float64{7, 8},
		Caches: []results.CacheCost{{Name: "task_struct", KiB: 6}, {Name: "vm_area_struct", KiB: 0.4}, {Name: "maple_node", KiB: 0.6}}}
	mapping := results.UnitCost{SlabKiB: results.N(0.5), Caches: []results.CacheCost{{Name: "vm_area_struct", KiB: 0.2}, {Name: "maple_node", KiB: 0.3}}}
	got := without(thread, mapping, 2)
	if got.SlabKiB.V != 6 || got.TrialKiB[0] != 6 || got.TrialKiB[1] != 7 || len(got.Caches) != 1 || got.Caches[0].Name != "task_struct" {
		t.Errorf("a thread without its two mappings: %+v", got)
	}
}
