package exec

import (
	"math"
	"os"
	"runtime"
	"sort"
	"time"

	"tenkthreads/internal/runner/results"
)

// CalibrateKernelStack measures the kernel stack one thread costs on this
// kernel (THREAD_SIZE, 16 KiB on x86_64) by holding extra threads in this
// process and watching KernelStack in /proc/meminfo. The system-wide
// KernelStack growth during a run is what other processes do too; a
// server's own threads times this figure is not.
func CalibrateKernelStack() results.Num {
	const threads, trials = 1000, 5
	var per []float64
	for i := 0; i < trials; i++ {
		if v, ok := kstackTrial(threads); ok {
			per = append(per, v)
		}
	}
	if len(per) == 0 {
		return results.Num{}
	}
	sort.Float64s(per)
	// Kernel stacks are whole pages; rounding removes the noise other
	// processes add to a system-wide counter.
	page := float64(os.Getpagesize()) / 1024
	return results.N(math.Max(page, math.Round(per[len(per)/2]/page)*page))
}

func kstackTrial(n int) (float64, bool) {
	self := os.Getpid()
	t0, k0 := threads(self), kernelStackKiB()
	release := make(chan struct{})
	started := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		go func() {
			// A locked goroutine that blocks keeps its OS thread, so the
			// runtime must create a new one for the next; returning
			// without unlocking ends the thread.
			runtime.LockOSThread()
			started <- struct{}{}
			<-release
		}()
	}
	for i := 0; i < n; i++ {
		<-started
	}
	// Every goroutine has run locked, so each holds its own thread now.
	t1, k1 := threads(self), kernelStackKiB()
	close(release)
	// Let the threads end before the next trial's baseline.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if t := threads(self); !t.Set || t.V <= t0.V+8 {
			break
		}
	}
	if !k0.Set || !k1.Set || !t0.Set || !t1.Set || t1.V-t0.V < float64(n)/2 {
		return 0, false
	}
	return (k1.V - k0.V) / (t1.V - t0.V), true
}
