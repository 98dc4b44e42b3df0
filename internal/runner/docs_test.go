package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tenkthreads/internal/runner/plan"
)

// TestWriteDocs writes a matrix directory's page and fills the README's
// quote of it; a directory that is no results directory, or a checkout
// without docs/, fails with a line that says so.
func TestWriteDocs(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	res := filepath.Join(root, "results", "20260102-030405")
	for _, d := range []string{"docs", res} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(res, "meta.json"): `{"started":"2026-01-02 03:04:05 UTC","command":"make experiment","environment":[["git commit","abc"]]}`,
		filepath.Join(res, "report.md"): "# x\n\n## Headline\n\n| server | held |\n|---|---:|\n| thread | 10000 |\n",
		"README.md":                     "# Kit\n\n<!-- quote results/experiment.md#headline -->\n<!-- end quote -->\n",
	}
	for p, s := range files {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := writeDocs(plan.Options{Docs: true, Args: []string{res}}, &out); err != nil {
		t.Fatalf("writeDocs: %v\n%s", err, out.String())
	}
	readme, _ := os.ReadFile("README.md")
	if !strings.Contains(string(readme), "| thread | 10000 |") || !strings.Contains(string(readme), "commit abc") {
		t.Errorf("README after -docs:\n%s", readme)
	}
	if _, err := os.Stat(filepath.Join("docs", "results", "experiment.md")); err != nil {
		t.Error(err)
	}
	if err := writeDocs(plan.Options{Docs: true, Args: []string{root}}, &out); err == nil || !strings.Contains(err.Error(), "not a results directory") {
		t.Errorf("a directory that is no results directory: %v", err)
	}
	if err := os.WriteFile("README.md", []byte("<!-- quote results/experiment.md#gone -->\n<!-- end quote -->\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeDocs(plan.Options{Docs: true}, &out); err == nil || !strings.Contains(out.String(), "no heading #gone") {
		t.Errorf("a quote of no table: %v\n%s", err, out.String())
	}
	t.Chdir(t.TempDir())
	if err := writeDocs(plan.Options{Docs: true}, &out); err == nil || !strings.Contains(err.Error(), "repository root") {
		t.Errorf("without docs/: %v", err)
	}
}

// A matrix run in namespaces or across hosts has a page of its own
// beside the loopback one, never in its place.
func TestPageOfTopology(t *testing.T) {
	for kind, want := range map[string]string{"": "experiment", "netns": "netns", "ssh": "hosts"} {
		dir := t.TempDir()
		meta := `{"started":"x"}`
		if kind != "" {
			meta = `{"started":"x","topology":{"kind":"` + kind + `","hosts":[],"links":""}}`
		}
		for name, text := range map[string]string{"report.md": "# r\n", "meta.json": meta} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if spec, err := pageOf(dir); err != nil || spec.Name != want {
			t.Errorf("topology %q: page %q (%v), want %q", kind, spec.Name, err, want)
		}
	}
}
