/*
 * core/report_fields.c - the server's report, one field a row: its JSON key,
 * where its value lives, and where and how it prints in the text.
 */
#include <sys/types.h>

#include <stddef.h>

#include "report.h"

#define FIG(m)			offsetof(struct figures, m)
#define LONG(m)			.type = T_LONG, .off = FIG(m)
#define DBL(m, d)		.type = T_DBL, .off = FIG(m), .jdp = (d)
#define STR(m)			.type = T_STR, .off = FIG(m)
#define START(m)		LONG(m), .when = AT_START
#define GROWTH(m)		LONG(m), .when = SINCE_START
#define MEMINFO(k, w)		.type = T_LONG, .meminfo = (k), .when = (w)

/* Text: line, part of the line, label (part 0), decimals, pre, post. */
#define TEXT(l, p, lab, d, pr, po)	.text = { .line = (l), .part = (p), \
	.label = (lab), .dp = (d), .pre = (pr), .post = (po) }
/* The same, with what to print instead of pre, value, post for 0. */
#define TEXT0(l, p, pr, po, z)	.text = { .line = (l), .part = (p), \
	.pre = (pr), .post = (po), .zero = (z) }
/* The value as humanize_number(3) writes it: "6.0M", not "6145K". */
#define HUMAN(l, p, pr, po)	.text = { .line = (l), .part = (p), \
	.pre = (pr), .post = (po), .human = 1 }
/* Part 0 of a line, after label, or zero instead when the value is 0. */
#define LTEXT0(l, lab, pr, po, z)	.text = { .line = (l), .part = 0, \
	.label = (lab), .pre = (pr), .post = (po), .zero = (z) }
/* HUMAN, with what to print instead when the value is 0. */
#define HUMAN0(l, p, pr, po, z)	.text = { .line = (l), .part = (p), \
	.pre = (pr), .post = (po), .zero = (z), .human = 1 }

/*
 * The report, one field a row, in the order of the JSON keys; the text
 * lines are numbered.  A new figure is one row here (and, unless it is a
 * /proc/meminfo field, a member of struct figures and one line in
 * rusage.c's gather to fill it), e.g.
 *
 *	{ "slab_delta_kib", MEMINFO("Slab", SINCE_START),
 *	    TEXT(24, 0, "slab", 0, "", " KiB (system-wide growth)") },
 */
