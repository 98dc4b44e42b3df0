/*
 * rusage.c - the resource report, as text for people and JSON for scripts.
 *
 * The first six lines keep the original kit's format (EXITING, resident,
 * the peak resident size in KiB (VmHWM), Max conc:, Total:, Now:) so that old
 * scripts still read them; the aligned block below adds the figures the
 * experiment needs.
 */
#include <sys/types.h>
#include <sys/resource.h>

#include <err.h>
#include <fcntl.h>
#include <libutil.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

struct figures {
	struct rusage	ru;		/* this process */
	struct proctotals workers;	/* its live descendants */
	double		user_s, sys_s;	/* all processes, reaped ones too */
	long		pss_kib, rss_sum_kib, threads_all;
	double		uptime;
	long		vmrss, vmhwm, threads, kstack;
	long		now, max_conc, total, bytes, resets;
	long		create_failures, accept_errors, over_cap, timeouts;
	double		kib_per_conn;
};

/*
 * /proc/self/status and /proc/meminfo stay open from the first read on:
 * the report matters most when the descriptor table is full, and then no
 * file could be opened.  Only the main thread at start and then the
 * signal thread read them.
 */
struct procfile {
	const char	*path;
	int		 fd;
	pid_t		 pid;	/* a forked child must not read its parent's */
};

static struct procfile status_file = { "/proc/self/status", -1, 0 };
static struct procfile meminfo_file = { "/proc/meminfo", -1, 0 };

/* The first number after "key" in a /proc file such as status or meminfo. */
static long
proc_field(struct procfile *pf, const char *key)
{
	char buf[8192], *p;
	size_t klen = strlen(key);
	ssize_t n;

	if (pf->fd != -1 && pf->pid != getpid()) {
		close(pf->fd);
		pf->fd = -1;
	}
	if (pf->fd == -1) {
		if ((pf->fd = open(pf->path, O_RDONLY | O_CLOEXEC)) == -1)
			return -1;
		pf->pid = getpid();
	}
	/* A read from offset 0 has the kernel write the text afresh. */
	if ((n = pread(pf->fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; *p != '\0'; p++) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':')
			return strtol(p + klen + 1, NULL, 10);
		if ((p = strchr(p, '\n')) == NULL)
			break;
	}
	return -1;
}

long
proc_status_kib(const char *key)
{
	return proc_field(&status_file, key);
}

long
meminfo_kib(const char *key)
{
	return proc_field(&meminfo_file, key);
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
	    f->workers.user_s;
	f->sys_s = tv_sec(f->ru.ru_stime) + tv_sec(ch.ru_stime) +
	    f->workers.sys_s;
}

static void
gather(const struct server *srv, struct figures *f)
{
	struct timespec now;

	memset(f, 0, sizeof(*f));
	procs_gather(&f->workers);
	clock_gettime(CLOCK_MONOTONIC, &now);
	f->uptime = (now.tv_sec - srv->start.tv_sec) +
	    (now.tv_nsec - srv->start.tv_nsec) / 1e9;
	f->vmrss = proc_status_kib("VmRSS");
	f->vmhwm = proc_status_kib("VmHWM");
	f->threads = proc_status_kib("Threads");
	f->kstack = meminfo_kib("KernelStack");
	f->now = atomic_load(&counters->now);
	f->max_conc = atomic_load(&counters->max_conc);
	f->total = atomic_load(&counters->total);
	f->bytes = atomic_load(&counters->bytes);
	f->resets = atomic_load(&counters->resets);
	f->create_failures = atomic_load(&counters->create_failures);
	f->accept_errors = atomic_load(&counters->accept_errors);
	f->over_cap = atomic_load(&counters->over_cap);
	f->timeouts = atomic_load(&counters->timeouts);
	gather_cpu(f);
	f->pss_kib = procs_pss_kib(getpid()) + f->workers.pss_kib;
	f->rss_sum_kib = f->vmrss + f->workers.rss_kib;
	f->threads_all = f->threads + f->workers.threads;
	/*
	 * One process: its high-water mark.  Several: the PSS sum now, as
	 * no kernel counter keeps a high-water mark for a group.
	 */
	if (f->max_conc > 0)
		f->kib_per_conn = (f->workers.procs == 0 ?
		    (double)(f->vmhwm - srv->start_rss_kib) :
		    (double)(f->pss_kib - srv->start_pss_kib)) / f->max_conc;
}

#define ROW	"%-24s"

