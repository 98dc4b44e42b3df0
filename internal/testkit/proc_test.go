package testkit

import (
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestProcWalkers starts a shell that starts a sleep, and finds both below
// the test, as they are and once they have gone.
func TestProcWalkers(t *testing.T) {
	p := Start(t, "sh", sh("sleep 60 & wait"))
	var below []Proc
	if !Until(time.Minute, 10*time.Millisecond, func() bool {
		below = Descendants(t, os.Getpid())
		return len(below) >= 2
	}) {
		t.Fatalf("descendants %v, want the shell and its sleep", below)
	}
	sh := slices.IndexFunc(below, func(q Proc) bool { return q.PID == p.Cmd.Process.Pid })
	if sh < 0 {
		t.Fatalf("descendants %v lack the shell %d", below, p.Cmd.Process.Pid)
	}
	kids := Children(t, p.Cmd.Process.Pid)
	if len(kids) != 1 || kids[0].PPID != p.Cmd.Process.Pid || kids[0].State == "Z" || kids[0].Start == 0 {
		t.Fatalf("children of the shell %v, want one live sleep", kids)
	}
	// The same process, not the same state: the descendants were read while
	// the sleep may still have been running its exec.
	if !slices.ContainsFunc(below, func(q Proc) bool {
		return q.PID == kids[0].PID && q.PPID == kids[0].PPID && q.Start == kids[0].Start
	}) {
		t.Errorf("descendants %v lack the sleep %v", below, kids[0])
	}
	if q, ok := ReadProc(kids[0].PID); !ok || q != kids[0] {
		t.Errorf("ReadProc(%d) = %v, %v; want %v", kids[0].PID, q, ok, kids[0])
	}
	// Once its sleep is killed, the shell's wait returns and it exits.
	if err := syscall.Kill(kids[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, time.Minute); code != 0 {
		t.Errorf("shell exit %d, want 0", code)
	}
	if !Gone(p.Cmd.Process.Pid) || !Gone(kids[0].PID) {
		t.Errorf("the shell %d or its sleep %d is not gone once reaped", p.Cmd.Process.Pid, kids[0].PID)
	}
	if _, ok := ReadProc(-1); ok || !Gone(-1) {
		t.Error("pid -1 exists")
	}
}

func TestOpenFDsAndStatus(t *testing.T) {
	n := OpenFDs(t, os.Getpid())
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if m := OpenFDs(t, os.Getpid()); m != n+1 {
		t.Errorf("%d descriptors after opening one more than %d", m, n)
	}
	if st := Status(t, os.Getpid()); st.VmRSS == 0 || st.VmSize < st.VmRSS {
		t.Errorf("VmRSS %d, VmSize %d bytes", st.VmRSS, st.VmSize)
	}
	fk := observe(func(tb testing.TB) { OpenFDs(tb, -1) })
	fk.wantFail(t, true, "count descriptors of -1")
	fk = observe(func(tb testing.TB) { Status(tb, -1) })
	fk.wantFail(t, true, "/proc/-1/status")
	if FDHardLimit(t) == 0 {
		t.Error("open-file hard limit 0")
	}
}
