/*
 * rusage.c - the resource report, as text for people and JSON for scripts,
 * both written from one table of fields.
 *
 * The first six lines keep the original kit's format (EXITING, resident,
 * the peak resident size in KiB (VmHWM), Max conc:, Total:, Now:) so that old
 * scripts still read them; the aligned block below them and the JSON
 * (schema 10kthreads-server/1, the Go server's too) come from the table.
 */
#include <sys/types.h>
#include <sys/resource.h>

#include <err.h>
#include <libutil.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

#define SCHEMA		"10kthreads-server/1"
#define MAX_FIELDS	96
#define MAX_PARTS	4	/* values on one text line */
#define LABEL_WIDTH	24

/* Every figure of one report, gathered at one moment. */
struct figures {
	const char	*schema, *server, *model, *address, *event;
	long		 workers, server_procs, stack, backlog, fd_limit;
	long		 max_conns, idle_timeout, delay_us, work_us;
	long		 processes, worker_procs;
	double		 uptime, user_s, sys_s;	/* all processes */
	struct rusage	 ru;			/* this process */
	long		 vmrss, vmhwm, pss_sum, rss_sum, threads;
	double		 kib_per_conn, mem_conn_kib;
	const char	*per_conn_basis;
	long		 goroutines;		/* the Go server's; none here */
	long		 now, max_conc, total, bytes, resets;
	long		 create_failures, accept_errors, over_cap, timeouts;
	long		 over_fd_setsize, max_waiting;
	long		 kstack_peak;
	struct membudget mem;			/* as set at start */
	long		 mem_usage, over_budget;
	long		 pss_peak, pss_sample_ms;
	long		 meminfo[MAX_FIELDS];	/* by field, for MEMINFO ones */
	struct proctotals w;			/* the live worker processes */
};

enum type { T_LONG, T_DBL, T_STR };

/* NOW, or its value in the start report, or its growth since then. */
enum when { NOW, AT_START, SINCE_START };

/*
 * Where a field prints in the aligned block: on text line `line' (none
 * if 0), as part `part' of it, after `label' if it is part 0.  It prints
 * as pre, the value (with dp decimals, or in humanize_number(3)'s form),
 * post; or as zero instead when the value is 0 and zero is set.
 */
struct text {
	int		 line, part;
	const char	*label;
	int		 dp;
	const char	*pre, *post, *zero;
	int		 human;
};

struct field {
	const char	*key;		/* JSON key; NULL: text only */
	enum type	 type;
	size_t		 off;		/* in struct figures, or */
	const char	*meminfo;	/* a /proc/meminfo key, KiB */
	int		 jdp;		/* decimals in the JSON */
	enum when	 when;
	struct text	 text;
};

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
 * /proc/meminfo field, one line in gather to fill its member), e.g.
 *
 *	{ "slab_delta_kib", MEMINFO("Slab", SINCE_START),
 *	    TEXT(24, 0, "slab", 0, "", " KiB (system-wide growth)") },
 */
