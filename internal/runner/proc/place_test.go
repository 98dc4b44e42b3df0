package proc

import (
	"net/netip"
	"slices"
	"testing"
)

func TestPlacement(t *testing.T) {
	var local *Placement
	argv := []string{"taskset", "-c", "0", "bin/10kthreads", "-p", "0"}
	if got := local.server(argv); !slices.Equal(got, argv) {
		t.Errorf("no placement: server %v, want it unchanged", got)
	}
	if got := local.client(argv); !slices.Equal(got, argv) {
		t.Errorf("no placement: client %v, want it unchanged", got)
	}
	pl := &Placement{ServerNS: "s", ClientNS: "c", ServerAddr: netip.MustParseAddr("198.18.0.10"),
		ClientSources: []netip.Addr{netip.MustParseAddr("198.18.0.11"), netip.MustParseAddr("198.18.0.100"),
			netip.MustParseAddr("198.18.0.101"), netip.MustParseAddr("198.18.0.102")}}
	want := []string{"ip", "netns", "exec", "s", "taskset", "-c", "0", "bin/10kthreads", "-p", "0", "-a", "198.18.0.10"}
	if got := pl.server(argv); !slices.Equal(got, want) {
		t.Errorf("server %v, want %v", got, want)
	}
	want = []string{"ip", "netns", "exec", "c", "bin/client", "-n", "5", "-source", "198.18.0.11,198.18.0.100-198.18.0.102"}
	if got := pl.client([]string{"bin/client", "-n", "5"}); !slices.Equal(got, want) {
		t.Errorf("client %v, want %v", got, want)
	}
}

// -n split over the client hosts: every connection once, the shares
// differ by one at most, and a host beyond n gets none.
func TestShare(t *testing.T) {
	for _, tc := range []struct {
		n, k int
		want []int
	}{{10, 2, []int{5, 5}}, {10, 3, []int{4, 3, 3}}, {2, 3, []int{1, 1, 0}}, {10000, 1, []int{10000}}} {
		var got []int
		for i := range tc.k {
			got = append(got, share(tc.n, tc.k, i))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("share(%d over %d) = %v, want %v", tc.n, tc.k, got, tc.want)
		}
	}
}

func TestHostPort(t *testing.T) {
	if got := hostPort("198.18.0.10", "1234"); got != "198.18.0.10:1234" {
		t.Errorf("IPv4: %s", got)
	}
	if got := hostPort("fd00::1", "1234"); got != "[fd00::1]:1234" {
		t.Errorf("IPv6: %s", got)
	}
}
