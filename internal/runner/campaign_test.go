package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/proc"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/testkit"
)

// campaignCase is one mode as the campaign tests run it: its options and
// environment, sized as a user would (-quick where the mode takes it),
// and the summary file its directory gets.
type campaignCase struct {
	mode, summary string
	o             plan.Options
	getenv        map[string]string
	// sys is the machine (goodSystem's when nil), sysctlRoot where -tune
	// writes.
	sys        *plan.System
	sysctlRoot string
}

func campaignCases() []campaignCase {
	return []campaignCase{
		{mode: "", summary: "report.md", o: plan.Options{Quick: true}},
		{mode: "bench", summary: "bench.json", o: plan.Options{Quick: true}},
		{mode: "c100k", summary: "c100k.json", o: plan.Options{Quick: true}},
		{mode: "c1m", summary: "c1m.json", o: plan.Options{Quick: true}},
		{mode: "models", summary: "models.json", o: plan.Options{Quick: true}},
		{mode: "keepalive", summary: "keepalive.json", o: plan.Options{Quick: true}},
		{mode: "soak", summary: "soak.json", getenv: map[string]string{"SOAK_CONNS": "50", "SOAK_TOTAL": "500", "SOAK_LIMIT": "20"}},
		{mode: "ceiling", summary: "ceiling.json", o: plan.Options{Quick: true, Budget: 20 * time.Second}},
		// A and B are both the kit's own bin directory (fakeCampaign).
		{mode: "compare", summary: "compare.json", o: plan.Options{Quick: true}},
	}
}

// planned is one run a campaign asked for.
type planned struct {
	key     string
	n       int
	args    []string
	timeout time.Duration
	// linger: the client lingers until the runner's readings and the
	// server's exit within stop.
	linger bool
	stop   time.Duration
}

// noInterrupt runs a fake campaign to its end.
const noInterrupt = -1

// fakeCampaign runs c's mode with every run replaced by one that ends at
// once, ok, without figures, so that what is left is the campaign's own
// work. It is interrupted as SIGINT would: before the first run when
// interruptAt is 0, during the k-th run when it is k.
func fakeCampaign(t *testing.T, c campaignCase, interruptAt int) (code int, ran []planned, out modeRun) {
	t.Helper()
	sys := goodSystem()
	if c.sys != nil {
		sys = *c.sys
	}
	withSystem(t, sys)
	o := c.o
	o.Mode, o.Bin, o.Out, o.NoPin, o.StopTimeout, o.Command = c.mode, realBin(t), t.TempDir(), true, time.Second, "test"
	if c.mode == "compare" {
		o.Args = []string{o.Bin, o.Bin}
	}
	intr := make(chan struct{})
	env := Env{Getenv: func(k string) string { return c.getenv[k] }, Interrupt: intr, SysctlRoot: c.sysctlRoot, OrderSeed: 1}
	if interruptAt == 0 {
		close(intr)
	}
	env.Exec = func(spec results.ServerSpec, workload string, n, rep int, p proc.Params) results.Run {
		ran = append(ran, planned{fmt.Sprintf("%s %s %d r%d", spec.Key, workload, n, rep), n, p.ClientArgs, p.ClientTimeout, p.Linger, p.StopTimeout})
		if len(ran) == interruptAt {
			close(intr)
		}
		r := results.Run{Server: spec.Key, Label: spec.Label, Model: spec.Model, Workload: workload, Conns: n, Rep: rep,
			Status: results.StatusOK, ClientCmd: append([]string{p.ClientPath}, p.ClientArgs...)}
		if workload == "soak" {
			idle := results.Idle{RSSKiB: 2000, FDs: 8, Threads: 2}
			r.Soak = &results.Soak{Start: idle, End: idle, Connections: 500, ChurnS: 1}
		}
		return r
	}
	if err := modeOf(o).Check(o, env); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr testkit.SyncBuffer
	code = execute(o, env, &stdout, &stderr)
	prefix := c.mode + "-"
	if c.mode == "" {
		prefix = ""
	}
	return code, ran, modeRun{onlyDir(t, o.Out, prefix), stdout.String(), stderr.String()}
}

var progressRE = regexp.MustCompile(`(?m)^\[(\S+)(?: \S+)? (\d+)(?:/(\d+))?\] .* rep (\d+)(?:/(\d+))?  elapsed `)

