package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// isRoot is replaced in tests.
var isRoot = func() bool { return os.Geteuid() == 0 }

// sortChecks splits the rows that fall short into those -tune raises (or
// that stop the run: short) and those the run may go without: an
// optional limit without -tune is a note.
func sortChecks(rows []results.Precond, tune bool) (short []results.Precond, notes []string) {
	for _, p := range rows {
		switch {
		case p.OK:
		case p.Optional && !tune:
			notes = append(notes, fmt.Sprintf("%s is %s (%s); TUNE=1 raises it for the run", p.Item, p.Have, p.Need))
		default:
			short = append(short, p)
		}
	}
	return short, notes
}

// shortfalls is why the shortfalls stop the run before it starts (nil:
// -tune raises them all, or there are none): a limit no sysctl raises, a
// sysctl without -tune, or -tune without root.
func shortfalls(short []results.Precond, tune bool) error {
	var fixed, unfixed []string
	for _, p := range short {
		if p.Sysctl == "" {
			unfixed = append(unfixed, p.Problem())
		} else {
			fixed = append(fixed, p.Problem())
		}
	}
	switch {
	case len(unfixed) > 0:
		return preconditionFailed(unfixed, "")
	case len(fixed) > 0 && !tune:
		return preconditionFailed(fixed, "or rerun with -tune as root (the runner sets them and restores the old values afterwards)")
	case tune && !isRoot():
		msg := "-tune needs root to write /proc/sys; run as root, or without -tune"
		var f []string
		for _, p := range short {
			f = append(f, "`"+p.Fix+"`")
		}
		if len(f) > 0 {
			msg += ", or run by hand: " + strings.Join(f, "; ")
		}
		return &ExitError{Code: exitFailed, Msg: msg}
	}
	return nil
}

// tune raises the sysctls of short, records them in meta.json and keeps
// a script that puts them back, in case the runner is killed before it
// can; restore puts them back at the end, or at an interrupt.
func (c *campaign) tune(short []results.Precond) error {
	for _, p := range short {
		if err := c.tuning.Set(p.Sysctl, p.Want); err != nil {
			return err
		}
		ch := c.tuning.Saved[len(c.tuning.Saved)-1]
		c.meta.Tuned = append(c.meta.Tuned, ch)
		fmt.Fprintf(c.stderr, "experiment: -tune: %s %s -> %s (restored at the end)\n", p.Sysctl, ch.Old, p.Want)
	}
	if len(short) > 0 {
		_ = os.WriteFile(filepath.Join(c.dir, "sysctl-restore.sh"), []byte(c.tuning.RestoreScript()), 0o755)
		c.note("-tune changed %s for the run and restored them afterwards (sysctl-restore.sh has the commands, in case the runner was killed)", report.ChangesText(c.meta.Tuned))
	}
	return nil
}

// tuneFor is tune for limits found as the campaign goes (the ceiling's
// largest steps): those -tune would raise are noted without it.
func (c *campaign) tuneFor(rows []results.Precond) error {
	short, notes := sortChecks(rows, c.o.Tune)
	for _, n := range notes {
		c.note("%s", n)
	}
	if err := shortfalls(short, c.o.Tune); err != nil {
		return err
	}
	return c.tune(short)
}

// restore puts back what tune changed; a second call does nothing.
func (c *campaign) restore() {
	if len(c.tuning.Saved) == 0 {
		return
	}
	lines, bad := c.tuning.Restore()
	for _, l := range lines {
		fmt.Fprintln(c.stderr, "experiment: "+l)
	}
	if bad {
		c.note("some sysctls could not be restored; see sysctl-restore.sh")
	}
}

// Tuning raises sysctls by writing their files under Root (normally
// /proc/sys) and remembers the old values, so that Restore puts every
// one back, in reverse order, whatever way the run ends.
type Tuning struct {
	Root  string
	Saved []results.SysctlChange
	// Host names where the sysctls are ("" for this machine); read and
	// write reach its files (nil: this machine's, with os).
	Host  string
	read  func(path string) ([]byte, error)
	write func(path string, data []byte) error
}

func (t *Tuning) readFile(path string) ([]byte, error) {
	if t.read == nil {
		return os.ReadFile(path)
	}
	return t.read(path)
}

func (t *Tuning) writeFile(path string, data []byte) error {
	if t.write == nil {
		return os.WriteFile(path, data, 0o644)
	}
	return t.write(path, data)
}

// sysctlPath is the file of sysctl name under root.
func sysctlPath(root, name string) string {
	return filepath.Join(root, strings.ReplaceAll(name, ".", "/"))
}

// Set writes value and reads it back: the kernel may clamp or refuse it.
func (t *Tuning) Set(name, value string) error {
	path := sysctlPath(t.Root, name)
	old, err := t.readFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %v", name, err)
	}
	oldv := strings.TrimSpace(string(old))
	if err := t.writeFile(path, []byte(value+"\n")); err != nil {
		return fmt.Errorf("write %s=%s: %v", name, value, err)
	}
	t.Saved = append(t.Saved, results.SysctlChange{Name: name, Old: oldv, New: value})
	got, err := t.readFile(path)
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
		if err := t.writeFile(sysctlPath(t.Root, c.Name), []byte(c.Old+"\n")); err != nil {
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
	b.WriteString("#!/bin/sh\n# Restores the sysctls bin/experiment -tune changed.\n")
	for i := len(t.Saved) - 1; i >= 0; i-- {
		c := t.Saved[i]
		fmt.Fprintf(&b, "sysctl -w %s=%q\n", c.Name, c.Old)
	}
	return b.String()
}
