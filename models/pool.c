/*
 * models/pool.c - one acceptor hands connections to -w worker threads
 * through a bounded queue (the select listener with a worker pool of the
 * seeds).  Each worker serves a connection to its end.  With every worker
 * busy and the queue full the acceptor stops accepting, so further
 * connections wait in the listen backlog: they are delayed, not dropped.
 */
#include <err.h>
#include <pthread.h>
#include <stdlib.h>

#include "kit.h"

model_run	model_pool;

struct queue {
	pthread_mutex_t	 mu;
	pthread_cond_t	 nonempty, nonfull;
	int		*fds;
	int		 cap, head, len;
};

static void * __attribute__((noreturn))
worker(void *arg)
{
	struct queue *q = arg;
	int fd;

	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (q->len == 0)
			pthread_cond_wait(&q->nonempty, &q->mu);
		fd = q->fds[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
		pthread_cond_signal(&q->nonfull);
		pthread_mutex_unlock(&q->mu);
		serve_conn(fd);
	}
}

void __attribute__((noreturn))
model_pool(const struct config *cfg)
{
	static struct queue q = {
		PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
		PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0
	};
	pthread_attr_t attr;
	pthread_t t;
	int i, e, fd;

	/* As many waiting connections as workers: enough to hide hand-off. */
	q.cap = cfg->workers;
	if ((q.fds = calloc(q.cap, sizeof(*q.fds))) == NULL)
		err(1, "queue");
	if ((e = pthread_attr_init(&attr)) != 0 ||
	    (e = pthread_attr_setstacksize(&attr, cfg->stack)) != 0)
		errc(1, e, "thread attributes (stack %zu bytes)", cfg->stack);
	for (i = 0; i < cfg->workers; i++)
		if ((e = pthread_create(&t, &attr, worker, &q)) != 0)
			errc(1, e, "worker thread %d of %d", i + 1,
			    cfg->workers);

	for (;;) {
		pthread_mutex_lock(&q.mu);
		while (q.len == q.cap)
			pthread_cond_wait(&q.nonfull, &q.mu);
		pthread_mutex_unlock(&q.mu);
		if (conn_admit(cfg, fd = net_accept(cfg->lfd)) == -1)
			continue;
		pthread_mutex_lock(&q.mu);
		q.fds[(q.head + q.len) % q.cap] = fd;
		q.len++;
		pthread_cond_signal(&q.nonempty);
		pthread_mutex_unlock(&q.mu);
	}
}
