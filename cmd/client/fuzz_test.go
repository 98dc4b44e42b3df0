package main

// Fuzz targets for what the client parses: the -source list, the numeric,
// size and duration flags and -start-at (the JSON reports `client merge`
// reads are fuzzed in internal/clientreport). Without -fuzz they run
// their seed corpora as ordinary tests.
//
//	go test -run '^$' -fuzz '^FuzzParseSources$' -fuzztime 10s ./cmd/client/
//	go test -run '^$' -fuzz '^FuzzFlags$' -fuzztime 10s ./cmd/client/
//	go test -run '^$' -fuzz '^FuzzStartAt$' -fuzztime 10s ./cmd/client/

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func FuzzParseSources(f *testing.F) {
	for _, s := range []string{
		"127.0.0.2", "127.0.0.2-127.0.0.33", "127.0.0.1,127.0.0.2", " 127.0.0.5 - 127.0.0.6 ,",
		"::1", "::1-::2", "10.0.0.0-10.0.255.255", "10.0.0.0-10.1.0.0", "127.0.0.9-127.0.0.1",
		"", ",", "-", "a-b", "1.2.3.4-", "::ffff:127.0.0.1-127.0.0.3", "255.255.255.255-255.255.255.255",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ips, err := parseSources(s)
		if err != nil {
			if len(ips) != 0 || !strings.HasPrefix(err.Error(), "-source: ") {
				t.Fatalf("%q: error %q with %d addresses; want a -source error and none", s, err, len(ips))
			}
			return
		}
		// Count what the list should expand to, independently.
		want := 0
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			lo, hi, isRange := strings.Cut(part, "-")
			if !isRange {
				want++
				continue
			}
			a := net.ParseIP(strings.TrimSpace(lo)).To4()
			b := net.ParseIP(strings.TrimSpace(hi)).To4()
			if a == nil || b == nil {
				t.Fatalf("%q: accepted a range %q whose ends are not IPv4", s, part)
			}
			x, y := binary.BigEndian.Uint32(a), binary.BigEndian.Uint32(b)
			if y < x || y-x >= 1<<16 {
				t.Fatalf("%q: accepted the range %q", s, part)
			}
			want += int(y-x) + 1
		}
		if len(ips) == 0 || len(ips) != want {
			t.Fatalf("%q: %d addresses, want %d", s, len(ips), want)
		}
		for _, ip := range ips {
			if ip == nil || net.ParseIP(ip.String()) == nil {
				t.Fatalf("%q: produced an address that does not print back: %v", s, ip)
			}
		}
		_ = describeSources(ips)
	})
}

// numericFlags are the flags that take a number, a size or a duration.
var numericFlags = []string{
	"n", "size", "rounds", "duration", "hold", "rate", "connect-rate",
	"connect-timeout", "timeout", "dialers", "procs", "seed", "loops",
}

func FuzzFlags(f *testing.F) {
	seeds := map[string][]string{
		"n":               {"1", "100", "0", "-1", "1e3", "99999999999999999999"},
		"size":            {"0", "1", "65536", "-1", "1073741824", "1073741825", "9223372036854775807"},
		"rounds":          {"0", "1", "-1"},
		"duration":        {"1s", "0", "-1s", "5", "1h2m3.5s", "9223372036854775807ns", "2562048h"},
		"hold":            {"10ms", "-1ms", "1y"},
		"rate":            {"0", "1000", "1e9", "1e10", "NaN", "Inf", "-0", "5e-324", "1e-9"},
		"connect-rate":    {"0", "1000", "-1", "+Inf"},
		"connect-timeout": {"10s", "0s", "1ns"},
		"timeout":         {"10s", "-1s"},
		"dialers":         {"256", "0"},
		"procs":           {"1", "2", "0"},
		"seed":            {"1", "-1", "18446744073709551615"},
		"loops":           {"0", "1", "2", "-1", "1024", "1025", "4294967297", "x"},
	}
	for i, name := range numericFlags {
		for _, v := range seeds[name] {
			f.Add(uint8(i), v, uint16(2))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, value string, n uint16) {
		name := numericFlags[int(which)%len(numericFlags)]
		args := []string{"-" + name, value, "-n", "1", "-quiet"}
		if name == "procs" || name == "rate" {
			// Their limits depend on -n.
			args[3] = strconv.Itoa(1 + int(n%9))
		}
		if name == "n" {
			args = args[:2]
		}
		c, err := parseFlags(args, io.Discard)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), "-"+name) {
				t.Fatalf("%v: error %q does not name -%s as a usage error", args, err, name)
			}
			return
		}
		switch {
		case c.N < 1, c.Size < 0, c.Rounds < 0, c.Duration < 0, c.Hold < 0,
			c.ConnectTimeout <= 0, c.Timeout <= 0, c.Dialers < 1, c.Procs < 1, c.Procs > c.N, c.Loops < 0, c.Loops > maxLoops,
			c.Rounds == 0 && c.Duration <= 0:
			t.Fatalf("%v: accepted an out-of-range config %+v", args, c)
		case c.Size > math.MaxInt-payloadSlack || c.Size > maxSize:
			t.Fatalf("%v: accepted -size %d, which prepare cannot allocate", args, c.Size)
		case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0,
			math.IsNaN(c.ConnectRate) || math.IsInf(c.ConnectRate, 0) || c.ConnectRate < 0:
			t.Fatalf("%v: accepted a rate that is not a finite non-negative number", args)
		}
		// The open loop divides by the per-connection interval, a Duration.
		if iv := float64(c.N) / c.Rate * 1e9; c.Rate > 0 && (iv < 1 || iv >= math.MaxInt64 || time.Duration(iv) <= 0) {
			t.Fatalf("%v: -rate %v gives a send interval of %v ns", args, c.Rate, iv)
		}
	})
}

func FuzzStartAt(f *testing.F) {
	for _, s := range []string{
		"2026-01-02T15:04:05Z", "2026-01-02T15:04:05.123456789+02:00", "1767366245", "1767366245.5",
		"0", "-1", "Inf", "NaN", "1e300", "9e18", "253402300799", "tomorrow", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseStartAt(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "-start-at ") {
				t.Fatalf("%q: error %q does not name -start-at", s, err)
			}
			return
		}
		if y := tm.Year(); y < 0 || y > 9999 {
			t.Fatalf("%q: accepted as the year %d", s, y)
		}
	})
}
