package testhosts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Prefix starts the name of every namespace and temporary directory the
// harness makes: "10kt-PID-RAND-ROLE". The PID is the process that made
// it, so a leftover whose maker is gone is known to be stale.
const Prefix = "10kt-"

// newRunID is unique per run: this process's id and random bits, so two
// runs, or a run and a leftover, never share a name.
func newRunID() string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(b[:]))
}

// ownerPID is the process that made a name with the kit's prefix; ok is
// false for names that are not the harness's.
func ownerPID(name string) (pid int, ok bool) {
	rest, found := strings.CutPrefix(name, Prefix)
	if !found {
		return 0, false
	}
	field, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(field)
	return pid, err == nil && pid > 0
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// stale reports whether name is the harness's and its maker is gone.
func stale(name string) bool {
	pid, ok := ownerPID(name)
	return ok && !alive(pid)
}

// CleanStale removes what crashed runs left behind: namespaces with the
// kit's prefix (and every process in them) and temporary directories,
// when the process that made them no longer runs. Each removal is logged.
// A run still in progress is left alone.
func CleanStale(ctx context.Context, log io.Writer) error {
	names, err := namespaces(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range names {
		if !stale(ns) {
			continue
		}
		fmt.Fprintf(log, "testhosts: removing namespace %s, left by a run that no longer runs\n", ns)
		errs = append(errs, deleteNS(ctx, ns))
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), Prefix+"*"))
	for _, d := range dirs {
		if stale(filepath.Base(d)) {
			fmt.Fprintf(log, "testhosts: removing directory %s, left by a run that no longer runs\n", d)
			errs = append(errs, os.RemoveAll(d))
		}
	}
	return errors.Join(errs...)
}

// deleteNS kills every process in namespace ns, then deletes it.
func deleteNS(ctx context.Context, ns string) error {
	if err := killNS(ctx, ns); err != nil {
		return err
	}
	return ip(ctx, "netns", "delete", ns)
}

// killNS kills every process in namespace ns and waits for them to go:
// a namespace with a process in it outlives `ip netns delete`.
func killNS(ctx context.Context, ns string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := nsPIDs(ctx, ns)
		if err != nil || len(pids) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s: processes %v did not exit after SIGKILL", ns, pids)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
