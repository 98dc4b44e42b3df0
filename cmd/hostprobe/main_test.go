package main

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tenkthreads/internal/runner/proc"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/strictjson"
)

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-x"}, `unexpected argument "-x"`},
		{[]string{"-idle"}, "-idle: wrong number of arguments"},
		{[]string{"-peak", "1", "2"}, "-peak: wrong number of arguments"},
		{[]string{"-idle", "me"}, `"me": want a number`},
		{[]string{"-calibrate", "now"}, `-calibrate: unexpected argument "now"`},
	} {
		if _, err := probe(tc.args); err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// -idle reads the machine and the footprint of a process group, here
// this test's own; -peak gives up, saying so, when nothing comes.
func TestMachineRecords(t *testing.T) {
	pgid, err := syscall.Getpgid(0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := probe([]string{"-idle", strconv.Itoa(pgid)})
	var m results.Machine
	if err == nil {
		err = strictjson.Unmarshal(out, &m)
	}
	if err != nil || m.Idle == nil || m.Idle.Server == nil || m.Idle.Server.Threads < 1 || m.Idle.Meminfo.MemAvailable <= 0 || m.Peak != nil {
		t.Fatalf("-idle: %+v, %v", m, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	p := proc.PeakRecord(ctx, pgid, m.Idle.Server.FDs, 1000)
	if p.Peak != nil || !strings.Contains(p.Detail, "never held 1000 connections") {
		t.Errorf("-peak with nothing coming: %+v", p)
	}
}
