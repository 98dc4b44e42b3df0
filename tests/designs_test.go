package tests

// The designs that answer the seeds' questions: select(2) and its
// FD_SETSIZE ceiling, and a worker pool fed by an event loop (dispatch)
// next to one that gives each connection a worker for its life (pool).

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
)

// TestModelsNew1000: the new designs hold 1,000 connections at once with
// bin/client, every echo verified (select: below its FD_SETSIZE ceiling).
func TestModelsNew1000(t *testing.T) {
	for _, args := range [][]string{
		{"-M", "poll"}, {"-M", "poll", "-w", "2"}, {"-M", "select"}, {"-M", "dispatch", "-w", "4"},
	} {
		t.Run(strings.Join(args[1:], "_"), func(t *testing.T) { runLoad(t, cServer, 1000, args...) })
	}
}

// TestSelectFDSetsize: select(2) can watch descriptors below FD_SETSIZE
// (1024) only. Of 1,100 connections, the ones the server would have to
// put beyond it are accepted and closed at once, counted as closed over
// FD_SETSIZE and not in Total; the others keep echoing, and once some of
// them close, new connections are served again.
func TestSelectFDSetsize(t *testing.T) {
	const conns, closing = 1100, 10
	js := filepath.Join(t.TempDir(), "report.json")
	s := startServer(t, cServer, "-M", "select", "-j", js)
	if msg := s.Stderr.String(); !strings.Contains(msg, "below 1024 only") || !strings.Contains(s.start, "room for ~1020 ") {
		t.Errorf("stderr %q, start line %q: want the FD_SETSIZE ceiling said at start", msg, s.start)
	}
	var held []*net.TCPConn
	refused := 0
	for i := 0; i < conns; i++ {
		c := dial(t, s.addr)
		if echoedOrClosed(t, c, []byte(fmt.Sprintf("connection %d\n", i))) {
			held = append(held, c)
			continue
		}
		refused++
		c.Close()
	}
	t.Logf("%d connections: %d served, %d closed over FD_SETSIZE", conns, len(held), refused)
	if refused == 0 || len(held) < 1000 || len(held) > 1020 {
		t.Fatalf("%d served and %d refused: want about 1,020 served (descriptors 4 to 1023) and the rest refused", len(held), refused)
	}
	for i, c := range held {
		echoSome(t, c, []byte(fmt.Sprintf("still %d\n", i)))
	}
	r := s.usr1()
	wantFigures(t, r, js, map[string]int64{
		"closed over FD_SETSIZE": int64(refused), "connections accepted": int64(len(held)),
		"closed over cap": 0, "accept errors": 0, "connections reset": 0,
	})
	if r.now != int64(len(held)) || r.maxConc != int64(len(held)) {
		t.Errorf("Now %d, Max conc %d; want %d each", r.now, r.maxConc, len(held))
	}
	for _, c := range held[:closing] {
		c.Close()
	}
	testkit.Eventually(t, ioTimeout, "closed connections counted out", func() (bool, string) {
		r := s.usr1()
		return r.now == int64(len(held)-closing), fmt.Sprintf("Now: %d", r.now)
	})
	echoOnce(t, s.addr, []byte("room again"), false)
	for _, c := range held[closing:] {
		c.Close()
	}
	r = s.waitIdle()
	if got := labelInt(t, r, "closed over FD_SETSIZE"); got != int64(refused) || r.total != int64(len(held)+1) {
		t.Errorf("closed over FD_SETSIZE %d, Total %d; want %d and %d", got, r.total, refused, len(held)+1)
	}
}

// echoedOrClosed sends msg and says whether it came back (true) or the
// server closed the connection without a byte (false: EOF, or a reset if
// it closed with msg unread); anything else fails the test.
func echoedOrClosed(t *testing.T, c *net.TCPConn, msg []byte) bool {
	t.Helper()
	closed := func(err error) bool {
		return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	}
	if _, err := c.Write(msg); err != nil {
		if closed(err) {
			return false
		}
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	n, err := io.ReadFull(c, got)
	switch {
	case err == nil && string(got) == string(msg):
		return true
	case n == 0 && closed(err):
		return false
	}
	t.Fatalf("read %q (%v): want the echo %q, or the connection closed", got[:n], err, msg)
	return false
}

// keepAliveConns sends one request on each of conns open connections and
// returns a channel that gets a connection's index when its echo came.
func keepAliveConns(t *testing.T, addr string, cs []*net.TCPConn, round int) <-chan int {
	t.Helper()
	echoed := make(chan int, len(cs))
	for i, c := range cs {
		msg := delayMsg(i, round)
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		go func() {
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err == nil && string(got) == string(msg) {
				echoed <- i
			}
		}()
	}
	return echoed
}

// TestKeepAlive: the keep-alive question of the seeds. 200 connections
// each send a request, wait for its echo, and stay open. pool -w 4 gives
// each connection a worker until it closes: 4 are served and the other
// 196 starve behind them for as long as those stay open. dispatch -w 4
// gives a connection a worker only while it has a request: all 200 are
// served, twice, by 4 workers, of which at most 4 wait on -d at once.
func TestKeepAlive(t *testing.T) {
	const conns, workers = 200, 4
	for _, c := range []struct {
		model  string
		served int
	}{{"pool", workers}, {"dispatch", conns}} {
		t.Run(c.model, func(t *testing.T) {
			s := startServer(t, cServer, "-M", c.model, "-w", fmt.Sprint(workers), "-d", "5ms")
			cs := make([]*net.TCPConn, conns)
			for i := range cs {
				cs[i] = dial(t, s.addr)
			}
			rounds := 1
			if c.model == "dispatch" {
				rounds = 2
			}
			for round := 0; round < rounds; round++ {
				echoed := keepAliveConns(t, s.addr, cs, round)
				for got := 0; got < c.served; got++ {
					select {
					case <-echoed:
					case <-time.After(ioTimeout):
						t.Fatalf("round %d: %d of %d connections served within %v", round, got, c.served, ioTimeout)
					}
				}
				// A slow machine can only delay an echo: none more may come.
				select {
				case i := <-echoed:
					t.Fatalf("connection %d served beside %d open ones with %d workers", i, c.served, workers)
				case <-time.After(waitWindow):
				}
			}
			r := s.usr1()
			t.Logf("%s -w %d: %d of %d keep-alive connections served; Max conc %d; peak waiting %d",
				c.model, workers, c.served, conns, r.maxConc, labelInt(t, r, "peak waiting"))
			if got := labelInt(t, r, "peak waiting"); got < 1 || got > workers {
				t.Errorf("peak waiting %d with %d workers", got, workers)
			}
			if c.model == "dispatch" && r.maxConc != conns {
				t.Errorf("Max conc %d, want all %d held at once", r.maxConc, conns)
			}
			for _, conn := range cs {
				conn.Close()
			}
		})
	}
}
