package runner

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/testkit"
)

// The counts every run holds must fit; 200,000 runs where the machine
// allows it, with -tune where a sysctl is short, and is skipped with the
// reason where it does not.
func TestC100KStretchCount(t *testing.T) {
	here := goodSystem() // this machine: 24 GiB, threads-max 192,730, pid_max 32,768
	here.ThreadsMax, here.PidMax, here.MemAvailableKiB = 192730, 32768, 22<<20
	small := here
	small.MemAvailableKiB = 8 << 20
	servers := []results.ServerSpec{{Label: "10kthreads (thread)"}, {Label: "ref_async_server (goroutine)"}}
	z := sizesC100K(plan.Options{})
	for _, c := range []struct {
		name   string
		sys    plan.System
		tune   bool
		counts []int
		why    string
		tuned  []string
	}{
		{"no -tune: 200,000 needs threads-max", here, false, nil, "kernel.threads-max is 192730", nil},
		{"-tune raises pid_max and threads-max for it", here, true, []int{25000, 50000, 100000, 200000}, "", []string{"kernel.pid_max", "kernel.threads-max"}},
		{"too little memory, even with -tune", small, true, []int{25000, 50000, 100000}, "MemAvailable: have 8.0 GiB", []string{"kernel.pid_max"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			withRoot(t, true)
			o := plan.Options{Tune: c.tune}
			counts, pre, skipped := c100kCounts(o, c.sys, z, servers)
			if c.counts != nil && !slices.Equal(counts, c.counts) {
				t.Errorf("counts %v, want %v", counts, c.counts)
			}
			if c.why == "" && len(skipped) != 0 {
				t.Errorf("skipped %+v, want none", skipped)
			}
			if c.why != "" {
				if len(skipped) != len(servers) || skipped[0].Conns != 200000 || !strings.Contains(skipped[0].Why, c.why) {
					t.Errorf("skipped %+v, want 200,000 for each server because %q", skipped, c.why)
				}
				if slices.Contains(counts, 200000) {
					t.Errorf("200,000 both skipped and run: %v", counts)
				}
			}
			short, _ := sortChecks(pre, o.Tune)
			var tuned []string
			for _, p := range short {
				tuned = append(tuned, p.Sysctl)
			}
			for _, want := range c.tuned {
				if !slices.Contains(tuned, want) {
					t.Errorf("-tune would change %v, want %s among them", tuned, want)
				}
			}
		})
	}
	if !strings.Contains(stretchShort(plan.Options{}, plan.C100KPreconds(here, 200000, 12, 11)), "rerun with TUNE=1") {
		t.Error("a count that needs -tune does not say to rerun with TUNE=1")
	}
}

// A listen backlog below 65,535 does not stop the run: without -tune it
// is noted, with -tune it is raised for the run and restored.
func TestC100KListenBacklog(t *testing.T) {
	s := goodSystem()
	s.Somaxconn, s.SynBacklog = 4096, 2048
	withSystem(t, s)
	withRoot(t, true)
	for _, tune := range []bool{false, true} {
		root := fakeSysctls(t, map[string]string{"net.core.somaxconn": "4096", "net.ipv4.tcp_max_syn_backlog": "2048"})
		o, env := c100kOptions(t, []int{40})
		o.Tune, env.SysctlRoot = tune, root
		var stdout, stderr bytes.Buffer
		if code := execute(o, env, &stdout, &stderr); code != 0 {
			t.Fatalf("-tune %v: exit %d\n%s", tune, code, stderr.String())
		}
		var rep report.C100KReport
		testkit.ReadJSON(t, filepath.Join(onlyDir(t, o.Out, "c100k-"), "c100k.json"), &rep)
		var names []string
		for _, c := range rep.Tuned {
			names = append(names, c.Name)
		}
		want := []string(nil)
		if tune {
			want = []string{"net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog"}
		}
		if !slices.Equal(names, want) {
			t.Errorf("-tune %v: tuned %v, want %v", tune, names, want)
		}
		if v := sysctlValue(t, root, "net.core.somaxconn"); v != "4096" {
			t.Errorf("-tune %v: somaxconn %s after the run, want 4096", tune, v)
		}
		noted := strings.Contains(strings.Join(rep.Notes, "\n"), "net.core.somaxconn (listen backlog) is 4096")
		if noted == tune {
			t.Errorf("-tune %v: notes %q; the short backlog is noted only without -tune", tune, rep.Notes)
		}
		if len(rep.Rows) != 1 || rep.Rows[0].Status != results.StatusOK || !rep.Rows[0].ListenDrops.Set || !rep.Rows[0].RampPerS.Set {
			t.Errorf("-tune %v: rows %+v; want one ok row with listen drops and the ramp rate", tune, rep.Rows)
		}
	}
}
