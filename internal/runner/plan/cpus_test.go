package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"tenkthreads/internal/runner/results"
)

func span(lo, hi int) []int {
	var out []int
	for c := lo; c <= hi; c++ {
		out = append(out, c)
	}
	return out
}

func TestParseCPUList(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
		err  string
	}{
		{"0", []int{0}, ""},
		{"0-3", []int{0, 1, 2, 3}, ""},
		{"0-7,16", append(span(0, 7), 16), ""},
		{"6,1-2, 4", []int{1, 2, 4, 6}, ""},
		{"0-15:4", []int{0, 4, 8, 12}, ""},
		{"1,1,0-1", []int{0, 1}, ""},
		{"", nil, "empty CPU list"},
		{"a", nil, `"a" is not a CPU number`},
		{"3-1", nil, `range "3-1" runs backwards`},
		{"0-", nil, `"" is not a CPU number`},
		{"-1", nil, `"" is not a CPU number`},
		{"1,", nil, `"" is not a CPU number`},
		{"0-7:0", nil, "a stride is a positive number"},
		{"4:2", nil, "a stride is a positive number after a range"},
		{"99999", nil, `"99999" is not a CPU number (0-8191)`},
	} {
		got, err := ParseCPUList(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseCPUList(%q) = %v, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if back, _ := ParseCPUList(FormatCPUList(got)); !slices.Equal(back, got) {
			t.Errorf("FormatCPUList(%v) = %q does not read back", got, FormatCPUList(got))
		}
	}
	if s := FormatCPUList(append(span(0, 3), 6, 8, 9)); s != "0-3,6,8-9" {
		t.Errorf("FormatCPUList = %q", s)
	}
}

func TestSplitCPUsDefault(t *testing.T) {
	for _, c := range []struct {
		name           string
		allowed        []int
		server, client []int
		describe       string
	}{
		{"2 CPUs: today's CPU 0 and CPU 1", span(0, 1), []int{0}, []int{1}, "server on CPU 0, client on CPU 1 (taskset -c)"},
		{"3 CPUs: the odd one to the client", span(0, 2), []int{0}, []int{1, 2}, "server on CPU 0, client on CPUs 1-2 (2) (taskset -c)"},
		{"16 CPUs", span(0, 15), span(0, 7), span(8, 15), "server on CPUs 0-7 (8), client on CPUs 8-15 (8) (taskset -c)"},
		{"64 CPUs", span(0, 63), span(0, 31), span(32, 63), "server on CPUs 0-31 (32), client on CPUs 32-63 (32) (taskset -c)"},
		{"a cpuset without CPU 0", []int{4, 5, 6, 7, 12, 13}, []int{4, 5, 6}, []int{7, 12, 13}, "server on CPUs 4-6 (3), client on CPUs 7,12-13 (3) (taskset -c)"},
	} {
		s, err := SplitCPUs(c.allowed, "", "")
		if err != nil || !slices.Equal(s.Server, c.server) || !slices.Equal(s.Client, c.client) {
			t.Errorf("%s: %+v, %v; want server %v client %v", c.name, s, err, c.server, c.client)
		}
		if d := s.Describe(); d != c.describe {
			t.Errorf("%s: Describe() = %q, want %q", c.name, d, c.describe)
		}
	}
	if _, err := SplitCPUs([]int{3}, "", ""); !errors.Is(err, ErrOneCPU) {
		t.Errorf("one CPU: %v, want ErrOneCPU", err)
	}
}

