package runner

import (
	"slices"
	"strings"
	"testing"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/srvreport"
)

// factsFixture is what -M list said when these orders were written; a
// fixture, so that a model added to the server does not change the test.
var factsFixture = srvreport.ModelList{Schema: srvreport.ModelsSchema, Models: []srvreport.Model{
	{Name: "thread", PerConnection: "thread"},
	{Name: "prethread", Bounded: true, Workers: "threads", DefaultWorkers: 64},
	{Name: "pool", Bounded: true, Workers: "threads", DefaultWorkers: 64},
	{Name: "prefork", Bounded: true, Processes: true, Workers: "processes", DefaultWorkers: 16, SameAs: "prefork-nolock"},
	{Name: "prefork-nolock", Bounded: true, Processes: true, Workers: "processes", DefaultWorkers: 16},
	{Name: "fork", Processes: true, PerConnection: "process"},
	{Name: "iterative", Bounded: true},
	{Name: "epoll", Workers: "event loops", DefaultWorkers: 1},
	{Name: "select", Bounded: true, FDCeiling: 1024},
}}

// The orders and notes the modes derive from -M list.
func TestFactsFromModelList(t *testing.T) {
	// The seed articles' order: one at a time, processes, threads, event
	// loops; prefork, another name of prefork-nolock, once.
	want := "iterative fork prefork-nolock thread prethread pool epoll select"
	if got := strings.Join(order(factsFixture), " "); got != want {
		t.Errorf("models order:\n got %s\nwant %s", got, want)
	}
	var na []string
	for _, f := range notApplicable(plan.Kit{Models: factsFixture}) {
		na = append(na, f.Label+": "+f.Note)
	}
	want = "10kthreads (prethread): n/a: serves at most -w (64) connections at a time; " +
		"10kthreads (pool): n/a: serves at most -w (64) connections at a time; " +
		"10kthreads (prefork): n/a: serves at most -w (16) connections at a time; " +
		"10kthreads (prefork-nolock): n/a: serves at most -w (16) connections at a time; " +
		"10kthreads (iterative): n/a: serves one connection at a time; " +
		"10kthreads (select): n/a: watches descriptors below 1024 only"
	if got := strings.Join(na, "; "); got != want {
		t.Errorf("bench n/a rows:\n got %s\nwant %s", got, want)
	}
}

// Every model the real server lists is ordered exactly once, aliases not
// at all.
func TestOrderCoversRealModels(t *testing.T) {
	kit, err := plan.LoadKit(realBin(t))
	if err != nil {
		t.Fatal(err)
	}
	got := order(kit.Models)
	for _, m := range kit.Models.Models {
		n := 0
		for _, g := range got {
			if g == m.Name {
				n++
			}
		}
		if want := map[bool]int{true: 0, false: 1}[m.SameAs != ""]; n != want {
			t.Errorf("model %s ordered %d times, want %d", m.Name, n, want)
		}
	}
	if len(got) != len(slices.Compact(slices.Sorted(slices.Values(got)))) {
		t.Errorf("order repeats a model: %v", got)
	}
}

// The default matrix over the real -M list: the designs the server marks
// compared, and the Go reference.
func TestMatrixOverRealModels(t *testing.T) {
	kit, err := plan.LoadKit(realBin(t))
	if err != nil {
		t.Fatal(err)
	}
	specs, notes, err := kit.MatrixServers(nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, s := range specs {
		keys = append(keys, s.Key)
	}
	if got := strings.Join(keys, " "); got != "10kthreads:thread 10kthreads:epoll 10kthreads:uring ref_async_server" {
		t.Errorf("default matrix %s", got)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "poll, select, dispatch of bin/10kthreads are not in the default matrix") {
		t.Errorf("notes %q", notes)
	}
}

// -tune on a server host reaches its /proc/sys through the tuning's
// read and write, as ssh does, and restores the old value there.
func TestTuningElsewhere(t *testing.T) {
	files := map[string]string{"/proc/sys/net/core/somaxconn": "4096\n"}
	var writes []string
	tu := Tuning{Root: "/proc/sys", Host: "server",
		read: func(p string) ([]byte, error) { return []byte(files[p]), nil },
		write: func(p string, data []byte) error {
			writes = append(writes, p+"="+strings.TrimSpace(string(data)))
			files[p] = string(data)
			return nil
		}}
	if err := tu.Set("net.core.somaxconn", "65535"); err != nil {
		t.Fatal(err)
	}
	if lines, bad := tu.Restore(); bad || len(lines) != 1 {
		t.Errorf("restore: %v (failed %v)", lines, bad)
	}
	want := []string{"/proc/sys/net/core/somaxconn=65535", "/proc/sys/net/core/somaxconn=4096"}
	if strings.Join(writes, " ") != strings.Join(want, " ") {
		t.Errorf("writes %v, want %v", writes, want)
	}
}