// The campaign counts the runs of the plan a mode declares: the progress
// line numbers them 1 to N of N (generated plans without the N), each
// repetition of a cell says which of how many, and runs.json records every
// run in the order it ran.
func TestCampaignCounts(t *testing.T) {
	for _, c := range campaignCases() {
		t.Run("mode="+c.mode, func(t *testing.T) {
			code, ran, out := fakeCampaign(t, c, noInterrupt)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out.stdout, out.stderr)
			}
			lines := progressRE.FindAllStringSubmatch(out.stderr, -1)
			if len(ran) == 0 || len(lines) != len(ran) {
				t.Fatalf("%d runs, %d progress lines:\n%s", len(ran), len(lines), out.stderr)
			}
			t.Logf("%d runs", len(ran))
			kind := c.mode
			if kind == "" {
				kind = "run"
			}
			reps := map[string]int{}
			for _, r := range ran {
				reps[cellKey(r.key)]++
			}
			for i, l := range lines {
				total := strconv.Itoa(len(ran))
				if c.mode == "ceiling" || c.mode == "c1m" {
					total = "" // generated as it goes
				}
				if l[1] != kind || l[2] != strconv.Itoa(i+1) || l[3] != total {
					t.Errorf("progress line %d: %q, want [%s %d/%s]", i+1, l[0], kind, i+1, total)
				}
				if want := strconv.Itoa(reps[cellKey(ran[i].key)]); total != "" && l[5] != want {
					t.Errorf("progress line %d: %q, want rep of %s", i+1, l[0], want)
				}
			}
			checkRecorded(t, out.dir, ran)
			if _, err := os.Stat(filepath.Join(out.dir, c.summary)); err != nil {
				t.Errorf("summary: %v", err)
			}
		})
	}
}

// cellKey is a planned run's cell: its key without the repetition.
func cellKey(key string) string { return key[:strings.LastIndex(key, " r")] }

// checkRecorded: runs.json holds exactly the runs that ran, in order.
func checkRecorded(t *testing.T, dir string, ran []planned) {
	t.Helper()
	var got []string
	for _, r := range readRuns(t, dir) {
		got = append(got, fmt.Sprintf("%s %s %d r%d", r.Server, r.Workload, r.Conns, r.Rep))
	}
	var want []string
	for _, r := range ran {
		want = append(want, r.key)
	}
	if !slices.Equal(got, want) {
		t.Errorf("runs.json has\n%q\nwant the runs that ran\n%q", got, want)
	}
}

// An interrupt at any point of any mode stops the campaign after the run
// under way, writes what ran (runs.json, meta.json with a note, the
// mode's summary) and exits 130, saying so.
func TestCampaignInterrupts(t *testing.T) {
	for _, c := range campaignCases() {
		t.Run("mode="+c.mode, func(t *testing.T) {
			_, all, _ := fakeCampaign(t, c, noInterrupt)
			at := []int{0, 1, len(all) / 2, len(all)}
			for _, k := range slices.Compact(at) {
				code, ran, out := fakeCampaign(t, c, k)
				if code != exitInterrupted {
					t.Fatalf("interrupted at run %d of %d: exit %d\n%s", k, len(all), code, out.stderr)
				}
				if len(ran) != k || !slices.Equal(keys(ran), keys(all[:k])) {
					t.Errorf("interrupted at run %d: ran %q, want the first %d of %q", k, keys(ran), k, keys(all))
				}
				checkRecorded(t, out.dir, ran)
				var m results.Meta
				testkit.ReadJSON(t, filepath.Join(out.dir, "meta.json"), &m)
				if !slices.Contains(m.Notes, "the run was interrupted; only the runs that finished are reported") || m.Finished == "" {
					t.Errorf("interrupted at run %d: meta.json notes %q, finished %q", k, m.Notes, m.Finished)
				}
				if _, err := os.Stat(filepath.Join(out.dir, c.summary)); err != nil {
					t.Errorf("interrupted at run %d: no summary: %v", k, err)
				}
				last := fmt.Sprintf("experiment: interrupted after %d run(s); what ran is in %s\n", k, out.dir)
				if !strings.HasSuffix(out.stderr, last) || !strings.Contains(out.stdout, "finished in ") {
					t.Errorf("interrupted at run %d: stderr does not end with %q, or no closing line:\n%s\n%s", k, last, out.stdout, out.stderr)
				}
			}
		})
	}
}

func keys(ps []planned) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.key)
	}
	return out
}

