package exec

import (
	"fmt"
	"os"
	osexec "os/exec"
	"runtime"
	"strconv"

	"tenkthreads/internal/sysinfo"
)

// PinCPUs picks two CPUs this process may run on (a container's cpuset
// need not include 0 and 1) and checks that taskset works; ok=false says
// why the run goes unpinned.
func PinCPUs() (cpus [2]int, ok bool, why string) {
	allowed, _ := sysinfo.Host.AllowedCPUs(os.Getpid())
	if len(allowed) < 2 {
		return cpus, false, fmt.Sprintf("not pinned: only %d CPU available", max(len(allowed), runtime.NumCPU()))
	}
	cpus = [2]int{allowed[0], allowed[1]}
	path, err := osexec.LookPath("taskset")
	if err != nil {
		return cpus, false, "not pinned: taskset not found (install util-linux)"
	}
	if err := osexec.Command(path, "-c", strconv.Itoa(cpus[1]), "true").Run(); err != nil {
		return cpus, false, "not pinned: `taskset -c` failed: " + err.Error()
	}
	return cpus, true, fmt.Sprintf("server on CPU %d, client on CPU %d (taskset -c)", cpus[0], cpus[1])
}
