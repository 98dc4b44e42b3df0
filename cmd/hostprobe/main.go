// Command hostprobe prints the environment of the host it runs on as
// JSON (remote.Env): kernel, CPUs, limits and sysctls, read by the kit's
// own readers. internal/remote copies it to each host of a run over ssh
// and runs it there. It takes no arguments.
package main

import (
	"fmt"
	"os"

	"tenkthreads/internal/remote"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintf(os.Stderr, "hostprobe: unexpected argument %q\nusage: hostprobe\n", os.Args[1])
		os.Exit(2)
	}
	out, err := remote.MarshalEnv(remote.ReadEnv())
	if err != nil {
		fmt.Fprintf(os.Stderr, "hostprobe: %v\n", err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
