package membudget

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"

	"tenkthreads/internal/srvreport"
)

// The headroom is 1/16 of the limit, at least 2 MiB. It takes what no
// estimate sees: threads and goroutines admitted but not yet running, the
// report, an estimate a little off, and the usage counter's lag behind
// charges under way.
const (
	headroomMin   = 2 << 20
	headroomShare = 16
)

// Headroom is what a limit keeps free.
func Headroom(limit int64) int64 { return max(limit/headroomShare, headroomMin) }

// Budget is a server process's memory budget. Its exported figures are
// what the report shows; they describe the limit that binds, the one that
// leaves fewer connections.
type Budget struct {
	Limit    int64  // bytes; 0: no limit
	Source   string // "cgroup v1", "cgroup v2", "-m" or "none"
	Cgroup   string // the binding cgroup's directory, or ""
	Headroom int64
	Start    int64 // in use when the budget was planned
	Fixed    int64 // what the server adds after that, bytes
	Cost     Cost
	M        int64 // -m, or 0
	// Connections is the budget; 0 for none. A -P worker takes its
	// parent's.
	Connections int64

	cg           Cgroup
	hasCgroup    bool
	cgUsage      *os.File // the binding cgroup's usage file, kept open
	cgThreshold  int64
	ownStat      *os.File // /proc/self/stat, for the own figures of -m
	ownThreshold int64
	now          func() int64 // connections open now, in all processes
}

// Open finds the limits this process runs under: its memory cgroup's and,
// if m > 0, -m's. It opens the files that each admission reads and sets
// no budget yet (see Plan). now counts the connections open.
func Open(m int64, cost Cost, now func() int64) *Budget {
	b := &Budget{Source: "none", Cost: cost, M: m, now: now}
	if proc, err := procfs.Self(); err == nil {
		b.cg, b.hasCgroup = FindCgroup(proc, "")
	}
	if b.hasCgroup {
		b.cgThreshold = b.cg.Limit - Headroom(b.cg.Limit)
		b.cgUsage, _ = os.Open(b.cg.UsagePath(""))
	}
	if m > 0 {
		b.ownThreshold = m - Headroom(m)
		b.ownStat, _ = os.Open("/proc/self/stat")
	}
	return b
}

// Plan sets the budget: for each limit, (limit - headroom - in use now -
// fixed) / cost per connection, and the smaller binds. fixed is what the
// server will add beyond its connections. An error names a limit that
// leaves no room for one connection.
func (b *Budget) Plan(fixed int64) error {
	b.Fixed = fixed
	if b.hasCgroup {
		src := fmt.Sprintf("cgroup v%d", b.cg.Version)
		if err := b.bind(src, b.cg.Dir, b.cg.Limit, b.cg.Usage); err != nil {
			return err
		}
	}
	if b.M > 0 {
		if err := b.bind("-m", "", b.M, b.ownUsage()); err != nil {
			return err
		}
	}
	return nil
}

func (b *Budget) bind(source, dir string, limit, start int64) error {
	conn := b.Cost.Conn()
	room := limit - Headroom(limit) - start - b.Fixed
	if room < conn {
		return fmt.Errorf("memory limit %s (%s) leaves no room for a connection: %s in use at start, %s for the model's threads and processes, %s headroom, %.1f KiB per connection",
			srvreport.Humanize(limit), source, srvreport.Humanize(start), srvreport.Humanize(b.Fixed),
			srvreport.Humanize(Headroom(limit)), float64(conn)/1024)
	}
	if n := room / conn; b.Connections == 0 || n < b.Connections {
		b.Connections, b.Limit, b.Start = n, limit, start
		b.Headroom, b.Source, b.Cgroup = Headroom(limit), source, dir
	}
	return nil
}

// readNumber reads the number a kept-open file holds now.
func readNumber(f *os.File) (int64, error) {
	var buf [64]byte
	n, err := f.ReadAt(buf[:], 0)
	if n == 0 {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(buf[:n])), 10, 64)
}

