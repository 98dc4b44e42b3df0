package report

import (
	"fmt"
	"strings"

	"tenkthreads/internal/runner/results"
)

// SoakSchema names the layout of soak.json (cmd/experiment/SCHEMAS.md).
const SoakSchema = "10kthreads-soak/1"

// The soak's verdicts: the server ended as small as it started, it grew,
// or the run could not tell.
const (
	SoakOK          = "ok"
	SoakGrowth      = "GROWTH"
	SoakNotMeasured = "not measured"
)

// SoakSettings is what a soak was asked for: the model, and SOAK_CONNS,
// SOAK_TOTAL, SOAK_LIMIT (seconds), SOAK_RSS_KIB and SOAK_RSS_PCT.
type SoakSettings struct {
	Model  string `json:"model"`
	Conns  int    `json:"conns"`
	Total  int    `json:"total"`
	LimitS int    `json:"limit_s"`
	RSSKiB int    `json:"rss_tolerance_kib"`
	RSSPct int    `json:"rss_tolerance_pct"`
}

// SoakSizeGrowth is how much an idle server grew over the churn.
type SoakSizeGrowth struct {
	RSSKiB  int64 `json:"vmrss_kib"`
	FDs     int64 `json:"fds"`
	Threads int64 `json:"threads"`
}

// SoakReport is soak.json.
type SoakReport struct {
	Header
	Settings SoakSettings `json:"settings"`
	Server   string       `json:"server"`
	Label    string       `json:"label"`
	// Status and Detail are the run's (results.Run).
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Connections is how many the server accepted during the churn, in
	// ChurnS seconds; Start and End are the idle server before and after.
	Connections int64   `json:"connections"`
	ChurnS      float64 `json:"churn_s"`
	// Warmups short churns of WarmupConns connections in all came
	// before Start, until the idle server's size held still.
	Warmups     int            `json:"warmups,omitempty"`
	WarmupConns int64          `json:"warmup_connections,omitempty"`
	Start       results.Idle   `json:"start"`
	End         results.Idle   `json:"end"`
	Growth      SoakSizeGrowth `json:"growth"`
	// ToleratedRSSKiB is the resident growth tolerated: the larger of
	// SOAK_RSS_KIB and SOAK_RSS_PCT of the start; descriptors and threads
	// may not grow at all.
	ToleratedRSSKiB int64       `json:"tolerated_rss_kib"`
	Verdict         string      `json:"verdict"`
	Notes           []string    `json:"notes"`
	Environment     [][2]string `json:"environment"`
}

// BuildSoak judges the soak's run: the growth of its idle server, as
// numbers, against the tolerance. A run that did not finish, or never saw
// its server idle, is not measured.
func BuildSoak(res *results.Results, z SoakSettings) SoakReport {
	m := res.Meta
	rep := SoakReport{Header: header(SoakSchema, m), Settings: z, Verdict: SoakNotMeasured, Notes: m.Notes, Environment: m.Env}
	if len(res.Runs) == 0 {
		rep.Detail = "nothing ran"
		return rep
	}
	r := res.Runs[0]
	rep.Server, rep.Label, rep.Status, rep.Detail = r.Server, r.Label, r.Status, r.Detail
	s := r.Soak
	if r.Status != results.StatusOK || s == nil {
		if rep.Detail == "" {
			rep.Detail = "the server was not read idle"
		}
		rep.Detail = fmt.Sprintf("the run did not finish (%s: %s)", r.Status, rep.Detail)
		return rep
	}
	rep.Connections, rep.ChurnS, rep.Start, rep.End = s.Connections, s.ChurnS, s.Start, s.End
	rep.Warmups, rep.WarmupConns = s.Warmups, s.WarmupConns
	rep.Growth = SoakSizeGrowth{RSSKiB: s.End.RSSKiB - s.Start.RSSKiB, FDs: s.End.FDs - s.Start.FDs, Threads: s.End.Threads - s.Start.Threads}
	rep.ToleratedRSSKiB = max(s.Start.RSSKiB*int64(z.RSSPct)/100, int64(z.RSSKiB))
	rep.Verdict = SoakOK
	if g := rep.Growth; g.RSSKiB > rep.ToleratedRSSKiB || g.FDs > 0 || g.Threads > 0 {
		rep.Verdict = SoakGrowth
	}
	return rep
}

// SoakGrowthText says what grew, for the negative verdict.
func SoakGrowthText(rep SoakReport) string {
	g := rep.Growth
	return fmt.Sprintf("VmRSS %+d KiB (tolerated +%d), open fds %+d, threads %+d", g.RSSKiB, rep.ToleratedRSSKiB, g.FDs, g.Threads)
}

// SoakText is the terminal (and soak.txt) table.
func SoakText(rep SoakReport) string {
	var b strings.Builder
	z := rep.Settings
	if rep.Verdict == SoakNotMeasured {
		fmt.Fprintf(&b, "soak: 10kthreads model %s, %d connections at a time: %s\nverdict: %s\n", z.Model, z.Conns, rep.Detail, rep.Verdict)
		return b.String()
	}
	fmt.Fprintf(&b, "soak: 10kthreads model %s, %d connections at a time, %d connections in %.1f s (%.0f/s)\n",
		z.Model, z.Conns, rep.Connections, rep.ChurnS, float64(rep.Connections)/rep.ChurnS)
	fmt.Fprintf(&b, "start: read idle after %d warm-up churn(s) of %d connections in all, once its size held still\n", rep.Warmups, rep.WarmupConns)
	fmt.Fprintf(&b, "%-16s %10s %10s %10s\n", "", "start", "end", "growth")
	for _, row := range []struct {
		label string
		a, b  int64
	}{{"VmRSS (KiB)", rep.Start.RSSKiB, rep.End.RSSKiB}, {"open fds", rep.Start.FDs, rep.End.FDs}, {"threads", rep.Start.Threads, rep.End.Threads}} {
		fmt.Fprintf(&b, "%-16s %10d %10d %+10d\n", row.label, row.a, row.b, row.b-row.a)
	}
	fmt.Fprintf(&b, "verdict: %s (tolerated: VmRSS +%d KiB, fds +0, threads +0)\n", rep.Verdict, rep.ToleratedRSSKiB)
	if rep.Connections < int64(z.Total) {
		fmt.Fprintf(&b, "soak: note: the %d s limit ended the churn at %d of %d connections\n", z.LimitS, rep.Connections, z.Total)
	}
	return b.String()
}
