// Command fake stands in for the servers and the client in the runner's
// tests. Invoked as "client" it is a tiny client; otherwise a tiny echo
// server whose behaviour FAKE_MODE selects: ok, crash (exits during the
// run), hang (ignores SIGINT), nostart (no listening line). Both write
// their reports through the kit's report types, as the real programs do;
// the server's -M list says it has one model, "fake", a thread per
// connection.
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

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/srvreport"
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
	model := flag.String("M", "", "model (ignored but for list)")
	flag.Parse()
	if *model == "list" {
		listModels(*jfile)
		return
	}
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
		r := srvreport.Report{Server: "fake", Model: "fake", Event: srvreport.EventExit, Processes: 1, ServerProcs: 1,
			UserCPUS: 0.01, SysCPUS: 0.02, MaxRSSKiB: 5000, VmRSSKiB: 5000, VmHWMKiB: 5000, StartRSSKiB: 4000, Threads: 4,
			MaxConc: peak.Load(), Total: total.Load(), Now: cur.Load()}
		r.Derive()
		if err := r.WriteJSONFile(*jfile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

func listModels(path string) {
	fmt.Println("model  concurrency  runs in  per connection  -w counts  -w default  note")
	fmt.Println("fake   unbounded    threads  thread          -          -")
	if path == "" {
		return
	}
	b, _ := json.Marshal(srvreport.ModelList{Schema: srvreport.ModelsSchema,
		Models: []srvreport.Model{{Name: "fake", PerConnection: "thread"}}})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func client() {
	n := flag.Int("n", 100, "connections")
	host := flag.String("host", "localhost:1234", "target")
	jfile := flag.String("json", "", "json")
	flag.Duration("hold", 0, "hold")
	flag.Duration("duration", 0, "ignored")
	flag.Int("size", 0, "ignored")
	flag.Bool("reconnect", false, "ignored")
	flag.Bool("quiet", false, "ignored")
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
		r := clientreport.New()
		r.Target, r.Requested, r.Established, r.Verified = *host, int64(*n), int64(len(conns)), int64(verified)
		r.Errors[clientreport.Other], r.Failed = int64(errs), int64(errs)
		r.ConnectAllS, r.UserCPUS, r.SysCPUS = connectAll, 0.01, 0.01
		// The fake counts no round trips: every connection has none.
		r.PerConn = clientreport.NewPerConn(make([]int64, *n))
		r.Derive()
		if err := r.Write(*jfile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Printf("Max conc: %d\ntotal: %d\nconc: 0\n", len(conns), len(conns))
	if errs > 0 {
		fmt.Fprintf(os.Stderr, "client: %d errors\n", errs)
		os.Exit(1)
	}
}
