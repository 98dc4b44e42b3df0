package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/results"
)

// A side is one of the two things -compare compares: the servers of a
// build (a bin directory, or a git revision built for the run), or one
// server command line.
type side struct {
	name string // "A" or "B"
	arg  string // as given
	// what says what the side is, for the report.
	what string
	// bin is the build's directory of programs; "" for a command line.
	bin string
	// cmd is the server command line; nil for a build.
	cmd []string
	// cleanup removes what building the side made.
	cleanup func()
}

// parseSide tells what arg is: a directory of the kit's programs, a
// command line (a program and its flags), or a git revision; a usage
// error says it is none of them.
func parseSide(name, arg string) (side, error) {
	s := side{name: name, arg: arg, cleanup: func() {}}
	f := strings.Fields(arg)
	switch {
	case len(f) == 0:
		return s, plan.UsageError{Msg: fmt.Sprintf("-compare: %s is empty", name)}
	case isKitDir(arg):
		s.bin, s.what = arg, "the programs in "+arg
	case len(f) > 1 || isProgram(f[0]):
		if !isProgram(f[0]) {
			return s, plan.UsageError{Msg: fmt.Sprintf("-compare: %s: %s is not an executable file", name, f[0])}
		}
		s.cmd, s.what = f, "`"+arg+"`"
	case isRevision(arg):
		s.what = "git revision " + arg
	default:
		return s, plan.UsageError{Msg: fmt.Sprintf("-compare: %s %q is neither a directory holding 10kthreads, ref_async_server and client, a server command line, nor a git revision", name, arg)}
	}
	return s, nil
}

func isKitDir(p string) bool {
	for _, n := range []string{"10kthreads", "ref_async_server", "client"} {
		if !isProgram(filepath.Join(p, n)) {
			return false
		}
	}
	return true
}

func isProgram(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

func isRevision(rev string) bool {
	return exec.Command("git", "rev-parse", "--quiet", "--verify", rev+"^{commit}").Run() == nil
}

// build makes a revision side's programs: a detached worktree of the
// revision in a temporary directory, and make in it. cleanup removes both.
func (s *side) build(stderr interface{ Write([]byte) (int, error) }) error {
	if s.bin != "" || s.cmd != nil {
		return nil
	}
	tmp, err := os.MkdirTemp("", "10kthreads-compare-")
	if err != nil {
		return err
	}
	wt := filepath.Join(tmp, "src")
	s.cleanup = func() {
		_ = exec.Command("git", "worktree", "remove", "--force", wt).Run()
		_ = os.RemoveAll(tmp)
	}
	fmt.Fprintf(stderr, "experiment: compare: building %s (%s) in %s\n", s.name, s.arg, wt)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	for _, argv := range [][]string{{"git", "worktree", "add", "--detach", wt, s.arg}, {"make", "-C", wt, "all"}} {
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("-compare: %s: %s failed: %v\n%s", s.name, strings.Join(argv, " "), err, lastLines(string(out), 5))
		}
	}
	s.bin = filepath.Join(wt, "bin")
	return nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// specs is the side's servers: the command line's, or those of kit,
// the build's programs in place of kit's. Keys and labels carry the
// side's name, so the two sides' cells stay apart.
func (s side) specs(kit plan.Kit, servers []results.ServerSpec) []results.ServerSpec {
	if s.cmd != nil {
		model := "thread"
		switch {
		case filepath.Base(s.cmd[0]) == "ref_async_server":
			model = "goroutine"
		default:
			for i, a := range s.cmd[:len(s.cmd)-1] {
				if a == "-M" {
					model = s.cmd[i+1]
				}
			}
		}
		return []results.ServerSpec{{Key: s.name, Label: s.name + ": " + strings.Join(s.cmd, " "), Model: model, Path: s.cmd[0], Args: s.cmd[1:]}}
	}
	var out []results.ServerSpec
	for _, sp := range servers {
		sp.Path = filepath.Join(s.bin, filepath.Base(sp.Path))
		sp.Key, sp.Label = s.name+":"+sp.Key, s.name+": "+sp.Label
		out = append(out, sp)
	}
	return out
}
