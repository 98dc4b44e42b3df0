package runner

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// c100k holds 25,000 to 100,000 connections with several server and
// client processes (make c100k).
type c100k struct{ noCheck }

func (c100k) Info() plan.ModeFlag {
	return plan.ModeFlag{Name: "c100k", Usage: "-c100k [-tune] [-quick]",
		Help:  "25,000 to 200,000 connections with several server and client processes (make c100k)",
		Flags: []string{"quick", "tune", "counts", "hold"}}
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
	z.hold = o.Hold.Or(z.hold)
	return z
}

// Plan holds each server at each count, spread over as many server and
// client processes as the fd limit needs; the checks are every limit of
// the largest count.
func (c100k) Plan(s Setup) (*Plan, error) {
	z := sizesC100K(s.O)
	servers := s.Kit.Compared()
	if s.Env.Servers != nil {
		servers = s.Env.Servers
	}
	counts, pre, skipped := c100kCounts(s.O, s.Sys, z, servers)
	var notes []string
	for _, k := range skipped {
		if n := fmt.Sprintf("c100k: %s connections are not run: %s", results.Thousands(k.Conns), k.Why); !slices.Contains(notes, n) {
			notes = append(notes, n)
		}
	}
	// The targets judge the largest count every run holds and each
	// larger one, run or skipped.
	in := report.C100KInput{Skipped: skipped, RefCount: z.refCount, Judged: append([]int{z.counts[len(z.counts)-1]}, z.stretch...)}
	run := z
	run.counts = counts
	runs := c100kRuns(s.Sys, run, servers, s.O.StopTimeout)
	return &Plan{Kind: "c100k", Checks: Checks{Conns: counts[len(counts)-1], Rows: pre}, Notes: notes,
		Intro: fmt.Sprintf("c100k: %d runs, counts %v, hold %s", len(runs), z.counts, z.hold),
		Runs:  runs, Reps: 1, Counts: counts,
		Report: func(r Ran) (Summary, error) { return c100kReport(r, in) }}, nil
}

// c100kCounts is the counts to run and the checks for the largest of
// them: the counts every run holds must fit (or -tune must make them
// fit); a larger count that does not is skipped, with why, for each
// server.
func c100kCounts(o plan.Options, sys plan.System, z c100kSizes, servers []results.ServerSpec) (counts []int, pre []results.Precond, skipped []report.C100KSkipped) {
	checks := func(n int) []results.Precond {
		srvP, cliP := plan.ProcsFor(n, sys)
		return plan.C100KPreconds(sys, n, srvP, cliP)
	}
	counts = z.counts
	pre = checks(counts[len(counts)-1])
	for _, n := range z.stretch {
		p := checks(n)
		if why := stretchShort(o, p); why != "" {
			for _, s := range servers {
				skipped = append(skipped, report.C100KSkipped{Server: s.Label, Conns: n, Why: why})
			}
			continue
		}
		counts, pre = append(slices.Clone(counts), n), p
	}
	return counts, pre, skipped
}

// stretchShort is why a larger count cannot run here ("" if it can): a
// limit no sysctl raises, or ones that need -tune (or root) to.
func stretchShort(o plan.Options, pre []results.Precond) string {
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
	case !isRoot():
		return strings.Join(tunable, "; ") + ": -tune needs root"
	}
	return ""
}

// c100kRuns is each server at each count (the thread model also at the
// reference count; the io_uring model at one count), with the server and
// client processes the fd limit needs, each with a machine record: it
// holds the client's memory per connection.
func c100kRuns(sys plan.System, z c100kSizes, servers []results.ServerSpec, stop time.Duration) []runSpec {
	var runs []runSpec
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
			sp, cp := plan.ProcsFor(n, sys)
			// The client lingers after its round trips until the hold
			// report and the machine record are taken, at any count.
			runs = append(runs, runSpec{spec: s, workload: "hold", n: n, rep: 1, clientArgs: []string{"-hold", z.hold.String(), "-quiet"},
				srvProcs: sp, cliProcs: cp, probe: true, machine: true, linger: true, time: runTime{hold: z.hold, linger: lingerTime(stop)}})
		}
	}
	return runs
}

// c100kReport writes c100k.json and c100k.txt; the table and the targets
// go on top of report.md.
func c100kReport(r Ran, in report.C100KInput) (Summary, error) {
	rep := report.BuildC100K(r.Res, in)
	rep.WallS = time.Since(r.Started).Seconds()
	rep.Targets = append(rep.Targets, report.WallTarget(rep.WallS))
	return saveC100K(r.Res.Dir, rep)
}

// saveC100K writes c100k.json and c100k.txt; the summary has the table
// and the targets on top of report.md.
func saveC100K(dir string, rep report.C100KReport) (Summary, error) {
	text := report.C100KText(rep)
	return Summary{Text: text, Markdown: true, Head: "# make c100k\n\n```\n" + text + "```\n\n"}, saveText(dir, "c100k", rep, text)
}

// SummaryFile marks a c100k directory for -report.
func (c100k) SummaryFile() string { return "c100k.json" }

// Rebuild writes c100k.json, c100k.txt and the report of a c100k
// directory again, from c100k.json and the raw data.
func (c100k) Rebuild(res *results.Results, _ plan.Options) (Summary, error) {
	return rebuildFrom(res, "c100k", saveC100K)
}
