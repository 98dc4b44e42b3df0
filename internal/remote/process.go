package remote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Spec is a process to start on a host.
type Spec struct {
	Argv []string // Argv[0] is a path on the host, e.g. h.Bin("client")
	// CPUs pins the process (and what it starts) with taskset -c: a list
	// such as "0", "2-3" or "0,2"; "" for no pinning.
	CPUs string
}

// Process is a process started on a host: the leader of a process group
// (and session) of its own, its stdout and stderr going to files in the
// run's directory.
type Process struct {
	Host *Host
	Argv []string
	PGID int // its pid, which is also its process group's id

	tag    string // names its files: TAG.out, TAG.err, TAG.status
	ssh    *exec.Cmd
	done   chan struct{} // closed when the local ssh has exited
	sshErr error         // how it exited; read after done
	exit   int           // from its "exit N" line, or -1
}

// startScript starts "$@" in a new session in the run's directory ($1),
// stdin from /dev/null and output to $2.out and $2.err, records its pid
// in $2.pid and prints "pid N" at once, then waits, records the exit
// status in $2.status and prints "exit N". The process does not depend on the ssh connection: if ssh
// goes, it runs on and its status is still recorded. (Started in the
// foreground, not with &, so a non-interactive sh does not make it
// ignore SIGINT.)
const startScript = `cd "$1" || exit 125
tag=$2; shift 2
command -v "$1" >/dev/null || { echo "$1: no such program on the host" >&2; exit 127; }
setsid -w sh -c 'echo $$ >"$0.pid"; echo "pid $$" >&3; exec 3>&-; exec "$@"' "$tag" "$@" 3>&1 </dev/null >"$tag.out" 2>"$tag.err"
st=$?
echo "$st" >"$tag.status.new" && mv "$tag.status.new" "$tag.status"
echo "exit $st"`

var cpuList = regexp.MustCompile(`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`)

// Start starts spec on the host and returns once it runs. The process
// outlives ctx and a lost connection; Signal, Wait and Session.Close end it.
func (h *Host) Start(ctx context.Context, spec Spec) (*Process, error) {
	argv := spec.Argv
	if len(argv) == 0 {
		return nil, errors.New("remote: Start: no command")
	}
	if spec.CPUs != "" {
		if !cpuList.MatchString(spec.CPUs) {
			return nil, fmt.Errorf("remote: CPU list %q: want numbers and ranges such as 0,2-3", spec.CPUs)
		}
		if !h.Facts.Taskset {
			return nil, fmt.Errorf("host %s: cannot pin to CPUs %s: no taskset there (util-linux)", h.Name, spec.CPUs)
		}
		argv = append([]string{"taskset", "-c", spec.CPUs}, argv...)
	}
	if !h.Facts.Setsid {
		return nil, fmt.Errorf("host %s: no setsid there (util-linux): remote processes need it", h.Name)
	}
	dir, err := h.Dir(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.seq++
	p := &Process{Host: h, Argv: spec.Argv, tag: fmt.Sprintf("p%d", h.seq), done: make(chan struct{}), exit: -1}
	h.mu.Unlock()
	p.ssh = h.s.opts.command(h.Target, startScript, append([]string{dir, p.tag}, argv...)...)
	return p, p.launch(ctx)
}

// launch starts the local ssh and reads the remote pid from it.
func (p *Process) launch(ctx context.Context) error {
	h := p.Host
	stdout, err := p.ssh.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	p.ssh.Stderr = &stderr
	if err := p.ssh.Start(); err != nil {
		return fmt.Errorf("host %s: start %s: %v", h.Name, p.Argv[0], err)
	}
	pid := make(chan int, 1)
	go p.follow(stdout, pid)
	select {
	case n := <-pid:
		p.PGID = n
		h.mu.Lock()
		h.procs = append(h.procs, p)
		h.mu.Unlock()
		return nil
	case <-p.done:
		if err := h.failure("start "+p.Argv[0], p.sshErr, stderr.String()); err != nil {
			return err
		}
		return fmt.Errorf("host %s: start %s: the starter ended without starting it", h.Name, p.Argv[0])
	case <-ctx.Done():
		p.stopLocal()
		return fmt.Errorf("host %s: start %s: %w", h.Name, p.Argv[0], ctx.Err())
	}
}

// follow reads the "pid N" and "exit N" lines of startScript, then
// reaps the local ssh.
func (p *Process) follow(r io.Reader, pid chan<- int) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
		case k == "pid":
			pid <- n
		case k == "exit":
			p.exit = n
		}
	}
	p.sshErr = p.ssh.Wait()
	close(p.done)
}

