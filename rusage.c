/*
 * rusage.c - the resource report, as text for people and JSON for scripts,
 * both written from one table of fields (core/report_fields.c).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

#define SCHEMA		"10kthreads-server/1"
#define LABEL_WIDTH	24

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
		v.l = f->meminfo[fl - report_fields];
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
gather_config(const struct config *cfg, struct figures *f)
{
	f->schema = SCHEMA;
	f->server = PROGNAME;
	f->model = cfg->model->name;
	f->address = cfg->addr;
	f->workers = cfg->workers;
	f->server_procs = cfg->procs;
	f->stack = (long)cfg->stack;
	f->backlog = cfg->backlog;
	/* RLIMIT_NOFILE is at most fs.nr_open, far below LONG_MAX. */
	f->fd_limit = (long)cfg->fd_limit;
	f->max_conns = cfg->max_conns;
	f->idle_timeout = cfg->idle_timeout;
	f->mem = *cfg->mem;
	f->mem_conn_kib = f->mem.conn / 1024.0;
	f->mem_usage = membudget_usage();
	f->delay_us = cfg->delay_us;
	f->work_us = cfg->work_us;
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
gather_meminfo(const struct live *live, struct figures *f)
{
	char text[PROCTEXT_MAX];
	size_t i;

	if (meminfo_text(text, sizeof(text)) == -1)
		text[0] = '\0';
	for (i = 0; i < report_nfields; i++)
		if (report_fields[i].meminfo != NULL)
			f->meminfo[i] = proctext_kib(text,
			    report_fields[i].meminfo);
	f->kstack_peak = proctext_kib(text, "KernelStack");
	if (live->peak_kstack_kib > f->kstack_peak)
		f->kstack_peak = live->peak_kstack_kib;
}

static void
gather(const struct config *cfg, const struct live *live, struct figures *f,
    const char *event)
{
	struct timespec now;

	memset(f, 0, sizeof(*f));
	gather_config(cfg, f);
	f->event = event;
	procs_gather(&f->w);
	clock_gettime(CLOCK_MONOTONIC, &now);
	f->uptime = (now.tv_sec - cfg->start.tv_sec) +
	    (now.tv_nsec - cfg->start.tv_nsec) / 1e9;
	f->vmrss = proc_status_kib("VmRSS");
	f->vmhwm = proc_status_kib("VmHWM");
	f->threads = proc_status_kib("Threads") + f->w.threads;
	gather_meminfo(live, f);
	gather_counters(f);
	gather_cpu(f);
	f->pss_sum = proc_pss_kib(getpid()) + f->w.pss_kib;
	f->rss_sum = f->vmrss + f->w.rss_kib;
	f->processes = f->w.procs + 1;
	f->worker_procs = f->w.procs;
	f->pss_peak = f->pss_sum;
	if (cfg->sample_pss && live->peak_pss_kib > f->pss_sum)
		f->pss_peak = live->peak_pss_kib;
	f->pss_sample_ms = cfg->sample_pss ? live->pss_interval_ms : 0;
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

	if (t->label != NULL)
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

/* The aligned block: the table's shown fields in order. */
static void
print_block(FILE *fp, const struct figures *f)
{
	const struct field *fl;
	int open = 0;

	for (fl = report_fields; fl < REPORT_FIELDS_END; fl++) {
		if (!fl->text.shown)
			continue;
		if (fl->text.label != NULL && open)
			fputc('\n', fp);
		print_part(fp, fl, f);
		open = 1;
	}
	if (open)
		fputc('\n', fp);
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
	for (fl = report_fields; fl < REPORT_FIELDS_END; fl++) {
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
 * the text must find the same event's JSON.  stopping: the exit report
 * (EXITING), else SIGUSR1's (REPORT).  On exit the workers are stopped and
 * reaped between the memory and the CPU figures: their memory can only be
 * read while they live, and reaped their CPU is exact, where /proc rounds
 * each process down to whole ticks.
 */
int
report(const struct config *cfg, struct live *live, int stopping)
{
	struct figures f;
	int r;

	gather(cfg, live, &f, stopping ? "exit" : "report");
	/* A report is a sample too: the next one's peak is never lower. */
	if (cfg->sample_pss)
		live->peak_pss_kib = f.pss_peak;
	if (stopping && f.w.procs > 0) {
		procs_stop();
		f.w.user_s = f.w.sys_s = 0;
		gather_cpu(&f);
	}
	r = write_json(cfg->json_path, &f);
	print_text(stdout, &f, stopping ? "EXITING" : "REPORT");
	return r;
}

/*
 * The start report: the baseline of every figure reported at or since
 * the start, and the JSON file, there before any connection.  Called by
 * the main thread before it creates any other.
 */
int
report_start(const struct config *cfg, const struct live *live)
{
	gather(cfg, live, &at_start, "start");
	return write_json(cfg->json_path, &at_start);
}
