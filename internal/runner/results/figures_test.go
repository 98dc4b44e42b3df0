package results

import (
	"slices"
	"testing"
)

// results.csv's columns are a schema scripts read: every figure keeps its
// key and its place, each has a title and a source, and none is missing
// from the table.
func TestFigureKeys(t *testing.T) {
	want := []string{"requested", "established", "verified", "errors", "server_max_conc", "peak_rss_kib", "kib_per_conn", "kstack_kib", "kstack_kib_per_conn", "kstack_system_kib", "server_cpu_s", "client_cpu_s", "connect_all_s", "rtt_p50_us", "rtt_p99_us", "round_trips", "round_trips_per_s", "window_round_trips_per_s", "server_cpu_us_per_rt", "server_threads_peak", "server_resets", "client_cores_busy", "other_cpu_s", "other_cpu_pct", "server_max_waiting", "starved", "rt_per_conn_min", "rt_per_conn_median", "rt_per_conn_max", "idle_conns", "idle_verified", "held_conns", "hold_kib_per_conn", "hold_kib_per_conn_from_start", "hold_kstack_kib_per_conn", "hold_kstack_all_kib_per_conn", "hold_cpu_us_per_rt", "accept_server_s", "gib_per_s", "thread_objects_kib_per_conn", "socket_kib_per_conn", "page_tables_kib_per_conn", "machine_kib_per_conn", "other_kernel_kib_per_conn", "client_machine_kib_per_conn", "mem_available_drop_kib", "parts_sum_kib", "available_minus_parts_kib", "counters_growth_kib", "ramp_conns_per_s", "listen_drops", "listen_overflows", "syncookies_failed",
		"client_cpu_us_per_msg", "client_user_kib_per_conn", "ctx_switches_per_rt", "syscalls_per_rt", "migrations_per_rt", "page_faults_per_rt", "cycles_per_rt", "instructions_per_rt", "client_user_cpu_us_per_msg"}
	var got []string
	for _, f := range Figures() {
		got = append(got, f.Key())
		if f.Title() == "" || figureDefs[f].get == nil {
			t.Errorf("figure %d (%q) has no title or no source", f, f.Key())
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("figure keys, in results.csv's order:\n got %q\nwant %q", got, want)
	}
	m := Metrics{RTTP99us: N(1200), Verified: N(7)}
	if RTTP99.Of(m) != N(1200) || Verified.Of(m) != N(7) || !HoldCPUPerRT.FromHoldReport() || Verified.FromHoldReport() {
		t.Error("a figure reads the wrong field of Metrics, or the wrong report")
	}
}