func TestSplitCPUsLists(t *testing.T) {
	cpus16 := span(0, 15)
	noZero := span(8, 15)
	for _, c := range []struct {
		name           string
		allowed        []int
		srv, cli       string
		server, client []int
		err            string
	}{
		{"both given", cpus16, "0-3", "4-15", span(0, 3), span(4, 15), ""},
		{"fewer than allowed", cpus16, "2", "9,11", []int{2}, []int{9, 11}, ""},
		{"server only: the client gets the rest", cpus16, "0-11", "", span(0, 11), span(12, 15), ""},
		{"client only: the server gets the rest", noZero, "", "8-9", span(10, 15), []int{8, 9}, ""},
		{"swapped on 2 CPUs", span(0, 1), "1", "0", []int{1}, []int{0}, ""},
		{"bad list", cpus16, "0-x", "", nil, nil, `-server-cpus 0-x: "x" is not a CPU number (0-8191)`},
		{"overlap", cpus16, "0-8", "8-15", nil, nil, "-server-cpus and -client-cpus share CPU 8: the sets must be disjoint"},
		{"not allowed", noZero, "0-3", "8-15", nil, nil, "-server-cpus 0-3: CPU 0 is not one this process may use (8-15)"},
		{"client not allowed", noZero, "8", "16", nil, nil, "-client-cpus 16: CPU 16 is not one this process may use (8-15)"},
		{"nothing left for the client", span(0, 1), "0-1", "", nil, nil, "-client-cpus: no CPU is left for it among the CPUs this process may use (0-1)"},
	} {
		s, err := SplitCPUs(c.allowed, c.srv, c.cli)
		if c.err != "" {
			var ue UsageError
			if !errors.As(err, &ue) || ue.Msg != c.err {
				t.Errorf("%s: %+v, %v; want usage error %q", c.name, s, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(s.Server, c.server) || !slices.Equal(s.Client, c.client) {
			t.Errorf("%s: %+v, %v; want server %v client %v", c.name, s, err, c.server, c.client)
		}
	}
}

func TestSizing(t *testing.T) {
	two, _ := SplitCPUs(span(0, 1), "", "")
	three, _ := SplitCPUs(span(0, 2), "", "")
	sixteen, _ := SplitCPUs(span(0, 15), "", "")
	sixtyFour, _ := SplitCPUs(span(0, 63), "", "")
	thread := results.ServerSpec{Key: "10kthreads:thread", Model: "thread", Args: nil}
	epoll := results.ServerSpec{Key: "10kthreads:epoll", Model: "epoll", Args: []string{"-M", "epoll"}}
	goRef := results.ServerSpec{Key: "ref_async_server", Model: "goroutine"}
	loops := Facts{EventLoops: true, DefaultWorkers: 1}
	for _, c := range []struct {
		name  string
		sets  CPUSets
		spec  results.ServerSpec
		facts Facts
		procs int
		args  []string
		env   []string
	}{
		{"thread on 2 CPUs", two, thread, Facts{}, 1, nil, nil},
		{"epoll on 2 CPUs: as before", two, epoll, loops, 1, []string{"-M", "epoll"}, nil},
		{"Go on 2 CPUs: as before", two, goRef, Facts{GoRuntime: true}, 1, nil, nil},
		{"epoll on 3 CPUs (1 server CPU)", three, epoll, loops, 1, []string{"-M", "epoll"}, nil},
		{"thread on 16 CPUs: unchanged", sixteen, thread, Facts{}, 1, nil, nil},
		{"epoll on 16 CPUs", sixteen, epoll, loops, 1, []string{"-M", "epoll", "-w", "8"}, nil},
		{"epoll on 16 CPUs in 3 processes", sixteen, epoll, loops, 3, []string{"-M", "epoll", "-w", "3"}, nil},
		{"Go on 16 CPUs", sixteen, goRef, Facts{GoRuntime: true}, 1, nil, []string{"GOMAXPROCS=8"}},
		{"epoll on 64 CPUs", sixtyFour, epoll, loops, 1, []string{"-M", "epoll", "-w", "32"}, nil},
		{"epoll with its own -w", sixtyFour, results.ServerSpec{Args: []string{"-M", "epoll", "-w", "2"}}, loops, 1, []string{"-M", "epoll", "-w", "2"}, nil},
		{"not pinned", CPUSets{}, epoll, loops, 1, []string{"-M", "epoll"}, nil},
	} {
		got := c.sets.SizeServer(c.spec, c.facts, c.procs)
		if !slices.Equal(got.Args, c.args) || !slices.Equal(got.Env, c.env) {
			t.Errorf("%s: args %q env %q; want %q %q", c.name, got.Args, got.Env, c.args, c.env)
		}
		if len(got.Args) > len(c.spec.Args) && &got.Args[0] == &c.spec.Args[0] {
			t.Errorf("%s: SizeServer changed its argument's slice", c.name)
		}
	}
	for _, c := range []struct {
		sets             CPUSets
		n, needed, procs int
	}{
		{two, 100, 1, 1}, {two, 100000, 6, 6}, {sixteen, 100, 1, 8}, {sixteen, 100000, 6, 8},
		{sixteen, 200000, 11, 11}, {sixteen, 5, 1, 5}, {sixtyFour, 10000, 1, 32}, {CPUSets{}, 100, 1, 1},
	} {
		if got := c.sets.ClientProcs(c.n, c.needed); got != c.procs {
			t.Errorf("ClientProcs(%d, %d) on %d client CPUs = %d, want %d", c.n, c.needed, len(c.sets.Client), got, c.procs)
		}
	}
}
