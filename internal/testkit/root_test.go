package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRepoRoot(t *testing.T) {
	root := RepoRoot(t)
	for _, p := range []string{"go.mod", "internal/testkit/root.go"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("RepoRoot %s: %v", root, err)
		}
	}
	deep := filepath.Join(root, "internal", "testkit", "no", "such", "dir")
	if r, err := findRoot(deep); err != nil || r != root {
		t.Errorf("findRoot(%s) = %q, %v; want %s", deep, r, err, root)
	}
	if r, err := findRoot(t.TempDir()); err == nil {
		t.Errorf("findRoot found %s above a temporary directory", r)
	}
}
