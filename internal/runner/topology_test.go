package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/remote"
	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/testhosts"
	"tenkthreads/internal/testkit"
)

// -topology netns: the server runs in one namespace on its address, the
// client in another from its 32 addresses, every echo verified, the
// machine record kept as on loopback, the topology in meta.json and the
// report, and the namespaces gone at the end.
func TestTopologyNetns(t *testing.T) {
	if err := testhosts.AvailableNetns(); err != nil {
		t.Skipf("no network namespaces here: %v", err)
	}
	root := testkit.RepoRoot(t)
	o := plan.Options{
		Reps: plan.Given(1), Counts: plan.Given([]int{50}), Servers: []string{"10kthreads:epoll"}, Workloads: []string{"hold"},
		Out: t.TempDir(), Bin: filepath.Join(root, "bin"), Hold: plan.Given(time.Second),
		StopTimeout: 10 * time.Second, Command: "test", Topology: "netns",
	}
	var out, errb bytes.Buffer
	if code := execute(o, Env{}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	dir := onlyResultDir(t, o.Out)
	var runs []results.Run
	readTestJSON(t, filepath.Join(dir, "runs.json"), &runs)
	r := runs[len(runs)-1]
	srv, cli := strings.Join(r.ServerCmd, " "), strings.Join(r.ClientCmd, " ")
	if r.Status != results.StatusOK || !strings.HasPrefix(srv, "ip netns exec 10kt-") || !strings.HasSuffix(srv, " -a 198.18.0.10") ||
		!strings.HasPrefix(cli, "ip netns exec 10kt-") || !strings.Contains(cli, " -host 198.18.0.10:") ||
		!strings.HasSuffix(cli, " -source 198.18.0.11,198.18.0.100-198.18.0.130") {
		log, _ := os.ReadFile(filepath.Join(dir, "raw", r.ServerLog))
		t.Errorf("run %s (%s):\nserver %s\nclient %s\nserver log:\n%s", r.Status, r.Detail, srv, cli, log)
	}
	m, err := results.ReadMachine(filepath.Join(dir, "raw", r.MachineJSON))
	if err != nil || m.ClientElsewhere || m.Peak == nil || m.Peak.Client == nil {
		t.Errorf("machine record %+v (%v): want the client's footprint in it, as on loopback", m, err)
	}
	var meta results.Meta
	readTestJSON(t, filepath.Join(dir, "meta.json"), &meta)
	if meta.Topology == nil || meta.Topology.Kind != "netns" || len(meta.Topology.Hosts) != 2 {
		t.Errorf("meta.json topology %+v", meta.Topology)
	}
	if rep, _ := os.ReadFile(filepath.Join(dir, "report.md")); !bytes.Contains(rep, []byte("## Topology")) {
		t.Error("report.md has no topology section")
	}
	mine := fmt.Sprintf("%s%d-", testhosts.Prefix, os.Getpid())
	if ns, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(ns), mine) {
		t.Errorf("namespaces left:\n%s", ns)
	}
}

func readTestJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// A run across hosts says its environment is the server host's: its
// kernel, CPUs and sysctls replace this machine's, the rest stays.
func TestServerEnvironment(t *testing.T) {
	env := [][2]string{{"kernel", "Linux here"}, {"CPUs online", "2"}, {"net.core.somaxconn", "4096"}, {"git commit", "abc"}}
	srv := hostSetup{h: &remote.Host{Name: "root@server"}, addr: "192.0.2.10",
		env: remote.Env{Kernel: "Linux 6.1", CPUs: 8, CPUsAllowed: "0-7", LoadAvg: "0.10 0.20 0.30",
			Sysctls: map[string]string{"net.core.somaxconn": "65535"}}}
	got := serverEnvironment(env, srv)
	want := [][2]string{{"measured on", "the server host, root@server (192.0.2.10), load average 0.10 0.20 0.30"},
		{"kernel", "Linux 6.1"}, {"CPUs online", "8 (a process started over ssh may use: 0-7)"}, {"net.core.somaxconn", "65535"}, {"git commit", "abc"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("environment\n%v\nwant\n%v", got, want)
	}
}

// Each client host must have an ephemeral port for each connection of
// its share; a host that has not fails the run up front, named.
func TestCheckClients(t *testing.T) {
	host := func(name string, lo, hi int) hostSetup {
		return hostSetup{h: &remote.Host{Name: name}, env: remote.Env{System: plan.System{PortLo: lo, PortHi: hi}}}
	}
	topo := &topology{clientEnvs: []hostSetup{host("c1", 32768, 60999), host("c2", 50000, 50999)}}
	if err := topo.checkClients(2000); err != nil {
		t.Errorf("1,000 each: %v", err)
	}
	err := topo.checkClients(2003)
	if err == nil || !strings.Contains(err.Error(), "client host c2: 1001 connections to one server port need as many ephemeral ports, and its net.ipv4.ip_local_port_range (50000-50999) has 1000") ||
		strings.Contains(err.Error(), "c1:") {
		t.Errorf("1,002 and 1,001: %v, want c2 named, c1 not", err)
	}
	if err := (&topology{}).checkClients(1e6); err != nil {
		t.Errorf("no client hosts: %v", err)
	}
}

// The hosts file names the server host first, then the client hosts; one
// host alone is no run across hosts.
func TestTargetsFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(path, []byte("# lab\nroot@server:2222\nclient1\n\nclient2 # the second\n"), 0o644)
	ts, err := targets(plan.Options{HostsFile: path})
	if err != nil || fmt.Sprint(ts) != "[root@server:2222 client1 client2]" {
		t.Errorf("targets %v, %v", ts, err)
	}
	os.WriteFile(path, []byte("server\n"), 0o644)
	if _, err := targets(plan.Options{HostsFile: path}); err == nil || !strings.Contains(err.Error(), "one host; want the server host, then at least one client host") {
		t.Errorf("one host: %v", err)
	}
	if ts, err := targets(plan.Options{ServerHost: "s", ClientHosts: []string{"c1", "c2"}}); err != nil || len(ts) != 3 {
		t.Errorf("flags: %v, %v", ts, err)
	}
}