// ownUsage is this process's own figures, for -m: resident pages, its
// threads' kernel stacks and objects, and every connection's socket.
func (b *Budget) ownUsage() int64 {
	if b.ownStat == nil {
		return -1
	}
	var buf [1024]byte
	n, err := b.ownStat.ReadAt(buf[:], 0)
	if n == 0 && err != nil && !errors.Is(err, io.EOF) {
		return -1
	}
	threads, rss, err := statThreadsRSS(buf[:n])
	if err != nil {
		return -1
	}
	return rss*int64(os.Getpagesize()) + threads*b.Cost.ThreadKernel + b.now()*b.Cost.Socket
}

// statThreadsRSS takes num_threads and rss (fields 20 and 24 of proc(5))
// from /proc/self/stat text.  Read on every admission from a file kept
// open, this is a pread and two fields, where procfs would open the file
// and parse all of it each time.  The command name may hold spaces and
// parentheses, so fields are counted from the last ')'.
func statThreadsRSS(b []byte) (threads, rss int64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 22 {
		return 0, 0, fmt.Errorf("stat: %d fields after the command name, want at least 22", len(f))
	}
	if threads, err = strconv.ParseInt(f[20-3], 10, 64); err == nil {
		rss, err = strconv.ParseInt(f[24-3], 10, 64)
	}
	return threads, rss, err
}

// Full tells whether memory is full: usage above limit - headroom. A new
// connection is then refused; it is admitted again once usage falls.
func (b *Budget) Full() bool {
	if b == nil || b.Connections == 0 {
		return false
	}
	if b.cgUsage != nil {
		if u, err := readNumber(b.cgUsage); err == nil && u > b.cgThreshold {
			return true
		}
	}
	return b.ownThreshold > 0 && b.ownUsage() > b.ownThreshold
}

// Over tells whether the connection that made now open connections is
// beyond the budget.
func (b *Budget) Over(now int64) bool {
	return b != nil && b.Connections > 0 && now > b.Connections
}

// Usage is the usage now as the binding limit's re-check reads it; 0
// without a budget.
func (b *Budget) Usage() int64 {
	switch {
	case b.Connections == 0:
		return 0
	case b.Source == "-m":
		return b.ownUsage()
	case b.cgUsage == nil:
		return -1
	}
	u, err := readNumber(b.cgUsage)
	if err != nil {
		return -1
	}
	return u
}

// SoftLimit is the Go runtime's share of the budget, for
// debug.SetMemoryLimit: the limit less the headroom, what was in use at
// start beyond this process's own resident memory, and the kernel objects
// of a full budget of connections, divided among procs Go processes.
// math.MaxInt64 (no limit) without a budget.
func (b *Budget) SoftLimit(ownRSS int64, procs int) int64 {
	if b.Connections == 0 {
		return math.MaxInt64
	}
	other := max(b.Start-ownRSS, 0)
	soft := b.Limit - b.Headroom - other - b.Connections*(b.Cost.Conn()-b.Cost.User)
	return max(soft/int64(max(procs, 1)), headroomMin)
}

// ParseSize reads a size as expand_number(3) does, which the C server's
// -m uses: a decimal number with an optional suffix k, m, g, t, p or e
// (either case, powers of 1024) or b.
func ParseSize(s string) (int64, error) {
	num, shift := s, 0
	if n := len(s); n > 0 {
		if i := strings.IndexByte("bkmgtpe", toLower(s[n-1])); i >= 0 {
			num, shift = s[:n-1], 10*i
		}
	}
	if num == "" || strings.Trim(num, "0123456789") != "" {
		return 0, ErrNotSize
	}
	v, err := strconv.ParseUint(num, 10, 64)
	if err != nil || v > math.MaxInt64>>shift {
		return 0, ErrTooLarge
	}
	return int64(v) << shift, nil
}

// ParseSize's errors, worded as the C server's -m words them.
var (
	ErrNotSize  = errors.New("not a size (try 64m or 1g)")
	ErrTooLarge = errors.New("memory limit is too large")
)

func toLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
