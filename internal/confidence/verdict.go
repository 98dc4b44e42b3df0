package confidence

import (
	"fmt"
	"math"
)

// Direction says which way a figure improves.
type Direction int

// A figure either costs (CPU per round trip, memory) or delivers (rates).
const (
	LowerIsBetter Direction = iota + 1
	HigherIsBetter
)

// Verdict is how B compares with A on one figure.
type Verdict string

// The three verdicts, after Holm's correction over the family.
const (
	Better       Verdict = "better"
	Worse        Verdict = "worse"
	NoDifference Verdict = "no difference"
)

// Figure is one figure measured for A (the baseline) and B.
type Figure struct {
	Name   string
	A, B   []float64
	Better Direction
	// Paired says that A[i] and B[i] come from the same round; it changes
	// the ratio's interval only. The test still compares two samples: the
	// positive correlation a shared round gives makes it conservative (it
	// can hide a difference, not invent one).
	Paired bool
}

// Comparison is B against A on one figure. Verdict is B's: "better" means B
// is better than A.
type Comparison struct {
	Name string   `json:"name"`
	A    Estimate `json:"a"`
	B    Estimate `json:"b"`
	// Ratio is median(B)/median(A); nil when it is undefined (a value ≤ 0),
	// with the reason in Note.
	Ratio     *Estimate `json:"ratio"`
	Test      MWU       `json:"test"`
	PAdjusted float64   `json:"p_holm"`
	Verdict   Verdict   `json:"verdict"`
	Note      string    `json:"note,omitempty"`
}

// Compare compares one figure on its own (a family of one).
func Compare(f Figure, o Options) (Comparison, error) {
	cs, err := CompareFamily([]Figure{f}, o)
	if err != nil {
		return Comparison{}, err
	}
	return cs[0], nil
}

// CompareFamily compares every figure of a family. A report that states
// five comparisons has five chances of a false "difference"; Holm's
// correction keeps the chance of any false one at most 1 − Level. The
// verdict comes from the test alone; the intervals are for the reader, and
// at the margin a ratio's interval can touch 1 while the test still finds
// a difference, or the reverse.
func CompareFamily(fs []Figure, o Options) ([]Comparison, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	out := make([]Comparison, len(fs))
	ps := make([]float64, len(fs))
	minP := 1.0
	for i, f := range fs {
		if out[i], err = compareOne(f, o); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		ps[i] = out[i].Test.P
		minP = math.Min(minP, MinP(len(f.A), len(f.B)))
	}
	adj, err := Holm(ps)
	if err != nil {
		return nil, err
	}
	alpha := 1 - o.Level
	for i, f := range fs {
		c := &out[i]
		c.PAdjusted = adj[i]
		c.Verdict = verdict(f, c.Test, adj[i] < alpha)
		// Holm multiplies the smallest p by the family's size.
		if floor := float64(len(fs)) * minP; c.Verdict == NoDifference && floor >= alpha {
			c.Note = join(c.Note, fmt.Sprintf("%d and %d runs cannot show a difference at %s in a family of %d (smallest possible adjusted p %.2g)",
				len(f.A), len(f.B), pct(o.Level), len(fs), math.Min(1, floor)))
		}
	}
	return out, nil
}

func compareOne(f Figure, o Options) (Comparison, error) {
	if f.Better != LowerIsBetter && f.Better != HigherIsBetter {
		return Comparison{}, fmt.Errorf("no direction: say whether lower or higher is better")
	}
	c := Comparison{Name: f.Name}
	var err error
	if c.A, err = Median(f.A, o); err != nil {
		return c, fmt.Errorf("runs of A: %w", err)
	}
	if c.B, err = Median(f.B, o); err != nil {
		return c, fmt.Errorf("runs of B: %w", err)
	}
	if c.Test, err = MannWhitney(f.A, f.B); err != nil {
		return c, err
	}
	ratio := RatioUnpaired
	if f.Paired {
		ratio = RatioPaired
	}
	r, rerr := ratio(f.A, f.B, o)
	if rerr != nil {
		if f.Paired && len(f.A) != len(f.B) {
			return c, rerr
		}
		c.Note = rerr.Error()
	} else {
		c.Ratio = &r
	}
	return c, nil
}

// verdict turns a significant test into better or worse: U counts the
// pairs where A's value is larger, so U above half the pairs means B tends
// to be lower.
func verdict(f Figure, t MWU, significant bool) Verdict {
	if !significant {
		return NoDifference
	}
	bLower := t.U > float64(len(f.A)*len(f.B))/2
	if bLower == (f.Better == LowerIsBetter) {
		return Better
	}
	return Worse
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// Bound is the side of a target's limit that meets it.
type Bound string

// A target is an upper or a lower limit, inclusive.
const (
	AtMost  Bound = "at most"
	AtLeast Bound = "at least"
)

// Target is a limit a figure should meet, e.g. "thread CPU per round trip
// at most 2× epoll's" is Target{AtMost, 2} checked against that ratio.
type Target struct {
	Bound Bound   `json:"bound"`
	Limit float64 `json:"limit"`
}

// TargetVerdict says whether the runs show a target met.
type TargetVerdict string

// Met and NotMet need the whole interval on one side of the limit.
const (
	Met          TargetVerdict = "met"
	NotMet       TargetVerdict = "not met"
	Inconclusive TargetVerdict = "inconclusive"
)

// TargetCheck is a target's verdict and the sentence that explains it.
type TargetCheck struct {
	Verdict TargetVerdict `json:"verdict"`
	Reason  string        `json:"reason"`
}

// Check judges e against the target by its whole interval: met when every
// value in the interval meets the limit, not met when none does, and
// inconclusive when the interval straddles the limit or there is none.
func (t Target) Check(e Estimate) (TargetCheck, error) {
	if t.Bound != AtMost && t.Bound != AtLeast {
		return TargetCheck{}, fmt.Errorf("target bound %q is neither %q nor %q", t.Bound, AtMost, AtLeast)
	}
	if math.IsNaN(t.Limit) || math.IsInf(t.Limit, 0) {
		return TargetCheck{}, fmt.Errorf("target limit %v is not a number", t.Limit)
	}
	goal := fmt.Sprintf("%s %s", t.Bound, strconvG(t.Limit))
	if e.CI == nil {
		return TargetCheck{Inconclusive, fmt.Sprintf("target %s: no interval (%s)", goal, e.Reason)}, nil
	}
	iv := Format(e, "")
	lo, hi := e.CI.Lo, e.CI.Hi
	meets := func(x float64) bool {
		if t.Bound == AtMost {
			return x <= t.Limit
		}
		return x >= t.Limit
	}
	switch {
	case meets(lo) && meets(hi):
		return TargetCheck{Met, fmt.Sprintf("the whole %s interval of %s is %s", pct(e.Level), iv, goal)}, nil
	case !meets(lo) && !meets(hi):
		return TargetCheck{NotMet, fmt.Sprintf("no value in the %s interval of %s is %s", pct(e.Level), iv, goal)}, nil
	}
	return TargetCheck{Inconclusive, fmt.Sprintf("the %s interval of %s straddles the target, %s", pct(e.Level), iv, goal)}, nil
}

func strconvG(x float64) string { return fmt.Sprintf("%g", x) }
