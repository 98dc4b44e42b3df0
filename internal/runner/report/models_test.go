package report

import (
	"strings"
	"testing"

	"tenkthreads/internal/runner/plots"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/srvreport"
)

// models.md names the bounded models with their W, and the others, from
// the model list, in the order the servers ran.
func TestModelsText(t *testing.T) {
	list := srvreport.ModelList{Models: []srvreport.Model{
		{Name: "thread", PerConnection: "thread"},
		{Name: "prethread", Bounded: true, Workers: "threads", DefaultWorkers: 64},
		{Name: "pool", Bounded: true, Workers: "threads", DefaultWorkers: 64},
		{Name: "prefork-nolock", Bounded: true, Processes: true, Workers: "processes", DefaultWorkers: 16},
		{Name: "fork", Processes: true, PerConnection: "process"},
		{Name: "iterative", Bounded: true},
		{Name: "epoll", Workers: "event loops", DefaultWorkers: 1},
		{Name: "select", Bounded: true, FDCeiling: 1024},
	}}
	var servers []results.ServerSpec
	for _, m := range []string{"iterative", "fork", "prefork-nolock", "thread", "prethread", "pool", "epoll", "select"} {
		servers = append(servers, results.ServerSpec{Key: "10kthreads:" + m, Model: m})
	}
	servers = append(servers, results.ServerSpec{Key: goRefKey, Model: "goroutine"})
	md := ModelsMarkdown(ModelsReport{Servers: servers, ModelList: list, Interference: map[string]results.Num{}, RequestDelayUS: 10000}, plots.File{})
	for _, want := range []string{
		"models that serve W connections at a time (iterative 1, prefork-nolock 16, prethread and pool 64, select about 1,020 (descriptors below 1,024)) are mostly connect and echo timeouts",
		"each request waits 10ms on the server before its echo (`-d 10ms`)",
		"Designs that accept at once (fork, thread, epoll, Go) never fill the queue.",
		"| concurrency | iterative | fork | prefork-nolock | thread | prethread | pool | epoll | select | Go ref |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("models.md lacks %q:\n%s", want, md)
		}
	}
}

func TestDelayArg(t *testing.T) {
	for us, want := range map[int64]string{0: "0s", 10000: "10ms", 500: "500us", 2000000: "2s", 1500000: "1500ms", 1: "1us"} {
		if got := DelayArg(us); got != want {
			t.Errorf("DelayArg(%d) = %q, want %q", us, got, want)
		}
	}
}

// The long-lived rows' machine memory: every part, the sum in bold, and
// why a row has none.
func TestModelsMachineTable(t *testing.T) {
	n := results.N
	rep := ModelsReport{Interference: map[string]results.Num{}, Calibration: &results.Calibration{Basis: results.BasisSlabinfo}, LongLived: []ModelsLong{
		{Label: "10kthreads (thread)", Conns: 1000, MachinePerC: n(35.5), OtherKernel: n(0.25), ClientMachine: n(12),
			MachineParts: results.Costs{User: n(8.25), KStack: n(16), ThreadObjects: n(7.5), Sockets: n(3.75), PageTables: n(0)}},
		{Label: "10kthreads (fork)", Conns: 1000, MachineNote: "the client ended before it could be taken"},
	}}
	md := ModelsMarkdown(rep, plots.File{})
	for _, want := range []string{
		"| 10kthreads (thread) | 1,000 | 8.25 | 16.0 | 7.50 | 3.75 | 0 | **35.5** | 0.250 | 12.0 |",
		"| 10kthreads (fork) | 1,000 | – | – | – | – | – | not measured: the client ended before it could be taken | – | – |",
		"measured once at the start of the run (slab basis: slabinfo)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("models.md lacks %q:\n%s", want, md)
		}
	}
}

// Beside the seed article: its figure / the kit's, at the concurrencies
// both ran, "–" where either has none.
func TestModelsArticle(t *testing.T) {
	rep := ModelsReport{Concurrency: []int{20, 300, 5000}, Interference: map[string]results.Num{}, Reconnect: []ModelsCell{
		{Server: "10kthreads:iterative", Concurrency: 20, Status: results.StatusOK, RequestsPerS: results.N(96), Errors: results.N(0)},
		{Server: "10kthreads:epoll", Concurrency: 5000, Status: results.StatusOK, RequestsPerS: results.N(15244), Errors: results.N(0)},
	}}
	md := ModelsMarkdown(rep, plots.File{})
	for _, want := range []string{
		"## Next to the seed article",
		"| concurrency | iterative | forking | preforked | threaded | prethreaded | poll | epoll |",
		"| 20 | 7 / 96 | 112 / – | 2,100 / – | 1,800 / – | 2,250 / – | 1,900 / – | 2,050 / – |",
		"| 5,000 | – / – | wide / – | 1,600 / – | 1,100 / – | 2,519 / – | – / – | 2,235 / 15,244 |",
		"prefork-nolock for preforked",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("models.md lacks %q:\n%s", want, md)
		}
	}
	if _, art, _ := strings.Cut(md, "## Next to the seed article"); strings.Contains(art, "| 300 |") {
		t.Errorf("a row at 300, where the article's row is not among the kit's concurrencies:\n%s", md)
	}
}
