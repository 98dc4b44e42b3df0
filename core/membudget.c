/*
 * core/membudget.c - the memory budget: how many connections fit in the
 * memory limit, and the admission check that keeps the server within it.
 *
 * The limit is the memory cgroup's (cgroup.c) or -m; with both, each is
 * kept and the one that leaves fewer connections binds.  A connection
 * costs what the cgroup is charged for it (conncost.c).
 *
 * The budget is (limit - headroom - in use at start - fixed costs) / cost
 * per connection, where the fixed costs are the threads and processes a
 * model creates up front.  Each admission also reads the usage now (the
 * cgroup's usage file, kept open; for -m the accepting process's own
 * figures) and refuses while it is above limit - headroom, so an estimate
 * that is off cannot take the server past its limit.
 *
 * The state is set once by the main thread before any other thread or
 * process exists, and only read after.
 */
#include <sys/types.h>

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

/*
 * The headroom: 1/16 of the limit, at least 2 MiB.  It takes what no
 * estimate sees: threads admitted whose stacks are not yet touched, the
 * report's buffers, an estimate a little off, and the usage counter's
 * lag behind charges under way.
 */
#define HEADROOM_MIN	(2L * 1024 * 1024)
#define HEADROOM_SHARE	16

/*
 * At most this many connections admitted whose new thread or process has
 * not yet begun to serve: their memory is charged only once they run, so
 * the usage an admission reads does not show it yet.  Bounding them
 * bounds what the headroom must take, however the scheduler runs them.
 */
#define MAX_STARTING	32
#define STARTING_WAIT	(1000 * 1000)	/* ns, 1 ms: at most 1 s in all */

static const char *const source_names[] = {
	[MEM_NONE] = "none", [MEM_CGROUP_V1] = "cgroup v1",
	[MEM_CGROUP_V2] = "cgroup v2", [MEM_FLAG] = "-m",
};

static struct membudget mb = { .source = MEM_NONE, .source_name = "none",
	.cgroup = "", .cost_source = "defaults", .limit_text = "",
	.cost_text = "", .threshold_text = "" };
static char cgroup_dir[PATH_MAX];
static char limit_text[PATH_MAX + 128], cost_text[160], threshold_text[64];
static int usage_fd = -1;	/* the binding cgroup's usage file */
static int lagging;		/* a connection gets a new thread or process */
static long cg_threshold;	/* its limit - headroom, or 0 */
static long own_threshold;	/* -m - headroom, or 0 */
static long thread_kernel;	/* for the own figures of -m */

/*
 * This process's own figures, for -m: resident pages, the kernel stack
 * and objects of its threads, and the sockets of every connection.  Each
 * accepting thread keeps its own /proc/self/stat open (a forked child
 * opens its own), so no two threads share a descriptor's offset or race
 * to reopen it.
 */
static long
own_usage(void)
{
	static _Thread_local int fd = -1;
	static _Thread_local pid_t pid;
	struct procstat ps;
	char buf[1024];
	ssize_t n;

	if (fd != -1 && pid != getpid()) {
		close(fd);
		fd = -1;
	}
	if (fd == -1) {
		if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) == -1)
			return -1;
		pid = getpid();
	}
	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	if (procstat_parse(buf, &ps) == -1)
		return -1;
	return (long)ps.rss_pages * sysconf(_SC_PAGESIZE) +
	    ps.threads * thread_kernel +
	    atomic_load(&counters->now) * mb.conn_socket;
}

static long
headroom(long limit)
{
	long h = limit / HEADROOM_SHARE;

	return h > HEADROOM_MIN ? h : HEADROOM_MIN;
}

/* Connections that fit in limit, or 0. */
static long
fit(long limit, long start)
{
	long room = limit - headroom(limit) - start - mb.fixed;

	return room < mb.conn ? 0 : (long)(room / mb.conn);
}

static void
human(char *buf, long v)
{
	humanize_number(buf, 5, v, "", HN_AUTOSCALE,
	    HN_B | HN_NOSPACE | HN_DECIMAL);
}

static void __attribute__((noreturn))
no_room(const char *what, long limit, long start)
{
	char l[8], s[8], h[8], f[8];

	human(l, limit);
	human(s, start);
	human(h, headroom(limit));
	human(f, mb.fixed);
	errx(1, "memory limit %s (%s) leaves no room for a connection: "
	    "%s in use at start, %s for the model's threads and processes, "
	    "%s headroom, %.1f KiB per connection", l, what, s, f, h,
	    mb.conn / 1024.0);
}

/* The limit that binds: the one that leaves fewer connections. */
static void
bind_limit(enum mem_source source, const char *dir, long limit,
    long start, long budget)
{
	if (budget == 0)
		no_room(source_names[source], limit, start);
	if (mb.budget != 0 && mb.budget <= budget)
		return;
	mb.budget = budget;
	mb.limit = limit;
	mb.start = start;
	mb.headroom = headroom(limit);
	mb.source = source;
	mb.source_name = source_names[source];
	strlcpy(cgroup_dir, dir, sizeof(cgroup_dir));
	mb.cgroup = cgroup_dir;
}

