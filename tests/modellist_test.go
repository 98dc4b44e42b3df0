package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/srvreport"
	"tenkthreads/internal/testkit"
)

// listModels runs -M list -j and decodes the JSON strictly through the
// runner's own type, so a renamed or missing key fails here.
func listModels(t *testing.T) (string, []srvreport.Model) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "models.json")
	res := testkit.Run(t, 10*time.Second, binary(t, "10kthreads"), "-M", "list", "-j", path)
	if res.Code != 0 || res.Stderr != "" {
		t.Fatalf("-M list: exit %d, stderr %q", res.Code, res.Stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := srvreport.DecodeModels(b)
	if err != nil {
		t.Fatalf("-M list JSON: %v", err)
	}
	return res.Stdout, l.Models
}

// The table and the JSON list the same models in the same order, every
// model of the table is one -M accepts, and its facts hold together.
func TestModelList(t *testing.T) {
	text, models := listModels(t)
	rows := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(rows) != len(models)+1 || !strings.HasPrefix(rows[0], "model ") {
		t.Fatalf("want a header and %d rows, got:\n%s", len(models), text)
	}
	names := map[string]bool{}
	for i, m := range models {
		names[m.Name] = true
		if f := strings.Fields(rows[i+1]); f[0] != m.Name {
			t.Errorf("row %d names %q, JSON %q", i+1, f[0], m.Name)
		}
		if (m.Workers == "") != (m.DefaultWorkers == 0) {
			t.Errorf("%s: workers %q with default %d", m.Name, m.Workers, m.DefaultWorkers)
		}
		if m.PerConnection != "" && m.Bounded {
			t.Errorf("%s: a thread or process per connection yet bounded", m.Name)
		}
		if m.PerConnection == "process" && !m.Processes {
			t.Errorf("%s: a process per connection, yet not a process model", m.Name)
		}
		// A ceiling on descriptor numbers bounds what a model holds.
		if m.FDCeiling > 0 && (!m.Bounded || !strings.Contains(rows[i+1], fmt.Sprintf("descriptors below %d only", m.FDCeiling))) {
			t.Errorf("%s: fd ceiling %d, yet bounded %v and row %q", m.Name, m.FDCeiling, m.Bounded, rows[i+1])
		}
	}
	// The main experiment compares a thread per connection with the
	// event loops epoll and io_uring (and Go); each must hold any count.
	var compared []string
	at := strings.Index(rows[0], "compared")
	for i, m := range models {
		if m.Compared {
			compared = append(compared, m.Name)
			if m.Bounded || m.Processes || m.SameAs != "" {
				t.Errorf("%s: compared, yet bounded %v, processes %v, same as %q", m.Name, m.Bounded, m.Processes, m.SameAs)
			}
		}
		if col := strings.Fields(rows[i+1][min(at, len(rows[i+1])):]); at < 0 || len(col) == 0 || (col[0] == "yes") != m.Compared {
			t.Errorf("row %q: the compared column disagrees with the JSON (%v)", rows[i+1], m.Compared)
		}
	}
	if got := strings.Join(compared, " "); got != "thread epoll uring" {
		t.Errorf("compared models %q, want thread epoll uring", got)
	}
	for _, want := range []string{"thread", "epoll", "prefork-nolock", "iterative", "poll", "select", "dispatch"} {
		if !names[want] {
			t.Errorf("model %s missing from -M list", want)
		}
	}
	for _, m := range models {
		if m.SameAs != "" && !names[m.SameAs] {
			t.Errorf("%s is the same as %s, which is not listed", m.Name, m.SameAs)
		}
		if m.Workers == "" {
			// A model without workers refuses -w: the flag is checked
			// before anything listens, so this exits at once.
			res := testkit.Run(t, 10*time.Second, binary(t, "10kthreads"), "-M", m.Name, "-w", "2", "-p", "0")
			testkit.CheckUsageError(t, res, "10kthreads", "takes no workers")
		}
	}
}

func TestModelListBadJSONPath(t *testing.T) {
	res := testkit.Run(t, 10*time.Second, binary(t, "10kthreads"), "-M", "list", "-j", filepath.Join(t.TempDir(), "no", "such", "dir.json"))
	if res.Code != 1 || res.Stdout != "" || !strings.Contains(res.Stderr, "no/such/dir.json") {
		t.Errorf("exit %d, stdout %q, stderr %q: want exit 1, nothing printed, the path named", res.Code, res.Stdout, res.Stderr)
	}
}