static void
print_text(FILE *fp, const struct server *srv, const struct figures *fp_f,
    const char *event)
{
	const struct figures f = *fp_f;
	char hbytes[8];

	/* Five places, as ls -h prints them: "6.0M", not "6145K". */
	humanize_number(hbytes, 5, f.bytes, "", HN_AUTOSCALE,
	    HN_B | HN_NOSPACE | HN_DECIMAL);

	/*
	 * The original "resident" line printed ru_maxrss, but Linux keeps in
	 * it the peak of the process image before exec: a server started
	 * from a large program reports that program's memory.  VmHWM is this
	 * image's own peak.
	 */
	fprintf(fp, "%s\nresident\n%ld\nMax conc: %ld\nTotal: %ld\nNow: %ld\n",
	    event, f.vmhwm, f.max_conc, f.total, f.now);
	fprintf(fp, ROW "%s (model %s)\n", "server", PROGNAME, srv->model);
	fprintf(fp, ROW "%.3f s\n", "uptime", f.uptime);
	fprintf(fp, ROW "%d (%d workers; -P %d, fd limit %llu each)\n",
	    "processes", f.workers.procs + 1, f.workers.procs, srv->procs,
	    (unsigned long long)srv->fd_limit);
	fprintf(fp, ROW "%.3f s (all processes)\n", "user CPU", f.user_s);
	fprintf(fp, ROW "%.3f s (all processes)\n", "system CPU", f.sys_s);
	fprintf(fp, ROW "%ld KiB (ru_maxrss; includes the launcher's memory "
	    "before exec)\n", "peak resident", f.ru.ru_maxrss);
	fprintf(fp, ROW "%ld KiB (VmRSS)\n", "resident now", f.vmrss);
	fprintf(fp, ROW "%ld KiB (VmHWM)\n", "resident high water", f.vmhwm);
	fprintf(fp, ROW "%ld KiB\n", "resident at start", srv->start_rss_kib);
	fprintf(fp, ROW "%ld KiB (PSS, shared pages counted once)\n",
	    "memory all processes", f.pss_kib);
	fprintf(fp, ROW "%ld KiB (RSS, shared pages once per process)\n",
	    "resident all processes", f.rss_sum_kib);
	fprintf(fp, ROW "%.2f KiB (%s growth since start / peak "
	    "connections)\n", "memory per peak conn", f.kib_per_conn,
	    f.workers.procs == 0 ? "VmHWM" : "PSS sum");
	fprintf(fp, ROW "%ld (live OS threads, all processes)\n", "threads",
	    f.threads_all);
	fprintf(fp, ROW "%ld minor, %ld major\n", "page faults",
	    f.ru.ru_minflt, f.ru.ru_majflt);
	fprintf(fp, ROW "%ld voluntary, %ld involuntary\n",
	    "context switches", f.ru.ru_nvcsw, f.ru.ru_nivcsw);
	fprintf(fp, ROW "%ld (%s)\n", "bytes echoed", f.bytes, hbytes);
	fprintf(fp, ROW "%ld\n", "connections accepted", f.total);
	fprintf(fp, ROW "%ld\n", "connections reset", f.resets);
	fprintf(fp, ROW "%ld\n", "thread create failures",
	    f.create_failures);
	fprintf(fp, ROW "%ld\n", "accept errors", f.accept_errors);
	if (srv->max_conns > 0)
		fprintf(fp, ROW "%ld (cap %ld)\n", "closed over cap",
		    f.over_cap, srv->max_conns);
	else
		fprintf(fp, ROW "%ld (no cap)\n", "closed over cap", f.over_cap);
	if (srv->idle_timeout > 0)
		fprintf(fp, ROW "%ld (after %d s idle)\n", "closed idle",
		    f.timeouts, srv->idle_timeout);
	else
		fprintf(fp, ROW "%ld (no timeout)\n", "closed idle", f.timeouts);
	fprintf(fp, ROW "%ld KiB now, %ld KiB peak (system-wide KernelStack "
	    "growth since start, sampled every 0.1 s; not in RSS)\n",
	    "kernel stack (est.)", f.kstack - srv->start_kstack_kib,
	    srv->peak_kstack_kib - srv->start_kstack_kib);
	fflush(fp);
}

/*
 * Write the JSON report next to its final name and rename it into place,
 * so a reader never sees half a file.
 */
