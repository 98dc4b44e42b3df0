package tests

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

const clientTimeout = 120 * time.Second

// runLoad runs bin/client -n n against a fresh server and checks both sides:
// the client's original three lines and exit 0, then the server's counters.
func runLoad(t *testing.T, kind serverKind, n int, serverArgs ...string) {
	s := startServer(t, kind, serverArgs...)
	// A generous echo deadline: sanitizer builds create threads slowly,
	// and these tests are about holding n, not speed.
	res := run(t, clientTimeout, binary(t, "client"), "-n", fmt.Sprint(n), "-host", s.addr, "-quiet", "-timeout", "60s")
	if res.code != 0 {
		t.Fatalf("client -n %d: exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", n, res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("Max conc: %d", n), fmt.Sprintf("total: %d", n), "conc: 0",
	} {
		if !hasLine(res.stdout, want) {
			t.Errorf("client output lacks the line %q:\n%s", want, res.stdout)
		}
	}
	r := s.waitIdle()
	checkReport(t, kind, r, "REPORT", int64(n), int64(n), 0)
	r = s.stop()
	checkReport(t, kind, r, "EXITING", int64(n), int64(n), 0)
	if v := firstField(r.labels["connections reset"]); v != "0" {
		t.Errorf("connections reset %q, want 0", v)
	}
	t.Logf("%s, %d connections: peak resident %d KiB; memory per peak conn %s; kernel stack %s",
		kind.name, n, r.resident, r.labels["memory per peak conn"], r.labels["kernel stack (est.)"])
}

func TestClient1000(t *testing.T) {
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) { runLoad(t, kind, 1000) })
	}
}

// TestClient10000 is the kit's claim: 10,000 concurrent connections, no
// errors. The client and the server are separate processes, each needing one
// descriptor per connection plus a few; the test process holds none of them.
func TestClient10000(t *testing.T) {
	n := connScale(t, 10000)
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) { runLoad(t, kind, n) })
	}
}

// TestClientRefused: nothing listens on the port, the client says so.
func TestClientRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	res := run(t, clientTimeout, binary(t, "client"), "-n", "10", "-host", addr)
	if res.code == 0 {
		t.Fatalf("client against closed port %s exited 0:\n%s", addr, res.stdout)
	}
	if !strings.Contains(strings.ToLower(res.stderr), "refused") {
		t.Errorf("stderr does not mention refused:\n%s", res.stderr)
	}
}

// corruptingServer echoes with one byte flipped on every connection.
func corruptingServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(clientTimeout))
				buf := make([]byte, 4096)
				first := true
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if first {
							buf[0] ^= 0x20
							first = false
						}
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err == io.EOF || err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestClientDetectsCorruption(t *testing.T) {
	addr := corruptingServer(t)
	res := run(t, clientTimeout, binary(t, "client"), "-n", "10", "-host", addr)
	if res.code == 0 {
		t.Fatalf("client accepted corrupted echoes (exit 0):\n%s", res.stdout)
	}
	if !strings.Contains(strings.ToLower(res.stderr), "mismatch") {
		t.Errorf("stderr does not name a mismatch:\n%s", res.stderr)
	}
}
