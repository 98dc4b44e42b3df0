/*
 * procs.c - the worker processes of the process models: starting them,
 * reaping them, stopping them, and adding up what they cost.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

/*
 * Fork a worker that runs fn(srv, arg) and exits.  The worker dies with
 * the parent (PR_SET_PDEATHSIG) so that no model can leave orphans, even
 * when the parent is killed outright.
 */
pid_t
procs_spawn(void (*fn)(struct server *, long), struct server *srv, long arg)
{
	pid_t ppid = getpid(), pid;

	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0)
		return pid;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != ppid)
		_exit(1);
	fn(srv, arg);
	_exit(0);
}

/* Collect every worker that has ended, so none lingers as a zombie. */
void
procs_reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

struct proc {
	pid_t	pid, ppid;
	long	utime, stime, threads, rss_pages;
};

static int
proc_stat(pid_t pid, struct proc *p)
{
	char path[64], buf[1024], *s;
	FILE *fp;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	ok = fgets(buf, sizeof(buf), fp) != NULL;
	fclose(fp);
	/* The command name may hold spaces; the fields start after ')'. */
	if (!ok || (s = strrchr(buf, ')')) == NULL)
		return -1;
	p->pid = pid;
	if (sscanf(s + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld "
	    "%*d %*d %*d %*d %ld %*d %*u %*u %ld", &p->ppid, &p->utime,
	    &p->stime, &p->threads, &p->rss_pages) != 5)
		return -1;
	return 0;
}

long
procs_pss_kib(pid_t pid)
{
	char path[64], line[256];
	long v = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "Pss:", 4) == 0) {
			v = strtol(line + 4, NULL, 10);
			break;
		}
	fclose(fp);
	return v;
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
	struct proc *all = NULL, p;
	size_t n = 0, cap = 0, i;
	pid_t *set;
	size_t nset = 1, k;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	struct dirent *de;
	DIR *d;
	int grew;

	memset(t, 0, sizeof(*t));
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9' ||
		    proc_stat(atoi(de->d_name), &p) == -1)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((all = reallocarray(all, cap, sizeof(*all))) == NULL)
				err(1, "procs");
		}
		all[n++] = p;
	}
	closedir(d);

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
			t->pss_kib += procs_pss_kib(all[i].pid);
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
	struct proc p;
	struct dirent *de;
	pid_t self = getpid();
	DIR *d;

	atomic_store(&server_stopping, 1);
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
		    proc_stat(atoi(de->d_name), &p) == 0 && p.ppid == self)
			kill(p.pid, SIGKILL);
	closedir(d);
	while (wait(NULL) > 0 || errno == EINTR)
		;
}
