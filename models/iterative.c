/*
 * models/iterative.c - one connection at a time, the baseline every
 * concurrent design is measured against: a second client waits in the
 * listen backlog until the first is done.
 */
#include "kit.h"

model_run	model_iterative;

void __attribute__((noreturn))
model_iterative(const struct config *cfg)
{
	int fd;

	for (;;)
		if (conn_admit(cfg, fd = net_accept(cfg->lfd)) == 0)
			serve_conn(fd);
}
