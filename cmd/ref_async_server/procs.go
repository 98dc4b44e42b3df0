package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// workerEnv marks a process as a -P worker and carries its index. Workers
// are this same binary, re-executed, so they parse the same flags.
const workerEnv = "TENKTHREADS_REF_WORKER"

// Descriptors a worker inherits (exec.Cmd.ExtraFiles start at 3).
const (
	listenerFD = 3
	sharedFD   = 4
)

// goroutineTick is how often a worker publishes its goroutine count.
const goroutineTick = 100 * time.Millisecond

// shared holds the counters every connection goroutine updates, hence
// atomics. Under -P it lives in one MAP_SHARED page that all processes
// map, as the C server's counters do, so the parent reports the sum and
// the -c cap holds across processes.
type shared struct {
	now, maxConc, total, bytes, resets, acceptErrors, overCap, timeouts, overBudget atomic.Int64
	// The parent's memory budget (connections) and the Go runtime's soft
	// memory limit it gives each process.
	memBudget, memSoft atomic.Int64
	// requests in their -d wait now, and the peak of that
	waiting, maxWaiting atomic.Int64
	// goroutines is each worker's own count, refreshed every goroutineTick.
	goroutines [maxProcs]atomic.Int64
}

func sharedSize() int {
	page := os.Getpagesize()
	return (int(unsafe.Sizeof(shared{})) + page - 1) / page * page
}

// newSharedFile makes the memory the workers share: an unlinked file in
// /dev/shm (tmpfs), or in the temporary directory if there is none.
func newSharedFile() (*os.File, error) {
	f, err := os.CreateTemp("/dev/shm", prog+".*")
	if err != nil {
		if f, err = os.CreateTemp("", prog+".*"); err != nil {
			return nil, fmt.Errorf("shared counters: %w", err)
		}
	}
	os.Remove(f.Name())
	if err := f.Truncate(int64(sharedSize())); err != nil {
		f.Close()
		return nil, fmt.Errorf("shared counters: %w", err)
	}
	return f, nil
}

// mapShared maps the file. The mapping is never unmapped: it lives as long
// as the process, and the file's pages go when the last process exits.
func mapShared(f *os.File) (*shared, error) {
	b, err := syscall.Mmap(int(f.Fd()), 0, sharedSize(), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap shared counters: %w", err)
	}
	// The mapping is page-aligned, so every atomic word in it is too.
	return (*shared)(unsafe.Pointer(&b[0])), nil
}

type worker struct {
	index int
	cmd   *exec.Cmd
	done  atomic.Bool // reaped
}

// workerSet is the parent's view of its -P workers.
type workerSet struct {
	ws       []*worker
	stopping atomic.Bool
	reaped   sync.WaitGroup
}

// spawn starts procs workers sharing ln. Each is reaped by its own
// goroutine as soon as it ends, so none lingers as a zombie.
func (s *server) spawn(ln *net.TCPListener, shm *os.File) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding own executable: %w", err)
	}
	lf, err := ln.File()
	if err != nil {
		return fmt.Errorf("listener descriptor: %w", err)
	}
	defer lf.Close()
	// Pdeathsig fires when the thread that forked the worker exits, not the
	// process. Go only ends a thread when a goroutine locked to it returns;
	// the main goroutine, which forks, stays locked here and never returns.
	runtime.LockOSThread()
	s.workers = &workerSet{}
	for i := 0; i < s.procs; i++ {
		cmd := exec.Command(exe, os.Args[1:]...)
		cmd.Env = append(os.Environ(), workerEnv+"="+strconv.Itoa(i))
		cmd.ExtraFiles = []*os.File{lf, shm}
		cmd.Stderr = os.Stderr
		// Workers die with the parent, even a parent killed outright.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			s.workers.stop()
			return fmt.Errorf("server process %d of %d: %w", i+1, s.procs, err)
		}
		w := &worker{index: i, cmd: cmd}
		s.workers.ws = append(s.workers.ws, w)
		s.workers.reaped.Add(1)
		go s.reap(w)
	}
	return nil
}

func (s *server) reap(w *worker) {
	err := w.cmd.Wait()
	w.done.Store(true)
	s.c.goroutines[w.index].Store(0)
	if !s.workers.stopping.Load() {
		fmt.Fprintf(os.Stderr, "%s: server process %d (pid %d) ended: %v\n", prog, w.index+1, w.cmd.Process.Pid, err)
	}
	s.workers.reaped.Done()
}

// live returns the pids of the workers not yet reaped.
func (ws *workerSet) live() []int {
	if ws == nil {
		return nil
	}
	var pids []int
	for _, w := range ws.ws {
		if !w.done.Load() {
			pids = append(pids, w.cmd.Process.Pid)
		}
	}
	return pids
}

// stop kills each worker by pid, never by process group (the group may be
// the shell's or the test harness's), and waits until all are reaped.
func (ws *workerSet) stop() {
	if ws == nil {
		return
	}
	ws.stopping.Store(true)
	for _, w := range ws.ws {
		if !w.done.Load() {
			w.cmd.Process.Kill()
		}
	}
	ws.reaped.Wait()
}

// runWorker is a -P worker: it accepts on the inherited listener and echoes,
// adding to the shared counters. The parent takes the signals and reports.
func runWorker(index string, args []string) int {
	// Ctrl-C reaches the whole process group; the parent reports and stops
	// us, so the workers must not die first.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	i, err := strconv.Atoi(index)
	if err != nil || i < 0 || i >= maxProcs {
		fmt.Fprintf(os.Stderr, "%s: %s=%q: not a worker index\n", prog, workerEnv, index)
		return 1
	}
	o, code := parseFlags(args)
	if o == nil {
		return code
	}
	raiseFDLimit()
	shm := os.NewFile(sharedFD, "shared")
	c, err := mapShared(shm)
	shm.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: worker %d: %v\n", prog, i+1, err)
		return 1
	}
	lf := os.NewFile(listenerFD, "listener")
	ln, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: worker %d: inherited listener: %v\n", prog, i+1, err)
		return 1
	}
	calibrateWork()
	s := &server{c: c, maxConns: o.maxConns, idle: o.idle, memArg: o.mem, delay: o.delay, work: o.work}
	s.workerBudget()
	go func() {
		for {
			c.goroutines[i].Store(int64(runtime.NumGoroutine()))
			time.Sleep(goroutineTick)
		}
	}()
	s.acceptLoop(ln)
	return 1
}
