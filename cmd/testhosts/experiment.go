package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/testhosts"
)

// reportLine is bin/experiment's closing line, which names its report.
var reportLine = regexp.MustCompile(`(?m)^finished in \S+; report: (\S+)/report\.md$`)

// experimentCheck runs a quick bin/experiment from the control host
// with the server on the server host and the clients on every client
// host, over ssh, and checks its results: every run ok with every echo
// verified, the merged client counts the sum of the client hosts'
// reports, and the server host's machine record in every hold run.
func (r *runner) experimentCheck(ctx context.Context) error {
	bin, err := filepath.Abs(r.cfg.bin)
	if err != nil {
		return err
	}
	out, err := filepath.Abs(r.cfg.out)
	if err != nil {
		return err
	}
	var clients []string
	for _, c := range r.lab.Clients() {
		clients = append(clients, c.Name)
	}
	argv := []string{filepath.Join(bin, "experiment"), "-quick", "-hold", "1s", "-bin", bin, "-out", out,
		"-servers", "10kthreads:thread,10kthreads:epoll", "-workloads", "hold,echo",
		"-server-host", r.lab.Server().Name, "-client-hosts", strings.Join(clients, ","), "-ssh-config", r.lab.SSHConfig}
	fmt.Fprintf(r.out, "experiment: from the control host: %s\n", strings.Join(argv[1:], " "))
	cmd := r.lab.Command(ctx, r.lab.Control(), argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("experiment: bin/experiment: %v: %s", err, testhosts.LastLine(stderr.String()))
	}
	m := reportLine.FindStringSubmatch(stdout.String())
	if m == nil {
		return fmt.Errorf("experiment: bin/experiment named no report:\n%s", stdout.String())
	}
	lines, err := checkResults(m[1], len(clients))
	if err != nil {
		return fmt.Errorf("experiment: %s: %w", m[1], err)
	}
	for _, l := range lines {
		fmt.Fprintf(r.out, "  %s\n", l)
	}
	fmt.Fprintf(r.out, "  results in %s\n", m[1])
	return nil
}

// checkResults checks a results directory of a run across hosts and
// says what it found, one line a run.
func checkResults(dir string, hosts int) ([]string, error) {
	var runs []results.Run
	if err := readJSON(filepath.Join(dir, "runs.json"), &runs); err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("runs.json has no runs")
	}
	var lines []string
	for _, run := range runs {
		if run.Superseded != "" {
			continue
		}
		line, err := checkRun(dir, run, hosts)
		if err != nil {
			return nil, fmt.Errorf("%s %s %d: %w", run.Label, run.Workload, run.Conns, err)
		}
		lines = append(lines, line)
	}
	return lines, nil
}

// checkRun checks one run: status ok, the merged client report equal to
// the sum of the hosts' and every connection verified, and the server
// host's machine record for a hold run.
func checkRun(dir string, run results.Run, hosts int) (string, error) {
	if run.Status != results.StatusOK {
		return "", fmt.Errorf("status %s: %s", run.Status, run.Detail)
	}
	raw := filepath.Join(dir, "raw")
	merged, err := clientreport.Read(filepath.Join(raw, run.ClientJSON))
	if err != nil {
		return "", err
	}
	parts, _ := filepath.Glob(filepath.Join(raw, strings.TrimSuffix(run.ClientJSON, ".client.json")+".client.*.json"))
	if len(parts) != min(hosts, run.Conns) {
		return "", fmt.Errorf("%d client hosts' reports, want %d", len(parts), min(hosts, run.Conns))
	}
	var sum clientreport.Result
	for _, p := range parts {
		c, err := clientreport.Read(p)
		if err != nil {
			return "", err
		}
		sum.Requested += c.Requested
		sum.Established += c.Established
		sum.Verified += c.Verified
		sum.RoundTrips += c.RoundTrips
	}
	switch {
	case merged.Requested != sum.Requested || merged.Established != sum.Established ||
		merged.Verified != sum.Verified || merged.RoundTrips != sum.RoundTrips:
		return "", fmt.Errorf("merged report: %d requested, %d established, %d verified, %d round trips; the hosts' sum: %d, %d, %d, %d",
			merged.Requested, merged.Established, merged.Verified, merged.RoundTrips, sum.Requested, sum.Established, sum.Verified, sum.RoundTrips)
	case !merged.OK() || merged.Verified != int64(run.Conns):
		return "", fmt.Errorf("%d of %d connections verified, errors %v", merged.Verified, run.Conns, merged.Errors)
	}
	line := fmt.Sprintf("%-20s %-5s %4d conns: %d client hosts, merged = sum (%d verified, %d round trips)",
		run.Label, run.Workload, run.Conns, len(parts), merged.Verified, merged.RoundTrips)
	if run.Workload != "hold" {
		return line, nil
	}
	mach, err := results.ReadMachine(filepath.Join(raw, run.MachineJSON))
	switch {
	case run.MachineJSON == "" || err != nil:
		return "", fmt.Errorf("no machine record (%v)", err)
	case !mach.ClientElsewhere || mach.Idle == nil || mach.Idle.Server == nil:
		return "", fmt.Errorf("machine record: not the server host's idle snapshot of the server: %+v", mach)
	case mach.Peak != nil && mach.Peak.Client != nil:
		return "", fmt.Errorf("machine record: a client footprint on the server host")
	}
	if mach.Peak == nil || mach.Peak.Server == nil {
		return "", fmt.Errorf("machine record: no peak snapshot of the server host: %s", mach.Detail)
	}
	return line + fmt.Sprintf("; server host's machine record: idle and peak (%d server descriptors)", mach.Peak.Server.FDs), nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
