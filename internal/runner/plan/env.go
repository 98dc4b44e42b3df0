package plan

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
)

// Environment lists what a reader needs to judge or reproduce the figures.
func Environment(sys System, pinning string, kpt results.Num) [][2]string {
	env := [][2]string{
		{"kernel", strings.TrimSpace(Sysctl("kernel.ostype") + " " + Sysctl("kernel.osrelease"))},
		{"CPU model", cpuModel()},
		{"CPUs online", fmt.Sprintf("%d (this process may use: %s)", runtime.NumCPU(), cpuList())},
		{"memory available", fmt.Sprintf("%.1f GiB (MemAvailable at start)", sys.MemAvailableKiB/1024/1024)},
		{"open files (soft / hard)", fmt.Sprintf("%d / %d", sys.FDSoft, sys.FDHard)},
	}
	for _, name := range []string{"net.ipv4.ip_local_port_range", "net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog",
		"net.ipv4.tcp_tw_reuse", "kernel.pid_max", "kernel.threads-max", "vm.max_map_count", "vm.overcommit_memory"} {
		env = append(env, [2]string{name, Sysctl(name)})
	}
	env = append(env, [][2]string{
		{"transparent hugepages", thp()},
		{"gcc", firstLine("gcc", "--version")},
		{"Go (runner build)", runtime.Version()},
		{"Go (toolchain on PATH)", firstLine("go", "version")},
		{"git commit", gitCommit()},
		{"pinning", pinning},
		{"kernel stack per thread", kpt.String() + " KiB (measured at the start)"},
		{"load average at start", LoadAvg()},
	}...)
	for i := range env {
		env[i][1] = strings.Join(strings.Fields(env[i][1]), " ")
		if env[i][1] == "" {
			env[i][1] = "–"
		}
	}
	return env
}

// LoadAvg is the 1, 5 and 15 minute load averages as /proc/loadavg shows them.
func LoadAvg() string {
	l, err := sysinfo.Host.LoadAvg()
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l.Load1, l.Load5, l.Load15)
}

func cpuModel() string {
	m, _ := sysinfo.Host.CPUModel()
	return m
}

// cpuList is this process's Cpus_allowed_list, as the kernel writes it
// ("0-3,6").
func cpuList() string {
	cpus, err := AllowedCPUs()
	if err != nil {
		return "?"
	}
	return FormatCPUList(cpus)
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
