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

// userKStack is a cost on the user-space-and-kernel-stacks basis.
func userKStack(user, kstack, client float64) ConnCost {
	return ConnCost{ServerUserKiB: user, ServerKStackKiB: kstack, ClientKiB: client, Basis: CostUserKStack}
}

// threadMachine is a thread's cost with every part: 8.3 user, 16 kernel
// stack, 6.2 thread objects, 2.3 socket, 0.2 page tables; the client 5.
func threadMachine() ConnCost {
	return ConnCost{ServerUserKiB: 8.3, ServerKStackKiB: 16, ServerThreadObjectsKiB: 6.2, ServerSocketKiB: 2.3, ServerPageTablesKiB: 0.2,
		ClientKiB: 5, ClientUserKiB: 2.4, ClientSocketKiB: 2.5, ClientThreadObjectsKiB: 0.1, Basis: CostMachine}
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
		{"thread as configured", thread, userKStack(8.3, 16, 3.5), false, 32368, "kernel.pid_max"},
		// 22 GiB / 27.8 KiB.
		{"thread with -tune", thread, userKStack(8.3, 16, 3.5), true, 829808, "MemAvailable"},
		// 22 GiB / 38 KiB: the kernel's parts lower it by a quarter.
		{"thread with -tune, every part", thread, threadMachine(), true, 607070, "MemAvailable"},
		{"fork with -tune", fork, userKStack(60, 16, 3.5), true, 290171, "MemAvailable"},
		// 28,232 ports × 32 source addresses, well before 22 GiB / 3.55 KiB.
		{"epoll", epoll, userKStack(0.05, 0, 3.5), false, 28232 * 32, "ephemeral ports × source addresses"},
		{"epoll with -tune", epoll, userKStack(0.05, 0, 3.5), true, 28232 * 32, "ephemeral ports × source addresses"},
	} {
		got := CeilingOf(Limits(thisMachine(), c.m, c.cost, 100, c.tuned))
		if got.Conns != c.conns || got.Binding != c.binding {
			t.Errorf("%s: %d connections, bound by %s; want %d by %s", c.name, got.Conns, got.Binding, c.conns, c.binding)
		}
	}
	// Every limit a thread per connection meets is listed, with how.
	ls := Limits(thisMachine(), thread, userKStack(8.3, 16, 3.5), 100, false)
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
	tl := Limits(thisMachine(), thread, userKStack(8.3, 16, 3.5), 100, true)
	for _, l := range tl {
		if l.Name == "kernel.pid_max" && (l.Conns != PidMaxLimit-400 || !strings.Contains(l.How, "raised to 4194304 by -tune")) {
			t.Errorf("tuned pid_max: %+v", l)
		}
	}
	// Event loops do not pay a thread per connection.
	for _, l := range Limits(thisMachine(), epoll, userKStack(0.05, 0, 3.5), 100, false) {
		if l.Name == "kernel.pid_max" || l.Name == "kernel.threads-max" || l.Name == "vm.max_map_count" {
			t.Errorf("epoll bound by %s", l.Name)
		}
	}
	s := thisMachine()
	s.PidMax = 0
	for _, l := range Limits(s, thread, userKStack(8.3, 16, 3.5), 100, false) {
		if l.Name == "kernel.pid_max" && l.Conns != math.MaxInt64 {
			t.Errorf("a sysctl that is not there bounds at %d", l.Conns)
		}
	}
}

// The memory limit divides by every part measured, and says which.
func TestCeilingMemoryLimit(t *testing.T) {
	thread := srvreport.Model{Name: "thread", PerConnection: "thread"}
	for _, c := range []struct {
		cost ConnCost
		kib  float64
		how  string
	}{{threadMachine(), 38, "38.00 KiB per connection (machine memory of server and client: user space, kernel stacks, thread objects, sockets, page tables)"},
		{userKStack(8.3, 16, 3.5), 27.8, "27.80 KiB per connection (user space and kernel stacks of server and client)"}} {
		if k := c.cost.KiB(); math.Abs(k-c.kib) > 1e-9 {
			t.Errorf("%+v: %v KiB per connection, want %v", c.cost, k, c.kib)
		}
		if l := Limits(thisMachine(), thread, c.cost, 100, false)[0]; l.Name != "MemAvailable" || !strings.Contains(l.How, c.how) {
			t.Errorf("memory limit %+v; want %q in how", l, c.how)
		}
	}
}
