package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func parseTopology(args ...string) (Options, error) {
	modes := []ModeFlag{{Usage: "[-quick]", Flags: []string{"quick"}}, {Name: "bench", Usage: "-bench"}, {Name: "soak", Usage: "-soak MODEL"},
		{Name: "compare", Usage: "-compare A B"}, {Name: "ceiling", Usage: "-ceiling"},
		{Name: "c100k", Usage: "-c100k"}, {Name: "c1m", Usage: "-c1m"}}
	return Parse(args, func(string) string { return "" }, modes, nil)
}

func TestTopologyFlags(t *testing.T) {
	o, err := parseTopology("-server-host", "root@s:2222", "-client-hosts", "c1,c2", "-ssh-config", "cfg")
	if err != nil || !o.Remote() || o.ServerHost != "root@s:2222" || !slices.Equal(o.ClientHosts, []string{"c1", "c2"}) || o.SSHConfig != "cfg" || o.Topology != "local" {
		t.Errorf("hosts: %+v, %v", o, err)
	}
	o, err = parseTopology("-bench", "-topology", "netns", "-link-mbit", "100", "-link-htb", "-link-delay", "1ms", "-link-loss", "0.5")
	want := LinkShaping{RateMbit: 100, HTB: true, Delay: time.Millisecond, LossPct: 0.5}
	if err != nil || o.Topology != "netns" || o.Link != want || o.Remote() {
		t.Errorf("netns: %+v, %v", o, err)
	}
	if o, err := parseTopology("-hosts", "f"); err != nil || !o.Remote() {
		t.Errorf("-hosts: %+v, %v", o, err)
	}
}

func TestTopologyUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-topology", "cloud"}, "-topology cloud: want local, netns or both"},
		{[]string{"-bench", "-topology", "both"}, "-topology both goes with the experiment matrix only"},
		{[]string{"-server-host", "s"}, "-server-host needs -client-hosts"},
		{[]string{"-client-hosts", "c"}, "-client-hosts needs -server-host"},
		{[]string{"-hosts", "f", "-server-host", "s"}, "-hosts excludes -server-host and -client-hosts"},
		{[]string{"-server-host", "s", "-client-hosts", "c", "-topology", "netns"}, "-topology excludes"},
		{[]string{"-server-host", "s", "-client-hosts", "c", "-topology", "local"}, "-topology excludes"},
		{[]string{"-ssh-config", "f"}, "-ssh-config goes with"},
		{[]string{"-link-mbit", "10"}, "go with -topology netns"},
		{[]string{"-topology", "netns", "-link-loss", "101"}, "nor -link-loss over 100"},
		{[]string{"-topology", "netns", "-link-mbit", "-1"}, "cannot be negative"},
		{[]string{"-topology", "netns", "-link-htb"}, "-link-htb needs -link-mbit"},
		{[]string{"-topology", "netns", "-report", "d"}, "take no topology"},
		{[]string{"-soak", "-topology", "netns", "epoll"}, "-soak runs on this machine over loopback only"},
		{[]string{"-soak", "-hosts", "f", "epoll"}, "-soak runs on this machine over loopback only"},
		{[]string{"-compare", "-hosts", "f", "a", "b"}, "its builds are not copied to other hosts"},
		{[]string{"-ceiling", "-server-host", "s", "-client-hosts", "c"}, "the floor that keeps it clear of the OOM killer is watched here"},
		{[]string{"-c100k", "-server-host", "s", "-client-hosts", "c"}, "-c100k runs on this machine (over loopback or -topology netns): its memory floor and its lingering clients are watched here"},
		{[]string{"-c1m", "-server-host", "s", "-client-hosts", "c"}, "-c1m runs on this machine"},
	} {
		_, err := parseTopology(tc.args...)
		var ue UsageError
		if !errors.As(err, &ue) || !strings.Contains(ue.Msg, tc.want) || strings.Contains(ue.Msg, "\n") {
			t.Errorf("%v: got %v, want a one-line usage error with %q", tc.args, err, tc.want)
		}
	}
}
