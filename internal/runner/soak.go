package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/proc"
	"tenkthreads/internal/srvreport"
	"tenkthreads/internal/sysinfo"
)

// soak opens and closes about a million connections, a few thousand at a
// time, and checks that the server ends as small as it started: resident
// memory, open descriptors and threads, measured while it is idle before
// and after (make soak). A benchmark, not a CI test.
type soak struct{}

func (soak) Info() plan.ModeFlag {
	return plan.ModeFlag{Name: "soak", Usage: "-soak [MODEL]",
		Help: "churn about a million connections through one model (default thread); its memory, descriptors and threads must not grow (make soak; SOAK_CONNS, SOAK_TOTAL, SOAK_LIMIT, SOAK_RSS_KIB, SOAK_RSS_PCT)"}
}

func (soak) Check(o *plan.Options, env Env) error {
	if o.Quick {
		return plan.UsageError{Msg: "-quick (QUICK=1) does not apply to -soak; size it with SOAK_CONNS and SOAK_TOTAL"}
	}
	_, err := soakSettings(o, env)
	return err
}

// soakConfig is the soak's sizes, from its environment variables.
type soakConfig struct {
	model                string
	conns, total, limit  int // limit: of the churn, in seconds
	rssKiB, rssPct       int // VmRSS growth tolerated: the larger of the two
	server, client, json string
}

func soakSettings(o *plan.Options, env Env) (soakConfig, error) {
	z := soakConfig{model: plan.DefaultModel}
	if len(o.Args) > 0 {
		z.model = o.Args[0]
	}
	for _, v := range []struct {
		name     string
		dst      *int
		def, min int
	}{
		{"SOAK_CONNS", &z.conns, 2000, 1}, {"SOAK_TOTAL", &z.total, 1000000, 1}, {"SOAK_LIMIT", &z.limit, 300, 1},
		{"SOAK_RSS_KIB", &z.rssKiB, 1024, 0}, {"SOAK_RSS_PCT", &z.rssPct, 5, 0},
	} {
		*v.dst = v.def
		s := env.getenv(v.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < v.min {
			return z, plan.UsageError{Msg: fmt.Sprintf("%s=%s: want a whole number of at least %d", v.name, s, v.min)}
		}
		*v.dst = n
	}
	z.server, z.client = filepath.Join(o.Bin, "10kthreads"), filepath.Join(o.Bin, "client")
	return z, nil
}

// idle is what the soak reads of an idle server.
type idle struct {
	rss, fds, threads int64
	total             int64 // connections accepted so far
}

func (soak) Run(o plan.Options, env Env, stdout, stderr io.Writer) int {
	z, _ := soakSettings(&o, env)
	for _, b := range []string{z.server, z.client} {
		if _, err := os.Stat(b); err != nil {
			fmt.Fprintf(stderr, "soak: %s missing: run make first\n", b)
			return 1
		}
	}
	l, err := srvreport.ListModels(z.server)
	if err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 1
	}
	if !slices.Contains(l.Names(), z.model) {
		fmt.Fprintf(stderr, "soak: bin/10kthreads has no model %q (it has %s)\n", z.model, strings.Join(l.Names(), ", "))
		return 2
	}
	dir, err := os.MkdirTemp("", "soak-")
	if err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	z.json = filepath.Join(dir, "server.json")
	srv, _, why := proc.StartServer([]string{z.server, "-p", "0", "-M", z.model, "-j", z.json},
		filepath.Join(dir, "server.log"), 10*time.Second, 10*time.Second)
	if srv == nil {
		fmt.Fprintf(stderr, "soak: bin/10kthreads did not start: %s\n", why)
		return 1
	}
	defer srv.Close()
	defer srv.Stop(20 * time.Second)
	return churn(z, srv, stdout, stderr)
}

