// Package proc starts and stops the server and client processes of one
// run, watches them from outside while the run is live (threads, memory,
// kernel stacks, SIGUSR1 reports), and records the run.
package proc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

var listenRE = regexp.MustCompile(`listening on (\S+)`)

// Server is a running server: its own process group, so a model that
// forks can be stopped as a whole, with its output copied to a log.
type Server struct {
	cmd  *exec.Cmd
	Pid  int
	Addr string // from its start line, "listening on ADDR"
	// done is closed once the server has exited, with exitErr set: the
	// runner's goroutines (the client's watch, a lingering run's probes)
	// may all wait for it.
	done       chan struct{}
	exitErr    error
	readerDone chan struct{}
	log        *os.File
	stopped    atomic.Bool // Stop sent its SIGINT
	hung       atomic.Bool // and the server did not exit in time
}

// StartServer starts argv with its stdout and stderr in the file logPath,
// and waits up to startTimeout for the start line. On failure it returns
// nil, how the server exited if it did, and why; the server is stopped.
func StartServer(argv []string, logPath string, startTimeout, stopTimeout time.Duration) (s *Server, exit, why string) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, "", err.Error()
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		log.Close()
		return nil, "", err.Error()
	}
	s = &Server{log: log, done: make(chan struct{}), readerDone: make(chan struct{})}
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = pw, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		log.Close()
		return nil, "", err.Error()
	}
	pw.Close()
	s.Pid = s.cmd.Process.Pid
	addrCh := make(chan string, 1)
	go s.copyOutput(pr, addrCh)
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.done)
	}()
	select {
	case s.Addr = <-addrCh:
	case <-time.After(startTimeout):
		s.KillGroup()
		s.wait()
		s.Close()
		return nil, "", fmt.Sprintf("no listening line within %s", startTimeout)
	}
	if s.Addr == "" {
		if !s.waitFor(stopTimeout) {
			s.KillGroup()
			s.wait()
		}
		s.KillGroup()
		s.Close()
		exit = ExitString(s.exitErr)
		return nil, exit, "no \"listening on ADDR\" line (" + exit + "): " + firstLogLine(logPath)
	}
	return s, "", ""
}

// copyOutput copies the server's stdout to its log and sends the address
// of its first line ("" if it has none) on addrCh.
func (s *Server) copyOutput(pr *os.File, addrCh chan<- string) {
	defer close(s.readerDone)
	defer pr.Close()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	first := true
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(s.log, line)
		if first {
			first = false
			addr := ""
			if m := listenRE.FindStringSubmatch(line); m != nil {
				addr = m[1]
			}
			addrCh <- addr
		}
	}
	if first {
		addrCh <- ""
	}
}

// Exited reports, without waiting, whether the server has exited.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Done is closed when the server has exited, for a select.
func (s *Server) Done() <-chan struct{} { return s.done }

func (s *Server) wait() { <-s.done }

// waitFor waits up to timeout for the exit and reports whether it came.
func (s *Server) waitFor(timeout time.Duration) bool {
	select {
	case <-s.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Stop sends SIGINT and waits up to timeout for the exit; a server that
// does not exit by then is hung, and killed. Any process left in its
// group is killed too.
func (s *Server) Stop(timeout time.Duration) (hung bool) {
	if !s.Exited() {
		s.stopped.Store(true)
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		if !s.waitFor(timeout) {
			hung = true
			s.hung.Store(true)
			s.KillGroup()
			s.wait()
		}
	}
	s.KillGroup()
	return hung
}

// Stopped reports whether the server's exit followed Stop's SIGINT.
func (s *Server) Stopped() bool { return s.stopped.Load() }

// KillGroup kills every process of the server's group.
func (s *Server) KillGroup() { _ = syscall.Kill(-s.Pid, syscall.SIGKILL) }

// ExitErr is how the server exited (nil: status 0, or not yet).
func (s *Server) ExitErr() error {
	if !s.Exited() {
		return nil
	}
	return s.exitErr
}

// Close waits briefly for the log copy, so the report the server printed
// on SIGINT is in the log, and closes the log.
func (s *Server) Close() {
	select {
	case <-s.readerDone:
	case <-time.After(2 * time.Second):
	}
	s.log.Close()
}

// ExitString says how a process ended.
func ExitString(err error) string {
	if err == nil {
		return "exit 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	return err.Error()
}

func firstLogLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	l, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(l)
}

func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
