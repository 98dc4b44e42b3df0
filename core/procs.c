/*
 * core/procs.c - the worker processes of the process models: starting them,
 * reaping them, stopping them, and adding up what they cost; and the -P
 * processes, which each run the model on the shared listening socket.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

/*
 * Fork a worker that runs fn(cfg, arg) and exits.  arg is read in the
 * child's copy of this process's memory, so it may point at the caller's
 * locals.  The worker dies with the parent (PR_SET_PDEATHSIG) so that no
 * model can leave orphans, even when the parent is killed outright.
 */
pid_t
procs_spawn(void (*fn)(const struct config *, void *), const struct config *cfg,
    void *arg)
{
	pid_t ppid = getpid(), pid;

	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0)
		return pid;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != ppid)
		_exit(1);
	fn(cfg, arg);
	_exit(0);
}

/* Collect every worker that has ended, so none lingers as a zombie. */
void
procs_reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/*
 * Add up the descendants of this process (workers, and workers of
 * workers under -P).  Their memory is summed as PSS, so pages they share
 * are counted once, beside the plain RSS sum; their CPU comes from
 * /proc while they live (reaped ones are in RUSAGE_CHILDREN).
 */
void
procs_gather(struct proctotals *t)
{
	struct procstat *all;
	size_t n, i, nset = 1, k;
	pid_t *set;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	int grew;

	memset(t, 0, sizeof(*t));
	if ((all = proc_stat_all(&n)) == NULL)
		return;
	if ((set = calloc(n + 1, sizeof(*set))) == NULL)
		err(1, "procs");
	set[0] = getpid();
	do {
		grew = 0;
		for (i = 0; i < n; i++) {
			if (all[i].pid == 0)
				continue;
			for (k = 0; k < nset; k++)
				if (all[i].ppid == set[k])
					break;
			if (k == nset)
				continue;
			set[nset++] = all[i].pid;
			t->procs++;
			t->threads += all[i].threads;
			t->rss_kib += all[i].rss_pages * (page / 1024);
			t->pss_kib += proc_pss_kib(all[i].pid);
			t->user_s += (double)all[i].utime / tick;
			t->sys_s += (double)all[i].stime / tick;
			all[i].pid = 0;
			grew = 1;
		}
	} while (grew);
	free(set);
	free(all);
}

/*
 * Stop the workers and wait for them, so none outlives the server.  Each
 * child is killed by pid, never by process group: the group may be the
 * shell's or the test harness's.  Workers of workers follow their parent
 * through PR_SET_PDEATHSIG.
 */
void
procs_stop(void)
{
	struct procstat *all;
	pid_t self = getpid();
	size_t n, i;

	atomic_store(&server_stopping, 1);
	if ((all = proc_stat_all(&n)) == NULL)
		return;
	for (i = 0; i < n; i++)
		if (all[i].ppid == self)
			kill(all[i].pid, SIGKILL);
	free(all);
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

/*
 * Reap what the model's own workers leave (fork, prefork): under -P the
 * top process's signal thread only reaps its direct children.
 */
static void * __attribute__((noreturn))
reaper_thread(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (;;)
		if (sigwait(&set, &sig) == 0)
			procs_reap();
}

static void
model_process(const struct config *cfg, void *arg)
{
	pthread_t t;
	int e;

	(void)arg;
	if ((e = pthread_create(&t, NULL, reaper_thread, NULL)) != 0)
		errc(1, e, "reaper thread");
	cfg->model->run(cfg);
}

/*
 * -P: the processes share one listening socket rather than binding their
 * own with SO_REUSEPORT.  With SO_REUSEPORT the kernel hashes each new
 * connection to a process whether or not it has a descriptor free; with
 * one socket, whichever process has room accepts it.
 *
 * Called while this process still has one thread: the children create
 * threads and allocate, which POSIX allows only after a fork from a
 * single-threaded process.  A lock that another thread held at the fork
 * stays locked in the child for ever (under ASan, half the connections
 * of -P 2 hung in a child that never served them).
 */
void
procs_start(const struct config *cfg)
{
	int i;

	for (i = 0; i < cfg->procs; i++)
		if (procs_spawn(model_process, cfg, NULL) == -1)
			err(1, "server process %d of %d", i + 1, cfg->procs);
}
