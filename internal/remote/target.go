package remote

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Target is a host as the user names it: [user@]host[:port]. User and
// Port are empty and 0 when not given, so ssh's own configuration
// (~/.ssh/config, or the -F file) decides them.
type Target struct {
	User string
	Host string // a name (or an ssh_config alias), an IPv4 or IPv6 address
	Port int
}

// String is the target as it was written, IPv6 addresses in brackets
// when a port follows.
func (t Target) String() string {
	s := t.Host
	if t.Port != 0 {
		if strings.Contains(s, ":") {
			s = "[" + s + "]"
		}
		s += ":" + strconv.Itoa(t.Port)
	}
	if t.User != "" {
		s = t.User + "@" + s
	}
	return s
}

// ParseTarget parses [user@]host[:port]; an IPv6 address with a port is
// written [addr]:port. The error is one line naming the text and what is
// wrong with it.
func ParseTarget(s string) (Target, error) {
	t, why := parseTarget(s)
	if why != "" {
		return Target{}, fmt.Errorf("host %q: %s", s, why)
	}
	return t, nil
}

func parseTarget(s string) (Target, string) {
	var t Target
	if s == "" {
		return t, "empty"
	}
	if strings.ContainsAny(s, " \t\r\n'\"\\`$;&|<>()*?!") {
		return t, "contains a space or a shell character"
	}
	rest := s
	if user, host, ok := strings.Cut(s, "@"); ok {
		if strings.Contains(host, "@") {
			return t, "more than one @"
		}
		if why := checkUser(user); why != "" {
			return t, why
		}
		t.User, rest = user, host
	}
	host, port, why := splitPort(rest)
	if why != "" {
		return t, why
	}
	if why := checkHost(host); why != "" {
		return t, why
	}
	t.Host, t.Port = host, port
	return t, ""
}

func checkUser(u string) string {
	switch {
	case u == "":
		return "empty user name before @"
	case strings.HasPrefix(u, "-"):
		return "a user name cannot start with -"
	}
	return ""
}

// splitPort splits host[:port], [v6]:port and [v6]; a bare IPv6 address
// has no port.
func splitPort(s string) (host string, port int, why string) {
	var p string
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, "[ without ]"
		}
		host, p = s[1:end], s[end+1:]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return "", 0, "[" + host + "] is not an IPv6 address"
		}
		if p != "" && !strings.HasPrefix(p, ":") {
			return "", 0, "text after ]: want [address]:port"
		}
		p = strings.TrimPrefix(p, ":")
	case strings.Count(s, ":") > 1:
		if _, err := netip.ParseAddr(s); err != nil {
			return "", 0, "not an IPv6 address (write [address]:port for one with a port)"
		}
		return s, 0, ""
	default:
		host, p, _ = strings.Cut(s, ":")
		if strings.HasSuffix(s, ":") && p == "" {
			return "", 0, "empty port after :"
		}
	}
	if p == "" {
		return host, 0, ""
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Sprintf("port %q: want a number from 1 to 65535", p)
	}
	return host, n, ""
}

// checkHost accepts a host name (letters, digits, '.', '-', '_') or an IP
// address; nothing that ssh could read as an option.
func checkHost(h string) string {
	if h == "" {
		return "empty host name"
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return ""
	}
	if strings.HasPrefix(h, "-") {
		return "a host name cannot start with -"
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Sprintf("%q is not allowed in a host name", c)
		}
	}
	return ""
}

// ParseTargets parses a comma-separated list, as -client-hosts takes it.
func ParseTargets(list string) ([]Target, error) {
	var ts []Target
	seen := map[Target]bool{}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, fmt.Errorf("host list %q: an empty entry", list)
		}
		t, err := ParseTarget(f)
		if err != nil {
			return nil, err
		}
		if seen[t] {
			return nil, fmt.Errorf("host %q: listed twice", f)
		}
		seen[t] = true
		ts = append(ts, t)
	}
	return ts, nil
}

// ReadHostsFile reads one target a line; '#' starts a comment, blank
// lines are skipped. Errors name the file and line.
func ReadHostsFile(path string) ([]Target, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ts []Target
	seen := map[Target]int{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		t, err := ParseTarget(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		if first, dup := seen[t]; dup {
			return nil, fmt.Errorf("%s:%d: host %q: listed twice (first on line %d)", path, n, line, first)
		}
		seen[t] = n
		ts = append(ts, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("%s: no hosts in it", path)
	}
	return ts, nil
}
