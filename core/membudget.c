/*
 * core/membudget.c - the memory budget: how many connections fit in the
 * memory limit, and the admission check that keeps the server within it.
 *
 * The limit is the memory cgroup's (cgroup.c) or -m; with both, each is
 * kept and the one that leaves fewer connections binds.  A connection
 * costs what the cgroup is charged for it: the user-space pages its
 * thread, process or event-loop slot touches, the kernel stack and
 * kernel objects of its thread or process, and the socket's kernel
 * objects.  The object sizes come from /proc/slabinfo when it is readable
 * (root), else from the defaults below, measured on x86-64 Linux 6.18;
 * the README's "Running under a memory limit" has the measurements.
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

#define THREAD_SIZE	(16 * 1024)	/* kernel stack: x86-64, arm64 */
#define OBJ_CGROUP	8	/* the memcg pointer beside each charged object */
#define TLS_HEAP	288	/* glibc's per-thread TLS vector, on the heap */
#define LOOP_SLOT	64	/* an event loop's table entry, rounded up */
/* io_uring's armed receive: io_kiocb, saved msghdr, poll entry (slab). */
#define URING_ARMED	864
#define COW_PAGES	14	/* pages a forked child writes and so copies */
#define THREAD_PAGES	2	/* stack pages a connection thread touches */

/*
 * At most this many connections admitted whose new thread or process has
 * not yet begun to serve: their memory is charged only once they run, so
 * the usage an admission reads does not show it yet.  Bounding them
 * bounds what the headroom must take, however the scheduler runs them.
 */
#define MAX_STARTING	32
#define STARTING_WAIT	(1000 * 1000)	/* ns, 1 ms: at most 1 s in all */

/* The slab caches a connection's kernel objects come from. */
enum slab { S_TASK, S_PID, S_VMA, S_AV, S_AVC, S_MM, S_SIGNAL, S_SIGHAND,
	S_FILES, S_FS, S_CRED, S_SOCK, S_FILP, S_DENTRY, S_EPI, NSLABS };

static const struct {
	const char	*name;
	long		 size;	/* objsize on x86-64 Linux 6.18 */
} slabs[NSLABS] = {
	{ "task_struct", 5952 }, { "pid", 192 }, { "vm_area_struct", 192 },
	{ "anon_vma", 104 }, { "anon_vma_chain", 64 }, { "mm_struct", 1600 },
	{ "signal_cache", 1152 }, { "sighand_cache", 2112 },
	{ "files_cache", 704 }, { "fs_cache", 64 }, { "cred_jar", 192 },
	{ "sock_inode_cache", 832 }, { "filp", 192 }, { "dentry", 192 },
	{ "eventpoll_epi", 128 },
};

/* What one thread, process, socket and epoll item cost, in bytes. */
struct unit_costs {
	long	 thread_user, thread_kernel, process_user, process_kernel;
	long	 socket, epitem;
	const char *source;
};

static const char *const source_names[] = {
	[MEM_NONE] = "none", [MEM_CGROUP_V1] = "cgroup v1",
	[MEM_CGROUP_V2] = "cgroup v2", [MEM_FLAG] = "-m",
};

static struct membudget mb = { .source = MEM_NONE, .source_name = "none",
	.cgroup = "",
	.cost_source = "defaults", .limit_text = "", .cost_text = "",
	.threshold_text = "" };
static char cgroup_dir[PATH_MAX];
static char limit_text[PATH_MAX + 128], cost_text[160], threshold_text[64];
static int usage_fd = -1;	/* the binding cgroup's usage file */
static int lagging;		/* a connection gets a new thread or process */
static long cg_threshold;	/* its limit - headroom, or 0 */
static long own_threshold;	/* -m - headroom, or 0 */
static long thread_kernel;	/* for the own figures of -m */

/*
 * Object sizes from /proc/slabinfo (objsize, the fourth column), or the
 * defaults where it cannot be read (not root) or a cache is merged into
 * another one under a different name.
 */
static const char *
slab_sizes(long size[NSLABS])
{
	char line[512], name[64];
	long objsize;
	FILE *fp;
	int i, any = 0;

	for (i = 0; i < NSLABS; i++)
		size[i] = slabs[i].size;
	if ((fp = fopen("/proc/slabinfo", "re")) == NULL)
		return "defaults";
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%63s %*d %*d %ld", name, &objsize) != 2)
			continue;
		for (i = 0; i < NSLABS; i++)
			if (strcmp(name, slabs[i].name) == 0) {
				size[i] = objsize;
				any = 1;
			}
	}
	fclose(fp);
	return any ? "/proc/slabinfo" : "defaults";
}

