package runner

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"tenkthreads/internal/runner/exec"
	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// c100k holds 25,000 to 100,000 connections with several server and
// client processes (make c100k).
type c100k struct{}

func (c100k) Info() plan.ModeFlag {
	return plan.ModeFlag{Name: "c100k", Usage: "-c100k [-tune] [-quick]",
		Help: "25,000 to 100,000 connections with several server and client processes (make c100k)"}
}

// c100kSizes is what the run holds: the counts, the thread model's
// reference count for memory per connection (0: none) and the hold.
type c100kSizes struct {
	counts   []int
	refCount int
	hold     time.Duration
}

func sizesC100K(o plan.Options) c100kSizes {
	z := c100kSizes{counts: []int{25000, 50000, 100000}, refCount: 10000, hold: 2 * time.Second}
	if o.Quick {
		z = c100kSizes{counts: []int{10000, 25000}, refCount: 5000, hold: time.Second}
	}
	if o.CountsSet {
		z.counts, z.refCount = o.Counts, 0
	}
	if o.HoldSet {
		z.hold = o.Hold
	}
	return z
}

func (c100k) Run(o plan.Options, stdout, stderr io.Writer) int {
	kit, err := plan.LoadKit(o.Bin)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	sys := plan.ReadSystem()
	z := sizesC100K(o)
	maxN := z.counts[len(z.counts)-1]
	pre, short, code := c100kPreconditions(o, sys, maxN, stderr)
	if code >= 0 {
		return code
	}
	c, err := newCampaign(o, "c100k", sys, nil, defaultText, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer c.close()
	root := o.SysctlRoot
	if root == "" {
		root = "/proc/sys"
	}
	tu := &exec.Tuning{Root: root}
	// Restores on every way out of this function: normal end, error
	// returns, an interrupt (the loop stops, then returns) and a panic.
	defer restore(c, tu)
	if err := tune(c, tu, short); err != nil {
		return fail(stderr, "-tune: %v (nothing was run)", err)
	}
	tuned := append([]exec.SysctlChange{}, tu.Saved...)
	c.meta.Reps, c.meta.Counts = 1, z.counts
	servers := kit.Compared()
	if o.ServerOverride != nil {
		servers = o.ServerOverride
	}
	procs := runC100K(c, kit, sys, z, servers)
	res, err := c.finish()
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if err := report.Write(res); err != nil {
		return fail(stderr, "%v", err)
	}
	rep := report.BuildC100K(res, pre, tuned, []report.C100KSkipped{}, procs, z.refCount, maxN)
	rep.WallS = time.Since(c.started).Seconds()
	rep.Targets = append(rep.Targets, report.WallTarget(rep.WallS))
	if err := results.WriteJSON(filepath.Join(c.dir, "c100k.json"), rep); err != nil {
		return fail(stderr, "%v", err)
	}
	text := report.C100KText(rep)
	_ = os.WriteFile(filepath.Join(c.dir, "c100k.txt"), []byte(text), 0o644)
	// The c100k table goes on top of the standard report.
	if b, err := os.ReadFile(filepath.Join(c.dir, "report.md")); err == nil {
		md := "# make c100k\n\n```\n" + text + "```\n\n" + string(b)
		_ = os.WriteFile(filepath.Join(c.dir, "report.md"), []byte(md), 0o644)
	}
	fmt.Fprint(stdout, text)
	restore(c, tu)
	fmt.Fprintf(stdout, "\nfinished in %s; report: %s\n", fmtDuration(time.Since(c.started)), filepath.Join(c.dir, "report.md"))
	return c.status()
}

// c100kPreconditions prints the checks for maxN connections and returns
// them, with the ones -tune must fix; code is the exit status when the
// run cannot go ahead, else -1.
func c100kPreconditions(o plan.Options, sys plan.System, maxN int, stderr io.Writer) (pre, short []plan.Precond, code int) {
	srvMax, cliMax := plan.ProcsFor(maxN, sys)
	pre = plan.C100KPreconds(sys, maxN, srvMax, cliMax)
	fmt.Fprint(stderr, "experiment: c100k preconditions for ", results.Thousands(maxN), " connections:\n", report.PrecondTable(pre))
	for _, p := range pre {
		if !p.OK {
			short = append(short, p)
		}
	}
	for _, p := range short {
		if p.Sysctl == "" {
			return nil, nil, fail(stderr, "precondition failed, nothing was run: %s: have %s, need %s: %s", p.Item, p.Have, p.Need, p.Fix)
		}
	}
	if len(short) > 0 && !o.Tune {
		fmt.Fprintf(stderr, "experiment: precondition failed, nothing was run. Run as root:\n")
		for _, p := range short {
			fmt.Fprintf(stderr, "  %s\n", p.Fix)
		}
		fmt.Fprintf(stderr, "or rerun with -tune as root (the runner sets them and restores the old values afterwards)\n")
		return nil, nil, 1
	}
	if len(short) > 0 && !exec.IsRoot() {
		var f []string
		for _, p := range short {
			f = append(f, "`"+p.Fix+"`")
		}
		return nil, nil, fail(stderr, "-tune needs root to write /proc/sys; run as root, or run by hand: %s", strings.Join(f, "; "))
	}
	return pre, short, -1
}

// tune raises the sysctls that fall short and keeps a script that puts
// them back, in case the runner is killed before it can.
func tune(c *campaign, tu *exec.Tuning, short []plan.Precond) error {
	for _, p := range short {
		if err := tu.Set(p.Sysctl, p.Want); err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "experiment: -tune: %s %s -> %s (restored at the end)\n", p.Sysctl, tu.Saved[len(tu.Saved)-1].Old, p.Want)
	}
	if len(tu.Saved) > 0 {
		_ = os.WriteFile(filepath.Join(c.dir, "sysctl-restore.sh"), []byte(tu.RestoreScript()), 0o755)
		c.note("-tune changed %s for the run and restored them afterwards (sysctl-restore.sh has the commands, in case the runner was killed)", report.ChangesText(tu.Saved))
	}
	return nil
}

