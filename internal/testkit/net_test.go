package testkit

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestServeAndClosedPort(t *testing.T) {
	addr := Serve(t, Echo)
	c, err := net.DialTimeout("tcp", addr, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo %q, %v", got, err)
	}
	if _, err := net.DialTimeout("tcp", ClosedPort(t), time.Minute); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial a closed port: %v, want connection refused", err)
	}
}

func TestFlipByte(t *testing.T) {
	for _, i := range []int{0, 3, 5000} {
		addr := Serve(t, FlipByte(int64(i)))
		c, err := net.DialTimeout("tcp", addr, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(time.Minute))
		sent := make([]byte, 10000)
		go func() { c.Write(sent[:3]); c.Write(sent[3:]); c.(*net.TCPConn).CloseWrite() }()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || len(got) != len(sent) {
			t.Fatalf("flip %d: %d bytes back, %v", i, len(got), err)
		}
		for j := range got {
			want := sent[j]
			if j == i {
				want ^= 0x20
			}
			if got[j] != want {
				t.Errorf("flip %d: byte %d is %#x, want %#x", i, j, got[j], want)
			}
		}
	}
}

func TestReadJSON(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(`{"total": 3}`), 0o600)
	os.WriteFile(bad, []byte(`{"total": `), 0o600)
	var v struct{ Total int }
	ReadJSON(t, good, &v)
	if v.Total != 3 {
		t.Errorf("total %d, want 3", v.Total)
	}
	f := observe(func(tb testing.TB) { ReadJSON(tb, bad, &v) })
	f.wantFail(t, true, "bad.json does not parse")
	f = observe(func(tb testing.TB) { ReadJSON(tb, filepath.Join(dir, "none.json"), &v) })
	f.wantFail(t, true, "none.json: no such file")
}
