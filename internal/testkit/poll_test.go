package testkit

import (
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	calls := 0
	if !Until(time.Minute, time.Millisecond, func() bool { calls++; return calls == 3 }) {
		t.Fatal("Until gave up on a condition that came true")
	}
	if calls != 3 {
		t.Errorf("cond called %d times, want 3 (it stops once it holds)", calls)
	}
	calls = 0
	if Until(0, time.Millisecond, func() bool { calls++; return false }) {
		t.Fatal("Until reported a condition that never held")
	}
	if calls < 1 {
		t.Errorf("cond called %d times with no time left, want at least once", calls)
	}
}

func TestEventually(t *testing.T) {
	calls := 0
	f := observe(func(tb testing.TB) {
		Eventually(tb, time.Minute, "third call", func() (bool, string) { calls++; return calls == 3, "not yet" })
	})
	f.wantPass(t)
	f = observe(func(tb testing.TB) {
		Eventually(tb, 50*time.Millisecond, "the impossible", func() (bool, string) { return false, "still false" })
	})
	f.wantFail(t, true, "the impossible: not within 50ms (still false)")
}
