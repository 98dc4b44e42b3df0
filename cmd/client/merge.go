package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"tenkthreads/internal/clientreport"
)

func mergeMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("client merge", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("json", "", "write the merged report as JSON to FILE")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, usageLine)
			return 0
		}
		fmt.Fprintf(stderr, "client merge: %v\n%s\n", err, usageLine)
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "client merge: no JSON files given\n%s\n", usageLine)
		return 2
	}
	var rs []*clientreport.Result
	for _, p := range fs.Args() {
		r, err := clientreport.Read(p)
		if err != nil {
			fmt.Fprintf(stderr, "client merge: %v\n", err)
			return 1
		}
		rs = append(rs, r)
	}
	m, err := clientreport.Merge(rs, fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "client merge: %v\n", err)
		return 1
	}
	return finish(m, *out, stdout, stderr)
}
