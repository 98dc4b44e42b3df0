// Command experiment runs the side-by-side experiment (make experiment):
// every server against the client at several connection counts and
// workloads, and writes results/<date-time>/ with raw JSON, a CSV, plots
// and a Markdown report. Its other modes (-bench, -c100k, -models,
// -keepalive, -soak, -ceiling) run the same way into results/MODE-<date-time>/;
// internal/runner says how, and SCHEMAS.md what they write. Run it from
// the repository root after make.
package main

import (
	"os"

	"tenkthreads/internal/runner"
)

func main() {
	os.Exit(runner.Main(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
