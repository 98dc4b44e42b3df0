package runner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/proc"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// soak opens and closes about a million connections, a few thousand at a
// time, and checks that the server ends as small as it started: resident
// memory, open descriptors and threads, measured while it is idle before
// and after (make soak). A benchmark, not a CI test.
type soak struct{}

func (soak) Info() plan.ModeFlag {
	return plan.ModeFlag{Name: "soak", Usage: "-soak [MODEL]",
		Help: "churn about a million connections through one model (default thread); its memory, descriptors and threads must not grow (make soak; SOAK_CONNS, SOAK_TOTAL, SOAK_LIMIT, SOAK_RSS_KIB, SOAK_RSS_PCT)"}
}

// Check rejects -quick and bad SOAK_* values before anything runs; the
// model is checked against the server's list when the kit is loaded.
func (soak) Check(o plan.Options, env Env) error {
	if o.Quick {
		return plan.UsageError{Msg: "-quick (QUICK=1) does not apply to -soak; size it with SOAK_CONNS and SOAK_TOTAL"}
	}
	_, err := soakSettings(o, env)
	return err
}

// soakSettings is the soak's sizes: the model from the command line, the
// rest from its environment variables.
func soakSettings(o plan.Options, env Env) (report.SoakSettings, error) {
	z := report.SoakSettings{Model: plan.DefaultModel}
	if len(o.Args) > 0 {
		z.Model = o.Args[0]
	}
	for _, v := range []struct {
		name     string
		dst      *int
		def, min int
	}{
		{"SOAK_CONNS", &z.Conns, 2000, 1}, {"SOAK_TOTAL", &z.Total, 1000000, 1}, {"SOAK_LIMIT", &z.LimitS, 300, 1},
		{"SOAK_RSS_KIB", &z.RSSKiB, 1024, 0}, {"SOAK_RSS_PCT", &z.RSSPct, 5, 0},
	} {
		*v.dst = v.def
		s := env.getenv(v.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < v.min {
			return z, plan.UsageError{Msg: fmt.Sprintf("%s=%s: want a whole number of at least %d", v.name, s, v.min)}
		}
		*v.dst = n
	}
	return z, nil
}

// Plan is one run: the model's server, a warm-up, the churn of
// SOAK_TOTAL connections SOAK_CONNS at a time within SOAK_LIMIT seconds,
// and the server read idle before and after it.
func (soak) Plan(s Setup) (*Plan, error) {
	z, err := soakSettings(s.O, s.Env)
	if err != nil {
		return nil, err
	}
	if names := s.Kit.Models.Names(); !slices.Contains(names, z.Model) {
		return nil, plan.UsageError{Msg: fmt.Sprintf("bin/10kthreads has no model %q (it has %s)", z.Model, strings.Join(names, ", "))}
	}
	spec := s.Kit.Spec(z.Model)
	limit := time.Duration(z.LimitS) * time.Second
	rounds := (z.Total + z.Conns - 1) / z.Conns
	warmup := []string{"-reconnect", "-quiet", "-rounds", "5"}
	rows, notes := plan.CheckSystem(s.Sys, z.Conns, plan.Threaded(s.Kit.Facts(spec)))
	rs := runSpec{spec: spec, workload: "soak", n: z.Conns, rep: 1, time: runTime{duration: limit},
		clientArgs: []string{"-reconnect", "-quiet", "-rounds", strconv.Itoa(rounds), "-duration", limit.String()},
		exec: func(spec results.ServerSpec, workload string, n, rep int, p proc.Params) results.Run {
			return proc.Soak(spec, workload, n, rep, p, warmup)
		}}
	return &Plan{Kind: "soak", Checks: Checks{Conns: z.Conns, Rows: rows}, Notes: notes,
		Intro: fmt.Sprintf("soak: model %s, %d connections at a time, %d in all within %s", z.Model, z.Conns, z.Total, limit),
		Runs:  []runSpec{rs}, Reps: 1, Counts: []int{z.Conns},
		Report: func(r Ran) (Summary, error) { return soakReport(r.Res, z) }}, nil
}

// soakReport writes soak.json and soak.txt; the table goes on top of
// report.md, and growth beyond the tolerance is a negative verdict.
func soakReport(res *results.Results, z report.SoakSettings) (Summary, error) {
	rep := report.BuildSoak(res, z)
	text := report.SoakText(rep)
	if err := saveText(res.Dir, "soak", rep, text); err != nil {
		return Summary{}, err
	}
	sum := Summary{Text: text, Brief: true, Head: "# make soak\n\n```\n" + text + "```\n\n"}
	switch {
	case rep.Verdict == report.SoakGrowth:
		sum.Verdict = negative("soak: the server grew: %s", report.SoakGrowthText(rep))
	case rep.Verdict != report.SoakOK:
		sum.Verdict = negative("soak: %s", rep.Detail)
	}
	return sum, nil
}

// SummaryFile marks a soak directory for -report.
func (soak) SummaryFile() string { return "soak.json" }

// Rebuild writes soak.json, soak.txt and the report of a soak directory
// again, from the settings in soak.json and the run's record.
func (soak) Rebuild(res *results.Results, _ plan.Options) (Summary, error) {
	return rebuildFrom(res, "soak", func(_ string, old report.SoakReport) (Summary, error) {
		sum, err := soakReport(res, old.Settings)
		sum.Verdict = nil
		return sum, err
	})
}
