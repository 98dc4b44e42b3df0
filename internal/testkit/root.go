package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot is the directory holding go.mod, found from the directory the
// test runs in (go test runs each package in its own directory), however
// deep that package lies.
func RepoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := findRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// findRoot walks up from dir to the first directory with a go.mod file.
func findRoot(dir string) (string, error) {
	for d := dir; ; {
		if st, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !st.IsDir() {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("repository root not found: no go.mod in %s or above", dir)
		}
		d = parent
	}
}
