package membudget

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/procfs"
)

// v1Unlimited is what memory.limit_in_bytes reads when no limit is set.
const v1Unlimited = "9223372036854771712\n"

// unlimited is no limit, in either version's words.
const unlimited = ""

// level is a cgroup directory (under the fake root) with its limit and
// usage; a limit of unlimited reads as "max" in v2 and v1Unlimited in v1.
type level struct{ dir, limit, usage string }

// tree is the limit and usage files of the levels, by path.
func tree(version int, levels ...level) map[string]string {
	files := map[string]string{}
	for _, l := range levels {
		limit := l.limit
		if limit == unlimited {
			limit = map[int]string{1: strings.TrimSuffix(v1Unlimited, "\n"), 2: "max"}[version]
		}
		files[l.dir+"/"+limitFile[version]] = limit + "\n"
		files[l.dir+"/"+usageFile[version]] = l.usage + "\n"
	}
	return files
}

// cgroupCase is a recorded /proc/self/cgroup and mountinfo (testdata/
// sample/1/) with a cgroup tree of limit and usage files, and the cgroup
// each implementation must find in it.
type cgroupCase struct {
	name, sample string
	files        map[string]string // under the fake root
	version      int               // 0: no memory cgroup
	leaf, dir    string
	limit        int64 // -1: no level has a limit
	usage        int64
}

var cgroupCases = []cgroupCase{
	{
		name: "hybrid: v1 memory beside a v2 hierarchy without it", sample: "hybrid",
		files: tree(1,
			level{"sys/fs/cgroup/memory", unlimited, "524288000"},
			level{"sys/fs/cgroup/memory/session", unlimited, "3000000"},
			level{"sys/fs/cgroup/memory/session/13299dbb", "67108864", "1048576"}),
		version: 1, leaf: "/sys/fs/cgroup/memory/session/13299dbb",
		dir: "/sys/fs/cgroup/memory/session/13299dbb", limit: 64 << 20, usage: 1 << 20,
	},
	{
		name: "hybrid, no limit set: v1's unlimited value", sample: "hybrid",
		files: tree(1,
			level{"sys/fs/cgroup/memory", unlimited, "524288000"},
			level{"sys/fs/cgroup/memory/session/13299dbb", unlimited, "1048576"}),
		version: 1, leaf: "/sys/fs/cgroup/memory/session/13299dbb", limit: -1,
	},
	{
		// The parent has the larger limit but the least room: it binds.
		name: "v1 nested: the ancestor with the least room", sample: "v1",
		files: tree(1,
			level{"sys/fs/cgroup/memory", unlimited, "2000000000"},
			level{"sys/fs/cgroup/memory/batch", "1073741824", "943718400"},
			level{"sys/fs/cgroup/memory/batch/job42", "536870912", "10485760"}),
		version: 1, leaf: "/sys/fs/cgroup/memory/batch/job42",
		dir: "/sys/fs/cgroup/memory/batch", limit: 1 << 30, usage: 943718400,
	},
	{
		name: "v2: the service's memory.max under a slice at max", sample: "v2",
		files: tree(2,
			level{"sys/fs/cgroup/system.slice", "max", "314572800"},
			level{"sys/fs/cgroup/system.slice/echo.service", "67108864", "1048576"}),
		version: 2, leaf: "/sys/fs/cgroup/system.slice/echo.service",
		dir: "/sys/fs/cgroup/system.slice/echo.service", limit: 64 << 20, usage: 1 << 20,
	},
	{
		name: "v2: max everywhere is no limit", sample: "v2",
		files: tree(2,
			level{"sys/fs/cgroup/system.slice", "max", "314572800"},
			level{"sys/fs/cgroup/system.slice/echo.service", "max", "1048576"}),
		version: 2, leaf: "/sys/fs/cgroup/system.slice/echo.service", limit: -1,
	},
	{
		name: "v2: a level that is not a number is passed over", sample: "v2",
		files: tree(2,
			level{"sys/fs/cgroup/system.slice", "209715200", "10485760"},
			level{"sys/fs/cgroup/system.slice/echo.service", "lots", "1048576"}),
		version: 2, leaf: "/sys/fs/cgroup/system.slice/echo.service",
		dir: "/sys/fs/cgroup/system.slice", limit: 200 << 20, usage: 10 << 20,
	},
	{
		name: "hybrid with memory in v2", sample: "hybrid-v2",
		files: tree(2,
			level{"sys/fs/cgroup/unified/user.slice/user-1000.slice", "max", "50000000"},
			level{"sys/fs/cgroup/unified/user.slice/user-1000.slice/session-2.scope", "134217728", "2097152"}),
		version: 2, leaf: "/sys/fs/cgroup/unified/user.slice/user-1000.slice/session-2.scope",
		dir: "/sys/fs/cgroup/unified/user.slice/user-1000.slice/session-2.scope", limit: 128 << 20, usage: 2 << 20,
	},
	{
		name: "container with a cgroup namespace (v2)", sample: "container-v2",
		files: tree(2,
			level{"sys/fs/cgroup", "268435456", "5242880"}),
		version: 2, leaf: "/sys/fs/cgroup", dir: "/sys/fs/cgroup", limit: 256 << 20, usage: 5 << 20,
	},
	{
		name: "container without a cgroup namespace (v1)", sample: "container-v1",
		files: tree(1,
			level{"sys/fs/cgroup/memory", "536870912", "1048576"}),
		version: 1, leaf: "/sys/fs/cgroup/memory", dir: "/sys/fs/cgroup/memory", limit: 512 << 20, usage: 1 << 20,
	},
	{
		name: "no memory controller", sample: "none", limit: -1,
	},
	{
		name: "escaped mount point", sample: "escaped",
		files: tree(2,
			level{"mnt/cgroup v2/app", "1048576000", "0"}),
		version: 2, leaf: "/mnt/cgroup v2/app", dir: "/mnt/cgroup v2/app", limit: 1048576000,
	},
}

