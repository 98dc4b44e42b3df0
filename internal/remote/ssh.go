package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options says how to run ssh. By default ssh reads the user's own
// configuration, keys and agent as it always does; the package adds
// only BatchMode (never a prompt) and a connect timeout.
type Options struct {
	// ConfigFile is given to ssh as -F (and then replaces
	// ~/.ssh/config); "" keeps the user's.
	ConfigFile string
	// SSHOptions are more -o options, "Key=value".
	SSHOptions []string
	// ConnectTimeout bounds each connection; 0 means 10s.
	ConnectTimeout time.Duration
	// Wrap runs ssh through a command (test hosts: ip netns exec NS).
	Wrap []string
}

func (o Options) timeout() time.Duration {
	if o.ConnectTimeout <= 0 {
		return 10 * time.Second
	}
	return o.ConnectTimeout
}

// command is ssh to target t running script with sh, args as its $1...
// (never pasted into the script). Every remote command goes through sh,
// so the user's login shell, whatever it is, only has to run one
// `sh -c '...' sh '...'` line.
func (o Options) command(t Target, script string, args ...string) *exec.Cmd {
	argv := append([]string{}, o.Wrap...)
	argv = append(argv, "ssh", "-T",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout="+strconv.Itoa(int((o.timeout()+time.Second-1)/time.Second)))
	if o.ConfigFile != "" {
		argv = append(argv, "-F", o.ConfigFile)
	}
	for _, opt := range o.SSHOptions {
		argv = append(argv, "-o", opt)
	}
	if t.Port != 0 {
		argv = append(argv, "-p", strconv.Itoa(t.Port))
	}
	if t.User != "" {
		argv = append(argv, "-l", t.User)
	}
	argv = append(argv, "--", t.Host, "sh -c "+quote(script)+" sh "+quoteAll(args))
	cmd := exec.Command(argv[0], argv[1:]...)
	// A process group of its own: a ^C at the terminal goes to the
	// caller, which finishes the run and cleans up over ssh, and not to
	// the ssh processes that run still needs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// quote makes s one word for a POSIX shell (and for csh and fish, which
// read '...'\” the same way).
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteAll quotes every word of argv.
func quoteAll(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = quote(a)
	}
	return strings.Join(q, " ")
}

// sshFailed is ssh's own exit status: it could not connect, or lost the
// connection. A remote command's status is passed through otherwise.
const sshFailed = 255

// Error is a remote command that failed.
type Error struct {
	Host string // the host as the user named it
	Op   string // what was being done
	// Unreachable is set when ssh itself failed (exit 255): the host
	// could not be reached or refused the login.
	Unreachable bool
	Code        int    // the command's exit status
	Reason      string // the last line ssh or the command wrote on stderr
}

func (e *Error) Error() string {
	if e.Unreachable {
		return fmt.Sprintf("host %s: cannot reach it over ssh: %s", e.Host, e.Reason)
	}
	return fmt.Sprintf("host %s: %s: exit status %d: %s", e.Host, e.Op, e.Code, e.Reason)
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// run runs script with args on host h to completion, stdin from in (nil
// for none), and returns its stdout. A context that ends kills ssh.
func (h *Host) run(ctx context.Context, op, script string, in io.Reader, args ...string) ([]byte, error) {
	cmd := h.s.opts.command(h.Target, script, args...)
	cmd.Stdin = in
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("host %s: %s: %v", h.Name, op, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		return nil, fmt.Errorf("host %s: %s: %w", h.Name, op, ctx.Err())
	}
	return stdout.Bytes(), h.failure(op, err, stderr.String())
}

// failure turns ssh's exit into an *Error (nil for success).
func (h *Host) failure(op string, err error, stderr string) error {
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("host %s: %s: %v", h.Name, op, err)
	}
	e := &Error{Host: h.Name, Op: op, Code: ee.ExitCode(), Reason: lastLine(stderr)}
	e.Unreachable = e.Code == sshFailed
	if e.Reason == "" {
		e.Reason = "(nothing on stderr)"
	}
	return e
}
