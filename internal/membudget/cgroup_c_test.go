package membudget

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"tenkthreads/internal/testkit"
)

// cgroupFind builds testdata/cgroupfind.c with the C server's cgroup.c,
// with the Makefile's flags, and returns the program.
func cgroupFind(t *testing.T) string {
	t.Helper()
	root := testkit.RepoRoot(t)
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	out := filepath.Join(t.TempDir(), "cgroupfind")
	cmd := exec.Command(cc, "-std=gnu11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
		"-isystem", "/usr/include/bsd", "-DLIBBSD_OVERLAY", "-iquote", filepath.Join(root, "core"),
		filepath.Join("testdata", "cgroupfind.c"), filepath.Join(root, "core", "cgroup.c"), "-o", out, "-lbsd")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, b)
	}
	return out
}

// TestCgroupC holds the C server's cgroup.c to the cases the Go package
// passes: the same samples, trees and answers.
func TestCgroupC(t *testing.T) {
	prog := cgroupFind(t)
	for _, c := range cgroupCases {
		for _, sm := range samples(t, c) {
			t.Run(c.name+"/"+sm.name, func(t *testing.T) {
				proc := filepath.Join(sm.dir, "1")
				b, err := exec.Command(prog, proc, c.fakeRoot(t)).Output()
				if err != nil {
					t.Fatalf("cgroupfind: %v", err)
				}
				found := 0
				usage := int64(0)
				if c.limit >= 0 {
					found, usage = 1, c.usage
				}
				want := fmt.Sprintf("%d %d %s|%s|%d %d\n", found, c.version, c.leaf, c.dir, c.limit, usage)
				if string(b) != want {
					t.Errorf("cgroup.c found %q, want %q", b, want)
				}
			})
		}
	}
}

func TestParseLimitC(t *testing.T) {
	prog := cgroupFind(t)
	for _, text := range []string{"max\n", "max", v1Unlimited, "67108864\n", "0\n", "maximum\n",
		"lots\n", "-5\n", "", "64M\n", "99999999999999999999\n"} {
		b, err := exec.Command(prog, "-l", text).Output()
		if err != nil {
			t.Fatalf("cgroupfind -l %q: %v", text, err)
		}
		got, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		want, err := ParseLimit(text)
		if err != nil {
			want = -2
		}
		if got != want {
			t.Errorf("cgroup.c parses %q as %d, the Go package as %d", text, got, want)
		}
	}
}
