package runner

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"tenkthreads/internal/runner/results"
)

// interleave orders runs in rounds, one repetition of every cell each,
// in a random order within each round that seed fixes and meta.json
// records: a burst of interference then falls on one repetition of
// several cells rather than on every repetition of one, and no server
// always runs first or last (as Google Benchmark's random interleaving).
// The rounds keep the order of their repetitions.
func interleave(runs []runSpec, seed uint64) []runSpec {
	byRep := map[int][]runSpec{}
	var reps []int
	for _, rs := range runs {
		if _, ok := byRep[rs.rep]; !ok {
			reps = append(reps, rs.rep)
		}
		byRep[rs.rep] = append(byRep[rs.rep], rs)
	}
	slices.Sort(reps)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]runSpec, 0, len(runs))
	for _, rep := range reps {
		round := byRep[rep]
		rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		out = append(out, round...)
	}
	return out
}

// interfered says why run r must be made again: other processes took
// more than results.InterferenceLimit of the machine's CPU while it ran. "" when
// it stands.
func (c *campaign) interfered(r *results.Run) string {
	if !c.plan.Retry || r.Status != results.StatusOK || c.retries >= maxRetries(len(c.plan.Runs)) {
		return ""
	}
	if err := results.DeriveRun(c.dir, c.meta, r); err != nil || !r.M.OtherShare.Set {
		return ""
	}
	if share := r.M.OtherShare.V; share > results.InterferenceLimit {
		c.retries++
		return fmt.Sprintf("other processes took %.0f%% of the machine's CPU while it ran (more than %.0f%%); made again", share, results.InterferenceLimit)
	}
	return ""
}

// maxRetries bounds the runs made again to a tenth of the plan's, so that
// on a machine that stays busy the campaign takes a tenth longer, not
// twice as long; past it, runs are only marked by their share of other
// processes' CPU, which the report counts.
func maxRetries(planned int) int { return max(1, planned/10) }
