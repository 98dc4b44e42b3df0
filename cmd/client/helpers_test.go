package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
)

// flipHandler echoes but corrupts the 4th byte of the stream.
var flipHandler = testkit.FlipByte(3)

// delayHandler echoes every read after a fixed delay.
func delayHandler(d time.Duration) func(net.Conn) {
	return testkit.EchoEach(func([]byte, int64) { time.Sleep(d) })
}

// stallHandler echoes, except that no echo leaves during [from, to).
func stallHandler(from, to time.Time) func(net.Conn) {
	return testkit.EchoEach(func([]byte, int64) {
		if now := time.Now(); !now.Before(from) && now.Before(to) {
			time.Sleep(to.Sub(now))
		}
	})
}

// silentHandler accepts and reads but never answers.
func silentHandler(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

// closingHandler hangs up as soon as the first bytes arrive.
func closingHandler(c net.Conn) {
	buf := make([]byte, 1)
	_, _ = c.Read(buf)
}

// countingEcho echoes and records the peak of connections open at once.
type countingEcho struct {
	mu         sync.Mutex
	open, peak int
}

func (s *countingEcho) handle(c net.Conn) {
	s.mu.Lock()
	s.open++
	s.peak = max(s.peak, s.open)
	s.mu.Unlock()
	testkit.Echo(c)
	s.mu.Lock()
	s.open--
	s.mu.Unlock()
}

type outcome struct {
	code           int
	stdout, stderr string
	res            map[string]any
	elapsed        time.Duration
}

// engines are the client's engines: every test of the client's behaviour
// runs against each.
var engines = []string{engineEventLoop, engineGoroutine}

// forEngines runs f as one subtest per engine.
func forEngines(t *testing.T, f func(t *testing.T, eng string)) {
	for _, eng := range engines {
		t.Run(eng, func(t *testing.T) { f(t, eng) })
	}
}

// runClient runs the client with engine eng in-process, with a JSON
// report in a temp dir.
func runClient(t *testing.T, eng string, args ...string) outcome {
	t.Helper()
	jp := filepath.Join(t.TempDir(), "r.json")
	var so, se bytes.Buffer
	t0 := time.Now()
	code := mainArgs(append([]string{"-engine", eng, "-quiet", "-json", jp}, args...), &so, &se)
	o := outcome{code: code, stdout: so.String(), stderr: se.String(), elapsed: time.Since(t0)}
	if _, err := os.Stat(jp); err == nil {
		testkit.ReadJSON(t, jp, &o.res)
	}
	return o
}

func num(t *testing.T, m map[string]any, path string) float64 {
	t.Helper()
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %v is not an object", path, cur)
		}
		if cur, ok = mm[k]; !ok {
			t.Fatalf("JSON has no %s", path)
		}
	}
	f, ok := cur.(float64)
	if !ok {
		t.Fatalf("%s = %v is not a number", path, cur)
	}
	return f
}

// buildClient builds this package into a temporary directory, for the
// tests that need real processes; -short skips them.
func buildClient(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "client")
	testkit.GoBuild(t, bin, ".")
	return bin
}
