package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/strictjson"
	"tenkthreads/internal/sysinfo"
)

// EnvSchema is the version of Env's JSON; bump it when a key changes.
const EnvSchema = 1

// Env is a host's environment as a reader of the figures needs it, read
// on the host by the kit's own readers (cmd/hostprobe prints it) and
// decoded here from the same type.
type Env struct {
	Schema      int    `json:"schema"`
	Hostname    string `json:"hostname"`
	Kernel      string `json:"kernel"` // kernel.ostype and kernel.osrelease (the architecture is in Facts)
	CPUModel    string `json:"cpu_model"`
	CPUs        int    `json:"cpus"`         // the CPUs a process started there may use
	CPUsAllowed string `json:"cpus_allowed"` // and which, as "0-3,6"
	// Sysctls are the ones the runner's environment table lists.
	Sysctls map[string]string `json:"sysctls"`
	LoadAvg string            `json:"load_avg"`
	// System is what the runner checks a run against (plan.CheckSystem):
	// fd limits as a process started over ssh gets them, ports, memory.
	System plan.System `json:"system"`
}

// EnvSysctls are the sysctls Env records: those that decide how many
// connections and threads a host can hold.
var EnvSysctls = []string{"net.ipv4.ip_local_port_range", "net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog",
	"net.ipv4.tcp_tw_reuse", "kernel.pid_max", "kernel.threads-max", "vm.max_map_count", "vm.overcommit_memory"}

// ReadEnv reads this host's environment.
func ReadEnv() Env {
	e := Env{Schema: EnvSchema, Sysctls: map[string]string{}, CPUs: runtime.NumCPU(), LoadAvg: plan.LoadAvg()}
	e.Hostname, _ = os.Hostname()
	e.Kernel = strings.TrimSpace(plan.Sysctl("kernel.ostype") + " " + plan.Sysctl("kernel.osrelease"))
	e.CPUModel, _ = sysinfo.Host.CPUModel()
	if cpus, err := sysinfo.Host.AllowedCPUs(os.Getpid()); err == nil {
		e.CPUsAllowed = plan.FormatCPUList(cpus)
	}
	for _, name := range EnvSysctls {
		e.Sysctls[name] = plan.Sysctl(name)
	}
	e.System = plan.ReadSystem()
	return e
}

// ProbeName is the kit's probe binary, which Env installs and runs.
const ProbeName = "hostprobe"

// Env reads the host's environment with the kit's probe binary, whose
// local path is probe (bin/hostprobe); Env installs it if Install has not.
func (h *Host) Env(ctx context.Context, probe string) (Env, error) {
	if filepath.Base(probe) != ProbeName {
		return Env{}, fmt.Errorf("remote: the probe is %s, not %s", ProbeName, probe)
	}
	if !h.installed(ProbeName) {
		if err := h.Install(ctx, probe); err != nil {
			return Env{}, err
		}
	}
	out, err := h.Run(ctx, h.Bin(ProbeName))
	if err != nil {
		return Env{}, err
	}
	var e Env
	if err := strictjson.Unmarshal(out, &e); err != nil {
		return Env{}, fmt.Errorf("host %s: %s printed what this build cannot read (%v): install the same build there", h.Name, ProbeName, err)
	}
	if e.Schema != EnvSchema {
		return Env{}, fmt.Errorf("host %s: %s speaks schema %d, this build %d", h.Name, ProbeName, e.Schema, EnvSchema)
	}
	return e, nil
}

// MarshalEnv is the probe's output.
func MarshalEnv(e Env) ([]byte, error) {
	b, err := json.MarshalIndent(e, "", "  ")
	return append(b, '\n'), err
}
