package proc

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// threadTrial is a calibration trial (see trial) whose units are idle
// threads of this process, n of them.
func threadTrial(n int, before, after func()) (int, error) {
	self := os.Getpid()
	t0 := threads(self)
	before()
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
	t1 := threads(self)
	after()
	close(release)
	// Let the threads end before the next trial's baseline.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if t := threads(self); !t.Set || t.V <= t0.V+8 {
			break
		}
	}
	if !t0.Set || !t1.Set || t1.V-t0.V < float64(n)/2 {
		return 0, fmt.Errorf("threads: %v before, %v while holding %d", t0, t1, n)
	}
	return int(t1.V - t0.V), nil
}
