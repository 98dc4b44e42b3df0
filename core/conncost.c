/*
 * core/conncost.c - what the memory cgroup is charged for a connection
 * and for the workers a model makes up front, by the facts of the model's
 * table entry (core/models.c).  The memory budget (membudget.c) divides
 * by it.
 *
 * A connection costs the user-space pages its thread, process or
 * event-loop slot touches, the kernel stack and kernel objects of its
 * thread or process, and the socket's kernel objects with what watches
 * it.  The object sizes come from /proc/slabinfo when it is readable
 * (root), else from the defaults below, measured on x86-64 Linux 6.18;
 * the README's "Running under a memory limit" has the measurements.
 */
#include <sys/types.h>

#include <err.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

#define THREAD_SIZE	(16 * 1024)	/* kernel stack: x86-64, arm64 */
#define OBJ_CGROUP	8	/* the memcg pointer beside each object */
#define TLS_HEAP	288	/* glibc's per-thread TLS vector, on the heap */
#define LOOP_SLOT	64	/* an event loop's table entries, rounded up */
/* io_uring's armed receive: io_kiocb, saved msghdr, poll entry (slab). */
#define URING_ARMED	864
#define COW_PAGES	14	/* pages a forked child writes and so copies */
#define THREAD_PAGES	2	/* stack pages a connection thread touches */

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
conn_cost(const struct unit_costs *u, const struct model *m, struct costs *c)
{
	c->conn_socket = u->socket;
	switch (m->served) {
	case SERVED_THREAD:
		c->conn_user = u->thread_user;
		c->conn_kstack = THREAD_SIZE;
		c->conn_task = u->thread_kernel - THREAD_SIZE;
		break;
	case SERVED_PROCESS:
		c->conn_user = u->process_user;
		c->conn_kstack = THREAD_SIZE;
		c->conn_task = u->process_kernel - THREAD_SIZE;
		break;
	case SERVED_LOOP:
		c->conn_user = LOOP_SLOT;
		break;
	case SERVED_WORKER:
		break;		/* its worker is in the fixed cost */
	default:
		unpriced(m);
	}
	switch (m->watch) {
	case WATCH_EPOLL:
		c->conn_socket += u->epitem;
		break;
	case WATCH_URING:
		c->conn_socket += URING_ARMED;
		break;
	case WATCH_NONE:
		break;
	default:
		unpriced(m);
	}
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
 * What a connection of cfg's model costs, what the server creates up
 * front for it, and one thread's kernel part, for the own figures of -m.
 */
void
costs_of(const struct config *cfg, struct costs *c)
{
	struct unit_costs u;

	memset(c, 0, sizeof(*c));
	unit_costs(&u);
	c->source = u.source;
	conn_cost(&u, cfg->model, c);
	c->fixed = fixed_cost(cfg, &u);
	c->thread_kernel = u.thread_kernel;
}
