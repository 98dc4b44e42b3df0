package report

import (
	"strings"
	"testing"

	"tenkthreads/internal/runner/plan"
)

// The ceiling's tables show the parts a prediction counts, and say so
// when a server's calibration priced user space and kernel stacks only.
func TestCeilingText(t *testing.T) {
	thread := plan.ConnCost{ServerUserKiB: 8.3, ServerKStackKiB: 16, ServerThreadObjectsKiB: 6.25, ServerSocketKiB: 2.5, ServerPageTablesKiB: 0.125,
		ClientKiB: 5, ClientUserKiB: 2.5, ClientSocketKiB: 2.5, Basis: plan.CostMachine}
	old := plan.ConnCost{ServerUserKiB: 0.05, ClientKiB: 3.5}
	rep := CeilingReport{MemAvailableKiB: 22 << 20, Servers: []CeilingServer{
		{Label: "10kthreads (thread)", Cost: thread, Predicted: plan.Ceiling{Conns: 31608, Binding: "kernel.pid_max"}},
		{Label: "10kthreads (epoll)", Cost: old, Predicted: plan.Ceiling{Conns: 903424, Binding: "ephemeral ports × source addresses"}},
	}}
	text := CeilingText(rep)
	lines := strings.Split(text, "\n")
	row := func(label string) []string {
		for _, l := range lines {
			if strings.HasPrefix(l, label) {
				return strings.Fields(strings.TrimPrefix(l, label))
			}
		}
		t.Fatalf("no row for %s:\n%s", label, text)
		return nil
	}
	// user, kernel stack, thread objects, socket, page tables, client, sum.
	if got, want := strings.Join(row("10kthreads (thread)")[:7], " "), "8.30 16.0 6.25 2.50 0.125 5.00 38.2"; got != want {
		t.Errorf("thread's parts %q, want %q\n%s", got, want, text)
	}
	if got, want := strings.Join(row("10kthreads (epoll)")[:7], " "), "0.050 0 – – – 3.50 3.55"; got != want {
		t.Errorf("epoll's parts %q, want %q\n%s", got, want, text)
	}
	for _, want := range []string{"thread objects", "31,608 (kernel.pid_max)", "3.55 *", "* The calibration holds kept no machine record", "MemAvailable used KiB/conn (fitted)"} {
		if !strings.Contains(text, want) {
			t.Errorf("ceiling text lacks %q:\n%s", want, text)
		}
	}
	limits := CeilingLimits(rep)
	for _, want := range []string{"Cost per connection: 38.2 KiB. The server 33.2: user space 8.30, kernel stack 16.0, thread objects 6.25, socket 2.50, page tables 0.125. The client 5.00: user space 2.50",
		"Cost per connection (user space and kernel stacks only): 3.55 KiB"} {
		if !strings.Contains(limits, want) {
			t.Errorf("limits lack %q:\n%s", want, limits)
		}
	}
}
