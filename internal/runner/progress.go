package runner

import (
	"fmt"
	"strconv"
	"time"
)

// progress counts a campaign's runs for its progress line, from the
// plan: how many there are, how many repetitions each cell has, and what
// the ETA expects of them (runTime.expected).
type progress struct {
	k, total    int
	reps        map[string]int
	budget      time.Duration
	left, spent time.Duration // expected time of the runs to come, and of those done
}

func newProgress(p *Plan) progress {
	pr := progress{total: len(p.Runs), reps: map[string]int{}, budget: p.Budget}
	for _, rs := range p.Runs {
		pr.left += rs.time.expected(rs.n)
		pr.reps[cellOf(rs)] = max(pr.reps[cellOf(rs)], rs.rep)
	}
	return pr
}

func cellOf(rs runSpec) string { return fmt.Sprintf("%s|%s|%d", rs.spec.Key, rs.workload, rs.n) }

// line is the progress line of the next run, rs: "[KIND k/N] server
// workload conns rep r/R elapsed ETA".
func (p *progress) line(kind string, rs runSpec, elapsed time.Duration) string {
	p.k++
	tag := kind
	if tag == "" {
		tag = "run"
	}
	if rs.phase != "" {
		tag += " " + rs.phase
	}
	count, rep := strconv.Itoa(p.k), strconv.Itoa(rs.rep)
	if p.total > 0 {
		count += "/" + strconv.Itoa(p.total)
		rep += "/" + strconv.Itoa(p.reps[cellOf(rs)])
	}
	return fmt.Sprintf("[%s %s] %-30s %-9s %6d conns  rep %s  elapsed %s%s", tag, count, rs.spec.Label, rs.workload, rs.n, rep, fmtDuration(elapsed), p.eta(elapsed))
}

// done accounts for a finished run.
func (p *progress) done(rs runSpec) {
	if p.total > 0 {
		e := rs.time.expected(rs.n)
		p.left, p.spent = p.left-e, p.spent+e
	}
}

// eta is the end of the progress line: the time the runs to come should
// take, from the expected times of the plan's runs scaled by how the runs
// so far compared with theirs; for a generated plan, what is left of its
// budget.
func (p *progress) eta(elapsed time.Duration) string {
	switch {
	case p.total == 0 && p.budget > 0:
		return "  budget left " + fmtDuration(max(0, p.budget-elapsed))
	case p.total == 0:
		return ""
	case p.spent == 0:
		return "  ETA ~" + fmtDuration(p.left)
	}
	return "  ETA " + fmtDuration(time.Duration(float64(elapsed)/float64(p.spent)*float64(p.left)))
}
