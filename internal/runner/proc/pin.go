package proc

import (
	"os/exec"
)

// CheckTaskset says why the run cannot be pinned with taskset (nil: it
// can): it must be installed and allowed to set this machine's affinity.
func CheckTaskset(cpuList string) error {
	path, err := exec.LookPath("taskset")
	if err != nil {
		return err
	}
	return exec.Command(path, "-c", cpuList, "true").Run()
}

// pinned is the command line that runs path with args on the CPUs of
// cpuList (not pinned when ""), with env added to its environment.
func pinned(cpuList string, env []string, path string, args []string) []string {
	var argv []string
	if len(env) > 0 {
		argv = append(append(argv, "env"), env...)
	}
	if cpuList != "" {
		argv = append(argv, "taskset", "-c", cpuList)
	}
	return append(append(argv, path), args...)
}
