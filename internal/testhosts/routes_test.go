package testhosts

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// The route checks, on what `ip -j route show table all` prints.
func TestCheckHostRoutes(t *testing.T) {
	const ok = ""
	hostRoutes := `{"dst":"198.18.0.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"198.18.0.10","flags":[]},
		{"type":"local","dst":"127.0.0.0/8","dev":"lo","table":"local"},
		{"type":"local","dst":"127.0.0.1","dev":"lo","table":"local"},
		{"type":"broadcast","dst":"127.255.255.255","dev":"lo","table":"local"},
		{"type":"local","dst":"198.18.0.10","dev":"eth0","table":"local"},
		{"type":"broadcast","dst":"198.18.0.255","dev":"eth0","table":"local"},
		{"type":"local","dst":"::1","dev":"lo","table":"local"}`
	for _, tc := range []struct {
		name, routes, want string
	}{
		{"a host as built", hostRoutes, ok},
		{"nothing at all", ``, ok},
		{"default route", hostRoutes + `,{"dst":"default","dev":"eth0","flags":[]}`, "a default route (default dev eth0)"},
		{"default in another table", `{"dst":"default","gateway":"198.18.0.1","dev":"eth0","table":"100"}`, "a default route"},
		{"0.0.0.0/0 spelled out", `{"dst":"0.0.0.0/0","dev":"eth0"}`, "a default route"},
		{"gateway inside the range", `{"dst":"198.18.1.0/24","gateway":"198.18.0.1","dev":"eth0"}`, "through a gateway (198.18.1.0/24 via 198.18.0.1 dev eth0)"},
		{"outside the range", `{"dst":"10.0.0.0/8","dev":"eth0"}`, "outside 198.18.0.0/15"},
		{"wider than the range", `{"dst":"198.16.0.0/13","dev":"eth0"}`, "outside 198.18.0.0/15"},
		{"IPv6 link-local", `{"dst":"fe80::/64","dev":"eth0"}`, "outside 198.18.0.0/15"},
		{"a stranger's device", `{"dst":"198.18.0.0/24","dev":"wg0"}`, "a device the harness did not make"},
		{"unreachable anything", `{"type":"unreachable","dst":"default","dev":"lo"}`, ok},
		{"unreadable", `{"dst":"nonsense","dev":"eth0"}`, "cannot read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkHostRoutes("ns1", decodeRoutes(t, tc.routes), []string{"lo", "eth0"})
			checkErr(t, err, tc.want, "test namespace ns1 has ")
		})
	}
}

func TestCheckRootRoutes(t *testing.T) {
	machine := `{"dst":"default","gateway":"192.0.2.1","dev":"eth0"},
		{"dst":"192.0.2.0/24","dev":"eth0"},
		{"type":"local","dst":"127.0.0.1","dev":"lo","table":"local"},
		{"dst":"default","gateway":"fd00::1","dev":"eth0"},
		{"dst":"fe80::/64","dev":"eth0"}`
	for _, tc := range []struct {
		name, routes, want string
	}{
		{"an ordinary machine", machine, ""},
		{"unreachable range", machine + `,{"type":"unreachable","dst":"198.18.0.0/15"}`, ""},
		{"blackholed part", machine + `,{"type":"blackhole","dst":"198.19.0.0/16"}`, ""},
		{"the range routed", machine + `,{"dst":"198.18.0.0/15","gateway":"192.0.2.9","dev":"eth0"}`, "a route to 198.18.0.0/15 (198.18.0.0/15 via 192.0.2.9 dev eth0)"},
		{"part of it on a link", `{"dst":"198.19.4.0/24","dev":"eth1"}`, "(198.19.4.0/24 dev eth1)"},
		{"a wider route", `{"dst":"198.0.0.0/8","gateway":"192.0.2.7","dev":"eth0"}`, "(198.0.0.0/8 via"},
		{"one address", `{"type":"local","dst":"198.18.0.10","dev":"eth0","table":"local"}`, "(local 198.18.0.10 dev eth0 table local)"},
		{"a neighbour just outside", `{"dst":"198.20.0.0/16","dev":"eth0"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, checkRootRoutes(decodeRoutes(t, tc.routes)), tc.want, "the machine's own namespace has ")
		})
	}
}

func TestCheckRootAddrs(t *testing.T) {
	var links []link
	doc := `[{"ifname":"lo","addr_info":[{"local":"127.0.0.1","prefixlen":8}]},
		{"ifname":"eth0","addr_info":[{"local":"192.0.2.2","prefixlen":24},{"local":"fd00::2","prefixlen":64}]}]`
	if err := json.Unmarshal([]byte(doc), &links); err != nil {
		t.Fatal(err)
	}
	if err := checkRootAddrs(links); err != nil {
		t.Errorf("ordinary addresses refused: %v", err)
	}
	links[1].AddrInfo[1].Local, links[1].AddrInfo[1].PrefixLen = "198.19.255.1", 16
	checkErr(t, checkRootAddrs(links), "198.19.255.1/16 on eth0", "the machine's own namespace has ")
}

func decodeRoutes(t *testing.T, list string) []route {
	t.Helper()
	var routes []route
	if err := json.Unmarshal([]byte("["+list+"]"), &routes); err != nil {
		t.Fatalf("bad test input: %v", err)
	}
	return routes
}

// checkErr wants no error for want "", else one line with prefix and want.
func checkErr(t *testing.T, err error, want, prefix string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("refused: %v", err)
	case want == "":
	case err == nil:
		t.Errorf("accepted, want an error naming %q", want)
	case !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), prefix) || strings.Contains(err.Error(), "\n"):
		t.Errorf("error %q: want one line starting %q naming %q", err, prefix, want)
	}
}

func TestOwnerPID(t *testing.T) {
	for _, tc := range []struct {
		name string
		pid  int
		ok   bool
	}{
		{"10kt-4242-a1b2c3-server", 4242, true},
		{"10kt-4242-a1b2c3-bridge", 4242, true},
		{"10kt-notapid-x", 0, false},
		{"10kt--x", 0, false},
		{"10kt-0-x", 0, false},
		{"other-4242-x", 0, false},
		{"ns1", 0, false},
	} {
		pid, ok := ownerPID(tc.name)
		if ok != tc.ok || (ok && pid != tc.pid) {
			t.Errorf("ownerPID(%q) = %d, %v; want %d, %v", tc.name, pid, ok, tc.pid, tc.ok)
		}
	}
	if stale(fmt.Sprintf("%s%d-abcdef-server", Prefix, os.Getpid())) {
		t.Error("this process's own namespace counted as stale")
	}
}
