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

/*
 * Text, in the aligned block: LINE starts a line with its label, PART
 * continues the line above; with decimals, pre and post around the value.
 */
#define LINE(lab, d, pr, po)	.text = { .shown = 1, .label = (lab), \
	.dp = (d), .pre = (pr), .post = (po) }
#define PART(d, pr, po)		.text = { .shown = 1, .dp = (d), \
	.pre = (pr), .post = (po) }
/* The same, with what to print instead of pre, value, post for 0. */
#define LINE0(lab, pr, po, z)	.text = { .shown = 1, .label = (lab), \
	.pre = (pr), .post = (po), .zero = (z) }
#define PART0(pr, po, z)	.text = { .shown = 1, .pre = (pr), \
	.post = (po), .zero = (z) }
/* The value as humanize_number(3) writes it: "6.0M", not "6145K". */
#define HUMAN(pr, po)		.text = { .shown = 1, .pre = (pr), \
	.post = (po), .human = 1 }
#define HUMAN0(pr, po, z)	.text = { .shown = 1, .pre = (pr), \
	.post = (po), .zero = (z), .human = 1 }

/*
 * The report, one field a row.  The rows with a key are the JSON, in
 * their order; the rows with text are the aligned block, in theirs.
 * Where a figure's place differs in the two, it has a row of each: one
 * with its key and no text, one with text and no key.  A new figure is
 * one row here, or two (and, unless it is a /proc/meminfo field, a member
 * of struct figures and one line in rusage.c's gather to fill it), e.g.
 *
 *	{ "slab_delta_kib", MEMINFO("Slab", SINCE_START),
 *	    LINE("slab", 0, "", " KiB (system-wide growth)") },
 */
