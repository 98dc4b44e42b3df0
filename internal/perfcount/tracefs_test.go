package perfcount

import (
	"os"
	"path/filepath"
	"testing"
)

// Where tracefs is not mounted, Start mounts it in a private namespace:
// that path gives the same id as the machine's mount and leaves the
// machine's mounts as they were.
func TestPrivateTracefs(t *testing.T) {
	needRoot(t)
	before, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	private, err := privateTracefsID()
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile("/proc/self/mountinfo")
	if string(before) != string(after) {
		t.Errorf("the mounts changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if init1, err := os.ReadFile("/proc/1/mountinfo"); err == nil && string(init1) != string(before) {
		t.Logf("this test runs in a mount namespace of its own; checked that one")
	}
	var public uint64
	found := false
	for _, dir := range tracingDirs() {
		if id, err := readID(filepath.Join(dir, syscallEvent)); err == nil {
			public, found = id, true
			break
		}
	}
	if !found {
		t.Logf("tracefs is not mounted here; the private mount read id %d", private)
		return
	}
	if private != public {
		t.Errorf("private mount read id %d, the machine's tracefs %d", private, public)
	}
}
