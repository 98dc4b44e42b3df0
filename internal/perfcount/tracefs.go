package perfcount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// syscallEvent is the tracepoint every system call passes, under a tracefs
// mount.
const syscallEvent = "events/raw_syscalls/sys_enter/id"

// syscallTracepointID returns the id of raw_syscalls:sys_enter from a
// mounted tracefs (or debugfs' tracing directory). Where none is mounted
// and the caller is root, it mounts tracefs in a private mount namespace
// of its own thread, which no other process sees and which disappears with
// that thread, so nothing on the machine changes.
func syscallTracepointID() (uint64, error) {
	dirs := tracingDirs()
	for _, dir := range dirs {
		path := filepath.Join(dir, syscallEvent)
		id, err := readID(path)
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return id, err
		}
		if _, err := os.Stat(filepath.Join(dir, "events")); err == nil {
			return 0, fmt.Errorf("this kernel has no such tracepoint (%s does not exist)", path)
		}
	}
	if os.Geteuid() != 0 {
		return 0, fmt.Errorf("tracefs is not mounted (looked in %s) and mounting it needs root", strings.Join(dirs, ", "))
	}
	return privateTracefsID()
}

// tracingDirs lists where the tracing files may be: every tracefs mount,
// the tracing directory of every debugfs mount, and the usual places.
func tracingDirs() []string {
	dirs := []string{}
	if mounts, err := procfs.GetMounts(); err == nil {
		for _, m := range mounts {
			switch m.FSType {
			case "tracefs":
				dirs = append(dirs, m.MountPoint)
			case "debugfs":
				dirs = append(dirs, filepath.Join(m.MountPoint, "tracing"))
			}
		}
	}
	for _, d := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

func readID(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return id, nil
}

// privateTracefsID mounts tracefs in a new mount namespace on a thread of
// its own and reads the id there. The thread stays locked to its goroutine
// and exits with it, so no other goroutine ever runs in that namespace.
func privateTracefsID() (uint64, error) {
	var id uint64
	err := onOwnThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("tracefs is not mounted and a private mount namespace to mount it in was refused: unshare: %w", err)
		}
		// Without this the mount below would propagate back to the
		// machine's namespace through shared mounts.
		if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make the private mount namespace private: %w", err)
		}
		// The usual place, unless tracefs is already there (EBUSY), and
		// otherwise the temporary directory, hidden only in this namespace.
		var dir string
		var err error
		for _, dir = range []string{"/sys/kernel/tracing", os.TempDir()} {
			if err = unix.Mount("nodev", dir, "tracefs", 0, ""); err == nil {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("tracefs is not mounted and mounting it failed: %w", err)
		}
		id, err = readID(filepath.Join(dir, syscallEvent))
		return err
	})
	return id, err
}

// onOwnThread runs fn on a locked thread that is then thrown away: the
// goroutine returns without unlocking, and the runtime ends the thread.
// The main thread cannot be ended that way (the runtime would park it for
// good, still in fn's namespace), so when the goroutine lands there it
// keeps the main thread busy while fn runs on another one.
func onOwnThread(fn func() error) error {
	var run func(out chan<- error)
	run = func(out chan<- error) {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			inner := make(chan error, 1)
			go run(inner)
			err := <-inner
			runtime.UnlockOSThread()
			out <- err
			return
		}
		out <- fn() // and never unlock
	}
	out := make(chan error, 1)
	go run(out)
	return <-out
}
