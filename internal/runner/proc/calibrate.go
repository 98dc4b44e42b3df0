package proc

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
)

// calUnits and calTrials size the calibration: 1,000 units (2,000 socket
// ends) lift each cost well above the noise of a few stray objects, and
// the median of 5 trials drops a trial that another process disturbed.
const calUnits, calTrials = 1000, 5

// A trial calls before() once its preparations are done, creates its n
// units, calls after() while it holds them, and releases everything. It
// returns how many units it held.
type trial func(n int, before, after func()) (held int, err error)

// Calibrate measures, once per campaign, what the kernel spends on this
// machine per thread, mapping, socket end and epoll registration, by
// holding a known number of each in this process: the kernel stack of a
// thread (THREAD_SIZE, 16 KiB on x86_64, from KernelStack in
// /proc/meminfo) and each unit's slab. A server's own threads times these
// figures is its cost; the machine-wide growth during a run is what every
// process does. proc is /proc for the machine's counters (tests give a
// tree without slabinfo); without a readable /proc/slabinfo the slab
// costs come from the Slab total of /proc/meminfo, and the calibration
// says why.
func Calibrate(proc sysinfo.FS) (kstackPerThread results.Num, cal *results.Calibration) {
	calibrated.Lock()
	defer calibrated.Unlock()
	if c, ok := calibrated.by[proc]; ok {
		return c.kstack, c.cal
	}
	kstackPerThread, cal = calibrate(proc)
	calibrated.by[proc] = calibration{kstackPerThread, cal}
	return kstackPerThread, cal
}

// calibrated keeps each /proc tree's calibration: a process that runs
// several campaigns (the runner's tests) measures the machine once.
var calibrated = struct {
	sync.Mutex
	by map[sysinfo.FS]calibration
}{by: map[sysinfo.FS]calibration{}}

type calibration struct {
	kstack results.Num
	cal    *results.Calibration
}

func calibrate(proc sysinfo.FS) (kstackPerThread results.Num, cal *results.Calibration) {
	cal = &results.Calibration{Basis: results.BasisSlabinfo}
	if _, err := proc.SlabCaches(); err != nil {
		cal.Basis, cal.SlabInfoError = results.BasisMeminfo, err.Error()
	}
	read := func() (map[string]float64, error) { return slabKiB(proc, cal.Basis) }
	// The threads' trials also read KernelStack and this process's
	// mappings beside the slab.
	self := os.Getpid()
	withSide := func() (map[string]float64, error) {
		m, err := read()
		if err != nil {
			return nil, err
		}
		k, err := proc.KernelStackKiB()
		if err != nil {
			return nil, err
		}
		maps, err := mappings(self)
		m[kernelStack], m[selfMaps] = float64(k), float64(maps)
		return m, err
	}
	cal.Mapping, _ = unitCost(read, mappingTrial)
	var med map[string]float64
	cal.Thread, med = unitCost(withSide, threadTrial)
	if k, ok := med[kernelStack]; ok {
		// Kernel stacks are whole pages; rounding removes the noise other
		// processes add to a system-wide counter.
		page := float64(os.Getpagesize()) / 1024
		kstackPerThread = results.N(math.Max(page, math.Round(k/page)*page))
	}
	// Go's runtime maps a stack and a guard page for each thread it
	// starts, as glibc does; a thread's own cost is without them, since a
	// server's mappings are counted and priced on their own.
	if maps := med[selfMaps]; maps > 0 && cal.Mapping.SlabKiB.Set {
		cal.ThreadTrialMappings = maps
		cal.Thread = without(cal.Thread, cal.Mapping, maps)
	}
	cal.Socket, _ = unitCost(read, socketTrial)
	cal.Epoll, _ = unitCost(read, epollTrial)
	return kstackPerThread, cal
}

// Readings whose key starts with "/" are not slab: KernelStack, and the
// mappings of this process.
const (
	kernelStack = "/proc/meminfo KernelStack"
	selfMaps    = "/proc/self/maps"
)

func isSlab(key string) bool { return !strings.HasPrefix(key, "/") }

// without is u less k times v, cache by cache.
func without(u, v results.UnitCost, k float64) results.UnitCost {
	out := u
	out.SlabKiB = results.N(u.SlabKiB.V - k*v.SlabKiB.V)
	out.TrialKiB = nil
	for _, t := range u.TrialKiB {
		out.TrialKiB = append(out.TrialKiB, t-k*v.SlabKiB.V)
	}
	by := map[string]float64{}
	for _, c := range u.Caches {
		by[c.Name] += c.KiB
	}
	for _, c := range v.Caches {
		by[c.Name] -= k * c.KiB
	}
	out.Caches = sortedCaches(by)
	return out
}

