package tests

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(ioTimeout))
	return c.(*net.TCPConn)
}

// echoOnce sends payload while reading the echo back concurrently (a large
// write would otherwise deadlock against a server blocked on its own write),
// then half-closes and expects the server's EOF after exactly the payload.
// With lateReader the reading starts only after a pause, so the server's
// send buffer fills up and its writes come back short (EAGAIN for the Go
// server, a blocked send for the C one) before the reader drains them.
func echoOnce(t testing.TB, addr string, payload []byte, lateReader bool) {
	t.Helper()
	c := dial(t, addr)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	if lateReader {
		time.Sleep(100 * time.Millisecond) // a stimulus only; nothing is timed
	}
	got := make([]byte, 0, len(payload))
	buf := make([]byte, 3000) // odd size: reads do not line up with the server's chunks
	for len(got) < len(payload) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read after %d of %d bytes: %v", len(got), len(payload), err)
		}
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, payload) {
		i := 0
		for i < len(got) && got[i] == payload[i] {
			i++
		}
		t.Fatalf("echo of %d bytes differs first at byte %d", len(payload), i)
	}
	n, err := c.Read(buf)
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("after the full echo: read %d bytes, err %v; want EOF", n, err)
	}
}

func TestEcho(t *testing.T) {
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			s := startServer(t, kind)
			// The 8 MiB late-reader case outgrows the loopback socket
			// buffers (up to 4 MiB here), so the server must wait for
			// room to write and carry on from the middle of a chunk.
			cases := []struct {
				size       int
				lateReader bool
			}{{1, false}, {1 << 10, false}, {1 << 20, false}, {8 << 20, true}}
			want := 0
			for _, c := range cases {
				want += c.size
				name := fmt.Sprintf("%dB", c.size)
				if c.lateReader {
					name += "_late_reader"
				}
				t.Run(name, func(t *testing.T) {
					echoOnce(t, s.addr, randomBytes(t, c.size), c.lateReader)
				})
			}
			// One connection per case, one at a time: the counters agree.
			r := s.waitIdle()
			checkReport(t, kind, r, "REPORT", 1, int64(len(cases)), 0)
			if v := firstField(r.labels["bytes echoed"]); v != fmt.Sprint(want) {
				t.Errorf("bytes echoed %q, want %d", v, want)
			}
			if v := firstField(r.labels["connections reset"]); v != "0" {
				t.Errorf("connections reset %q, want 0", v)
			}
		})
	}
}

// TestHalfClose: the client sends everything and shuts down its write side
// before reading a single byte; the echo must still arrive in full.
func TestHalfClose(t *testing.T) {
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			s := startServer(t, kind)
			halfClose(t, s.addr, randomBytes(t, 64<<10))
		})
	}
}

// TestEchoIPv6 needs ::1; a machine without IPv6 loopback skips, saying so.
func TestEchoIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine (listen [::1]:0: %v)", err)
	}
	ln.Close()
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			s := startServer(t, kind, "-a", "::1")
			host, _, err := net.SplitHostPort(s.addr)
			if err != nil || host != "::1" {
				t.Fatalf("start line address %q, want [::1]:PORT", s.addr)
			}
			echoOnce(t, s.addr, randomBytes(t, 100<<10), false)
		})
	}
}

// halfClose sends everything and shuts down its write side before reading
// a single byte; the echo must still arrive in full.
func halfClose(t *testing.T, addr string, payload []byte) {
	c := dial(t, addr)
	for off := 0; off < len(payload); off += 10000 {
		end := min(off+10000, len(payload))
		if _, err := c.Write(payload[off:end]); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read after CloseWrite: %v (got %d of %d bytes)", err, len(got), len(payload))
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("got %d bytes back, want the %d sent, byte for byte", len(got), len(payload))
	}
}
