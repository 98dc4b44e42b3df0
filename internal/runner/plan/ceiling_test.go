package plan

import (
	"math"
	"strings"
	"testing"

	"tenkthreads/internal/srvreport"
)

// thisMachine is the 2-core, 24 GiB machine of the README, as configured.
func thisMachine() System {
	return System{FDSoft: 20000, FDHard: 20000, PortLo: 32768, PortHi: 60999, Somaxconn: 4096,
		PidMax: 32768, ThreadsMax: 192730, MaxMapCount: 65530, Tasks: 300, MemAvailableKiB: 22 << 20,
		FileMax: 2466177, FilesOpen: 3000}
}

func TestCeiling(t *testing.T) {
	thread := srvreport.Model{Name: "thread", PerConnection: "thread"}
	fork := srvreport.Model{Name: "fork", PerConnection: "process", Processes: true}
	epoll := srvreport.Model{Name: "epoll", Workers: "event loops", DefaultWorkers: 1}
	for _, c := range []struct {
		name    string
		m       srvreport.Model
		cost    ConnCost
		tuned   bool
		conns   int64
		binding string
	}{
		// 32,768 ids less 300 threads running and 100 the client runs.
		{"thread as configured", thread, ConnCost{8.3, 16, 3.5}, false, 32368, "kernel.pid_max"},
		// 22 GiB / 27.8 KiB.
		{"thread with -tune", thread, ConnCost{8.3, 16, 3.5}, true, 829808, "MemAvailable"},
		{"fork with -tune", fork, ConnCost{60, 16, 3.5}, true, 290171, "MemAvailable"},
		// 28,232 ports × 32 source addresses, well before 22 GiB / 3.55 KiB.
		{"epoll", epoll, ConnCost{0.05, 0, 3.5}, false, 28232 * 32, "ephemeral ports × source addresses"},
		{"epoll with -tune", epoll, ConnCost{0.05, 0, 3.5}, true, 28232 * 32, "ephemeral ports × source addresses"},
	} {
		got := CeilingOf(Limits(thisMachine(), c.m, c.cost, 100, c.tuned))
		if got.Conns != c.conns || got.Binding != c.binding {
			t.Errorf("%s: %d connections, bound by %s; want %d by %s", c.name, got.Conns, got.Binding, c.conns, c.binding)
		}
	}
	// Every limit a thread per connection meets is listed, with how.
	ls := Limits(thisMachine(), thread, ConnCost{8.3, 16, 3.5}, 100, false)
	names := map[string]Limit{}
	for _, l := range ls {
		names[l.Name] = l
		if l.How == "" || l.Have == "" {
			t.Errorf("limit %s says nothing of how: %+v", l.Name, l)
		}
	}
	for _, n := range []string{"MemAvailable", "kernel.pid_max", "kernel.threads-max", "vm.max_map_count", "open files per process × -P", "ephemeral ports × source addresses", "fs.file-max"} {
		if _, ok := names[n]; !ok {
			t.Errorf("limit %s missing from %v", n, ls)
		}
	}
	if l := names["fs.file-max"]; l.Conns != (2466177-3000)/2 {
		t.Errorf("fs.file-max allows %d, want (2466177 - 3000) / 2", l.Conns)
	}
	if l := names["vm.max_map_count"]; l.Conns != 19936*MaxServerProcs {
		t.Errorf("vm.max_map_count allows %d: a process holds 19,936 (open files) before 30,717 (mappings)", l.Conns)
	}
	tl := Limits(thisMachine(), thread, ConnCost{8.3, 16, 3.5}, 100, true)
	for _, l := range tl {
		if l.Name == "kernel.pid_max" && (l.Conns != PidMaxLimit-400 || !strings.Contains(l.How, "raised to 4194304 by -tune")) {
			t.Errorf("tuned pid_max: %+v", l)
		}
	}
	// Event loops do not pay a thread per connection.
	for _, l := range Limits(thisMachine(), epoll, ConnCost{0.05, 0, 3.5}, 100, false) {
		if l.Name == "kernel.pid_max" || l.Name == "kernel.threads-max" || l.Name == "vm.max_map_count" {
			t.Errorf("epoll bound by %s", l.Name)
		}
	}
	s := thisMachine()
	s.PidMax = 0
	for _, l := range Limits(s, thread, ConnCost{8.3, 16, 3.5}, 100, false) {
		if l.Name == "kernel.pid_max" && l.Conns != math.MaxInt64 {
			t.Errorf("a sysctl that is not there bounds at %d", l.Conns)
		}
	}
}
