package membudget

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/procfs"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"67108864", 64 << 20, true}, {"64m", 64 << 20, true}, {"64M", 64 << 20, true},
		{"512k", 512 << 10, true}, {"1g", 1 << 30, true}, {"2T", 2 << 40, true}, {"100b", 100, true},
		{"0", 0, true}, {"8e", 0, false}, {"", 0, false}, {"m", 0, false}, {"-1m", 0, false},
		{"+1m", 0, false}, {"1.5g", 0, false}, {"64q", 0, false}, {"64 m", 0, false},
		{"9223372036854775807", math.MaxInt64, true}, {"9223372036854775808", 0, false},
		{"8388608t", 0, false}, {"8388607t", 8388607 << 40, true},
	} {
		got, err := ParseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestHeadroom(t *testing.T) {
	for limit, want := range map[int64]int64{
		8 << 20: 2 << 20, 32 << 20: 2 << 20, 64 << 20: 4 << 20, 1 << 30: 64 << 20,
	} {
		if got := Headroom(limit); got != want {
			t.Errorf("Headroom(%d) = %d, want %d", limit, got, want)
		}
	}
}

func TestGoroutineCost(t *testing.T) {
	fs, err := procfs.NewFS(filepath.Join("testdata", "slab"))
	if err != nil {
		t.Fatal(err)
	}
	c := GoroutineCost(fs)
	// The recorded slabinfo's sock_inode_cache is 896 bytes, not 832.
	wantSocket := int64(896 + 192 + 192 + 128 + 4*objCgroup + ptrSize)
	if c.Source != "/proc/slabinfo" || c.Socket != wantSocket || c.User != goroutineUser {
		t.Errorf("cost %+v: want socket %d and user %d from /proc/slabinfo", c, wantSocket, goroutineUser)
	}
	if c.Conn() != c.User+c.Socket || c.KernelStack != 0 || c.Task != 0 {
		t.Errorf("cost %+v: a goroutine has no kernel stack or task of its own", c)
	}
	empty, err := procfs.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := GoroutineCost(empty)
	if d.Source != "defaults" || d.Socket != wantSocket-64 {
		t.Errorf("without slabinfo: %+v, want the defaults (socket %d)", d, wantSocket-64)
	}
}

// fakeBudget is a budget under a cgroup limit whose usage file the test
// writes.
func fakeBudget(t *testing.T, limit, usage int64) (*Budget, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "memory.current")
	setUsage(t, path, usage)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	b := &Budget{
		Source: "none", Cost: Cost{User: 3000, Socket: 1000},
		cg:        Cgroup{Version: 2, Dir: "/sys/fs/cgroup/app", Limit: limit, Usage: usage},
		hasCgroup: true, cgUsage: f, cgThreshold: limit - Headroom(limit),
		now: func() int64 { return 0 },
	}
	return b, path
}

func setUsage(t *testing.T, path string, v int64) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strconv.FormatInt(v, 10)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPlanAndOver(t *testing.T) {
	const limit, start, fixed = 64 << 20, 2 << 20, 1 << 20
	b, usage := fakeBudget(t, limit, start)
	if err := b.Plan(fixed); err != nil {
		t.Fatal(err)
	}
	want := int64(limit-4<<20-start-fixed) / 4000
	if b.Connections != want || b.Source != "cgroup v2" || b.Limit != limit || b.Start != start {
		t.Fatalf("budget %d from %s (limit %d, start %d); want %d from cgroup v2", b.Connections, b.Source, b.Limit, b.Start, want)
	}
	if b.Over(want) || !b.Over(want+1) {
		t.Errorf("Over(%d) %v, Over(%d) %v: want the budget's last admitted, the next refused", want, b.Over(want), want+1, b.Over(want+1))
	}
	// Usage above limit - headroom refuses whatever the count, and
	// admits again once it falls.
	setUsage(t, usage, limit-4<<20+1)
	if !b.Full() || b.Over(1) {
		t.Errorf("usage above limit - headroom: Full %v, Over(1) %v; want full, and the count within", b.Full(), b.Over(1))
	}
	setUsage(t, usage, limit-4<<20)
	if b.Full() || b.Usage() != limit-4<<20 {
		t.Errorf("usage back at the threshold: Full %v, Usage %d", b.Full(), b.Usage())
	}
	if soft := b.SoftLimit(start, 1); soft != limit-4<<20-want*1000 {
		t.Errorf("soft limit %d, want the limit less headroom and the budget's sockets, %d", soft, limit-4<<20-want*1000)
	}
	var none *Budget
	if none.Over(1<<40) || none.Full() {
		t.Error("no budget refused a connection")
	}
}

func TestPlanNoRoom(t *testing.T) {
	b, _ := fakeBudget(t, 8<<20, 6<<20)
	err := b.Plan(0)
	if err == nil || b.Connections != 0 {
		t.Fatalf("8 MiB with 6 MiB in use and 2 MiB headroom: budget %d, error %v", b.Connections, err)
	}
	for _, w := range []string{"memory limit 8.0M (cgroup v2)", "no room", "6.0M in use", "2.0M headroom"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not say %q", err, w)
		}
	}
}

// TestOwnUsage: with -m, the figures are this process's own.
func TestOwnUsage(t *testing.T) {
	b := Open(1<<40, Cost{User: 4096, Socket: 1000, ThreadKernel: 20000}, func() int64 { return 3 })
	if err := b.Plan(0); err != nil {
		t.Fatal(err)
	}
	if !b.hasCgroup && b.Source != "-m" {
		t.Fatalf("source %q, want -m", b.Source)
	}
	st, err := procfs.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	self, _ := st.Self()
	ps, err := self.Stat()
	if err != nil {
		t.Fatal(err)
	}
	u := b.ownUsage()
	low := int64(ps.RSS)*int64(os.Getpagesize()) + 3*1000
	if u < low || u > low+int64(ps.NumThreads+64)*20000+64<<20 {
		t.Errorf("own usage %d: want resident memory, threads and 3 sockets, about %d", u, low)
	}
}
