/*
 * models/thread.c - the default model: one detached thread per connection.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

static void *
conn_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;

	serve_conn(fd);
	return NULL;
}

void __attribute__((noreturn))
model_thread(const struct config *cfg)
{
	pthread_attr_t attr;
	pthread_t t;
	int fd, e;

	if ((e = pthread_attr_init(&attr)) != 0 ||
	    (e = pthread_attr_setdetachstate(&attr,
	    PTHREAD_CREATE_DETACHED)) != 0 ||
	    (e = pthread_attr_setstacksize(&attr, cfg->stack)) != 0)
		errc(1, e, "thread attributes (stack %zu bytes)", cfg->stack);

	for (;;) {
		if (conn_admit(cfg, fd = net_accept(cfg->lfd)) == -1)
			continue;
		if (pthread_create(&t, &attr, conn_thread,
		    (void *)(intptr_t)fd) != 0) {
			/*
			 * Out of threads or memory: this connection is
			 * refused, the ones already served go on.
			 */
			count(&counters->create_failures);
			/* Counted out before the peer sees EOF: echo.c. */
			conn_closed();
			close(fd);
		}
	}
}
