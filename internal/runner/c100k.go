package runner

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/proc"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// c100k holds 25,000 to 100,000 connections with several server and
// client processes (make c100k).
type c100k struct{}

func (c100k) Info() plan.ModeFlag {
	return plan.ModeFlag{Name: "c100k", Usage: "-c100k [-tune] [-quick]",
		Help: "25,000 to 200,000 connections with several server and client processes (make c100k)"}
}

// c100kSizes is what the run holds: the counts, the larger counts it
// holds only where the machine allows (else they are skipped, with why),
// the thread model's reference count for memory per connection (0: none)
// and the hold.
type c100kSizes struct {
	counts, stretch []int
	refCount        int
	hold            time.Duration
}

func sizesC100K(o plan.Options) c100kSizes {
	z := c100kSizes{counts: []int{25000, 50000, 100000}, stretch: []int{200000}, refCount: 10000, hold: 2 * time.Second}
	if o.Quick {
		z = c100kSizes{counts: []int{10000, 25000}, refCount: 5000, hold: time.Second}
	}
	if o.Counts.Given {
		z.counts, z.stretch, z.refCount = o.Counts.V, nil, 0
	}
	if o.Hold.Given {
		z.hold = o.Hold.V
	}
	return z
}

func (c100k) Run(o plan.Options, env Env, stdout, stderr io.Writer) int {
	kit, err := plan.LoadKit(o.Bin)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	sys := plan.ReadSystem()
	z := sizesC100K(o)
	servers := kit.Compared()
	if env.Servers != nil {
		servers = env.Servers
	}
	chk, code := c100kPreconditions(o, sys, z, servers, stderr)
	if code >= 0 {
		return code
	}
	c, err := newCampaign(o, env, "c100k", kit, sys, nil, defaultText, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer c.close()
	tu := &proc.Tuning{Root: env.sysctlRoot()}
	// Restores on every way out of this function: normal end, error
	// returns, an interrupt (the loop stops, then returns) and a panic.
	defer restore(c, tu)
	if err := tune(c, tu, chk.short); err != nil {
		return fail(stderr, "-tune: %v (nothing was run)", err)
	}
	for _, n := range chk.notes {
		c.note("%s", n)
	}
	tuned := append([]proc.SysctlChange{}, tu.Saved...)
	run := z
	run.counts = chk.counts
	c.meta.Reps, c.meta.Counts = 1, run.counts
	procs := runC100K(c, kit, sys, run, servers)
	res, err := c.finish()
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if err := report.Write(res); err != nil {
		return fail(stderr, "%v", err)
	}
	// The targets judge the largest count every run holds and each
	// larger one, run or skipped.
	judged := append([]int{z.counts[len(z.counts)-1]}, z.stretch...)
	rep := report.BuildC100K(res, chk.pre, tuned, chk.skipped, procs, z.refCount, judged)
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

// c100kChecks is what the preconditions decided: the counts to run, the
// checks for the largest of them (and the ones -tune must fix), the
// larger counts skipped and why, and notes for the report.
type c100kChecks struct {
	counts     []int
	pre, short []plan.Precond
	skipped    []report.C100KSkipped
	notes      []string
}

// c100kPreconditions checks every limit for the counts; code is the exit
// status when the run cannot go ahead, else -1. The counts every run
// holds must fit (or -tune must make them fit); a larger count that does
// not is skipped with the reason.
func c100kPreconditions(o plan.Options, sys plan.System, z c100kSizes, servers []results.ServerSpec, stderr io.Writer) (chk c100kChecks, code int) {
	checks := func(n int) []plan.Precond {
		srvP, cliP := plan.ProcsFor(n, sys)
		return plan.C100KPreconds(sys, n, srvP, cliP)
	}
	chk.counts = z.counts
	maxN := z.counts[len(z.counts)-1]
	chk.pre = checks(maxN)
	for _, n := range z.stretch {
		pre := checks(n)
		if why := stretchShort(o, pre); why != "" {
			fmt.Fprintf(stderr, "experiment: c100k: %s connections are not run: %s\n", results.Thousands(n), why)
			for _, s := range servers {
				chk.skipped = append(chk.skipped, report.C100KSkipped{Server: s.Label, Conns: n, Why: why})
			}
			continue
		}
		chk.counts, chk.pre, maxN = append(slices.Clone(chk.counts), n), pre, n
	}
	fmt.Fprint(stderr, "experiment: c100k preconditions for ", results.Thousands(maxN), " connections:\n", report.PrecondTable(chk.pre))
	for _, p := range chk.pre {
		switch {
		case p.OK:
		case p.Optional && !o.Tune:
			chk.notes = append(chk.notes, fmt.Sprintf("%s is %s (%s); TUNE=1 raises it for the run", p.Item, p.Have, p.Need))
		default:
			chk.short = append(chk.short, p)
		}
	}
	return chk, c100kShortfalls(o, chk.short, stderr)
}

// stretchShort is why a larger count cannot run here ("" if it can): a
// limit no sysctl raises, or ones that need -tune (or root) to.
func stretchShort(o plan.Options, pre []plan.Precond) string {
	var tunable []string
	for _, p := range pre {
		switch {
		case p.OK || p.Optional:
		case p.Sysctl == "":
			return fmt.Sprintf("%s: have %s, need %s", p.Item, p.Have, p.Need)
		default:
			tunable = append(tunable, fmt.Sprintf("%s is %s, it needs %s", p.Item, p.Have, p.Need))
		}
	}
	switch {
	case len(tunable) == 0:
		return ""
	case !o.Tune:
		return strings.Join(tunable, "; ") + ": rerun with TUNE=1 (as root) to raise it for the run"
	case !proc.IsRoot():
		return strings.Join(tunable, "; ") + ": -tune needs root"
	}
	return ""
}

// c100kShortfalls prints why the run cannot go ahead and returns its exit
// status, or -1 when -tune can fix every shortfall (or there is none).
func c100kShortfalls(o plan.Options, short []plan.Precond, stderr io.Writer) int {
	for _, p := range short {
		if p.Sysctl == "" {
			return fail(stderr, "precondition failed, nothing was run: %s: have %s, need %s: %s", p.Item, p.Have, p.Need, p.Fix)
		}
	}
	if len(short) > 0 && !o.Tune {
		fmt.Fprintf(stderr, "experiment: precondition failed, nothing was run. Run as root:\n")
		for _, p := range short {
			fmt.Fprintf(stderr, "  %s\n", p.Fix)
		}
		fmt.Fprintf(stderr, "or rerun with -tune as root (the runner sets them and restores the old values afterwards)\n")
		return 1
	}
	if len(short) > 0 && !proc.IsRoot() {
		var f []string
		for _, p := range short {
			f = append(f, "`"+p.Fix+"`")
		}
		return fail(stderr, "-tune needs root to write /proc/sys; run as root, or run by hand: %s", strings.Join(f, "; "))
	}
	return -1
}

// tune raises the sysctls that fall short and keeps a script that puts
// them back, in case the runner is killed before it can.
func tune(c *campaign, tu *proc.Tuning, short []plan.Precond) error {
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
func restore(c *campaign, tu *proc.Tuning) {
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
		rs := runSpec{spec: p.spec, workload: "hold", n: p.n, rep: 1, clientArgs: []string{"-hold", z.hold.String(), "-quiet"},
			srvProcs: sp, cliProcs: cp, probe: true, byThreads: kit.Facts(p.spec).PerConnection != "",
			timeout: time.Duration((60 + float64(p.n)/1000 + z.hold.Seconds()) * float64(time.Second))}
		sized := c.sized(rs)
		procs[fmt.Sprintf("%s|%d", p.spec.Key, p.n)] = [2]int{sized.srvProcs, sized.cliProcs}
		if c.run(rs, c.progress(fmt.Sprintf("c100k %d/%d", i+1, len(cells)), rs)) == nil {
			break
		}
	}
	return procs
}
