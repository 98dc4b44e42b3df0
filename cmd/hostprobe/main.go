// Command hostprobe prints the environment of the host it runs on as
// JSON (remote.Env): kernel, CPUs, limits and sysctls, read by the kit's
// own readers. internal/remote copies it to each host of a run over ssh
// and runs it there.
//
// On the server's host of a run across hosts it also keeps the run's
// machine record, from that host's /proc, as JSON (results.Machine):
// -idle PGID the idle snapshot of the server's process group, and -peak
// PGID IDLE_FDS N the snapshot once the group holds N more descriptors
// than IDLE_FDS, steadily (SIGTERM or SIGINT ends the wait; the record
// then says it has no peak). -calibrate measures that host's kernel costs
// per thread, mapping, socket and epoll registration (proc.Calibrate),
// which divide its machine record into parts.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"tenkthreads/internal/remote"
	"tenkthreads/internal/runner/proc"
	"tenkthreads/internal/sysinfo"
)

const usage = "usage: hostprobe [-idle PGID | -peak PGID IDLE_FDS N | -calibrate]"

func main() {
	out, err := probe(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "hostprobe: %v\n%s\n", err, usage)
		os.Exit(2)
	}
	os.Stdout.Write(out)
}

// probe is what the command line asks for, as JSON.
func probe(args []string) ([]byte, error) {
	if len(args) == 0 {
		return remote.MarshalEnv(remote.ReadEnv())
	}
	if args[0] == "-calibrate" {
		if len(args) > 1 {
			return nil, fmt.Errorf("-calibrate: unexpected argument %q", args[1])
		}
		var c proc.HostCalibration
		c.KStackPerThreadKiB, c.Calibration = proc.Calibrate(sysinfo.Host)
		return marshal(c)
	}
	nums, err := numbers(args[1:])
	if err != nil {
		return nil, err
	}
	switch {
	case args[0] == "-idle" && len(nums) == 1:
		return marshal(proc.IdleRecord(nums[0]))
	case args[0] == "-peak" && len(nums) == 3:
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return marshal(proc.PeakRecord(ctx, nums[0], nums[1], nums[2]))
	case args[0] == "-idle" || args[0] == "-peak":
		return nil, fmt.Errorf("%s: wrong number of arguments", args[0])
	}
	return nil, fmt.Errorf("unexpected argument %q", args[0])
}

func numbers(args []string) ([]int, error) {
	var out []int
	for _, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q: want a number", a)
		}
		out = append(out, n)
	}
	return out, nil
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}
