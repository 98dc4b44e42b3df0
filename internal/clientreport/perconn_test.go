package clientreport

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestPerConnSummary(t *testing.T) {
	for _, c := range []struct {
		name                        string
		counts                      []int64
		conns, starved, mn, med, mx int64
		pairs                       [][2]int64
	}{
		{"none", nil, 0, 0, 0, 0, 0, [][2]int64{}},
		{"one", []int64{7}, 1, 0, 7, 7, 7, [][2]int64{{7, 1}}},
		{"odd", []int64{5, 0, 9, 5, 0}, 5, 2, 0, 5, 9, [][2]int64{{0, 2}, {5, 2}, {9, 1}}},
		// Nearest rank: of 4, the 2nd in order.
		{"even", []int64{40, 10, 30, 20}, 4, 0, 10, 20, 40, [][2]int64{{10, 1}, {20, 1}, {30, 1}, {40, 1}}},
		{"all starved", []int64{0, 0, 0}, 3, 3, 0, 0, 0, [][2]int64{{0, 3}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := NewPerConn(c.counts)
			if p.Conns != c.conns || p.Starved != c.starved || p.Min != c.mn || p.Median != c.med || p.Max != c.mx || !reflect.DeepEqual(p.Counts, c.pairs) {
				t.Errorf("got %+v", p)
			}
		})
	}
}

// A merge of distributions is the distribution of all the connections:
// the same as if one process had had them all.
func TestPerConnMergeExact(t *testing.T) {
	a, b := []int64{0, 3, 3, 8, 100}, []int64{3, 0, 0, 9}
	m := NewPerConn(a)
	m.add(NewPerConn(b))
	want := NewPerConn(append(append([]int64{}, a...), b...))
	if !reflect.DeepEqual(m, want) {
		t.Errorf("merged %+v, want %+v", m, want)
	}
	if m.Conns != 9 || m.Starved != 3 || m.Median != 3 || m.Max != 100 || m.roundTrips() != 126 {
		t.Errorf("merged %+v", m)
	}
}

// report is a decodable report with these per-connection counts and idle
// connections.
func report(t *testing.T, counts []int64, idle, idleOK int64) *Result {
	t.Helper()
	r := New()
	r.Target = "127.0.0.1:1"
	r.Requested, r.Established = int64(len(counts)), int64(len(counts))
	for _, c := range counts {
		r.RoundTrips += c
		if c > 0 {
			r.Verified++
		}
	}
	r.Failed = r.Requested - r.Verified
	r.Errors[Timeout] = r.Failed
	r.Sent = r.RoundTrips + r.Failed
	r.PerConn = NewPerConn(counts)
	r.Idle.Requested, r.Idle.Established, r.Idle.Verified, r.Idle.Failed = idle, idle, idleOK, idle-idleOK
	r.Idle.Errors[Timeout] = idle - idleOK
	r.Idle.Errnos[Timeout] = map[string]int64{"idle read deadline": idle - idleOK}
	r.Derive()
	return r
}

// Merging reports adds their distributions and idle connections exactly,
// and the merge survives a round trip through JSON.
func TestMergeFairnessAndIdle(t *testing.T) {
	a, b := report(t, []int64{0, 4, 4}, 10, 4), report(t, []int64{6, 0}, 5, 5)
	m, err := Merge([]*Result{a, b}, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	p := m.PerConn
	if p.Conns != 5 || p.Starved != 2 || p.Min != 0 || p.Median != 4 || p.Max != 6 || !reflect.DeepEqual(p.Counts, [][2]int64{{0, 2}, {4, 2}, {6, 1}}) {
		t.Errorf("merged fairness %+v", p)
	}
	i := m.Idle
	if i.Requested != 15 || i.Established != 15 || i.Verified != 9 || i.Failed != 6 || i.Errors[Timeout] != 6 || i.Errnos[Timeout]["idle read deadline"] != 6 || m.Config.Idle != 15 {
		t.Errorf("merged idle %+v (config.idle %d)", i, m.Config.Idle)
	}
	b2, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.PerConn, m.PerConn) || !reflect.DeepEqual(back.Idle, m.Idle) {
		t.Errorf("read back %+v %+v", back.PerConn, back.Idle)
	}
}

// Idle connections that failed fail the run and are named apart.
func TestIdleFailuresFailTheRun(t *testing.T) {
	ok := report(t, []int64{2, 2}, 3, 3)
	if !ok.OK() {
		t.Fatalf("a run with every connection verified is not OK: %+v", ok)
	}
	bad := report(t, []int64{2, 2}, 3, 1)
	if bad.OK() {
		t.Fatal("a run with 2 idle connections failed is OK")
	}
	lines := strings.Join(bad.FailureLines(), "\n")
	if !strings.HasPrefix(lines, "2 of 3 idle connections failed: timed out (idle read deadline)") || strings.Contains(lines, "0 of 2 connections failed") {
		t.Errorf("failure lines:\n%s", lines)
	}
	var text strings.Builder
	bad.WriteText(&text)
	for _, w := range []string{"round trips per conn    min 2, median 2, max 2 (over 2 connections)", "  starved               0", "idle connections        3", "  verified              1  (2 short of the 3 requested)", "    timeout             2 (idle read deadline)"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, text.String())
		}
	}
}

// A distribution that disagrees with the report's counts is refused: a
// merge would add up wrong figures.
func TestDecodeChecksFairness(t *testing.T) {
	good, err := json.Marshal(report(t, []int64{0, 3, 5}, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(good); err != nil {
		t.Fatal(err)
	}
	doc := string(good)
	for name, c := range map[string]struct{ from, to, want string }{
		"connections": {`"counts":[[0,1],[3,1],[5,1]]`, `"counts":[[0,1],[3,1],[5,2]]`, "4 connections, but requested is 3"},
		"round trips": {`"counts":[[0,1],[3,1],[5,1]]`, `"counts":[[0,1],[4,1],[5,1]]`, "9 round trips, but round_trips is 8"},
		"negative":    {`"counts":[[0,1],[3,1],[5,1]]`, `"counts":[[0,1],[3,1],[5,1],[-1,0]]`, "negative pair [-1 0]"},
	} {
		bad := strings.Replace(doc, c.from, c.to, 1)
		if bad == doc {
			t.Fatalf("%s: the test did not change the document", name)
		}
		_, err := Decode([]byte(bad))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
