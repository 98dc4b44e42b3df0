package remote

import (
	"reflect"
	"testing"

	"tenkthreads/internal/strictjson"
)

// What hostprobe prints decodes, strictly, into what it read.
func TestEnvRoundTrip(t *testing.T) {
	e := ReadEnv()
	if e.Schema != EnvSchema || e.Kernel == "" || e.CPUs < 1 || e.CPUsAllowed == "" || e.System.FDHard == 0 || len(e.Sysctls) != len(EnvSysctls) {
		t.Errorf("incomplete: %+v", e)
	}
	b, err := MarshalEnv(e)
	if err != nil {
		t.Fatal(err)
	}
	var back Env
	if err := strictjson.Unmarshal(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(back, e) {
		t.Errorf("decoded %+v\nwant %+v", back, e)
	}
}
