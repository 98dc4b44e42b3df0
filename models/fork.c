/*
 * models/fork.c - the traditional concurrent server: a new process for
 * every connection.  Children are reaped by the signal thread on SIGCHLD.
 */
#include <errno.h>
#include <unistd.h>

#include "kit.h"

/* arg: the connection's descriptor, in the child's copy of the parent. */
static void
child(struct server *srv, void *arg)
{
	close(srv->lfd);
	serve_conn(*(const int *)arg);
}

void __attribute__((noreturn))
model_fork(struct server *srv)
{
	int fd;

	for (;;) {
		if (conn_admit(srv, fd = net_accept(srv->lfd)) == -1)
			continue;
		if (procs_spawn(child, srv, &fd) == -1) {
			/* Out of processes or memory: refuse this one only. */
			count(&counters->create_failures);
			conn_closed();
		}
		close(fd);
	}
}