const struct field report_fields[] = {
	{ "schema", STR(schema) },
	{ "server", STR(server), TEXT(1, 0, "server", 0, "", "") },
	{ "model", STR(model), TEXT(1, 1, NULL, 0, " (model ", ")") },
	{ "workers", LONG(workers) },
	{ "processes", LONG(processes), TEXT(3, 0, "processes", 0, "", "") },
	{ NULL, LONG(worker_procs), TEXT(3, 1, NULL, 0, " (", " workers; ") },
	{ "server_procs", LONG(server_procs),
	    TEXT(3, 2, NULL, 0, "-P ", ", ") },
	{ "address", STR(address) },
	{ "event", STR(event) },
	{ "stack_size_bytes", LONG(stack) },
	{ "backlog", LONG(backlog) },
	{ "fd_limit", LONG(fd_limit),
	    TEXT(3, 3, NULL, 0, "fd limit ", " each)") },
	{ "uptime_s", DBL(uptime, 6), TEXT(2, 0, "uptime", 3, "", " s") },
	{ "user_cpu_s", DBL(user_s, 6),
	    TEXT(4, 0, "user CPU", 3, "", " s (all processes)") },
	{ "sys_cpu_s", DBL(sys_s, 6),
	    TEXT(5, 0, "system CPU", 3, "", " s (all processes)") },
	{ "maxrss_kib", LONG(ru.ru_maxrss),
	    TEXT(6, 0, "peak resident", 0, "", " KiB (ru_maxrss; includes the "
	    "launcher's memory before exec)") },
	{ "vmrss_kib", LONG(vmrss),
	    TEXT(7, 0, "resident now", 0, "", " KiB (VmRSS)") },
	{ "vmhwm_kib", LONG(vmhwm),
	    TEXT(8, 0, "resident high water", 0, "", " KiB (VmHWM)") },
	{ "start_rss_kib", START(vmrss),
	    TEXT(9, 0, "resident at start", 0, "", " KiB") },
	{ "start_pss_kib", START(pss_sum) },
	{ "pss_sum_kib", LONG(pss_sum),
	    TEXT(10, 0, "memory all processes", 0, "",
	    " KiB (PSS, shared pages counted once)") },
	{ "rss_sum_kib", LONG(rss_sum),
	    TEXT(11, 0, "resident all processes", 0, "",
	    " KiB (RSS, shared pages once per process)") },
	{ "kib_per_peak_conn", DBL(kib_per_conn, 4),
	    TEXT(12, 0, "memory per peak conn", 2, "", " KiB (") },
	{ NULL, STR(per_conn_basis), TEXT(12, 1, NULL, 0, "",
	    " growth since start / peak connections)") },
	{ "threads", LONG(threads), TEXT(13, 0, "threads", 0, "",
	    " (live OS threads, all processes)") },
	{ "goroutines", LONG(goroutines) },
	{ "minflt", LONG(ru.ru_minflt),
	    TEXT(14, 0, "page faults", 0, "", " minor, ") },
	{ "majflt", LONG(ru.ru_majflt), TEXT(14, 1, NULL, 0, "", " major") },
	{ "nvcsw", LONG(ru.ru_nvcsw),
	    TEXT(15, 0, "context switches", 0, "", " voluntary, ") },
	{ "nivcsw", LONG(ru.ru_nivcsw),
	    TEXT(15, 1, NULL, 0, "", " involuntary") },
	{ "max_conc", LONG(max_conc) },
	{ "total", LONG(total),
	    TEXT(17, 0, "connections accepted", 0, "", "") },
	{ "now", LONG(now) },
	{ "bytes_echoed", LONG(bytes),
	    TEXT(16, 0, "bytes echoed", 0, "", " (") },
	{ NULL, LONG(bytes), HUMAN(16, 1, "", ")") },
	{ "resets", LONG(resets),
	    TEXT(18, 0, "connections reset", 0, "", "") },
	{ "thread_create_failures", LONG(create_failures),
	    TEXT(19, 0, "thread create failures", 0, "", "") },
	{ "accept_errors", LONG(accept_errors),
	    TEXT(20, 0, "accept errors", 0, "", "") },
	{ "max_conns", LONG(max_conns),
	    TEXT0(21, 1, " (cap ", ")", " (no cap)") },
	{ "over_cap", LONG(over_cap),
	    TEXT(21, 0, "closed over cap", 0, "", "") },
	{ "over_fd_setsize", LONG(over_fd_setsize),
	    TEXT(22, 0, "closed over FD_SETSIZE", 0, "", "") },
	{ "idle_timeout_s", LONG(idle_timeout),
	    TEXT0(23, 1, " (after ", " s idle)", " (no timeout)") },
	{ "idle_timeouts", LONG(timeouts),
	    TEXT(23, 0, "closed idle", 0, "", "") },
	{ "request_delay_us", LONG(delay_us), TEXT(24, 0, "request delay", 0,
	    "", " us (-d: each read waits that long before its echo)") },
	{ "request_work_us", LONG(work_us), TEXT(25, 0, "request work", 0,
	    "", " us (-W: CPU each read uses before its echo)") },
	{ "max_waiting", LONG(max_waiting), TEXT(26, 0, "peak waiting", 0,
	    "", " (requests in their -d wait at once)") },
	{ "kernel_stack_start_kib", MEMINFO("KernelStack", AT_START) },
	{ "kernel_stack_kib", MEMINFO("KernelStack", NOW) },
	{ "kernel_stack_delta_kib", MEMINFO("KernelStack", SINCE_START),
	    TEXT(27, 0, "kernel stack (est.)", 0, "", " KiB now, ") },
	{ "kernel_stack_peak_delta_kib", GROWTH(kstack_peak),
	    TEXT(27, 1, NULL, 0, "", " KiB peak (system-wide KernelStack "
	    "growth since start, sampled every 0.1 s; not in RSS)") },
	{ "mem_limit_bytes", LONG(mem.limit) },
	{ NULL, STR(mem.limit_text), TEXT(31, 0, "memory limit", 0, "", "") },
	{ "mem_limit_source", STR(mem.source_name) },
	{ "mem_cgroup", STR(mem.cgroup) },
	{ "mem_headroom_bytes", LONG(mem.headroom) },
	{ "mem_start_bytes", LONG(mem.start) },
	{ "mem_fixed_bytes", LONG(mem.fixed) },
	{ "mem_conn_bytes", LONG(mem.conn) },
	{ NULL, DBL(mem_conn_kib, 2),
	    TEXT(32, 0, "memory per conn (est.)", 2, "", " KiB (") },
	{ NULL, STR(mem.cost_text), TEXT(32, 1, NULL, 0, "", ")") },
	{ "mem_conn_user_bytes", LONG(mem.conn_user) },
	{ "mem_conn_kstack_bytes", LONG(mem.conn_kstack) },
	{ "mem_conn_task_bytes", LONG(mem.conn_task) },
	{ "mem_conn_socket_bytes", LONG(mem.conn_socket) },
	{ "mem_cost_source", STR(mem.cost_source) },
	{ "mem_budget", LONG(mem.budget),
	    LTEXT0(33, "memory budget", "", " connections, ", "none") },
	{ "mem_usage_bytes", LONG(mem_usage),
	    HUMAN0(33, 1, "", " in use now", "") },
	{ NULL, STR(mem.threshold_text), TEXT(33, 2, NULL, 0, "", "") },
	{ "over_budget", LONG(over_budget),
	    TEXT(34, 0, "closed over budget", 0, "", "") },
	{ NULL, LONG(mem.budget),
	    TEXT0(34, 1, " (budget ", ")", " (no budget)") },
	{ "slab_start_kib", MEMINFO("Slab", AT_START) },
	{ "slab_delta_kib", MEMINFO("Slab", SINCE_START),
	    TEXT(28, 0, "kernel slab (machine)", 0, "", " KiB (machine-wide "
	    "Slab growth since start: the kernel objects of every process, "
	    "sockets and threads among them; not in RSS)") },
	{ "page_tables_start_kib", MEMINFO("PageTables", AT_START) },
	{ "page_tables_delta_kib", MEMINFO("PageTables", SINCE_START),
	    TEXT(29, 0, "page tables (machine)", 0, "", " KiB (machine-wide "
	    "PageTables growth since start; not in RSS)") },
	{ "pss_sum_peak_kib", LONG(pss_peak),
	    TEXT(30, 0, "PSS sum peak", 0, "", " KiB") },
	{ "pss_sample_interval_ms", LONG(pss_sample_ms),
	    TEXT0(30, 1, " (highest in samples every ", " ms and in reports)",
	    " (one process: not sampled, VmHWM is its peak)") },
};
#define NFIELDS	(sizeof(report_fields) / sizeof(report_fields[0]))

const size_t report_nfields = NFIELDS;

_Static_assert(NFIELDS <= MAX_FIELDS, "struct figures: raise MAX_FIELDS");
