package proc

import (
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tenkthreads/internal/srvreport"
)

// TakeReport keeps the first report newer than the one it had, and says
// why when the file never holds one: a report that breaks the contract is
// named, not waited out in silence.
func TestTakeReport(t *testing.T) {
	usr1 := make(chan os.Signal, 4)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	path := filepath.Join(t.TempDir(), "server.json")
	r := srvreport.Report{Server: "10kthreads", Model: "thread", Event: srvreport.EventReport, UptimeS: 2, Now: 7}
	r.Derive()
	if err := r.WriteJSONFile(path); err != nil {
		t.Fatal(err)
	}
	got, b, err := TakeReport(os.Getpid(), path, 1, time.Second)
	if err != nil || got.Now != 7 || len(b) == 0 {
		t.Fatalf("report %+v, %v", got, err)
	}
	if _, _, err := TakeReport(os.Getpid(), path, 2, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "no SIGUSR1 report") {
		t.Errorf("an old report was taken: %v", err)
	}
	good, _ := r.JSON()
	if err := os.WriteFile(path, []byte(strings.Replace(string(good), `"resets"`, `"reset"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := TakeReport(os.Getpid(), path, 0, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), `unknown field "reset"`) {
		t.Errorf("a report with a renamed key: %v", err)
	}
	if len(usr1) == 0 {
		t.Error("no SIGUSR1 was sent")
	}
}

func TestExitString(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{{[]string{"true"}, "exit 0"}, {[]string{"false"}, "exit 1"}, {[]string{"sh", "-c", "kill -9 $$"}, "killed by killed"}} {
		cmd := exec.Command(c.args[0], c.args[1:]...)
		if got := ExitString(cmd.Run()); got != c.want {
			t.Errorf("%v: %q, want %q", c.args, got, c.want)
		}
	}
}