// stopLocal ends the local ssh of the process (the remote process is
// not touched: it does not depend on ssh).
func (p *Process) stopLocal() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	p.ssh.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("host %s: local ssh (pid %d) did not exit", p.Host.Name, p.ssh.Process.Pid)
	}
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGINT: "INT", syscall.SIGTERM: "TERM", syscall.SIGKILL: "KILL", syscall.SIGHUP: "HUP",
	syscall.SIGQUIT: "QUIT", syscall.SIGUSR1: "USR1", syscall.SIGUSR2: "USR2",
}

// Signal sends sig to the process (its leader, as kill(1) would from a
// shell on that host).
func (p *Process) Signal(ctx context.Context, sig syscall.Signal) error {
	name, ok := signalNames[sig]
	if !ok {
		return fmt.Errorf("remote: signal %v: not one of INT TERM KILL HUP QUIT USR1 USR2", sig)
	}
	_, err := p.Host.run(ctx, "kill -"+name, `kill -s "$1" "$2"`, nil, name, strconv.Itoa(p.PGID))
	return err
}

// Exit is how a remote process ended.
type Exit struct {
	Code int // its exit status; a death by signal N reads 128+N, as sh reports it
}

func (e Exit) String() string {
	if e.Code > 128 && e.Code < 128+65 {
		return fmt.Sprintf("killed by signal %d", e.Code-128)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// Wait waits at most bound for the process to end and returns how it
// ended. If the connection was lost meanwhile it asks the host. When ctx
// ends first, Wait returns its error and the process runs on.
func (p *Process) Wait(ctx context.Context, bound time.Duration) (Exit, error) {
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		return Exit{}, fmt.Errorf("host %s: %s did not exit within %v", p.Host.Name, p.Argv[0], bound)
	case <-ctx.Done():
		return Exit{}, fmt.Errorf("host %s: waiting for %s: %w", p.Host.Name, p.Argv[0], ctx.Err())
	}
	if p.exit >= 0 {
		return Exit{Code: p.exit}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	return p.pollStatus(ctx, bound)
}

// pollStatus reads the status file until the process has written it.
func (p *Process) pollStatus(ctx context.Context, bound time.Duration) (Exit, error) {
	for {
		data, err := p.Host.ReadFile(ctx, p.tag+".status")
		if err == nil {
			code, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				return Exit{}, fmt.Errorf("host %s: %s: bad status %q", p.Host.Name, p.Argv[0], data)
			}
			return Exit{Code: code}, nil
		}
		select {
		case <-ctx.Done():
			return Exit{}, fmt.Errorf("host %s: %s did not exit within %v (last: %v)", p.Host.Name, p.Argv[0], bound, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Output is what the process wrote on stdout and stderr so far.
func (p *Process) Output(ctx context.Context) (stdout, stderr []byte, err error) {
	files, err := p.Host.readFiles(ctx, p.tag+".out", p.tag+".err")
	if err != nil {
		return nil, nil, err
	}
	return files[0], files[1], nil
}

// Exited reports, without waiting, whether the process has ended (as
// far as its ssh connection tells; a lost connection reads as ended, and
// Wait then asks the host).
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
