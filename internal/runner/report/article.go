package report

import (
	"fmt"
	"strings"

	"tenkthreads/internal/runner/results"
)

// The seed article's requests/s (Linux Applications Performance, Part V:
// Pre-threaded Servers, unixism.net), credited to it: its designs' columns
// and, for each, the kit's model that matches it. "wide" is where the
// article reports wide variations, "" where it has no figure.
var articleDesigns = []struct{ name, model string }{
	{"iterative", "iterative"}, {"forking", "fork"}, {"preforked", "prefork-nolock"},
	{"threaded", "thread"}, {"prethreaded", "prethread"}, {"poll", "poll"}, {"epoll", "epoll"},
}

var articleFigures = map[int][7]string{
	20:    {"7", "112", "2,100", "1,800", "2,250", "1,900", "2,050"},
	100:   {"7", "245", "2,200", "1,700", "2,200", "2,150", "2,100"},
	200:   {"7", "330", "2,300", "1,750", "2,300", "2,200", "2,100"},
	500:   {"", "440", "2,300", "1,850", "2,700", "1,900", "2,212"},
	1000:  {"", "475", "2,300", "1,700", "2,485", "1,150", "2,439"},
	2000:  {"", "350", "2,400", "1,400", "2,396", "550", "2,200"},
	5000:  {"", "wide", "1,600", "1,100", "2,519", "", "2,235"},
	10000: {"", "", "", "wide", "2,200", "", "2,200"},
	15000: {"", "", "", "", "532", "", "1,281"},
}

// modelsArticle is the article's table beside the kit's, at the
// concurrencies both have: "article / kit" per design.
func modelsArticle(b *strings.Builder, rep ModelsReport) {
	head := []string{"concurrency"}
	right := []bool{true}
	for _, d := range articleDesigns {
		head, right = append(head, d.name), append(right, true)
	}
	var rows [][]string
	for _, n := range rep.Concurrency {
		art, ok := articleFigures[n]
		if !ok {
			continue
		}
		row := []string{results.Thousands(n)}
		for i, d := range articleDesigns {
			kit := "–"
			if c := findModelsCell(rep, "10kthreads:"+d.model, n); c != nil {
				kit = rpsCell(*c, rep.RequestDelayUS)
			}
			a := art[i]
			if a == "" {
				a = "–"
			}
			row = append(row, a+" / "+kit)
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n## Next to the seed article\n\n")
	fmt.Fprintf(b, "The seed article's requests/s (*Linux Applications Performance*, Part V: Pre-threaded Servers, on unixism.net; its figures credited to it) beside this run's, as article / kit, for the kit's designs that match the article's (%s). \"wide\" is where the article reports wide variations, – where either has no figure. The article's requests were HTTP calls that waited on Redis; in this run %s.\n\n",
		articleMatches(), delayText(rep.RequestDelayUS))
	b.WriteString(MDTable(head, rows, right))
}

func articleMatches() string {
	var m []string
	for _, d := range articleDesigns {
		if d.name != d.model {
			m = append(m, d.model+" for "+d.name)
		}
	}
	return strings.Join(m, ", ")
}
