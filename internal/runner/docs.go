package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"tenkthreads/internal/docs"
	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/results"
)

// page is how a mode's results directory becomes its page under
// docs/results: the file that marks the mode's directories, and the page.
type page struct {
	marker string
	spec   docs.Spec
}

// pages are the modes' pages, the matrix's last: its report.md is in
// other modes' directories too.
var pages = []page{
	{"bench.json", docs.Spec{Name: "bench", Title: "make bench", Target: "make bench",
		Sources: []docs.Source{{File: "bench.md"}}}},
	{"c100k.json", docs.Spec{Name: "c100k", Title: "make c100k", Target: "make c100k TUNE=1",
		Sources: []docs.Source{{File: "report.md"}}}},
	{"models.json", docs.Spec{Name: "models", Title: "make models", Target: "make models",
		Sources: []docs.Source{{File: "models.md"}}}},
	{"keepalive.json", docs.Spec{Name: "keepalive", Title: "make keepalive", Target: "make keepalive",
		Sources: []docs.Source{{File: "keepalive.md"}}}},
	{"soak.json", docs.Spec{Name: "soak", Title: "make soak", Target: "make soak",
		Sources: []docs.Source{{File: "report.md"}}}},
	{"c1m.json", docs.Spec{Name: "c1m", Title: "make c1m", Target: "make c1m TUNE=1",
		Sources: []docs.Source{{File: "report.md"}}}},
	{"ceiling.json", docs.Spec{Name: "ceiling", Title: "make ceiling", Target: "make ceiling TUNE=1",
		Sources: []docs.Source{{File: "report.md"}}}},
	{"compare.json", docs.Spec{Name: "compare", Title: "bin/experiment -compare", Target: "bin/experiment -compare A B",
		Sources: []docs.Source{{File: "compare.md"}}}},
	{"report.md", docs.Spec{Name: "experiment", Title: "make experiment", Target: "make experiment",
		Sources: []docs.Source{{File: "report.md"}}}},
}

// topologyPages are the matrix's pages for a run that was not on
// loopback, by meta.json's topology kind: they stand beside the
// loopback page, not in its place.
var topologyPages = map[string]docs.Spec{
	"netns": {Name: "netns", Title: "bin/experiment -topology netns (or both)", Target: "sudo bin/experiment -topology both",
		Sources: []docs.Source{{File: "report.md"}}},
	"ssh": {Name: "hosts", Title: "bin/experiment across hosts", Target: "bin/experiment -server-host HOST -client-hosts H1,H2",
		Sources: []docs.Source{{File: "report.md"}}},
}

// topologyKind is the kind of meta.json's topology in dir, "" for
// loopback (or no meta.json).
func topologyKind(dir string) string {
	var m struct{ Topology *results.Topology }
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil || json.Unmarshal(b, &m) != nil || m.Topology == nil {
		return ""
	}
	return m.Topology.Kind
}

// pageOf is the page of the results directory dir.
func pageOf(dir string) (docs.Spec, error) {
	for _, p := range pages {
		if _, err := os.Stat(filepath.Join(dir, p.marker)); err != nil {
			continue
		}
		if spec, ok := topologyPages[topologyKind(dir)]; ok && p.spec.Name == "experiment" {
			return spec, nil
		}
		return p.spec, nil
	}
	return docs.Spec{}, fmt.Errorf("%s: not a results directory of bin/experiment (no report.md or mode summary)", dir)
}

// writeDocs writes the page of each results directory o.Args names under
// docs/results, then rewrites every quoted table of README.md and docs/
// from the pages: -docs, which make docs runs.
func writeDocs(o plan.Options, stdout io.Writer) error {
	const docsDir = "docs"
	if st, err := os.Stat(docsDir); err != nil || !st.IsDir() {
		return fmt.Errorf("-docs: no %s/ here: run it from the repository root", docsDir)
	}
	for _, dir := range o.Args {
		spec, err := pageOf(dir)
		if err != nil {
			return err
		}
		path, err := docs.WritePage(dir, docsDir, spec)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s from %s\n", path, dir)
	}
	ps, err := docs.Refresh(".")
	if err != nil {
		return err
	}
	for _, p := range ps {
		fmt.Fprintf(stdout, "%s\n", p)
	}
	if len(ps) > 0 {
		return &ExitError{Code: exitFailed, Msg: fmt.Sprintf("-docs: %d quoted table(s) could not be filled from their source", len(ps))}
	}
	fmt.Fprintln(stdout, "quoted tables of README.md and docs/ rewritten from docs/results")
	return nil
}
