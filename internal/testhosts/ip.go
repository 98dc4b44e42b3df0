package testhosts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
)

// run runs a command to completion and turns a failure into one line:
// the command and the last line it wrote on stderr.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &cmdError{Cmd: name + " " + strings.Join(args, " "), Reason: why(err, stderr.String())}
	}
	return out, nil
}

// cmdError is a command that failed, and why.
type cmdError struct{ Cmd, Reason string }

func (e *cmdError) Error() string { return e.Cmd + ": " + e.Reason }

// why is the reason a command failed: its last line on stderr, or how it
// ended when it said nothing.
func why(err error, stderr string) string {
	if line := LastLine(stderr); line != "" {
		return line
	}
	return err.Error()
}

// LastLine is the last non-empty line of s, trimmed.
func LastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// ip runs ip(8).
func ip(ctx context.Context, args ...string) error {
	_, err := run(ctx, "ip", args...)
	return err
}

// inNS runs argv inside network namespace ns and returns its stdout.
func inNS(ctx context.Context, ns string, argv ...string) ([]byte, error) {
	return run(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
}

// ipJSON runs `ip -j -n ns ARGS` (ns "" is the machine's own namespace)
// and decodes its output into v.
func ipJSON(ctx context.Context, ns string, v any, args ...string) error {
	argv := []string{"-j"}
	if ns != "" {
		argv = append(argv, "-n", ns)
	}
	argv = append(argv, args...)
	out, err := run(ctx, "ip", argv...)
	if err != nil {
		return err
	}
	// ip prints nothing at all, not [], for an empty list on some versions.
	if len(bytes.TrimSpace(out)) == 0 {
		out = []byte("[]")
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("ip %s: %v", strings.Join(argv, " "), err)
	}
	return nil
}

// nsPIDs lists the processes running in network namespace ns.
func nsPIDs(ctx context.Context, ns string) ([]int, error) {
	out, err := run(ctx, "ip", "netns", "pids", ns)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// namespaces lists the machine's named network namespaces.
func namespaces(ctx context.Context) ([]string, error) {
	var list []struct {
		Name string `json:"name"`
	}
	if err := ipJSON(ctx, "", &list, "netns", "list"); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(list))
	for _, n := range list {
		names = append(names, n.Name)
	}
	return names, nil
}
