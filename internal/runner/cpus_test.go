package runner

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/results"
)

// A run with explicit CPU lists pins each side to its own list and
// records both sets; here the usual sides are swapped, so a runner that
// ignored the flags would show.
func TestExplicitCPULists(t *testing.T) {
	allowed, err := plan.AllowedCPUs()
	if err != nil || len(allowed) < 2 {
		t.Skipf("needs two CPUs this process may use (have %v, %v)", allowed, err)
	}
	srv, cli := allowed[1], allowed[0]
	out := t.TempDir()
	t.Setenv("FAKE_MODE", "ok")
	args := []string{"-bin", fakeBin(t), "-out", out, "-counts", "5", "-reps", "1", "-workloads", "hold", "-hold", "100ms",
		"-server-cpus", strconv.Itoa(srv), "-client-cpus", strconv.Itoa(cli)}
	var stdout, stderr bytes.Buffer
	if code := Main(args, func(string) string { return "" }, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	dir := onlyResultDir(t, out)
	runs := readRuns(t, dir)
	if len(runs) == 0 {
		t.Fatal("no runs")
	}
	for _, r := range runs {
		if r.Status != results.StatusOK {
			t.Errorf("%s: status %s (%s)", r.Server, r.Status, r.Detail)
		}
		want := []string{"taskset", "-c", strconv.Itoa(srv)}
		if !slices.Equal(r.ServerCmd[:3], want) {
			t.Errorf("%s: server command %q, want it to start with %q", r.Server, r.ServerCmd, want)
		}
		want = []string{"taskset", "-c", strconv.Itoa(cli)}
		if !slices.Equal(r.ClientCmd[:3], want) {
			t.Errorf("%s: client command %q, want it to start with %q", r.Server, r.ClientCmd, want)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m results.Meta
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.ServerCPUs, []int{srv}) || !slices.Equal(m.ClientCPUs, []int{cli}) {
		t.Errorf("meta.json: server_cpus %v client_cpus %v, want [%d] [%d]", m.ServerCPUs, m.ClientCPUs, srv, cli)
	}
	pin := "server on CPU " + strconv.Itoa(srv) + ", client on CPU " + strconv.Itoa(cli)
	if !strings.Contains(m.Pinning, pin) {
		t.Errorf("meta.json pinning %q, want %q", m.Pinning, pin)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !strings.Contains(string(md), pin) {
		t.Errorf("report.md does not say %q", pin)
	}
}

// Bad CPU lists are usage errors that name the problem, before anything
// runs.
func TestCPUListUsageErrors(t *testing.T) {
	allowed, err := plan.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	outside := strconv.Itoa(allowed[len(allowed)-1] + 1)
	first := strconv.Itoa(allowed[0])
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-server-cpus", "0-x"}, `-server-cpus 0-x: "x" is not a CPU number`},
		{[]string{"-client-cpus", "3-1"}, `-client-cpus 3-1: range "3-1" runs backwards`},
		{[]string{"-server-cpus", outside}, "-server-cpus " + outside + ": CPU " + outside + " is not one this process may use"},
		{[]string{"-server-cpus", first, "-client-cpus", first}, "-server-cpus and -client-cpus share CPU " + first},
		{[]string{"-no-pin", "-server-cpus", first}, "-no-pin excludes -server-cpus and -client-cpus"},
	} {
		var stdout, stderr bytes.Buffer
		out := t.TempDir()
		code := Main(append([]string{"-bin", fakeBin(t), "-out", out}, c.args...), func(string) string { return "" }, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), c.msg) || !strings.Contains(stderr.String(), "usage: experiment") {
			t.Errorf("%v: exit %d, stderr %q; want 2 with %q and the usage line", c.args, code, stderr.String(), c.msg)
		}
		if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Errorf("%v: wrote %v before failing", c.args, ents)
		}
	}
}
