package testkit

import (
	"testing"
	"time"
)

// Until calls cond every interval until it holds, and reports whether it
// did before bound passed. cond runs at least once, and once after the
// deadline, so a condition met just in time is not missed. Closing,
// reaping and exiting are asynchronous: tests await end states with this
// instead of sleeping a guessed time.
func Until(bound, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(bound)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(every)
	}
}

// Eventually polls cond every 100 ms until it holds, and fails the test
// after bound with what was awaited and cond's last word on why not.
func Eventually(t testing.TB, bound time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var detail string
	if !Until(bound, 100*time.Millisecond, func() bool {
		ok, d := cond()
		detail = d
		return ok
	}) {
		t.Fatalf("%s: not within %v (%s)", what, bound, detail)
	}
}
