package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
)

// A model whose entry in the C server's table of models leaves out what
// the memory budget prices its connections by must not start at all: a
// cost taken as zero would admit more connections than the memory holds.
// Each case builds a copy of the server with one fact taken out of one
// entry, and every way of starting it fails, naming the model and the fact.
func TestModelTableMissingFact(t *testing.T) {
	dir := serverSourceCopy(t)
	build(t, dir)
	if res := testkit.Run(t, 10*time.Second, filepath.Join(dir, "bin", "10kthreads"), "-M", "list"); res.Code != 0 {
		t.Fatalf("the unchanged copy: -M list exit %d, stderr %q", res.Code, res.Stderr)
	}
	table, err := os.ReadFile(filepath.Join(dir, "core", "models.c"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		model, fact, lacks string
	}{
		{"epoll", ".served = SERVED_LOOP", "what serves a connection (.served)"},
		{"uring", ".watch = WATCH_URING", "what watches a connection (.watch)"},
		{"pool", ".workers = WORKERS_THREADS", "what -w counts (.workers)"},
		{"prethread", ".default_workers = 64", "how many workers -w defaults to (.default_workers)"},
	} {
		t.Run(c.model, func(t *testing.T) {
			writeWithout(t, filepath.Join(dir, "core", "models.c"), string(table), c.model, c.fact)
			build(t, dir)
			want := "10kthreads: model " + c.model + ": its entry in the models table (core/models.c) lacks " + c.lacks + "\n"
			for _, args := range [][]string{
				{"-M", c.model, "-p", "0"},
				{"-M", "thread", "-p", "0"},
				{"-M", "list"},
				{"-h"},
			} {
				res := testkit.Run(t, 10*time.Second, filepath.Join(dir, "bin", "10kthreads"), args...)
				if res.Code != 1 || res.Stderr != want || res.Stdout != "" {
					t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1, no output, stderr %q",
						strings.Join(args, " "), res.Code, res.Stdout, res.Stderr, want)
				}
			}
		})
	}
}

// serverSourceCopy copies what builds bin/10kthreads into a temporary
// directory: the C sources, the Makefile and the prerequisites check.
func serverSourceCopy(t *testing.T) string {
	t.Helper()
	root, dir := testkit.RepoRoot(t), t.TempDir()
	var files []string
	for _, pat := range []string{"*.c", "Makefile", "scripts/prereqs", "core/*", "models/*.c", "models/*/*"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil || len(m) == 0 {
			t.Fatalf("%s: nothing matches (%v)", pat, err)
		}
		files = append(files, m...)
	}
	for _, src := range files {
		rel, _ := filepath.Rel(root, src)
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// build makes bin/10kthreads in dir, unoptimised: only the behaviour counts.
func build(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("make", "-s", "CFLAGS=-O0", "bin/10kthreads")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make in a copy of the server's sources: %v\n%s", err, out)
	}
}

// writeWithout writes table to path with fact taken out of model's entry,
// failing unless that entry holds it exactly once.
func writeWithout(t *testing.T, path, table, model, fact string) {
	t.Helper()
	entry := regexp.MustCompile(`(?s)\{ \.name = "` + regexp.QuoteMeta(model) + `",.*?\},\n`)
	loc := entry.FindStringIndex(table)
	if loc == nil {
		t.Fatalf("core/models.c has no entry for %s", model)
	}
	e := table[loc[0]:loc[1]]
	if strings.Count(e, fact+",") != 1 {
		t.Fatalf("the %s entry does not hold %q once:\n%s", model, fact, e)
	}
	e = strings.Replace(e, fact+",", "", 1)
	if err := os.WriteFile(path, []byte(table[:loc[0]]+e+table[loc[1]:]), 0o644); err != nil {
		t.Fatal(err)
	}
}