/* Lines of /proc/self/maps: the VMAs a forked child copies. */
static long
map_count(void)
{
	char line[512];
	FILE *fp;
	long n = 0;

	if ((fp = fopen("/proc/self/maps", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strchr(line, '\n') != NULL)
			n++;
	fclose(fp);
	return n;
}

static void
unit_costs(struct unit_costs *u)
{
	long s[NSLABS], page = sysconf(_SC_PAGESIZE), pte;

	u->source = slab_sizes(s);
	u->thread_user = THREAD_PAGES * page + TLS_HEAP;
	u->thread_kernel = THREAD_SIZE + s[S_TASK] + s[S_PID] +
	    2 * s[S_VMA] + 4 * OBJ_CGROUP;
	u->process_user = COW_PAGES * page;
	/*
	 * A child has this process's page tables and a PGD, and each of its
	 * mappings: the VMA and, for private memory, an anon_vma and two
	 * links (counted for every mapping, an upper bound).
	 */
	pte = proc_status_kib("VmPTE");
	u->process_kernel = THREAD_SIZE + s[S_TASK] + s[S_PID] + s[S_MM] +
	    s[S_SIGNAL] + s[S_SIGHAND] + s[S_FILES] + s[S_FS] + s[S_CRED] +
	    8 * OBJ_CGROUP + map_count() * (s[S_VMA] + s[S_AV] +
	    2 * s[S_AVC] + 4 * OBJ_CGROUP) + (pte > 0 ? pte * 1024 : 0) + page;
	/* The socket's inode, file and dentry, and its slot in the fd table. */
	u->socket = s[S_SOCK] + s[S_FILP] + s[S_DENTRY] + 3 * OBJ_CGROUP +
	    (long)sizeof(void *);
	u->epitem = s[S_EPI] + OBJ_CGROUP;
}

static void __attribute__((noreturn))
unpriced(const struct model *m)
{
	errx(1, "model %s: no cost for its connections", m->name);
}

/*
 * What a new connection adds, by what the model's table entry says
 * serves it and watches it.  models_check has refused a model that
 * leaves either out; unpriced is the backstop.
 */
static void
conn_cost(const struct unit_costs *u, const struct model *m)
{
	mb.conn_socket = u->socket;
	switch (m->served) {
	case SERVED_THREAD:
		mb.conn_user = u->thread_user;
		mb.conn_kstack = THREAD_SIZE;
		mb.conn_task = u->thread_kernel - THREAD_SIZE;
		break;
	case SERVED_PROCESS:
		mb.conn_user = u->process_user;
		mb.conn_kstack = THREAD_SIZE;
		mb.conn_task = u->process_kernel - THREAD_SIZE;
		break;
	case SERVED_LOOP:
		mb.conn_user = LOOP_SLOT;
		break;
	case SERVED_WORKER:
		break;		/* its worker is in the fixed cost */
	default:
		unpriced(m);
	}
	switch (m->watch) {
	case WATCH_EPOLL:
		mb.conn_socket += u->epitem;
		break;
	case WATCH_URING:
		mb.conn_socket += URING_ARMED;
		break;
	case WATCH_NONE:
		break;
	default:
		unpriced(m);
	}
	lagging = m->served == SERVED_THREAD || m->served == SERVED_PROCESS;
	mb.conn = mb.conn_user + mb.conn_kstack + mb.conn_task +
	    mb.conn_socket;
}

/*
 * What the server creates after the start figure is taken: the signal
 * thread, the model's workers (threads, or processes) and, with -P, the
 * processes that each run the model and a reaper thread.
 */
static long
fixed_cost(const struct config *cfg, const struct unit_costs *u)
{
	long thread = u->thread_user + u->thread_kernel;
	long process = u->process_user + u->process_kernel;
	long workers = 0;

	switch (cfg->model->workers) {
	case WORKERS_THREADS:
	case WORKERS_LOOPS:
		workers = (long)cfg->workers * thread;
		break;
	case WORKERS_PROCESSES:
		workers = (long)cfg->workers * process;
		break;
	case WORKERS_NONE:
		break;
	default:
		unpriced(cfg->model);
	}
	if (cfg->procs > 1)
		return thread + cfg->procs * (process + thread + workers);
	return thread + workers;
}

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
	struct unit_costs u;
	struct memcg mc;
	long start, m = cfg->mem_arg;

	unit_costs(&u);
	mb.cost_source = u.source;
	conn_cost(&u, cfg->model);
	mb.fixed = fixed_cost(cfg, &u);
	thread_kernel = u.thread_kernel;
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
