/*
 * models/fork.c - the traditional concurrent server: a new process for
 * every connection.  Children are reaped by the signal thread on SIGCHLD.
 */
#include <errno.h>
#include <unistd.h>

#include "kit.h"

model_run	model_fork;

/* arg: the connection's descriptor, in the child's copy of the parent. */
static void
child(const struct config *cfg, void *arg)
{
	close(cfg->lfd);
	serve_conn(*(const int *)arg);
}

void __attribute__((noreturn))
model_fork(const struct config *cfg)
{
	int fd;

	for (;;) {
		if (conn_admit(cfg, fd = net_accept(cfg->lfd)) == -1)
			continue;
		if (procs_spawn(child, cfg, &fd) == -1) {
			/* Out of processes or memory: refuse this one only. */
			count(&counters->create_failures);
			conn_closed();
		}
		close(fd);
	}
}
