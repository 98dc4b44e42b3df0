package main

// What a non-blocking engine must get right and a blocking one gets for
// free, checked on both: echoes that arrive in pieces, a peer that resets
// or half-closes in the middle of a message, messages larger than every
// socket buffer between the two ends, and connects that never complete.

import (
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tenkthreads/internal/testkit"
)

// piecewiseEcho echoes each read in 3-byte pieces a millisecond apart, so
// the client reads parts of an echo; the byte at stream offset flip (if
// not negative) comes back with its 0x20 bit flipped.
func piecewiseEcho(flip int64) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		var off int64
		for {
			n, err := c.Read(buf)
			if flip >= off && flip < off+int64(n) {
				buf[flip-off] ^= 0x20
			}
			off += int64(n)
			for i := 0; i < n; i += 3 {
				if _, werr := c.Write(buf[i:min(i+3, n)]); werr != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
			if err != nil {
				return
			}
		}
	}
}

func TestPiecewiseEchoes(t *testing.T) {
	whole, flipped := testkit.Serve(t, piecewiseEcho(-1)), testkit.Serve(t, piecewiseEcho(40))
	forEngines(t, func(t *testing.T, eng string) {
		o := runClient(t, eng, "-host", whole, "-n", "3", "-rounds", "3", "-size", "64")
		if o.code != 0 || num(t, o.res, "verified") != 3 || num(t, o.res, "round_trips") != 9 {
			t.Errorf("echoes in pieces: exit %d, %v verified, %v round trips; want 0, 3, 9\n%s", o.code, o.res["verified"], o.res["round_trips"], o.stderr)
		}
		o = runClient(t, eng, "-host", flipped, "-n", "2", "-size", "64")
		if o.code != 1 || num(t, o.res, "errors.mismatch") != 2 || !strings.Contains(o.stdout+o.stderr, "mismatch") {
			t.Errorf("a byte flipped in a later piece: exit %d, errors %v", o.code, o.res["errors"])
		}
		if ex := o.res["error_examples"].([]any); len(ex) != 1 || !strings.Contains(ex[0].(string), "at byte 40 of 64") {
			t.Errorf("examples %v, want the mismatch at byte 40 of 64", ex)
		}
	})
}

// resetAfter reads n bytes of the message, then resets the connection.
func resetAfter(n int64) func(net.Conn) {
	return func(c net.Conn) {
		_, _ = io.CopyN(io.Discard, c, n)
		_ = c.(*net.TCPConn).SetLinger(0)
	}
}

// halfEcho echoes the first half of a message of size bytes, then shuts
// its side down and reads on until the client goes.
func halfEcho(size int) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, size)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		_, _ = c.Write(buf[:size/2])
		_ = c.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, c)
	}
}