// fakeRoot writes the case's files under a new directory and returns it.
func (c cgroupCase) fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, text := range c.files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// sample is a /proc to read, named for the subtest.
type sample struct{ name, dir string }

// samples is where each test reads case c's /proc: the recorded sample,
// and a copy of it whose mountinfo first lists 3,000 other mounts (about
// 560 KiB), as in a busy container, so that no reader may cut it short.
func samples(t *testing.T, c cgroupCase) []sample {
	t.Helper()
	src := filepath.Join("testdata", c.sample, "1")
	padded := t.TempDir()
	dst := filepath.Join(padded, "1")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	var mi strings.Builder
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&mi, "%d 28 0:%d / /run/containers/storage/overlay-containers/%064d/userdata/shm rw,nosuid,nodev shared:%d - tmpfs shm rw,size=65536k\n",
			1000+i, 100+i, i, 500+i)
	}
	for _, name := range []string{"cgroup", "mountinfo"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "mountinfo" {
			b = append([]byte(mi.String()), b...)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return []sample{{"recorded", filepath.Join("testdata", c.sample)}, {"long mountinfo", padded}}
}

func TestFindCgroup(t *testing.T) {
	for _, c := range cgroupCases {
		for _, sm := range samples(t, c) {
			t.Run(c.name+"/"+sm.name, func(t *testing.T) { checkFindCgroup(t, c, sm.dir) })
		}
	}
}

// checkFindCgroup: the Go package finds case c's answer in the /proc at dir.
func checkFindCgroup(t *testing.T, c cgroupCase, dir string) {
	t.Helper()
	fs, err := procfs.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	proc, err := fs.Proc(1)
	if err != nil {
		t.Fatal(err)
	}
	got, found := FindCgroup(proc, c.fakeRoot(t))
	if got.Version != c.version || got.Leaf != c.leaf {
		t.Errorf("version %d, cgroup %q; want %d, %q", got.Version, got.Leaf, c.version, c.leaf)
	}
	if found != (c.limit >= 0) || got.Dir != c.dir || got.Limit != c.limit || (found && got.Usage != c.usage) {
		t.Errorf("found %v: %q limit %d usage %d; want %q limit %d usage %d",
			found, got.Dir, got.Limit, got.Usage, c.dir, c.limit, c.usage)
	}
}

func TestParseLimit(t *testing.T) {
	for _, c := range []struct {
		text string
		want int64
		ok   bool
	}{
		{"max\n", -1, true}, {"max", -1, true}, {v1Unlimited, -1, true},
		{"67108864\n", 64 << 20, true}, {"0\n", 0, true},
		{"maximum\n", 0, false}, {"lots\n", 0, false}, {"-5\n", 0, false},
		{"", 0, false}, {"64M\n", 0, false}, {"99999999999999999999\n", 0, false},
	} {
		got, err := ParseLimit(c.text)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseLimit(%q) = %d, %v; want %d, ok %v", c.text, got, err, c.want, c.ok)
		}
	}
}