const struct field report_fields[] = {
	{ "schema", STR(schema) },
	{ "server", STR(server), LINE("server", 0, "", "") },
	{ "model", STR(model), PART(0, " (model ", ")") },
	{ NULL, DBL(uptime, 6), LINE("uptime", 3, "", " s") },
	{ "workers", LONG(workers) },
	{ "processes", LONG(processes), LINE("processes", 0, "", "") },
	{ NULL, LONG(worker_procs), PART(0, " (", " workers; ") },
	{ "server_procs", LONG(server_procs), PART(0, "-P ", ", ") },
	{ "address", STR(address) },
	{ "event", STR(event) },
	{ "stack_size_bytes", LONG(stack) },
	{ "backlog", LONG(backlog) },
	{ "fd_limit", LONG(fd_limit), PART(0, "fd limit ", " each)") },
	{ "uptime_s", DBL(uptime, 6) },
	{ "user_cpu_s", DBL(user_s, 6),
	    LINE("user CPU", 3, "", " s (all processes)") },
	{ "sys_cpu_s", DBL(sys_s, 6),
	    LINE("system CPU", 3, "", " s (all processes)") },
	{ "maxrss_kib", LONG(ru.ru_maxrss),
	    LINE("peak resident", 0, "", " KiB (ru_maxrss; includes the "
	    "launcher's memory before exec)") },
	{ "vmrss_kib", LONG(vmrss),
	    LINE("resident now", 0, "", " KiB (VmRSS)") },
	{ "vmhwm_kib", LONG(vmhwm),
	    LINE("resident high water", 0, "", " KiB (VmHWM)") },
	{ "start_rss_kib", START(vmrss),
	    LINE("resident at start", 0, "", " KiB") },
	{ "start_pss_kib", START(pss_sum) },
	{ "pss_sum_kib", LONG(pss_sum),
	    LINE("memory all processes", 0, "",
	    " KiB (PSS, shared pages counted once)") },
	{ "rss_sum_kib", LONG(rss_sum),
	    LINE("resident all processes", 0, "",
	    " KiB (RSS, shared pages once per process)") },
	{ "kib_per_peak_conn", DBL(kib_per_conn, 4),
	    LINE("memory per peak conn", 2, "", " KiB (") },
	{ NULL, STR(per_conn_basis),
	    PART(0, "", " growth since start / peak connections)") },
	{ "threads", LONG(threads),
	    LINE("threads", 0, "", " (live OS threads, all processes)") },
	{ "goroutines", LONG(goroutines) },
	{ "minflt", LONG(ru.ru_minflt),
	    LINE("page faults", 0, "", " minor, ") },
	{ "majflt", LONG(ru.ru_majflt), PART(0, "", " major") },
	{ "nvcsw", LONG(ru.ru_nvcsw),
	    LINE("context switches", 0, "", " voluntary, ") },
	{ "nivcsw", LONG(ru.ru_nivcsw), PART(0, "", " involuntary") },
	{ "max_conc", LONG(max_conc) },
	{ "total", LONG(total) },
	{ "now", LONG(now) },
	{ "bytes_echoed", LONG(bytes), LINE("bytes echoed", 0, "", " (") },
	{ NULL, LONG(bytes), HUMAN("", ")") },
	{ NULL, LONG(total), LINE("connections accepted", 0, "", "") },
	{ "resets", LONG(resets), LINE("connections reset", 0, "", "") },
	{ "thread_create_failures", LONG(create_failures),
	    LINE("thread create failures", 0, "", "") },
	{ "accept_errors", LONG(accept_errors),
	    LINE("accept errors", 0, "", "") },
	{ "max_conns", LONG(max_conns) },
	{ "over_cap", LONG(over_cap), LINE("closed over cap", 0, "", "") },
	{ NULL, LONG(max_conns), PART0(" (cap ", ")", " (no cap)") },
	{ "over_fd_setsize", LONG(over_fd_setsize),
	    LINE("closed over FD_SETSIZE", 0, "", "") },
	{ "idle_timeout_s", LONG(idle_timeout) },
	{ "idle_timeouts", LONG(timeouts), LINE("closed idle", 0, "", "") },
	{ NULL, LONG(idle_timeout),
	    PART0(" (after ", " s idle)", " (no timeout)") },
	{ "request_delay_us", LONG(delay_us), LINE("request delay", 0, "",
	    " us (-d: each read waits that long before its echo)") },
	{ "request_work_us", LONG(work_us), LINE("request work", 0, "",
	    " us (-W: CPU each read uses before its echo)") },
	{ "max_waiting", LONG(max_waiting), LINE("peak waiting", 0, "",
	    " (requests in their -d wait at once)") },
	{ "kernel_stack_start_kib", MEMINFO("KernelStack", AT_START) },
	{ "kernel_stack_kib", MEMINFO("KernelStack", NOW) },
	{ "kernel_stack_delta_kib", MEMINFO("KernelStack", SINCE_START),
	    LINE("kernel stack (est.)", 0, "", " KiB now, ") },
	{ "kernel_stack_peak_delta_kib", GROWTH(kstack_peak),
	    PART(0, "", " KiB peak (system-wide KernelStack growth since "
	    "start, sampled every 0.1 s; not in RSS)") },
	{ "mem_limit_bytes", LONG(mem.limit) },
	{ "mem_limit_source", STR(mem.source_name) },
	{ "mem_cgroup", STR(mem.cgroup) },
	{ "mem_headroom_bytes", LONG(mem.headroom) },
	{ "mem_start_bytes", LONG(mem.start) },
	{ "mem_fixed_bytes", LONG(mem.fixed) },
	{ "mem_conn_bytes", LONG(mem.conn) },
	{ "mem_conn_user_bytes", LONG(mem.conn_user) },
	{ "mem_conn_kstack_bytes", LONG(mem.conn_kstack) },
	{ "mem_conn_task_bytes", LONG(mem.conn_task) },
	{ "mem_conn_socket_bytes", LONG(mem.conn_socket) },
	{ "mem_cost_source", STR(mem.cost_source) },
	{ "mem_budget", LONG(mem.budget) },
	{ "mem_usage_bytes", LONG(mem_usage) },
	{ "over_budget", LONG(over_budget) },
	{ "slab_start_kib", MEMINFO("Slab", AT_START) },
	{ "slab_delta_kib", MEMINFO("Slab", SINCE_START),
	    LINE("kernel slab (machine)", 0, "", " KiB (machine-wide Slab "
	    "growth since start: the kernel objects of every process, "
	    "sockets and threads among them; not in RSS)") },
	{ "page_tables_start_kib", MEMINFO("PageTables", AT_START) },
	{ "page_tables_delta_kib", MEMINFO("PageTables", SINCE_START),
	    LINE("page tables (machine)", 0, "", " KiB (machine-wide "
	    "PageTables growth since start; not in RSS)") },
	{ "pss_sum_peak_kib", LONG(pss_peak),
	    LINE("PSS sum peak", 0, "", " KiB") },
	{ "pss_sample_interval_ms", LONG(pss_sample_ms),
	    PART0(" (highest in samples every ", " ms and in reports)",
	    " (one process: not sampled, VmHWM is its peak)") },
	/* The memory budget, last in the text. */
	{ NULL, STR(mem.limit_text), LINE("memory limit", 0, "", "") },
	{ NULL, DBL(mem_conn_kib, 2),
	    LINE("memory per conn (est.)", 2, "", " KiB (") },
	{ NULL, STR(mem.cost_text), PART(0, "", ")") },
	{ NULL, LONG(mem.budget),
	    LINE0("memory budget", "", " connections, ", "none") },
	{ NULL, LONG(mem_usage), HUMAN0("", " in use now", "") },
	{ NULL, STR(mem.threshold_text), PART(0, "", "") },
	{ NULL, LONG(over_budget), LINE("closed over budget", 0, "", "") },
	{ NULL, LONG(mem.budget), PART0(" (budget ", ")", " (no budget)") },
};
#define NFIELDS	(sizeof(report_fields) / sizeof(report_fields[0]))

const size_t report_nfields = NFIELDS;

_Static_assert(NFIELDS <= MAX_FIELDS, "struct figures: raise MAX_FIELDS");
