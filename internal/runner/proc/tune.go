package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// IsRoot is replaced in tests.
var IsRoot = func() bool { return os.Geteuid() == 0 }

// Tuning raises sysctls by writing their files under root (normally
// /proc/sys) and remembers the old values, so that restore puts every one
// back, in reverse order, whatever way the run ends.
type Tuning struct {
	Root  string
	Saved []SysctlChange
}

// SysctlChange is one sysctl the run needs changed.
type SysctlChange struct {
	Name string `json:"name"` // dotted, e.g. kernel.pid_max
	Old  string `json:"old"`
	New  string `json:"new"`
}

// SysctlPath is the file of sysctl name under root.
func SysctlPath(root, name string) string {
	return filepath.Join(root, strings.ReplaceAll(name, ".", "/"))
}

// Set writes value and reads it back: the kernel may clamp or refuse it.
func (t *Tuning) Set(name, value string) error {
	path := SysctlPath(t.Root, name)
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %v", name, err)
	}
	oldv := strings.TrimSpace(string(old))
	if err := os.WriteFile(path, []byte(value+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s=%s: %v", name, value, err)
	}
	t.Saved = append(t.Saved, SysctlChange{Name: name, Old: oldv, New: value})
	got, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read back %s: %v", name, err)
	}
	if g := strings.Join(strings.Fields(string(got)), " "); g != strings.Join(strings.Fields(value), " ") {
		return fmt.Errorf("%s reads %q after writing %q", name, g, value)
	}
	return nil
}

// Restore writes the old values back, newest first; it returns one line
// per sysctl, saying what happened.
func (t *Tuning) Restore() (lines []string, failed bool) {
	for i := len(t.Saved) - 1; i >= 0; i-- {
		c := t.Saved[i]
		if err := os.WriteFile(SysctlPath(t.Root, c.Name), []byte(c.Old+"\n"), 0o644); err != nil {
			failed = true
			lines = append(lines, fmt.Sprintf("could not restore %s to %s: %v; run `sysctl -w %s=%q`", c.Name, c.Old, err, c.Name, c.Old))
			continue
		}
		lines = append(lines, fmt.Sprintf("restored %s to %s", c.Name, c.Old))
	}
	t.Saved = nil
	return lines, failed
}

// RestoreScript is kept next to the results in case the runner is killed
// with SIGKILL before it could restore.
func (t *Tuning) RestoreScript() string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Restores the sysctls bin/experiment -c100k -tune changed.\n")
	for i := len(t.Saved) - 1; i >= 0; i-- {
		c := t.Saved[i]
		fmt.Fprintf(&b, "sysctl -w %s=%q\n", c.Name, c.Old)
	}
	return b.String()
}
