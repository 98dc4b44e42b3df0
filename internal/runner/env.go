package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// environment lists what a reader needs to judge or reproduce the figures.
func environment(sys System, pinning string, kpt Num) [][2]string {
	env := [][2]string{
		{"kernel", strings.TrimSpace(sysctl("kernel/ostype") + " " + sysctl("kernel/osrelease"))},
		{"CPU model", cpuModel()},
		{"CPUs online", fmt.Sprintf("%d (this process may use: %s)", runtime.NumCPU(), cpuList())},
		{"memory available", fmt.Sprintf("%.1f GiB (MemAvailable at start)", sys.MemAvailableKiB/1024/1024)},
		{"open files (soft / hard)", fmt.Sprintf("%d / %d", sys.FDSoft, sys.FDHard)},
		{"net.ipv4.ip_local_port_range", sysctl("net/ipv4/ip_local_port_range")},
		{"net.core.somaxconn", sysctl("net/core/somaxconn")},
		{"net.ipv4.tcp_max_syn_backlog", sysctl("net/ipv4/tcp_max_syn_backlog")},
		{"net.ipv4.tcp_tw_reuse", sysctl("net/ipv4/tcp_tw_reuse")},
		{"kernel.pid_max", sysctl("kernel/pid_max")},
		{"kernel.threads-max", sysctl("kernel/threads-max")},
		{"vm.max_map_count", sysctl("vm/max_map_count")},
		{"vm.overcommit_memory", sysctl("vm/overcommit_memory")},
		{"transparent hugepages", thp()},
		{"gcc", firstLine("gcc", "--version")},
		{"Go (runner build)", runtime.Version()},
		{"Go (toolchain on PATH)", firstLine("go", "version")},
		{"git commit", gitCommit()},
		{"pinning", pinning},
		{"kernel stack per thread", kpt.String() + " KiB (measured at the start)"},
		{"load average at start", strings.Join(strings.Fields(sysctlFile("/proc/loadavg"))[:min(3, len(strings.Fields(sysctlFile("/proc/loadavg"))))], " ")},
	}
	for i := range env {
		env[i][1] = strings.Join(strings.Fields(env[i][1]), " ")
		if env[i][1] == "" {
			env[i][1] = "–"
		}
	}
	return env
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func cpuList() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func thp() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func firstLine(name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

func gitCommit() string {
	c := firstLine("git", "rev-parse", "--short=12", "HEAD")
	if c == "" {
		return "none (no commit yet or not a git checkout)"
	}
	if firstLine("git", "status", "--porcelain", "--untracked-files=no") != "" {
		c += " (with uncommitted changes)"
	}
	return c
}

func sysctlFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}