// churn warms the server up, measures it idle, churns the connections
// through it, measures it idle again and judges the growth.
func churn(z soakConfig, srv *proc.Server, stdout, stderr io.Writer) int {
	// A short churn first: the first connections grow the thread stack
	// cache and malloc arenas once, which is not a leak.
	if !soakClient(z, srv.Addr, stderr, "-rounds", "5") {
		return 1
	}
	after := 0.0 // the uptime of the last report
	start, ok := settle(z, srv, &after, stderr)
	if !ok {
		return 1
	}
	rounds := (z.total + z.conns - 1) / z.conns
	t0 := time.Now()
	if !soakClient(z, srv.Addr, stderr, "-rounds", strconv.Itoa(rounds), "-duration", fmt.Sprintf("%ds", z.limit)) {
		return 1
	}
	secs := time.Since(t0).Seconds()
	end, ok := settle(z, srv, &after, stderr)
	if !ok {
		return 1
	}
	made := end.total - start.total
	tol := max(start.rss*int64(z.rssPct)/100, int64(z.rssKiB))
	verdict := "ok"
	if end.rss-start.rss > tol || end.fds > start.fds || end.threads > start.threads {
		verdict = "GROWTH"
	}
	fmt.Fprintf(stdout, "soak: 10kthreads model %s, %d connections at a time, %d connections in %.1f s (%.0f/s)\n",
		z.model, z.conns, made, secs, float64(made)/secs)
	fmt.Fprintf(stdout, "%-16s %10s %10s %10s\n", "", "start", "end", "growth")
	for _, row := range []struct {
		label string
		a, b  int64
	}{{"VmRSS (KiB)", start.rss, end.rss}, {"open fds", start.fds, end.fds}, {"threads", start.threads, end.threads}} {
		fmt.Fprintf(stdout, "%-16s %10d %10d %+10d\n", row.label, row.a, row.b, row.b-row.a)
	}
	fmt.Fprintf(stdout, "verdict: %s (tolerated: VmRSS +%d KiB, fds +0, threads +0)\n", verdict, tol)
	if made < int64(z.total) {
		fmt.Fprintf(stdout, "soak: note: the %d s limit ended the churn at %d of %d connections\n", z.limit, made, z.total)
	}
	if verdict != "ok" {
		return 1
	}
	return 0
}

// soakClient runs bin/client against addr with the soak's connections;
// on failure it prints what the client said.
func soakClient(z soakConfig, addr string, stderr io.Writer, args ...string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(z.limit+120)*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, z.client, append([]string{"-host", addr, "-n", strconv.Itoa(z.conns), "-reconnect", "-quiet"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(stderr, "soak: bin/client failed:\n%s%s", out.String(), errb.String())
		return false
	}
	return true
}

// settle asks for a report until the server is idle and its threads and
// descriptors have settled (threads exit just after counting out); after
// is the uptime of the last report taken.
func settle(z soakConfig, srv *proc.Server, after *float64, stderr io.Writer) (idle, bool) {
	last, now := "", ""
	for range 150 {
		r, _, err := proc.TakeReport(srv.Pid, z.json, *after, 15*time.Second)
		if err != nil {
			fmt.Fprintf(stderr, "soak: %v\n", err)
			return idle{}, false
		}
		*after = r.UptimeS
		time.Sleep(200 * time.Millisecond)
		m, err1 := sysinfo.Host.Mem(srv.Pid)
		fds, err2 := sysinfo.Host.FDs(srv.Pid)
		if err1 != nil || err2 != nil {
			fmt.Fprintf(stderr, "soak: reading the server's /proc: %v\n", firstErr(err1, err2))
			return idle{}, false
		}
		now = fmt.Sprintf("%d %d %d", r.Now, fds, m.Threads)
		if strings.HasPrefix(now, "0 ") && now == last {
			return idle{rss: m.VmRSSKiB, fds: int64(fds), threads: int64(m.Threads), total: r.Total}, true
		}
		last = now
	}
	fmt.Fprintf(stderr, "soak: the server did not settle idle within 30 s (%s)\n", now)
	return idle{}, false
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
