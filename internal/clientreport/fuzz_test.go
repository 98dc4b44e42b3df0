package clientreport

// FuzzMergeJSON fuzzes the JSON reports `client merge` reads. Without
// -fuzz it runs its seed corpus as an ordinary test.
//
//	go test -run '^$' -fuzz '^FuzzMergeJSON$' -fuzztime 10s ./internal/clientreport/

import (
	"encoding/json"
	"io"
	"testing"
)

// seedReport is a real report as the client produces it, with latencies.
func seedReport(t testing.TB) []byte {
	r := New()
	r.Engine, r.Loops = EngineEventLoop, 2
	r.Target = "127.0.0.1:1234"
	r.Requested, r.Established, r.Verified, r.MaxConc, r.Total = 3, 3, 3, 3, 3
	r.Sent, r.RoundTrips = 6, 6
	r.PerConn = NewPerConn([]int64{1, 2, 3})
	r.ElapsedS, r.ConnectAllS, r.SteadyS = 0.5, 0.1, 0.3
	r.Environment.Hostname, r.Environment.Cores = "fuzz", 2
	for i, name := range HistNames {
		for v := int64(1000); v < 1e7; v *= 3 {
			r.Hists[name].RecordValue(v + int64(i))
		}
	}
	r.Derive()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzMergeJSON(f *testing.F) {
	good := seedReport(f)
	f.Add(good)
	f.Add([]byte(`{"schema":"10kthreads-client/1"}`))
	f.Add([]byte(`{"schema":"10kthreads-client/1","latency":{"rtt":{"hdr":"not base64"}}}`))
	f.Add([]byte(`{"schema":"10kthreads-client/2"}`))
	f.Add([]byte(`{"schema":"10kthreads-client/1","total":-5,"errors":{"reset":9223372036854775807}}`))
	f.Add([]byte(`[]`))
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			return
		}
		total, rtt := r.Total, r.Hists["rtt"].TotalCount()
		m, err := Merge([]*Result{r, r}, []string{"a.json", "b.json"})
		if err != nil {
			return
		}
		if m.Total != 2*total || m.Hists["rtt"].TotalCount() != 2*rtt {
			t.Fatalf("merge of a report with itself: total %d, rtt count %d; want %d, %d",
				m.Total, m.Hists["rtt"].TotalCount(), 2*total, 2*rtt)
		}
		m.WriteText(io.Discard)
	})
}