func TestPeerEndsMidMessage(t *testing.T) {
	reset, half := testkit.Serve(t, resetAfter(1000)), testkit.Serve(t, halfEcho(64))
	forEngines(t, func(t *testing.T, eng string) {
		o := runClient(t, eng, "-host", reset, "-n", "4", "-size", "1048576")
		if o.code != 1 || num(t, o.res, "errors.reset") != 4 || num(t, o.res, "failed") != 4 || num(t, o.res, "now") != 0 {
			t.Errorf("reset mid-message: exit %d, errors %v, failed %v, open at the end %v", o.code, o.res["errors"], o.res["failed"], o.res["now"])
		}
		o = runClient(t, eng, "-host", half, "-n", "4", "-size", "64")
		if o.code != 1 || num(t, o.res, "errors.eof") != 4 || !strings.Contains(o.stdout, "eof") ||
			!strings.Contains(strings.Join(strs(o.res["error_examples"]), "\n"), "after 32 of 64 echo bytes") {
			t.Errorf("half-close mid-echo: exit %d, errors %v, examples %v", o.code, o.res["errors"], o.res["error_examples"])
		}
	})
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// socketBuffers is the most the kernel buffers for one TCP socket, send
// and receive: net.ipv4.tcp_wmem and tcp_rmem's maxima.
func socketBuffers(t *testing.T) int {
	total := 0
	for _, f := range []string{"/proc/sys/net/ipv4/tcp_wmem", "/proc/sys/net/ipv4/tcp_rmem"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v := strings.Fields(string(b))
		n, err := strconv.Atoi(v[len(v)-1])
		if err != nil {
			t.Fatalf("%s: %q", f, b)
		}
		total += n
	}
	return total
}

// A message larger than all the buffers between the two ends (both
// sockets' send and receive buffers) can only go through if the client
// reads the echo while it writes; a client that wrote first would
// deadlock with the echoing server until -timeout.
func TestLargerThanSocketBuffers(t *testing.T) {
	size := 2*socketBuffers(t) + 1<<20
	addr := testkit.Serve(t, testkit.Echo)
	var full atomic.Int64
	forEngines(t, func(t *testing.T, eng string) {
		if eng == engineEventLoop {
			withSys(t, func() sysOps {
				s := realSys()
				s.write = func(fd int, p []byte) (int, error) {
					n, err := unix.Write(fd, p)
					if err == unix.EAGAIN {
						full.Add(1)
					}
					return n, err
				}
				return s
			})
		}
		o := runClient(t, eng, "-host", addr, "-n", "2", "-rounds", "2", "-size", strconv.Itoa(size))
		if o.code != 0 || num(t, o.res, "round_trips") != 4 || num(t, o.res, "bytes_received") != float64(4*size) {
			t.Errorf("%d-byte messages: exit %d, %v round trips, %v bytes back\n%s", size, o.code, o.res["round_trips"], o.res["bytes_received"], o.stderr)
		}
	})
	if full.Load() == 0 {
		t.Errorf("the event loop never found a socket full with %d-byte messages", size)
	}
}

// fullListener listens with a backlog of 0 and never accepts: the kernel
// completes at most one handshake into its queue and drops every later
// SYN, so those connects never complete.
func fullListener(t *testing.T) string {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*unix.SockaddrInet4).Port))
}

// A connect still in progress at -connect-timeout is a timeout of the
// connect phase; one at a time, so that which connect gets the queue's
// one place does not depend on timing.
func TestConnectNeverCompletes(t *testing.T) {
	forEngines(t, func(t *testing.T, eng string) {
		args := []string{"-host", fullListener(t), "-n", "4", "-dialers", "1", "-connect-timeout", "300ms", "-timeout", "300ms"}
		if eng == engineEventLoop {
			args = append(args, "-loops", "1")
		}
		o := runClient(t, eng, args...)
		r := result(t, o)
		timeouts := r.Errnos[clsTimeout]
		if o.code != 1 || r.Failed != 4 || r.Errors[clsTimeout] != 4 || timeouts["connect deadline"] < 3 ||
			timeouts["connect deadline"]+r.Established != 4 || timeouts["read deadline"] != r.Established {
			t.Errorf("exit %d, failed %d, established %d, timeouts %v; want every connect but the queue's one timed out", o.code, r.Failed, r.Established, timeouts)
		}
	})
}

// shutAfterEcho echoes one message of size bytes whole, shuts its side
// down at once and reads on until the client goes.
func shutAfterEcho(size int) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, size)
		if _, err := io.ReadFull(c, buf); err == nil {
			_, _ = c.Write(buf)
			_ = c.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, c)
		}
	}
}

// A server that shuts its side down right after an echo, often before
// the client has read it: the next round trip finds the end at once, not
// at -timeout.
func TestShutBetweenMessages(t *testing.T) {
	addr := testkit.Serve(t, shutAfterEcho(64))
	forEngines(t, func(t *testing.T, eng string) {
		o := runClient(t, eng, "-host", addr, "-n", "4", "-rounds", "2", "-size", "64", "-timeout", "5s")
		r := result(t, o)
		if o.code != 1 || r.RoundTrips != 4 || r.Failed != 4 || r.Errors[clsEOF] != 4 {
			t.Errorf("exit %d: %d round trips, %d failed (%v); want the 4 first echoes, then 4 eof rather than timeouts",
				o.code, r.RoundTrips, r.Failed, r.Errors)
		}
	})
}
