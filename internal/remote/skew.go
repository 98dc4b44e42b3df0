package remote

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Skew is how far a host's clock is from this one's.
type Skew struct {
	// Offset is the host's clock minus the local clock: positive when
	// the host is ahead.
	Offset time.Duration
	// Within bounds the error of Offset: half the round trip of the
	// exchange it was measured in, plus the host clock's resolution.
	Within time.Duration
	RTT    time.Duration // of that exchange
}

func (s Skew) String() string {
	return fmt.Sprintf("%+.3f ms ± %.3f ms", ms(s.Offset), ms(s.Within))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// skewRounds is how many exchanges a measurement takes; the one with the
// shortest round trip, the least disturbed, gives the figure.
const skewRounds = 9

// skewScript answers each line of stdin with the host's time of day.
const skewScript = `while read -r _; do date +%s.%N; done`

// ClockSkew measures the host's clock against this one's over one ssh
// connection: the host's time, read while a line makes a round trip, is
// compared with the round trip's midpoint here.
func (h *Host) ClockSkew(ctx context.Context) (Skew, error) {
	cmd := h.s.opts.command(h.Target, skewScript)
	in, err := cmd.StdinPipe()
	if err != nil {
		return Skew{}, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Skew{}, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return Skew{}, err
	}
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	defer stop()
	best, err := exchange(in, bufio.NewReader(out))
	in.Close()
	werr := cmd.Wait()
	if err != nil {
		if ferr := h.failure("clock skew", werr, stderr.String()); ferr != nil {
			return Skew{}, ferr
		}
		return Skew{}, fmt.Errorf("host %s: clock skew: %v", h.Name, err)
	}
	return best, nil
}

// exchange sends a line and reads the host's time skewRounds times.
func exchange(w io.Writer, r *bufio.Reader) (Skew, error) {
	var best Skew
	for i := range skewRounds {
		t0 := time.Now()
		if _, err := io.WriteString(w, "t\n"); err != nil {
			return best, err
		}
		line, err := r.ReadString('\n')
		t1 := time.Now()
		if err != nil {
			return best, err
		}
		remote, res, err := parseTime(strings.TrimSpace(line))
		if err != nil {
			return best, err
		}
		rtt := t1.Sub(t0)
		mid := t0.UnixNano() + rtt.Nanoseconds()/2
		s := Skew{Offset: time.Duration(remote - mid), Within: rtt/2 + res, RTT: rtt}
		if i == 0 || s.Within < best.Within {
			best = s
		}
	}
	return best, nil
}

// parseTime reads date's "SECONDS.NANOSECONDS" as Unix nanoseconds and
// how far off that can be: a date without %N prints "N" or "%N", and
// then the reading is the middle of its second, good to half a second.
func parseTime(s string) (ns int64, res time.Duration, err error) {
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("the host's date printed %q, not seconds.nanoseconds", s)
	}
	n, err := strconv.ParseInt(frac, 10, 64)
	if len(frac) != 9 || err != nil {
		return secs*1e9 + 5e8, 500 * time.Millisecond, nil
	}
	return secs*1e9 + n, 0, nil
}
