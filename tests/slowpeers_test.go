package tests

// Hostile peers: idle ones and ones that never read, under -t, and ones
// that reset in the middle of a transfer.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
)

// slowPeerArgs runs dispatch with 4 workers: each has its own 64 KiB read
// buffer, and under ThreadSanitizer the default 64 with their shadow
// memory would pass for echo piling up in the server.
func slowPeerArgs(model string) []string {
	if model == "dispatch" {
		return []string{"-M", model, "-w", "4"}
	}
	return []string{"-M", model}
}

// TestIdleTimeout: under -t 1 an idle peer and a peer that sends but never
// reads are both closed, while a third connection echoes throughout, and
// the unread echo does not pile up in the server's memory.
func TestIdleTimeout(t *testing.T) {
	for _, model := range []string{"thread", "epoll", "uring", "poll", "select", "dispatch"} {
		t.Run(model, func(t *testing.T) {
			s := startServer(t, cServer, append([]string{"-t", "1"}, slowPeerArgs(model)...)...)
			pid := s.Cmd.Process.Pid
			rss0 := int64(testkit.Status(t, pid).VmRSS >> 10)
			good, idle, hog := dial(t, s.addr), dial(t, s.addr), dial(t, s.addr)
			echoSome(t, good, []byte("hello"))

			idleDone := make(chan error, 1)
			go func() {
				idle.SetReadDeadline(time.Now().Add(ioTimeout))
				n, err := idle.Read(make([]byte, 1))
				if n == 0 && errors.Is(err, io.EOF) {
					err = nil
				} else if err == nil {
					err = fmt.Errorf("read %d bytes from an idle connection", n)
				}
				idleDone <- err
			}()
			// The hog writes until the server, blocked on an echo the hog
			// never reads, gives up and closes (a reset, as our bytes lie
			// unread on its side).
			hogDone := make(chan error, 1)
			var hogSent int64
			chunk := randomBytes(t, 64<<10)
			go func() {
				end := time.Now().Add(ioTimeout)
				for time.Now().Before(end) {
					hog.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
					n, err := hog.Write(chunk)
					hogSent += int64(n)
					if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
						hogDone <- nil
						return
					}
				}
				hogDone <- fmt.Errorf("still writing after %v", ioTimeout)
			}()
			var idleErr, hogErr error
			idleOpen, hogOpen := true, true
			rounds := 0
			for idleOpen || hogOpen {
				select {
				case idleErr = <-idleDone:
					idleOpen = false
				case hogErr = <-hogDone:
					hogOpen = false
				case <-time.After(100 * time.Millisecond):
					echoSome(t, good, []byte("busy"))
					rounds++
				}
			}
			if idleErr != nil {
				t.Errorf("idle connection: %v", idleErr)
			}
			if hogErr != nil {
				t.Errorf("connection that never reads: %v", hogErr)
			}
			echoSome(t, good, []byte("last"))
			r := s.usr1()
			rss1 := int64(testkit.Status(t, pid).VmRSS >> 10)
			t.Logf("%s: idle and non-reading peers closed; the hog sent %d KiB; %d echoes meanwhile; VmRSS %d -> %d KiB",
				model, hogSent>>10, rounds, rss0, rss1)
			if got := labelInt(t, r, "closed idle"); got != 2 {
				t.Errorf("closed idle %d, want 2", got)
			}
			if r.now != 1 {
				t.Errorf("Now: %d, want 1 (the connection that kept echoing)", r.now)
			}
			if rss1-rss0 > 32<<10 {
				t.Errorf("VmRSS grew %d KiB while a peer did not read: the unread echo is buffered", rss1-rss0)
			}
			good.Close()
			s.waitIdle()
		})
	}
}

// TestResetMidTransfer: peers reset (SO_LINGER 0) while the server is in
// the middle of echoing megabytes to them.
func TestResetMidTransfer(t *testing.T) {
	const n = 10
	for _, model := range []string{"thread", "epoll", "uring", "poll", "select", "dispatch"} {
		t.Run(model, func(t *testing.T) {
			s := startServer(t, cServer, slowPeerArgs(model)...)
			payload := randomBytes(t, 4<<20)
			for i := 0; i < n; i++ {
				c := dial(t, s.addr)
				wdone := make(chan struct{})
				go func() { c.Write(payload); close(wdone) }()
				// A first echoed byte: the server is mid-transfer.
				if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
					t.Fatalf("first echo byte: %v", err)
				}
				c.SetLinger(0)
				c.Close()
				<-wdone
			}
			r := s.waitIdle()
			if got := labelInt(t, r, "connections reset"); got != n {
				t.Errorf("connections reset %d, want %d", got, n)
			}
			echoOnce(t, s.addr, []byte("after the resets"), false)
		})
	}
}