// restore puts back what tune changed; a second call does nothing.
func restore(c *campaign, tu *exec.Tuning) {
	if len(tu.Saved) == 0 {
		return
	}
	lines, bad := tu.Restore()
	for _, l := range lines {
		fmt.Fprintln(c.stderr, "experiment: "+l)
	}
	if bad {
		c.note("some sysctls could not be restored; see sysctl-restore.sh")
	}
}

// runC100K runs each server at each count, spread over as many server
// and client processes as the fd limit needs; it returns them by
// "server|count".
func runC100K(c *campaign, kit plan.Kit, sys plan.System, z c100kSizes, servers []results.ServerSpec) map[string][2]int {
	type cellPlan struct {
		spec results.ServerSpec
		n    int
	}
	var cells []cellPlan
	for _, s := range servers {
		ns := z.counts
		if s.Model == plan.DefaultModel && z.refCount > 0 && !slices.Contains(ns, z.refCount) {
			ns = append([]int{z.refCount}, ns...)
		}
		if s.Model == "uring" {
			// Its target is one count; one run keeps make c100k short.
			ns = []int{report.UringC100KCount(ns)}
		}
		for _, n := range ns {
			cells = append(cells, cellPlan{s, n})
		}
	}
	fmt.Fprintf(c.stderr, "experiment: c100k: %d runs, counts %v, hold %s; writing %s\n", len(cells), z.counts, z.hold, c.dir)
	procs := map[string][2]int{}
	for i, p := range cells {
		sp, cp := plan.ProcsFor(p.n, sys)
		s := p.spec
		s.Args = append([]string{}, s.Args...)
		if sp > 1 {
			s.Args = append(s.Args, "-P", strconv.Itoa(sp))
		}
		args := []string{"-hold", z.hold.String(), "-quiet"}
		if cp > 1 {
			args = append([]string{"-procs", strconv.Itoa(cp)}, args...)
		}
		procs[fmt.Sprintf("%s|%d", s.Key, p.n)] = [2]int{sp, cp}
		rs := runSpec{spec: s, workload: "hold", n: p.n, rep: 1, clientArgs: args, probe: true,
			byThreads: kit.Facts(p.spec).PerConnection != "",
			timeout:   time.Duration((60 + float64(p.n)/1000 + z.hold.Seconds()) * float64(time.Second))}
		if c.run(rs, c.progress(fmt.Sprintf("c100k %d/%d", i+1, len(cells)), rs)) == nil {
			break
		}
	}
	return procs
}
