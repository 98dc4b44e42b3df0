package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tenkthreads/internal/testhosts"
	"tenkthreads/internal/testkit"
)

// SIGINT in the middle of a run across hosts: bin/experiment finishes the
// current run, writes what ran, exits 130 and leaves nothing on the
// hosts: no process of the run, no directory of it.
func TestExperimentInterrupt(t *testing.T) {
	dir := bins(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	lab, err := testhosts.Build(ctx, testhosts.Config{Clients: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := lab.Close(); err != nil {
			t.Error(err)
		}
	}()
	cmd := lab.Command(ctx, lab.Control(), filepath.Join(dir, "experiment"), "-servers", "10kthreads:thread",
		"-workloads", "echo", "-counts", "50", "-reps", "3", "-duration", "3s", "-bin", dir, "-out", t.TempDir(),
		"-server-host", "server", "-client-hosts", "client1,client2", "-ssh-config", lab.SSHConfig)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	running, eof := followLines(stderr, &log, "[run 1/")
	select {
	case <-running:
	case <-eof:
		cmd.Wait()
		t.Fatalf("bin/experiment ended before its first run:\n%s", log.String())
	case <-ctx.Done():
		t.Fatal("no first run")
	}
	time.Sleep(2 * time.Second) // the clients are at work on every host
	cmd.Process.Signal(syscall.SIGINT)
	<-eof
	err = cmd.Wait()
	if code := testkit.ExitCode(t, err); code != 130 || !strings.Contains(log.String(), "experiment: interrupted after 1 run(s)") {
		t.Errorf("exit status %d, want 130 and the interrupted line:\n%s", code, log.String())
	}
	for _, h := range lab.Hosts[1:] {
		left, _ := filepath.Glob(filepath.Join(lab.Dir, "tmp_"+h.Name, "10kthreads-run.*"))
		if len(left) > 0 {
			t.Errorf("host %s: the run's directories are left: %v", h.Name, left)
		}
	}
	if out, err := exec.Command("pgrep", "-af", "10kthreads-run[.]").Output(); err == nil {
		t.Errorf("processes of the run still run:\n%s", out)
	}
	if _, err := os.Stat(lab.Dir); err != nil {
		t.Fatal(err)
	}
}
