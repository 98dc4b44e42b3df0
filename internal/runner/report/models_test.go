package report

import (
	"strings"
	"testing"

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
	}}
	var servers []results.ServerSpec
	for _, m := range []string{"iterative", "fork", "prefork-nolock", "thread", "prethread", "pool", "epoll"} {
		servers = append(servers, results.ServerSpec{Key: "10kthreads:" + m, Model: m})
	}
	servers = append(servers, results.ServerSpec{Key: goRefKey, Model: "goroutine"})
	md := ModelsMarkdown(ModelsReport{Servers: servers, ModelList: list, Interference: map[string]results.Num{}})
	for _, want := range []string{
		"models that serve W connections at a time (iterative 1, prefork-nolock 16, prethread and pool 64) are connect timeouts",
		"Designs that accept at once (fork, thread, epoll, Go) never fill the queue.",
		"| concurrency | iterative | fork | prefork-nolock | thread | prethread | pool | epoll | Go ref |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("models.md lacks %q:\n%s", want, md)
		}
	}
}
