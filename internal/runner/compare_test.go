package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/confidence"
	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/testkit"
)

func TestParseSide(t *testing.T) {
	bin := realBin(t)
	t.Chdir(testkit.RepoRoot(t))
	for _, c := range []struct {
		arg, want, err string
	}{
		{bin, "the programs in " + bin, ""},
		{"bin/10kthreads -M epoll -W 50us", "`bin/10kthreads -M epoll -W 50us`", ""},
		{"bin/10kthreads", "`bin/10kthreads`", ""},
		{"HEAD", "git revision HEAD", ""},
		{"", "", "A is empty"},
		{"no/such/server -M epoll", "", "no/such/server is not an executable file"},
		{"no-such-revision-or-dir", "", "is neither a directory holding 10kthreads"},
	} {
		s, err := parseSide("A", c.arg)
		var ue plan.UsageError
		switch {
		case c.err != "":
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want a usage error with %q", c.arg, err, c.err)
			}
		case err != nil || s.what != c.want:
			t.Errorf("%q: %q, %v; want %q", c.arg, s.what, err, c.want)
		}
	}
}

// compareLive compares two command lines of the real server with tiny
// echo cells and returns the verdicts on CPU per round trip, and all.
func compareLive(t *testing.T, a, b string) report.CompareReport {
	t.Helper()
	bin := realBin(t)
	t.Chdir(testkit.RepoRoot(t))
	o := plan.Options{Mode: "compare", Quick: true, Bin: bin, Out: t.TempDir(), StopTimeout: 20 * time.Second, Command: "test",
		Counts: plan.Given([]int{100}), Echo: plan.Given(300 * time.Millisecond), Workloads: []string{"echo"},
		Args: []string{filepath.Join(bin, "10kthreads") + a, filepath.Join(bin, "10kthreads") + b}}
	var out testkit.SyncBuffer
	var errb testkit.SyncBuffer
	if err := Execute(o, Env{}, &out, &errb); err != nil {
		t.Fatalf("-compare: %v\n%s", err, errb.String())
	}
	dirs, _ := filepath.Glob(filepath.Join(o.Out, "compare-*"))
	if len(dirs) != 1 {
		t.Fatalf("results directories %v", dirs)
	}
	var rep report.CompareReport
	testkit.ReadJSON(t, filepath.Join(dirs[0], "compare.json"), &rep)
	if len(rep.Rows) != 3 {
		t.Fatalf("%d figures compared, want 3 (CPU per round trip, round trips/s, p99):\n%s", len(rep.Rows), out.String())
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[0], "compare.md")); !strings.Contains(string(b), "## Verdicts") {
		t.Errorf("compare.md:\n%s", b)
	}
	return rep
}

// A/A: the same server and flags on both sides show no difference on
// any figure. Holm's correction allows a false difference in at most 5%
// of comparisons; two in a row would be one in 400, so a difference is
// looked at again once before the test fails.
func TestCompareAA(t *testing.T) {
	var diff []string
	for try := 0; try < 2; try++ {
		diff = nil
		for _, r := range compareLive(t, " -M epoll", " -M epoll").Rows {
			if r.Comparison.Verdict != confidence.NoDifference {
				diff = append(diff, r.Figure+": "+string(r.Comparison.Verdict))
			}
		}
		if len(diff) == 0 {
			return
		}
		t.Logf("A/A comparison %d found %v; once more", try+1, diff)
	}
	t.Errorf("A/A comparisons twice found a difference: %v", diff)
}

// A/B: 50 µs of CPU work per request costs B more CPU per round trip, a
// ratio well above 1 that lies inside its own interval.
func TestCompareAB(t *testing.T) {
	rep := compareLive(t, " -M epoll", " -M epoll -W 50us")
	for _, r := range rep.Rows {
		if r.Figure != "server_cpu_us_per_rt" {
			continue
		}
		c := r.Comparison
		if c.Verdict != confidence.Worse || c.Ratio == nil || c.Ratio.CI == nil || c.Ratio.Value < 1.5 ||
			c.Ratio.Value < c.Ratio.CI.Lo || c.Ratio.Value > c.Ratio.CI.Hi {
			t.Errorf("CPU per round trip with -W 50us: %+v, ratio %+v; want worse, B/A above 1.5 inside its interval", c, c.Ratio)
		}
		return
	}
	t.Error("no CPU per round trip compared")
}