static int
write_json(const struct server *srv, const struct figures *fp_f,
    const char *event)
{
	const struct figures f = *fp_f;
	char tmp[PATH_MAX];
	FILE *fp;

	if (srv->json_path == NULL)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", srv->json_path) >=
	    (int)sizeof(tmp) || (fp = fopen(tmp, "we")) == NULL) {
		warn("%s", srv->json_path);
		return -1;
	}
	fprintf(fp, "{\n"
	    "  \"schema\": \"10kthreads-server/1\",\n"
	    "  \"server\": \"%s\",\n"
	    "  \"model\": \"%s\",\n"
	    "  \"workers\": %d,\n"
	    "  \"processes\": %d,\n"
	    "  \"server_procs\": %d,\n"
	    "  \"address\": \"%s\",\n"
	    "  \"event\": \"%s\",\n"
	    "  \"stack_size_bytes\": %zu,\n"
	    "  \"backlog\": %d,\n"
	    "  \"fd_limit\": %llu,\n"
	    "  \"uptime_s\": %.6f,\n"
	    "  \"user_cpu_s\": %.6f,\n"
	    "  \"sys_cpu_s\": %.6f,\n"
	    "  \"maxrss_kib\": %ld,\n"
	    "  \"vmrss_kib\": %ld,\n"
	    "  \"vmhwm_kib\": %ld,\n"
	    "  \"start_rss_kib\": %ld,\n"
	    "  \"start_pss_kib\": %ld,\n"
	    "  \"pss_sum_kib\": %ld,\n"
	    "  \"rss_sum_kib\": %ld,\n"
	    "  \"kib_per_peak_conn\": %.4f,\n"
	    "  \"threads\": %ld,\n"
	    "  \"goroutines\": 0,\n"
	    "  \"minflt\": %ld,\n"
	    "  \"majflt\": %ld,\n"
	    "  \"nvcsw\": %ld,\n"
	    "  \"nivcsw\": %ld,\n"
	    "  \"max_conc\": %ld,\n"
	    "  \"total\": %ld,\n"
	    "  \"now\": %ld,\n"
	    "  \"bytes_echoed\": %ld,\n"
	    "  \"resets\": %ld,\n"
	    "  \"thread_create_failures\": %ld,\n"
	    "  \"accept_errors\": %ld,\n"
	    "  \"max_conns\": %ld,\n"
	    "  \"over_cap\": %ld,\n"
	    "  \"idle_timeout_s\": %d,\n"
	    "  \"idle_timeouts\": %ld,\n"
	    "  \"kernel_stack_start_kib\": %ld,\n"
	    "  \"kernel_stack_kib\": %ld,\n"
	    "  \"kernel_stack_delta_kib\": %ld,\n"
	    "  \"kernel_stack_peak_delta_kib\": %ld\n"
	    "}\n",
	    PROGNAME, srv->model, srv->workers, f.workers.procs + 1, srv->procs, srv->addr,
	    strcmp(event, "EXITING") == 0 ? "exit" :
	    strcmp(event, "START") == 0 ? "start" : "report",
	    srv->stack, srv->backlog, (unsigned long long)srv->fd_limit,
	    f.uptime, f.user_s, f.sys_s,
	    f.ru.ru_maxrss, f.vmrss, f.vmhwm, srv->start_rss_kib,
	    srv->start_pss_kib, f.pss_kib, f.rss_sum_kib, f.kib_per_conn, f.threads_all, f.ru.ru_minflt, f.ru.ru_majflt,
	    f.ru.ru_nvcsw, f.ru.ru_nivcsw, f.max_conc, f.total, f.now,
	    f.bytes, f.resets, f.create_failures, f.accept_errors,
	    srv->max_conns, f.over_cap, srv->idle_timeout, f.timeouts,
	    srv->start_kstack_kib, f.kstack, f.kstack - srv->start_kstack_kib,
	    srv->peak_kstack_kib - srv->start_kstack_kib);
	if (fclose(fp) == EOF || rename(tmp, srv->json_path) == -1) {
		warn("%s", srv->json_path);
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
report(const struct server *srv, const char *event, int stopping)
{
	struct figures f;
	int r;

	gather(srv, &f);
	if (stopping && f.workers.procs > 0) {
		procs_stop();
		f.workers.user_s = f.workers.sys_s = 0;
		gather_cpu(&f);
	}
	r = write_json(srv, &f, event);
	print_text(stdout, srv, &f, event);
	return r;
}

/* The JSON alone: at start, so the file is there before any connection. */
int
report_json(const struct server *srv, const char *event)
{
	struct figures f;

	gather(srv, &f);
	return write_json(srv, &f, event);
}
