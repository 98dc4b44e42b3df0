package tests

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
)

const clientTimeout = 120 * time.Second

// clientEngines are bin/client's engines; the tests that drive it run
// against each.
var clientEngines = []string{"eventloop", "goroutine"}

// forClientEngines runs f as one subtest per client engine.
func forClientEngines(t *testing.T, f func(t *testing.T, eng string)) {
	for _, eng := range clientEngines {
		t.Run(eng, func(t *testing.T) { f(t, eng) })
	}
}

// runLoad runs bin/client -n n against a fresh server and checks both sides:
// the client's original three lines and exit 0, then the server's counters.
func runLoad(t *testing.T, kind serverKind, n int, serverArgs ...string) {
	runLoadEngine(t, kind, "", n, serverArgs...)
}

// runLoadEngine is runLoad with the client's engine eng ("" for its
// default).
func runLoadEngine(t *testing.T, kind serverKind, eng string, n int, serverArgs ...string) {
	s := startServer(t, kind, serverArgs...)
	// A generous echo deadline: sanitizer builds create threads slowly,
	// and these tests are about holding n, not speed.
	args := []string{"-n", fmt.Sprint(n), "-host", s.addr, "-quiet", "-timeout", "60s"}
	if eng != "" {
		args = append(args, "-engine", eng)
	}
	res := testkit.Run(t, clientTimeout, binary(t, "client"), args...)
	if res.Code != 0 {
		t.Fatalf("client -n %d: exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", n, res.Code, res.Stdout, res.Stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("Max conc: %d", n), fmt.Sprintf("total: %d", n), "conc: 0",
	} {
		if !hasLine(res.Stdout, want) {
			t.Errorf("client output lacks the line %q:\n%s", want, res.Stdout)
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
		t.Run(kind.name, func(t *testing.T) {
			forClientEngines(t, func(t *testing.T, eng string) { runLoadEngine(t, kind, eng, 1000) })
		})
	}
}

// TestClient10000 is the kit's claim: 10,000 concurrent connections, no
// errors. The client and the server are separate processes, each needing one
// descriptor per connection plus a few; the test process holds none of them.
func TestClient10000(t *testing.T) {
	n := connScale(t, 10000)
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			forClientEngines(t, func(t *testing.T, eng string) { runLoadEngine(t, kind, eng, n) })
		})
	}
}

// TestClientRefused: nothing listens on the port, the client says so.
func TestClientRefused(t *testing.T) {
	addr := testkit.ClosedPort(t)
	forClientEngines(t, func(t *testing.T, eng string) {
		res := testkit.Run(t, clientTimeout, binary(t, "client"), "-engine", eng, "-n", "10", "-host", addr)
		if res.Code == 0 {
			t.Fatalf("client against closed port %s exited 0:\n%s", addr, res.Stdout)
		}
		if !strings.Contains(strings.ToLower(res.Stderr), "refused") {
			t.Errorf("stderr does not mention refused:\n%s", res.Stderr)
		}
	})
}

func TestClientDetectsCorruption(t *testing.T) {
	// Every connection gets its first byte back with one bit flipped.
	addr := testkit.Serve(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(clientTimeout))
		testkit.FlipByte(0)(c)
	})
	forClientEngines(t, func(t *testing.T, eng string) {
		res := testkit.Run(t, clientTimeout, binary(t, "client"), "-engine", eng, "-n", "10", "-host", addr)
		if res.Code == 0 {
			t.Fatalf("client accepted corrupted echoes (exit 0):\n%s", res.Stdout)
		}
		if !strings.Contains(strings.ToLower(res.Stderr), "mismatch") {
			t.Errorf("stderr does not name a mismatch:\n%s", res.Stderr)
		}
	})
}
