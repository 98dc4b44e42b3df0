// Command fake stands in for the servers and the client in the runner's
// tests. Invoked as "client" it is a tiny client; otherwise a tiny echo
// server whose behaviour FAKE_MODE selects: ok, crash (exits during the
// run), hang (ignores SIGINT), nostart (no listening line).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if filepath.Base(os.Args[0]) == "client" {
		client()
		return
	}
	server()
}

func server() {
	port := flag.String("p", "1234", "port")
	jfile := flag.String("j", "", "json")
	flag.String("M", "", "model (ignored)")
	flag.Parse()
	mode := os.Getenv("FAKE_MODE")
	if mode == "nostart" {
		fmt.Println("fake: cannot start")
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+*port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("fake: listening on %s model fake\n", ln.Addr())
	var cur, peak, total atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			total.Add(1)
			if n := cur.Add(1); n > peak.Load() {
				peak.Store(n)
			}
			go func() {
				defer cur.Add(-1)
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	if mode == "crash" {
		time.Sleep(150 * time.Millisecond)
		fmt.Fprintln(os.Stderr, "fake: crashing on purpose")
		os.Exit(3)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	for range sig {
		if mode == "hang" {
			continue
		}
		break
	}
	fmt.Println("EXITING")
	if *jfile != "" {
		b, _ := json.Marshal(map[string]any{
			"schema": "10kthreads-server/1", "server": "fake", "model": "fake", "event": "exit",
			"user_cpu_s": 0.01, "sys_cpu_s": 0.02, "maxrss_kib": 5000, "vmhwm_kib": 5000, "start_rss_kib": 4000,
			"kib_per_peak_conn": 1000 / float64(max(peak.Load(), 1)), "threads": 4,
			"max_conc": peak.Load(), "total": total.Load(), "now": cur.Load(), "resets": 0,
			"kernel_stack_delta_kib": 0,
		})
		_ = os.WriteFile(*jfile, b, 0o644)
	}
	os.Exit(0)
}

func client() {
	n := flag.Int("n", 100, "connections")
	host := flag.String("host", "localhost:1234", "target")
	jfile := flag.String("json", "", "json")
	flag.Duration("hold", 0, "hold")
	flag.Parse()
	start := time.Now()
	var mu sync.Mutex
	var conns []net.Conn
	errs := 0
	var wg sync.WaitGroup
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", *host, 2*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				return
			}
			conns = append(conns, c)
		}()
	}
	wg.Wait()
	connectAll := time.Since(start).Seconds()
	time.Sleep(300 * time.Millisecond)
	verified := 0
	for _, c := range conns {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 1)
		if _, err := c.Write([]byte("x")); err == nil {
			if _, err := io.ReadFull(c, buf); err == nil && buf[0] == 'x' {
				verified++
				c.Close()
				continue
			}
		}
		errs++
		c.Close()
	}
	if *jfile != "" {
		b, _ := json.Marshal(map[string]any{
			"schema": "10kthreads-client/1", "target": *host, "requested": *n, "established": len(conns),
			"verified": verified, "errors": map[string]int{"other": errs}, "connect_all_s": connectAll,
			"user_cpu_s": 0.01, "sys_cpu_s": 0.01,
		})
		_ = os.WriteFile(*jfile, b, 0o644)
	}
	fmt.Printf("Max conc: %d\ntotal: %d\nconc: 0\n", len(conns), len(conns))
	if errs > 0 {
		fmt.Fprintf(os.Stderr, "client: %d errors\n", errs)
		os.Exit(1)
	}
}