static const struct field fields[] = {
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
	{ "mem_limit_source", STR(mem.source) },
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
#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

_Static_assert(NFIELDS <= MAX_FIELDS, "struct figures: raise MAX_FIELDS");

/*
 * The start report's figures, for the AT_START and SINCE_START fields.
 * Written once by the main thread before any other thread exists.
 */
static struct figures at_start;

union value {
	long		 l;
	double		 d;
	const char	*s;
};

static union value
raw_value(const struct field *fl, const struct figures *f)
{
	const char *p = (const char *)f + fl->off;
	union value v = { .l = 0 };

	if (fl->meminfo != NULL) {
		v.l = f->meminfo[fl - fields];
		return v;
	}
	switch (fl->type) {
	case T_LONG:
		memcpy(&v.l, p, sizeof(v.l));
		break;
	case T_DBL:
		memcpy(&v.d, p, sizeof(v.d));
		break;
	case T_STR:
		memcpy(&v.s, p, sizeof(v.s));
		break;
	}
	return v;
}

static union value
value(const struct field *fl, const struct figures *f)
{
	union value v;

	if (fl->when == AT_START)
		return raw_value(fl, &at_start);
	v = raw_value(fl, f);
	if (fl->when == SINCE_START)
		v.l -= raw_value(fl, &at_start).l;
	return v;
}

static double
tv_sec(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

/*
 * CPU of every process: this one, the reaped workers (RUSAGE_CHILDREN)
 * and the live ones (from /proc, in whole clock ticks).
 */
static void
gather_cpu(struct figures *f)
{
	struct rusage ch;

	getrusage(RUSAGE_SELF, &f->ru);
	getrusage(RUSAGE_CHILDREN, &ch);
	f->user_s = tv_sec(f->ru.ru_utime) + tv_sec(ch.ru_utime) +
	    f->w.user_s;
	f->sys_s = tv_sec(f->ru.ru_stime) + tv_sec(ch.ru_stime) + f->w.sys_s;
}

/* What the server was told and what it is: the same in every report. */
static void
gather_server(const struct server *srv, struct figures *f)
{
	f->schema = SCHEMA;
	f->server = PROGNAME;
	f->model = srv->model;
	f->address = srv->addr;
	f->workers = srv->workers;
	f->server_procs = srv->procs;
	f->stack = (long)srv->stack;
	f->backlog = srv->backlog;
	/* RLIMIT_NOFILE is at most fs.nr_open, far below LONG_MAX. */
	f->fd_limit = (long)srv->fd_limit;
	f->max_conns = srv->max_conns;
	f->idle_timeout = srv->idle_timeout;
	f->mem = *srv->mem;
	f->mem_conn_kib = f->mem.conn / 1024.0;
	f->mem_usage = membudget_usage();
	f->delay_us = srv->delay_us;
	f->work_us = srv->work_us;
}

static void
gather_counters(struct figures *f)
{
	f->now = atomic_load(&counters->now);
	f->max_conc = atomic_load(&counters->max_conc);
	f->total = atomic_load(&counters->total);
	f->bytes = atomic_load(&counters->bytes);
	f->resets = atomic_load(&counters->resets);
	f->create_failures = atomic_load(&counters->create_failures);
	f->accept_errors = atomic_load(&counters->accept_errors);
	f->over_cap = atomic_load(&counters->over_cap);
	f->timeouts = atomic_load(&counters->timeouts);
	f->over_budget = atomic_load(&counters->over_budget);
	f->over_fd_setsize = atomic_load(&counters->over_fd_setsize);
	f->max_waiting = atomic_load(&counters->max_waiting);
}

/*
 * /proc/meminfo is read once, so that the figures taken from it agree.
 * The kernel stack peak is the one the signal thread sampled, or the
 * figure now if that is higher (the Go server's report does the same).
 */
static void
gather_meminfo(const struct server *srv, struct figures *f)
{
	char text[PROCTEXT_MAX];
	size_t i;

	if (meminfo_text(text, sizeof(text)) == -1)
		text[0] = '\0';
	for (i = 0; i < NFIELDS; i++)
		if (fields[i].meminfo != NULL)
			f->meminfo[i] = proctext_kib(text, fields[i].meminfo);
	f->kstack_peak = proctext_kib(text, "KernelStack");
	if (srv->peak_kstack_kib > f->kstack_peak)
		f->kstack_peak = srv->peak_kstack_kib;
}

static void
gather(const struct server *srv, struct figures *f, const char *event)
{
	struct timespec now;

	memset(f, 0, sizeof(*f));
	gather_server(srv, f);
	f->event = event;
	procs_gather(&f->w);
	clock_gettime(CLOCK_MONOTONIC, &now);
	f->uptime = (now.tv_sec - srv->start.tv_sec) +
	    (now.tv_nsec - srv->start.tv_nsec) / 1e9;
	f->vmrss = proc_status_kib("VmRSS");
	f->vmhwm = proc_status_kib("VmHWM");
	f->threads = proc_status_kib("Threads") + f->w.threads;
	gather_meminfo(srv, f);
	gather_counters(f);
	gather_cpu(f);
	f->pss_sum = proc_pss_kib(getpid()) + f->w.pss_kib;
	f->rss_sum = f->vmrss + f->w.rss_kib;
	f->processes = f->w.procs + 1;
	f->worker_procs = f->w.procs;
	f->pss_peak = f->pss_sum;
	if (srv->sample_pss && srv->peak_pss_kib > f->pss_sum)
		f->pss_peak = srv->peak_pss_kib;
	f->pss_sample_ms = srv->sample_pss ? srv->pss_interval_ms : 0;
	/*
	 * One process: its high-water mark.  Several: the sampled peak of
	 * their PSS sum, as no kernel counter keeps a high-water mark for a
	 * group, and at exit their connections' memory is already gone.
	 */
	f->per_conn_basis = f->w.procs == 0 ? "VmHWM" : "PSS sum peak";
	if (f->max_conc > 0)
		f->kib_per_conn = (f->w.procs == 0 ?
		    (double)(f->vmhwm - at_start.vmrss) :
		    (double)(f->pss_peak - at_start.pss_sum)) / f->max_conc;
}

static void
print_part(FILE *fp, const struct field *fl, const struct figures *f)
{
	const struct text *t = &fl->text;
	union value v = value(fl, f);
	char human[8];

	if (t->part == 0)
		fprintf(fp, "%-*s", LABEL_WIDTH, t->label);
	if (t->zero != NULL && fl->type == T_LONG && v.l == 0) {
		fputs(t->zero, fp);
		return;
	}
	fputs(t->pre, fp);
	switch (fl->type) {
	case T_LONG:
		if (!t->human) {
			fprintf(fp, "%ld", v.l);
			break;
		}
		/* Five places, as ls -h prints them: "6.0M", not "6145K". */
		humanize_number(human, 5, v.l, "", HN_AUTOSCALE,
		    HN_B | HN_NOSPACE | HN_DECIMAL);
		fputs(human, fp);
		break;
	case T_DBL:
		fprintf(fp, "%.*f", t->dp, v.d);
		break;
	case T_STR:
		fputs(v.s, fp);
		break;
	}
	fputs(t->post, fp);
}

/* The aligned block: the table's text lines in order, parts in order. */
static void
print_block(FILE *fp, const struct figures *f)
{
	const struct field *fl;
	int line, part, maxline = 0, any;

	for (fl = fields; fl < fields + NFIELDS; fl++)
		if (fl->text.line > maxline)
			maxline = fl->text.line;
	for (line = 1; line <= maxline; line++) {
		any = 0;
		for (part = 0; part < MAX_PARTS; part++)
			for (fl = fields; fl < fields + NFIELDS; fl++)
				if (fl->text.line == line &&
				    fl->text.part == part) {
					print_part(fp, fl, f);
					any = 1;
				}
		if (any)
			fputc('\n', fp);
	}
}

static void
print_text(FILE *fp, const struct figures *f, const char *event)
{
	/*
	 * The original "resident" line printed ru_maxrss, but Linux keeps in
	 * it the peak of the process image before exec: a server started
	 * from a large program reports that program's memory.  VmHWM is this
	 * image's own peak.
	 */
	fprintf(fp, "%s\nresident\n%ld\nMax conc: %ld\nTotal: %ld\nNow: %ld\n",
	    event, f->vmhwm, f->max_conc, f->total, f->now);
	print_block(fp, f);
	fflush(fp);
}

/*
 * A JSON string.  Most are our own names, but a cgroup's path is the
 * system's: systemd's names hold backslashes, and any byte but NUL and
 * '/' may appear in one.
 */
static void
json_string(FILE *fp, const char *s)
{
	unsigned char c;

	fputc('"', fp);
	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20)
			fprintf(fp, "\\u%04x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static void
print_json(FILE *fp, const struct figures *f)
{
	const struct field *fl;
	const char *sep = "";
	union value v;

	fprintf(fp, "{\n");
	for (fl = fields; fl < fields + NFIELDS; fl++) {
		if (fl->key == NULL)
			continue;
		fprintf(fp, "%s  \"%s\": ", sep, fl->key);
		sep = ",\n";
		v = value(fl, f);
		switch (fl->type) {
		case T_LONG:
			fprintf(fp, "%ld", v.l);
			break;
		case T_DBL:
			fprintf(fp, "%.*f", fl->jdp, v.d);
			break;
		case T_STR:
			json_string(fp, v.s);
			break;
		}
	}
	fprintf(fp, "\n}\n");
}

/*
 * Write the JSON report next to its final name and rename it into place,
 * so a reader never sees half a file.
 */
static int
write_json(const char *path, const struct figures *f)
{
	char tmp[PATH_MAX];
	FILE *fp;

	if (path == NULL)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    (fp = fopen(tmp, "we")) == NULL) {
		warn("%s", path);
		return -1;
	}
	print_json(fp, f);
	if (fclose(fp) == EOF || rename(tmp, path) == -1) {
		warn("%s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * One snapshot, written as JSON first and then as text: whoever has read
 * the text must find the same event's JSON.  On exit the workers are
 * stopped and reaped between the memory and the CPU figures: their memory
 * can only be read while they live, and reaped their CPU is exact, where
 * /proc rounds each process down to whole ticks.
 */
int
report(struct server *srv, const char *event, int stopping)
{
	struct figures f;
	int r;

	gather(srv, &f, strcmp(event, "EXITING") == 0 ? "exit" : "report");
	/* A report is a sample too: the next one's peak is never lower. */
	if (srv->sample_pss)
		srv->peak_pss_kib = f.pss_peak;
	if (stopping && f.w.procs > 0) {
		procs_stop();
		f.w.user_s = f.w.sys_s = 0;
		gather_cpu(&f);
	}
	r = write_json(srv->json_path, &f);
	print_text(stdout, &f, event);
	return r;
}

/*
 * The start report: the baseline of every figure reported at or since
 * the start, and the JSON file, there before any connection.  Called by
 * the main thread before it creates any other.
 */
int
report_start(const struct server *srv)
{
	gather(srv, &at_start, "start");
	return write_json(srv->json_path, &at_start);
}
