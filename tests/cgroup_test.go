package tests

// Cgroups the tests make for a server: found through /proc/self/mountinfo
// (v1, or v2 with the controller enabled), holding the server alone, and
// removed once its processes are gone.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/procfs"

	"tenkthreads/internal/testkit"
)

// testCgroup is a cgroup a test made.
type testCgroup struct {
	t       *testing.T
	dir     string
	version int // 1 or 2
}

var cgroupSeq atomic.Int64

// hierarchyRoot is where the controller's hierarchy is mounted: a v1
// hierarchy that has it, else the v2 one if its root hands the
// controller down (cgroup.subtree_control). "" and why if neither.
func hierarchyRoot(controller string) (string, int, string) {
	mounts, err := procfs.GetMounts()
	if err != nil {
		return "", 0, fmt.Sprintf("mountinfo: %v", err)
	}
	v2 := ""
	for _, m := range mounts {
		if _, ok := m.SuperOptions[controller]; ok && m.FSType == "cgroup" && m.Root == "/" {
			return m.MountPoint, 1, ""
		}
		if m.FSType == "cgroup2" && m.Root == "/" && v2 == "" {
			v2 = m.MountPoint
		}
	}
	if v2 == "" {
		return "", 0, "no cgroup hierarchy is mounted"
	}
	b, _ := os.ReadFile(filepath.Join(v2, "cgroup.subtree_control"))
	for _, c := range strings.Fields(string(b)) {
		if c == controller {
			return v2, 2, ""
		}
	}
	return "", 0, fmt.Sprintf("no v1 %s hierarchy, and the v2 one at %s does not enable %s for its children", controller, v2, controller)
}

// makeCgroup makes a cgroup with the controller, or skips the test with
// the reason it cannot. At cleanup, which runs after the server's own
// (registered later), whatever still runs in it is killed and it is
// removed.
func makeCgroup(t *testing.T, controller string) *testCgroup {
	t.Helper()
	return makeNamedCgroup(t, controller, "")
}

// makeNamedCgroup is makeCgroup with suffix at the end of the name.
func makeNamedCgroup(t *testing.T, controller, suffix string) *testCgroup {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a cgroup needs root")
	}
	root, version, why := hierarchyRoot(controller)
	if root == "" {
		t.Skipf("no %s cgroup can be made here: %s", controller, why)
	}
	dir := filepath.Join(root, fmt.Sprintf("10kthreads-test-%d-%d%s", os.Getpid(), cgroupSeq.Add(1), suffix))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("no %s cgroup can be made here: %v", controller, err)
	}
	c := &testCgroup{t: t, dir: dir, version: version}
	t.Cleanup(c.remove)
	return c
}

// remove kills, by pid, every process left in the cgroup (workers whose
// parent was killed die with it, but not at once) and removes it.
func (c *testCgroup) remove() {
	procs := filepath.Join(c.dir, "cgroup.procs")
	testkit.Eventually(c.t, exitTimeout, "cgroup "+c.dir+" empty", func() (bool, string) {
		b, err := os.ReadFile(procs)
		if err != nil {
			return false, err.Error()
		}
		pids := strings.Fields(string(b))
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return len(pids) == 0, fmt.Sprintf("processes %v", pids)
	})
	// The kernel may still be releasing the last task's memory: retry.
	var err error
	for i := 0; i < 50; i++ {
		if err = os.Remove(c.dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Errorf("remove cgroup %s: %v", c.dir, err)
}

// file names a control file by version: v1's name, or v2's.
func (c *testCgroup) file(v1, v2 string) string {
	if c.version == 1 {
		return v1
	}
	return v2
}

func (c *testCgroup) write(file, value string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, file), []byte(value), 0o644); err != nil {
		c.t.Fatalf("cgroup %s: %v", file, err)
	}
}

// number reads a control file that holds one number.
func (c *testCgroup) number(file string) int64 {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, file))
	if err != nil {
		c.t.Fatalf("cgroup %s: %v", file, err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		c.t.Fatalf("cgroup %s: %q is not a number", file, b)
	}
	return v
}

// keyed reads key's value in a flat-keyed control file such as
// memory.oom_control or memory.events; -1 if the key is not there.
func (c *testCgroup) keyed(file, key string) int64 {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, file))
	if err != nil {
		c.t.Fatalf("cgroup %s: %v", file, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == key {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return -1
}

// wrapper moves the process into the cgroup before it execs the server,
// so that the server alone is in it from its first instruction.
func (c *testCgroup) wrapper() []string {
	return []string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, filepath.Join(c.dir, "cgroup.procs")}
}