// sortedCaches is the nonzero costs, the largest first.
func sortedCaches(by map[string]float64) []results.CacheCost {
	var out []results.CacheCost
	for name, kib := range by {
		if kib != 0 {
			out = append(out, results.CacheCost{Name: name, KiB: kib})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].KiB != out[j].KiB {
			return out[i].KiB > out[j].KiB
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// slabKiB is the slab in use by cache on the slabinfo basis, or the one
// total "Slab" on the meminfo basis.
func slabKiB(proc sysinfo.FS, basis string) (map[string]float64, error) {
	if basis == results.BasisMeminfo {
		m, err := proc.Meminfo()
		return map[string]float64{"Slab": float64(m.Slab)}, err
	}
	caches, err := proc.SlabCaches()
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(caches))
	for name, c := range caches {
		out[name] = c.KiB()
	}
	return out, nil
}

// unitCost runs calTrials trials of t and keeps each cache's median
// growth per unit; the cost per unit is their sum, so a cache that one
// trial's neighbour disturbed does not move it. It also returns every
// reading's median growth per unit.
func unitCost(read func() (map[string]float64, error), t trial) (results.UnitCost, map[string]float64) {
	uc := results.UnitCost{Units: calUnits}
	per := map[string][]float64{}
	for i := 0; i < calTrials; i++ {
		var before, after map[string]float64
		var e1, e2 error
		held, err := t(calUnits, func() { before, e1 = read() }, func() { after, e2 = read() })
		settle(read)
		if err != nil || e1 != nil || e2 != nil || held == 0 {
			continue
		}
		total := 0.0
		for name, v := range after {
			d := (v - before[name]) / float64(held)
			per[name] = append(per[name], d)
			if isSlab(name) {
				total += d
			}
		}
		uc.Trials++
		uc.TrialKiB = append(uc.TrialKiB, total)
	}
	meds := map[string]float64{}
	by := map[string]float64{}
	sum := 0.0
	for name, xs := range per {
		meds[name] = median(xs, uc.Trials)
		if isSlab(name) {
			sum += meds[name]
			by[name] = meds[name]
		}
	}
	if uc.Trials > 0 {
		uc.SlabKiB = results.N(sum)
	}
	// The meminfo basis has one reading, the whole Slab: no breakdown.
	delete(by, "Slab")
	uc.Caches = sortedCaches(by)
	return uc, meds
}

// median is the median of xs padded with zeros to n values: a cache
// missing from a trial grew by nothing in it.
func median(xs []float64, n int) float64 {
	for len(xs) < n {
		xs = append(xs, 0)
	}
	sort.Float64s(xs)
	if n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[n/2]
}

// settle waits, up to a second, until the slab stops shrinking: the
// kernel frees a task_struct, a socket's inode and dentry only after an
// RCU grace period, and the frees of one trial must not land in the
// next one's growth.
func settle(read func() (map[string]float64, error)) {
	total := func() float64 {
		m, _ := read()
		s := 0.0
		for name, v := range m {
			if isSlab(name) {
				s += v
			}
		}
		return s
	}
	last := total()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		now := total()
		// Less than 64 KiB freed in 50 ms: a few objects, not a trial's.
		if last-now < 64 {
			return
		}
		last = now
	}
}

// mappingTrial's units are mappings laid out as glibc lays out thread
// stacks: a guard page with no access, then two touched pages, n times
// in one region, which the kernel keeps as 2n VMAs.
func mappingTrial(n int, before, after func()) (int, error) {
	page := os.Getpagesize()
	self := os.Getpid()
	m0, err := mappings(self)
	if err != nil {
		return 0, err
	}
	before()
	mem, err := syscall.Mmap(-1, 0, 3*n*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return 0, err
	}
	defer syscall.Munmap(mem)
	for i := 0; i < n; i++ {
		g := 3 * i * page
		if err := syscall.Mprotect(mem[g:g+page], syscall.PROT_NONE); err != nil {
			return 0, err
		}
		mem[g+page], mem[g+2*page] = 1, 1
	}
	m1, err := mappings(self)
	if err != nil {
		return 0, err
	}
	after()
	if m1-m0 < n {
		return 0, fmt.Errorf("mappings: %d before, %d while holding %d", m0, m1, 2*n)
	}
	return m1 - m0, nil
}

func mappings(pid int) (int, error) {
	fp, err := sysinfo.Host.Footprint([]int{pid})
	return fp.Mappings, err
}