// Every run's timeout comes from one formula, from the same hold,
// duration and connections the client is told: what the client may wait
// out besides is a few deadlines, never minutes.
func TestCampaignTimeouts(t *testing.T) {
	for _, c := range campaignCases() {
		t.Run("mode="+c.mode, func(t *testing.T) {
			_, ran, _ := fakeCampaign(t, c, noInterrupt)
			for _, r := range ran {
				rt := runTime{conns: r.n + argInt(r.args, "-idle"), hold: argDuration(r.args, "-hold"), duration: argDuration(r.args, "-duration")}
				if r.linger {
					rt.linger = lingerTime(r.stop)
				}
				// A paced verification (-rate with -rounds 1) takes n / rate.
				if rate := argInt(r.args, "-rate"); rate > 0 && rt.duration == 0 {
					rt.duration = time.Duration(float64(r.n) / float64(rate) * float64(time.Second))
				}
				base := rt.timeout(r.n)
				deadlines := max(30*time.Second, argDuration(r.args, "-timeout"))
				if r.timeout < base || r.timeout > base+deadlines {
					t.Errorf("%s (%q): timeout %s, want the formula's %s and at most %s of deadlines", r.key, r.args, r.timeout, base, deadlines)
				}
			}
		})
	}
}

func argDuration(args []string, flag string) time.Duration {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		d, _ := time.ParseDuration(args[i+1])
		return d
	}
	return 0
}

func argInt(args []string, flag string) int {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		n, _ := strconv.Atoi(args[i+1])
		return n
	}
	return 0
}

// The formula's parts: the start, twice the ramp at connectBudget a
// connection, the hold and the duration, and the deadlines besides; the
// ETA expects the same parts at their expected pace.
func TestTimeoutFormula(t *testing.T) {
	for _, c := range []struct {
		rt       runTime
		n        int
		timeout  time.Duration
		expected time.Duration
	}{
		{runTime{}, 0, 20 * time.Second, 600 * time.Millisecond},
		{runTime{hold: time.Second}, 10000, 20*time.Second + 2*(5*time.Second+time.Second), 600*time.Millisecond + 2500*time.Millisecond + time.Second},
		{runTime{duration: time.Second, wait: 2 * time.Second}, 15000, 20*time.Second + 2*(7500*time.Millisecond+time.Second) + 2*time.Second, 600*time.Millisecond + 3750*time.Millisecond + time.Second},
		// The keep-alive runs open their idle connections too.
		{runTime{conns: 1100, duration: 2 * time.Second}, 100, 20*time.Second + 2*(550*time.Millisecond+2*time.Second), 600*time.Millisecond + 275*time.Millisecond + 2*time.Second},
		{runTime{hold: 2 * time.Second}, 200000, 20*time.Second + 2*(100*time.Second+2*time.Second), 600*time.Millisecond + 50*time.Second + 2*time.Second},
	} {
		if got := c.rt.timeout(c.n); got != c.timeout {
			t.Errorf("%+v at %d: timeout %s, want %s", c.rt, c.n, got, c.timeout)
		}
		if got := c.rt.expected(c.n); got != c.expected {
			t.Errorf("%+v at %d: expected %s, want %s", c.rt, c.n, got, c.expected)
		}
	}
}

// What -tune raised is restored when the campaign is interrupted, at any
// run, and the report says what was raised.
func TestCampaignTuneRestoredAfterInterrupt(t *testing.T) {
	withRoot(t, true)
	s := goodSystem()
	s.Somaxconn, s.SynBacklog = 4096, 2048
	for _, k := range []int{0, 1, 3} {
		root := fakeSysctls(t, map[string]string{"net.core.somaxconn": "4096", "net.ipv4.tcp_max_syn_backlog": "2048"})
		c := campaignCase{mode: "c100k", summary: "c100k.json", o: plan.Options{Quick: true, Tune: true}, sys: &s, sysctlRoot: root}
		code, _, out := fakeCampaign(t, c, k)
		if code != exitInterrupted {
			t.Fatalf("interrupted at %d: exit %d\n%s", k, code, out.stderr)
		}
		if v := sysctlValue(t, root, "net.core.somaxconn"); v != "4096" {
			t.Errorf("interrupted at %d: somaxconn %s, want 4096 restored", k, v)
		}
		if v := sysctlValue(t, root, "net.ipv4.tcp_max_syn_backlog"); v != "2048" {
			t.Errorf("interrupted at %d: tcp_max_syn_backlog %s, want 2048 restored", k, v)
		}
		var rep report.C100KReport
		testkit.ReadJSON(t, filepath.Join(out.dir, "c100k.json"), &rep)
		md, _ := os.ReadFile(filepath.Join(out.dir, "report.md"))
		if len(rep.Tuned) != 2 || !strings.Contains(string(md), "Tuned for the run (-tune) and restored afterwards: net.core.somaxconn (4096 → 65535)") ||
			!strings.Contains(out.stderr, "restored net.core.somaxconn to 4096") {
			t.Errorf("interrupted at %d: tuned %+v; report.md or stderr does not say what was raised and restored:\n%s", k, rep.Tuned, out.stderr)
		}
	}
}
