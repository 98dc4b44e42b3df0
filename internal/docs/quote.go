// Package docs keeps the kit's documentation honest: every measured table
// in README.md and docs/ is a quote of a generated results page, never
// typed by hand. A quote is marked in the Markdown as
//
//	<!-- quote results/experiment.md#holding-connections-the-memory-question -->
//	...the table, with a line naming its run...
//	<!-- end quote -->
//
// where the path is relative to docs/ and the fragment names a heading of
// that page (GitHub's anchor of it), optionally followed by a space and
// the table's number under the heading (1 by default). A table is a run
// of Markdown table lines or a fenced code block. Refresh rewrites every
// quote from its source; Check reports each quote that differs from it,
// which is what the test of this package fails on.
package docs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// quoteOpen matches a quote's opening marker: its source page, the
// heading's anchor and the table's number under it.
var quoteOpen = regexp.MustCompile(`^<!-- quote ([^ #]+)#([^ ]+)(?: ([0-9]+))? -->$`)

const quoteClose = "<!-- end quote -->"

// A quote is one marked block of a document.
type quote struct {
	file       string // the document that quotes
	line       int    // its opening marker's line, 1-based
	src        string // the source page, relative to docs/
	anchor     string
	n          int
	start, end int // the quoted lines are lines[start:end]
}

// Problem is a quote that does not match its source (Stale), or cannot be
// filled from it.
type Problem struct {
	File  string
	Line  int
	Msg   string
	Stale bool
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// quotes finds the quotes of one document.
func quotes(file string, lines []string) ([]quote, []Problem) {
	var qs []quote
	var ps []Problem
	for i := 0; i < len(lines); i++ {
		m := quoteOpen.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			if strings.HasPrefix(strings.TrimSpace(lines[i]), "<!-- quote") {
				ps = append(ps, Problem{File: file, Line: i + 1, Msg: "a quote marker that does not parse: want <!-- quote PAGE#ANCHOR [N] -->"})
			}
			continue
		}
		q := quote{file: file, line: i + 1, src: m[1], anchor: m[2], n: 1, start: i + 1}
		if m[3] != "" {
			q.n, _ = strconv.Atoi(m[3])
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) != quoteClose {
			j++
		}
		if j == len(lines) {
			ps = append(ps, Problem{File: file, Line: i + 1, Msg: "quote without its " + quoteClose})
			break
		}
		q.end = j
		qs = append(qs, q)
		i = j
	}
	return qs, ps
}

// anchor is GitHub's anchor of a heading: lower case, punctuation dropped,
// spaces as hyphens.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// table is the n-th table (1-based) under the heading with that anchor,
// before the next heading of the same or a higher level.
func table(lines []string, anc string, n int) ([]string, error) {
	level := 0
	for i := 0; i < len(lines); i++ {
		h, text := heading(lines[i])
		if h == 0 || anchor(text) != anc {
			continue
		}
		level = h
		seen := 0
		for j := i + 1; j < len(lines); j++ {
			if h2, _ := heading(lines[j]); h2 > 0 && h2 <= level {
				break
			}
			k := blockEnd(lines, j)
			if k == j {
				continue
			}
			if seen++; seen == n {
				return lines[j:k], nil
			}
			j = k - 1
		}
		return nil, fmt.Errorf("no table %d under #%s", n, anc)
	}
	return nil, fmt.Errorf("no heading #%s", anc)
}

// heading is the level and text of a Markdown heading line, or 0.
func heading(line string) (int, string) {
	h := 0
	for h < len(line) && line[h] == '#' {
		h++
	}
	if h == 0 || h > 6 || h >= len(line) || line[h] != ' ' {
		return 0, ""
	}
	return h, line[h+1:]
}

// blockEnd is the end of the table or fenced block starting at line i, or
// i when none starts there.
func blockEnd(lines []string, i int) int {
	switch {
	case strings.HasPrefix(lines[i], "|"):
		j := i
		for j < len(lines) && strings.HasPrefix(lines[j], "|") {
			j++
		}
		return j
	case strings.HasPrefix(lines[i], "```"):
		for j := i + 1; j < len(lines); j++ {
			if strings.HasPrefix(lines[j], "```") {
				return j + 1
			}
		}
	}
	return i
}

// want is what a quote should hold: the line that names its run, a blank
// line and the source's table.
func want(docsDir string, q quote, pages map[string][]string) ([]string, error) {
	lines, ok := pages[q.src]
	if !ok {
		b, err := os.ReadFile(filepath.Join(docsDir, q.src))
		if err != nil {
			return nil, err
		}
		lines = strings.Split(string(b), "\n")
		pages[q.src] = lines
	}
	t, err := table(lines, q.anchor, q.n)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", q.src, err)
	}
	run, err := provenance(lines)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", q.src, err)
	}
	rel, err := filepath.Rel(filepath.Dir(q.file), filepath.Join(docsDir, q.src))
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("<sub>From [%s](%s): %s</sub>", q.src, filepath.ToSlash(rel), run)
	return append([]string{head, ""}, t...), nil
}

// Documents is every document that may quote: README.md and the Markdown
// under docs/ except the generated pages themselves.
func Documents(root string) ([]string, error) {
	files := []string{filepath.Join(root, "README.md")}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "results" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

// Check reports every quote under root (a checkout) that differs from its
// source, or whose source cannot be read.
func Check(root string) ([]Problem, error) {
	return walk(root, false)
}

// Refresh rewrites every quote under root from its source and reports
// the quotes it could not fill.
func Refresh(root string) ([]Problem, error) {
	ps, err := walk(root, true)
	var bad []Problem
	for _, p := range ps {
		if !p.Stale {
			bad = append(bad, p)
		}
	}
	return bad, err
}

func walk(root string, write bool) ([]Problem, error) {
	files, err := Documents(root)
	if err != nil {
		return nil, err
	}
	docsDir := filepath.Join(root, "docs")
	pages := map[string][]string{}
	var all []Problem
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		lines := strings.Split(string(b), "\n")
		out, ps := fill(f, lines, docsDir, pages)
		rel, _ := filepath.Rel(root, f)
		for i := range ps {
			ps[i].File = rel
		}
		all = append(all, ps...)
		if write {
			nb := []byte(strings.Join(out, "\n"))
			if !bytes.Equal(nb, b) {
				if err := os.WriteFile(f, nb, 0o644); err != nil {
					return nil, err
				}
			}
		}
	}
	return all, nil
}

// fill is the document with every quote as its source says, and a
// problem for each quote that differed or could not be filled.
func fill(file string, lines []string, docsDir string, pages map[string][]string) ([]string, []Problem) {
	qs, ps := quotes(file, lines)
	var out []string
	prev := 0
	for _, q := range qs {
		out = append(out, lines[prev:q.start]...)
		w, err := want(docsDir, q, pages)
		switch {
		case err != nil:
			ps = append(ps, Problem{File: file, Line: q.line, Msg: err.Error()})
			w = lines[q.start:q.end]
		case !slices.Equal(w, lines[q.start:q.end]):
			ps = append(ps, Problem{File: file, Line: q.line, Stale: true,
				Msg: fmt.Sprintf("the quote of %s#%s differs from its source (make docs rewrites it)", q.src, q.anchor)})
		}
		out = append(out, w...)
		prev = q.end
	}
	return append(out, lines[prev:]...), ps
}
