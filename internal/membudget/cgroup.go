// Package membudget finds the memory limit a server runs under (its memory
// cgroup's, v1 or v2, or one given with -m) and how many connections fit in
// it, and keeps the server within it as connections arrive. It is the Go
// side of the C server's cgroup.c and membudget.c, and decides the same way;
// the README's "Running under a memory limit" explains the figures.
package membudget

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
)

// The files of the memory controller, by cgroup version.
var (
	limitFile = [3]string{1: "memory.limit_in_bytes", 2: "memory.max"}
	usageFile = [3]string{1: "memory.usage_in_bytes", 2: "memory.current"}
)

// Cgroup is a process's memory cgroup and the level that binds it.
type Cgroup struct {
	Version int    // 1 or 2
	Mount   string // where the hierarchy is mounted
	Leaf    string // the process's own cgroup directory
	Dir     string // the level with a limit and the least room, or ""
	Limit   int64  // Dir's limit in bytes, or -1 for none
	Usage   int64  // Dir's usage in bytes when it was found
}

// Locate finds the memory cgroup from the lines of /proc/self/cgroup and
// the mounts of /proc/self/mountinfo; false if the process has none that
// is mounted. A v1 hierarchy that lists the memory controller has it;
// otherwise the unified v2 hierarchy (the line "0::/path") does.
func Locate(cgroups []procfs.Cgroup, mounts []*procfs.MountInfo) (Cgroup, bool) {
	var c Cgroup
	var path string
	for _, cg := range cgroups {
		if slices.Contains(cg.Controllers, "memory") {
			c.Version, path = 1, cg.Path
			break
		}
		if cg.HierarchyID == 0 && len(cg.Controllers) == 0 && c.Version == 0 {
			c.Version, path = 2, cg.Path
		}
	}
	if c.Version == 0 {
		return Cgroup{}, false
	}
	for _, m := range mounts {
		if !isHierarchy(m, c.Version) {
			continue
		}
		root := unescape(m.Root)
		rel, ok := path, root == "/"
		if !ok && (path == root || strings.HasPrefix(path, root+"/")) {
			rel, ok = path[len(root):], true
		}
		if !ok {
			continue
		}
		if rel == "/" {
			rel = ""
		}
		c.Mount = unescape(m.MountPoint)
		c.Leaf = c.Mount + rel
		return c, true
	}
	return Cgroup{}, false
}

func isHierarchy(m *procfs.MountInfo, version int) bool {
	if version == 2 {
		return m.FSType == "cgroup2"
	}
	_, ok := m.SuperOptions["memory"]
	return m.FSType == "cgroup" && ok
}

// unescape undoes mountinfo's octal escapes, as in "\040" for a space.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// errNotNumber marks a limit or usage file that does not hold a number.
var errNotNumber = errors.New("not a number")

// ParseLimit reads a limit file's text: bytes, or -1 for no limit ("max"
// in v2; in v1 an unset limit reads as the largest page multiple of an
// int64).
func ParseLimit(text string) (int64, error) {
	s := strings.TrimSuffix(text, "\n")
	if s == "max" {
		return -1, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q: %w", text, errNotNumber)
	}
	page := int64(os.Getpagesize())
	if v >= math.MaxInt64/page*page {
		return -1, nil
	}
	return v, nil
}

func levelValue(root, dir, file string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(root, dir, file))
	if err != nil {
		return 0, err
	}
	return ParseLimit(string(b))
}

// bindingLevel walks from c.Leaf up to c.Mount (under root, "" but in
// tests) and keeps the level with a limit and the least room left: a
// cgroup is held by its ancestors' limits too. False if no level has one.
func (c *Cgroup) bindingLevel(root string) bool {
	c.Dir, c.Limit = "", -1
	for dir := c.Leaf; ; dir = filepath.Dir(dir) {
		limit, lerr := levelValue(root, dir, limitFile[c.Version])
		usage, uerr := levelValue(root, dir, usageFile[c.Version])
		if lerr == nil && uerr == nil && limit >= 0 && usage >= 0 &&
			(c.Limit == -1 || limit-usage < c.Limit-c.Usage) {
			c.Dir, c.Limit, c.Usage = dir, limit, usage
		}
		if len(dir) <= len(c.Mount) || dir == "/" {
			break
		}
	}
	return c.Limit >= 0
}

// FindCgroup finds proc's memory cgroup and the limit that binds it, with
// every cgroup path under root ("" but in tests). False if there is none.
func FindCgroup(proc procfs.Proc, root string) (Cgroup, bool) {
	none := Cgroup{Limit: -1}
	cgroups, err := proc.Cgroups()
	if err != nil {
		return none, false
	}
	mounts, err := proc.MountInfo()
	if err != nil {
		return none, false
	}
	c, ok := Locate(cgroups, mounts)
	if !ok {
		return none, false
	}
	return c, c.bindingLevel(root)
}

// UsagePath is the usage file of the binding level, under root.
func (c Cgroup) UsagePath(root string) string {
	return filepath.Join(root, c.Dir, usageFile[c.Version])
}
