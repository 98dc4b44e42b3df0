package runner

import (
	"strings"
	"testing"

	"tenkthreads/internal/runner/plan"
)

// The orders and notes the modes derive from bin/10kthreads -M list.
func TestFactsFromModelList(t *testing.T) {
	kit, err := plan.LoadKit(realBin(t))
	if err != nil {
		t.Fatal(err)
	}
	// The seed articles' order: one at a time, processes, threads, event
	// loops; prefork, another name of prefork-nolock, once.
	want := "iterative fork prefork-nolock prefork-lock prefork-pass thread prethread prethread-nolock pool epoll"
	if got := strings.Join(order(kit.Models), " "); got != want {
		t.Errorf("models order:\n got %s\nwant %s", got, want)
	}
	var na []string
	for _, f := range notApplicable(kit) {
		na = append(na, f.Label+": "+f.Note)
	}
	want = "10kthreads (prethread): n/a: serves at most -w (64) connections at a time; " +
		"10kthreads (prethread-nolock): n/a: serves at most -w (64) connections at a time; " +
		"10kthreads (pool): n/a: serves at most -w (64) connections at a time; " +
		"10kthreads (prefork): n/a: serves at most -w (16) connections at a time; " +
		"10kthreads (prefork-nolock): n/a: serves at most -w (16) connections at a time; " +
		"10kthreads (prefork-lock): n/a: serves at most -w (16) connections at a time; " +
		"10kthreads (prefork-pass): n/a: serves at most -w (16) connections at a time; " +
		"10kthreads (iterative): n/a: serves one connection at a time"
	if got := strings.Join(na, "; "); got != want {
		t.Errorf("bench n/a rows:\n got %s\nwant %s", got, want)
	}
}