/* The report's words for the budget, fixed from the start. */
static void
describe(void)
{
	char l[8], h[8], s[8], t[8];

	snprintf(cost_text, sizeof(cost_text), "user %.2f + kernel stack "
	    "%.2f + task objects %.2f + socket %.2f KiB; object sizes from %s",
	    mb.conn_user / 1024.0, mb.conn_kstack / 1024.0,
	    mb.conn_task / 1024.0, mb.conn_socket / 1024.0, mb.cost_source);
	mb.cost_text = cost_text;
	mb.limit_text = limit_text;
	mb.threshold_text = threshold_text;
	if (mb.budget == 0) {
		strlcpy(limit_text, "none (no memory cgroup limit, no -m)",
		    sizeof(limit_text));
		return;
	}
	human(l, mb.limit);
	human(h, mb.headroom);
	human(s, mb.start);
	human(t, mb.limit - mb.headroom);
	snprintf(limit_text, sizeof(limit_text), "%s (%s%s%s; headroom %s; "
	    "%s in use at start)", l, mb.source_name, *mb.cgroup ? " " : "",
	    mb.cgroup, h, s);
	snprintf(threshold_text, sizeof(threshold_text), "; admission stops "
	    "above %s", t);
}

/*
 * Find the limits and set the budget, or exit 1 if a limit leaves no
 * room for a connection.  The model's table entry says what a connection
 * costs and what it creates up front; cfg->mem_arg is -m, or 0.
 */
const struct membudget *
membudget_init(const struct config *cfg)
{
	struct costs c;
	struct memcg mc;
	long start, m = cfg->mem_arg;

	costs_of(cfg, &c);
	mb.conn_user = c.conn_user;
	mb.conn_kstack = c.conn_kstack;
	mb.conn_task = c.conn_task;
	mb.conn_socket = c.conn_socket;
	mb.conn = c.conn_user + c.conn_kstack + c.conn_task + c.conn_socket;
	mb.fixed = c.fixed;
	mb.cost_source = c.source;
	thread_kernel = c.thread_kernel;
	lagging = cfg->model->served == SERVED_THREAD ||
	    cfg->model->served == SERVED_PROCESS;
	if (cgroup_find("/proc/self", "", &mc)) {
		bind_limit(mc.version == 1 ? MEM_CGROUP_V1 : MEM_CGROUP_V2,
		    mc.dir, mc.limit, mc.usage, fit(mc.limit, mc.usage));
		if ((usage_fd = cgroup_usage_open("", &mc)) == -1)
			warn("%s: usage", mc.dir);
		cg_threshold = mc.limit - headroom(mc.limit);
	}
	if (m > 0) {
		start = own_usage();
		bind_limit(MEM_FLAG, "", m, start, fit(m, start));
		own_threshold = m - headroom(m);
	}
	describe();
	return &mb;
}

/* Usage now, as the binding limit's re-check reads it; 0 without one. */
long
membudget_usage(void)
{
	if (mb.budget == 0)
		return 0;
	return mb.source == MEM_FLAG ? own_usage() :
	    cgroup_usage_read(usage_fd);
}

/* Is usage above a threshold: the cgroup's, or -m's by own figures? */
static int
usage_over(void)
{
	long u;

	if (usage_fd != -1 && (u = cgroup_usage_read(usage_fd)) != -1 &&
	    u > cg_threshold)
		return 1;
	return own_threshold > 0 && (u = own_usage()) != -1 &&
	    u > own_threshold;
}

/*
 * Is memory full: usage above limit - headroom?  A new connection is then
 * refused; it is admitted again once usage falls.  With a thread or
 * process per connection, first wait (a while at most) until few admitted
 * ones have yet to run: their memory is not in the usage until they do.
 */
int
membudget_full(void)
{
	struct timespec ts = { 0, STARTING_WAIT };
	int i;

	if (mb.budget == 0)
		return 0;
	for (i = 0; lagging && i < 1000 && atomic_load(&counters->now) -
	    atomic_load(&counters->serving) >= MAX_STARTING; i++)
		nanosleep(&ts, NULL);
	return usage_over();
}

/*
 * Is the connection that made now open connections beyond the budget,
 * less what large echo buffers hold (see membudget_alloc)?
 */
int
membudget_over(long now)
{
	if (mb.budget == 0)
		return 0;
	return now * mb.conn + atomic_load(&counters->mem_reserved) >
	    mb.budget * mb.conn;
}

/*
 * A buffer of len bytes beyond a connection's cost, if the budget has
 * room for it: the budget's unused connections pay for it, and usage
 * must stay below the threshold.  NULL if not.  Free it with
 * membudget_free.  Connection threads call these: the cgroup's usage file
 * is safe to share, the own figures of -m are not, so -m counts only.
 */
void *
membudget_alloc(size_t len)
{
	long held;
	void *p;

	if (mb.budget == 0)
		return malloc(len);
	held = count_add(&counters->mem_reserved, (long)len);
	if (atomic_load(&counters->now) * mb.conn + held >
	    mb.budget * mb.conn || (usage_fd != -1 &&
	    cgroup_usage_read(usage_fd) + (long)len > cg_threshold) ||
	    (p = malloc(len)) == NULL) {
		count_add(&counters->mem_reserved, -(long)len);
		return NULL;
	}
	return p;
}

void
membudget_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	free(p);
	if (mb.budget != 0)
		count_add(&counters->mem_reserved, -(long)len);
}

/*
 * The budget for the start line: ", memory limit 64.0M (cgroup v1),
 * 31.9 KiB per connection, budget 1873 connections", or nothing.
 */
void
membudget_print(FILE *fp)
{
	char l[8], h[8];

	if (mb.budget == 0)
		return;
	human(l, mb.limit);
	human(h, mb.headroom);
	fprintf(fp, ", memory limit %s (%s; headroom %s), %.1f KiB per "
	    "connection, budget %ld connections", l, mb.source_name, h,
	    mb.conn / 1024.0, mb.budget);
}
