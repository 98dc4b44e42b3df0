package tests

// Bad input: numeric flags out of range, names that do not resolve, and
// a listening address beyond loopback.

import (
	"strings"
	"testing"

	"tenkthreads/internal/testkit"
)

// TestNumericFlagRanges: every numeric flag of the server and the client
// rejects what is out of range.
func TestNumericFlagRanges(t *testing.T) {
	type bad struct {
		args    []string
		mention string
	}
	server := []bad{
		{[]string{"-b", "0"}, "-b"}, {[]string{"-b", "65536"}, "-b"}, {[]string{"-b", "-3"}, "-b"},
		{[]string{"-c", "0"}, "-c"}, {[]string{"-c", "-1"}, "-c"}, {[]string{"-c", "1x"}, "-c"},
		{[]string{"-c", "99999999999999999999"}, "-c"},
		{[]string{"-P", "0"}, "-P"}, {[]string{"-P", "257"}, "-P"}, {[]string{"-P", "two"}, "-P"},
		{[]string{"-p", "65536"}, "-p"}, {[]string{"-p", "0x50"}, "-p"},
		{[]string{"-s", "0"}, "-s"}, {[]string{"-s", "1k"}, "-s"}, {[]string{"-s", "2g"}, "-s"},
		{[]string{"-s", "-16k"}, "-s"}, {[]string{"-s", "16q"}, "-s"},
		{[]string{"-s", "0x4000"}, "-s"}, {[]string{"-s", "010k"}, "-s"}, // decimal: 10k is below the minimum
		{[]string{"-t", "0"}, "-t"}, {[]string{"-t", "86401"}, "-t"}, {[]string{"-t", "1.5"}, "-t"},
		{[]string{"-w", "0"}, "-w"}, {[]string{"-w", "10001"}, "-w"}, {[]string{"-M", "pool", "-w", "-1"}, "-w"},
		{[]string{"-w", "4"}, "-w"}, // thread takes no workers
	}
	client := []bad{
		{[]string{"-n", "0"}, "-n"}, {[]string{"-n", "-5"}, "-n"}, {[]string{"-n", "1e3"}, "-n"},
		{[]string{"-n", "99999999999999999999"}, "-n"},
		{[]string{"-size", "-1"}, "-size"}, {[]string{"-size", "x"}, "-size"},
		{[]string{"-size", "2147483648"}, "-size"}, {[]string{"-size", "9223372036854775807"}, "-size"},
		{[]string{"-rounds", "-1"}, "-rounds"}, {[]string{"-rounds", "0"}, "-rounds"},
		{[]string{"-duration", "-1s"}, "-duration"}, {[]string{"-duration", "5"}, "-duration"},
		{[]string{"-hold", "-1s"}, "-hold"}, {[]string{"-hold", "1y"}, "-hold"},
		{[]string{"-rate", "-1"}, "-rate"}, {[]string{"-rate", "NaN"}, "-rate"}, {[]string{"-rate", "+Inf"}, "-rate"},
		{[]string{"-n", "1", "-rate", "1e10"}, "-rate"}, {[]string{"-rate", "1e-12"}, "-rate"},
		{[]string{"-connect-rate", "-1"}, "-connect-rate"}, {[]string{"-connect-rate", "Inf"}, "-connect-rate"},
		{[]string{"-connect-timeout", "0s"}, "-connect-timeout"}, {[]string{"-timeout", "-1s"}, "-timeout"},
		{[]string{"-dialers", "0"}, "-dialers"},
		{[]string{"-procs", "0"}, "-procs"}, {[]string{"-n", "2", "-procs", "3"}, "-procs"},
		{[]string{"-seed", "-1"}, "-seed"},
		{[]string{"-start-at", "tomorrow"}, "-start-at"}, {[]string{"-start-at", "Inf"}, "-start-at"},
		{[]string{"-start-at", "1e300"}, "-start-at"},
		{[]string{"-engine", "threads"}, "-engine"}, {[]string{"-loops", "-1"}, "-loops"},
		{[]string{"-loops", "1025"}, "-loops"}, {[]string{"-engine", "goroutine", "-loops", "2"}, "-loops"},
	}
	for _, set := range []struct {
		prog  string
		cases []bad
	}{{"10kthreads", server}, {"client", client}} {
		for _, c := range set.cases {
			t.Run(set.prog+"/"+strings.Join(c.args, "_"), func(t *testing.T) {
				testkit.CheckUsageError(t, testkit.Run(t, exitTimeout, binary(t, set.prog), c.args...), set.prog, c.mention)
			})
		}
	}
}

// TestUnresolvableHost: a name that does not resolve is one line and exit
// 1. "a..b" has an empty label, so the resolvers reject it without asking
// any name server: the test sends nothing beyond loopback.
func TestUnresolvableHost(t *testing.T) {
	for _, c := range []struct {
		prog string
		args []string
	}{
		{"10kthreads", []string{"-a", "a..b", "-p", "0"}},
		{"client", []string{"-n", "1", "-host", "a..b:1234"}},
	} {
		t.Run(c.prog, func(t *testing.T) {
			res := testkit.Run(t, exitTimeout, binary(t, c.prog), c.args...)
			msg := strings.TrimRight(res.Stderr, "\n")
			if res.Code != 1 || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, c.prog+": ") || !strings.Contains(msg, "a..b") {
				t.Errorf("exit %d, stderr %q: want exit 1 and one line naming a..b", res.Code, msg)
			}
		})
	}
}

// TestNonLoopbackWarning: listening on every address works, with a
// warning that names it. Nothing connects; the server stops on SIGINT.
func TestNonLoopbackWarning(t *testing.T) {
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			s := startServer(t, kind, "-a", "0.0.0.0")
			s.stop()
			msg := strings.TrimRight(s.Stderr.String(), "\n")
			if strings.Contains(msg, "\n") || !strings.Contains(msg, "0.0.0.0") || !strings.Contains(msg, "warning") {
				t.Errorf("stderr %q: want one warning line naming 0.0.0.0", msg)
			}
		})
	}
}
