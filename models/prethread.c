/*
 * models/prethread.c - -w threads created at start, each accepting and
 * serving one connection at a time.  "prethread" serialises accept(2)
 * with a mutex, the remedy for the thundering herd in the pre-threaded
 * article; "prethread-nolock" lets all of them block in accept(2) and
 * leaves the choice to the kernel.
 */
#include <err.h>
#include <pthread.h>
#include <stdbool.h>

#include "kit.h"

model_run	model_prethread, model_prethread_nolock;

static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;

struct prethread {
	const struct config *cfg;
	bool		 locked;
};

static void * __attribute__((noreturn))
worker(void *arg)
{
	const struct prethread *pt = arg;
	int fd;

	for (;;) {
		if (pt->locked)
			pthread_mutex_lock(&accept_lock);
		fd = net_accept(pt->cfg->lfd);
		if (pt->locked)
			pthread_mutex_unlock(&accept_lock);
		if (conn_admit(pt->cfg, fd) == 0)
			serve_conn(fd);
	}
}

static void __attribute__((noreturn))
prethread(const struct config *cfg, bool locked)
{
	static struct prethread pt;
	pthread_attr_t attr;
	pthread_t t;
	int i, e;

	pt.cfg = cfg;
	pt.locked = locked;
	if ((e = pthread_attr_init(&attr)) != 0 ||
	    (e = pthread_attr_setstacksize(&attr, cfg->stack)) != 0)
		errc(1, e, "thread attributes (stack %zu bytes)", cfg->stack);
	/* The first worker is this thread; it is already running. */
	for (i = 1; i < cfg->workers; i++)
		if ((e = pthread_create(&t, &attr, worker, &pt)) != 0)
			errc(1, e, "worker thread %d of %d", i + 1,
			    cfg->workers);
	worker(&pt);
}

void __attribute__((noreturn))
model_prethread(const struct config *cfg)
{
	prethread(cfg, true);
}

void __attribute__((noreturn))
model_prethread_nolock(const struct config *cfg)
{
	prethread(cfg, false);
}
