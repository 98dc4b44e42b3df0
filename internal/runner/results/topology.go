package results

import (
	"fmt"
	"strings"
)

// Topology is where a campaign's server and clients ran, when not both on
// this machine over loopback: "netns" (network namespaces of this
// machine, joined by veth links to a bridge) or "ssh" (hosts reached over
// ssh). meta.json keeps it; the report shows it.
type Topology struct {
	Kind  string     `json:"kind"`
	Hosts []TopoHost `json:"hosts"`
	// Links says how the hosts are joined, as far as the runner knows.
	Links string `json:"links"`
	// Notes are what the reader must know about the topology (a kernel
	// without netem, say).
	Notes []string `json:"notes,omitempty"`
}

// TopoHost is one host of a topology.
type TopoHost struct {
	Role    string `json:"role"` // "control" (the runner), "server" or "client"
	Name    string `json:"name"` // as given ([user@]host[:port]) or the namespace
	Address string `json:"address"`
	Arch    string `json:"arch,omitempty"`
	Kernel  string `json:"kernel,omitempty"`
	Libc    string `json:"libc,omitempty"`
	CPUs    int    `json:"cpus,omitempty"`
	// CPUsAllowed are the CPUs a process started there may use, Pinned
	// those the run's processes were pinned to ("" for no pinning).
	CPUsAllowed string            `json:"cpus_allowed,omitempty"`
	Pinned      string            `json:"pinned,omitempty"`
	FDSoft      uint64            `json:"fd_soft,omitempty"`
	FDHard      uint64            `json:"fd_hard,omitempty"`
	MemAvailKiB float64           `json:"mem_available_kib,omitempty"`
	Sysctls     map[string]string `json:"sysctls,omitempty"`
	// SkewMs is the host's clock minus the runner's, within SkewWithinMs.
	SkewMs       Num `json:"clock_skew_ms"`
	SkewWithinMs Num `json:"clock_skew_within_ms"`
}

// Summary is the topology in one line, for every mode's notes; "" for
// this machine over loopback.
func (t *Topology) Summary() string {
	if t == nil {
		return ""
	}
	var clients []string
	var server, skew string
	worst := 0.0
	for _, h := range t.Hosts {
		switch h.Role {
		case "server":
			server = fmt.Sprintf("%s (%s)", h.Name, h.Address)
		case "client":
			clients = append(clients, fmt.Sprintf("%s (%s)", h.Name, h.Address))
		}
		if h.SkewMs.Set {
			worst = max(worst, h.SkewMs.V, -h.SkewMs.V)
			skew = fmt.Sprintf("; clock skew at most %.3f ms", worst)
		}
	}
	where := "in network namespaces of this machine, over veth links and a bridge"
	if t.Kind == "ssh" {
		where = "on separate hosts over ssh; the machine figures are the server host's alone"
	}
	return fmt.Sprintf("topology %s: server %s, clients %s, %s%s", t.Kind, server, strings.Join(clients, ", "), where, skew)
}
