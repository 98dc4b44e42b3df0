package testkit

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fakeTB records what a helper reports instead of failing the real test,
// so the helpers' own failures can be checked. Fatal stops the helper's
// goroutine as testing does; anything else a helper might call panics.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	failed   bool
	fatal    bool
	msgs     []string
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) record(failed bool, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = f.failed || failed
	f.msgs = append(f.msgs, msg)
}

func (f *fakeTB) Errorf(format string, args ...any) { f.record(true, fmt.Sprintf(format, args...)) }
func (f *fakeTB) Error(args ...any)                 { f.record(true, fmt.Sprint(args...)) }
func (f *fakeTB) Logf(format string, args ...any)   { f.record(false, fmt.Sprintf(format, args...)) }

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.record(true, fmt.Sprintf(format, args...))
	f.mu.Lock()
	f.fatal = true
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

// observe runs fn against a fake TB in a goroutine of its own (so that a
// Fatal ends only fn), then runs its cleanups, last first, as testing does.
func observe(fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	done = make(chan struct{})
	go func() {
		defer close(done)
		for i := len(f.cleanups) - 1; i >= 0; i-- {
			f.cleanups[i]()
		}
	}()
	<-done
	return f
}

// text is everything the helper said, one message a line.
func (f *fakeTB) text() string { return strings.Join(f.msgs, "\n") }

// wantPass fails t if the helper reported a failure.
func (f *fakeTB) wantPass(t *testing.T) {
	t.Helper()
	if f.failed {
		t.Errorf("helper failed on a good case:\n%s", f.text())
	}
}

// wantFail fails t unless the helper failed (fatally, if fatal) and said
// every one of words.
func (f *fakeTB) wantFail(t *testing.T, fatal bool, words ...string) {
	t.Helper()
	if !f.failed || f.fatal != fatal {
		t.Errorf("failed %v, fatal %v; want a failure, fatal %v; said:\n%s", f.failed, f.fatal, fatal, f.text())
	}
	for _, w := range words {
		if !strings.Contains(f.text(), w) {
			t.Errorf("failure does not say %q:\n%s", w, f.text())
		}
	}
}
