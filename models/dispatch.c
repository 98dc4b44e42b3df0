/*
 * models/dispatch.c - the answer to the keep-alive question of the seeds:
 * one epoll loop watches every connection and hands a connection to one
 * of -w worker threads only when it is ready.  The worker reads, does the
 * request's -W work and its -d wait in its own thread (a worker waiting
 * on a backend), echoes, re-arms the connection and takes the next ready
 * one.  An idle keep-alive connection holds no worker, where the pool
 * model gives each connection a worker until the connection closes.
 *
 * Connections are registered EPOLLONESHOT: one event disarms one, so
 * exactly one worker has it until that worker re-arms it.  held[fd] says
 * who has it:
 *   ARMED  armed in the epoll set; nobody has it.
 *   HELD   queued, or with a worker.
 *   FIRED  with a worker, and its event came after the worker re-armed it
 *          but before the worker said so: the worker serves it again.
 * Only the loop moves ARMED to HELD and HELD to FIRED, only a worker HELD
 * to ARMED and FIRED to HELD.  A worker closes only what it has, and the
 * -t sweep, in the loop, closes only ARMED connections, which no worker
 * can take while the loop sweeps: a descriptor is never re-armed or read
 * after its close.  The connections themselves are core/evconn.c's.
 */
#include <sys/types.h>
#include <sys/epoll.h>

#include <err.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "evconn.h"

model_run	model_dispatch;

#define MAX_EVENTS	256

enum { ARMED, HELD, FIRED };

/* Ready connections for the workers; each is in it at most once. */
struct queue {
	pthread_mutex_t	 mu;
	pthread_cond_t	 nonempty;
	int		*fds;
	size_t		 cap, head, len;
};

struct dispatcher {
	struct evloop	 ev;	/* first: evconn.c's callbacks get &ev */
	int		 ep;
	_Atomic unsigned char *held;	/* by descriptor */
	struct queue	 q;
};

struct worker {
	struct evloop	 ev;	/* first: its own read buffer */
	struct dispatcher *d;
};

static int
arm(struct dispatcher *d, int fd, enum ev_want w, int op)
{
	struct epoll_event e = { .data.fd = fd };

	e.events = EPOLLONESHOT |
	    (w == EV_WRITE ? EPOLLOUT : EPOLLIN | EPOLLRDHUP);
	return epoll_ctl(d->ep, op, fd, &e);
}

static int
d_open(struct evloop *ev, int fd)
{
	struct dispatcher *d = (struct dispatcher *)ev;

	atomic_store_explicit(&d->held[fd], ARMED, memory_order_relaxed);
	return arm(d, fd, EV_READ, EPOLL_CTL_ADD);
}

/* The loop watches the listener; workers arm the connections. */
static void
d_watch(struct evloop *ev, int fd, enum ev_want w)
{
	struct dispatcher *d = (struct dispatcher *)ev;
	struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };

	if (fd != ev->cfg->lfd)
		return;
	if (w == EV_NONE)
		epoll_ctl(d->ep, EPOLL_CTL_DEL, fd, NULL);
	else if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &e) == -1)
		err(1, "epoll_ctl listening socket");
}

static int
d_busy(struct evloop *ev, int fd)
{
	struct dispatcher *d = (struct dispatcher *)ev;

	return atomic_load_explicit(&d->held[fd], memory_order_acquire) !=
	    ARMED;
}

/* A worker re-arms what ev_ready returns, itself. */
static void
w_watch(struct evloop *ev, int fd, enum ev_want w)
{
	(void)ev;
	(void)fd;
	(void)w;
}

static void
push(struct queue *q, int fd)
{
	pthread_mutex_lock(&q->mu);
	q->fds[(q->head + q->len) % q->cap] = fd;
	q->len++;
	pthread_cond_signal(&q->nonempty);
	pthread_mutex_unlock(&q->mu);
}

static int
pop(struct queue *q)
{
	int fd;

	pthread_mutex_lock(&q->mu);
	while (q->len == 0)
		pthread_cond_wait(&q->nonempty, &q->mu);
	fd = q->fds[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	pthread_mutex_unlock(&q->mu);
	return fd;
}

/* An event for fd: give it to a worker, or tell the one that has it. */
static void
hand(struct dispatcher *d, int fd)
{
	unsigned char s = ARMED;

	for (;;) {
		if (atomic_compare_exchange_strong(&d->held[fd], &s, HELD)) {
			push(&d->q, fd);
			return;
		}
		/* s is what it was: HELD, unless a worker re-armed it since. */
		if (s != HELD ||
		    atomic_compare_exchange_strong(&d->held[fd], &s, FIRED))
			return;
	}
}

static void * __attribute__((noreturn))
work(void *arg)
{
	struct worker *w = arg;
	struct dispatcher *d = w->d;
	enum ev_want want;
	unsigned char s;
	int fd;

	for (;;) {
		fd = pop(&d->q);
		for (;;) {
			if ((want = ev_ready(&w->ev, fd)) == EV_CLOSED)
				break;
			arm(d, fd, want, EPOLL_CTL_MOD);
			s = HELD;
			if (atomic_compare_exchange_strong(&d->held[fd], &s,
			    ARMED))
				break;
			/* FIRED: an event since the re-arm; serve it too. */
			atomic_store(&d->held[fd], HELD);
		}
	}
}

static void
start_workers(struct dispatcher *d, const struct config *cfg)
{
	pthread_attr_t attr;
	struct worker *w;
	pthread_t t;
	int i, e;

	if ((e = pthread_attr_init(&attr)) != 0 ||
	    (e = pthread_attr_setstacksize(&attr, cfg->stack)) != 0)
		errc(1, e, "thread attributes (stack %zu bytes)", cfg->stack);
	for (i = 0; i < cfg->workers; i++) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			err(1, "worker %d of %d", i + 1, cfg->workers);
		ev_loop_init(&w->ev, cfg);
		w->ev.watch = w_watch;
		w->ev.block_delay = 1;
		w->d = d;
		if ((e = pthread_create(&t, &attr, work, w)) != 0)
			errc(1, e, "worker thread %d of %d", i + 1,
			    cfg->workers);
	}
}

void __attribute__((noreturn))
model_dispatch(const struct config *cfg)
{
	struct epoll_event ev[MAX_EVENTS];
	struct dispatcher *d;
	long long us;
	size_t nconns;
	int i, n;

	nconns = ev_table(cfg);
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->held = calloc(nconns, sizeof(*d->held))) == NULL ||
	    (d->q.fds = calloc(nconns, sizeof(*d->q.fds))) == NULL)
		err(1, "dispatcher");
	d->q.cap = nconns;
	if (pthread_mutex_init(&d->q.mu, NULL) != 0 ||
	    pthread_cond_init(&d->q.nonempty, NULL) != 0)
		errx(1, "dispatcher queue");
	ev_loop_init(&d->ev, cfg);
	d->ev.open = d_open;
	d->ev.watch = d_watch;
	d->ev.busy = d_busy;
	if ((d->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	start_workers(d, cfg);
	d_watch(&d->ev, cfg->lfd, EV_READ);
	for (;;) {
		/* The loop's own timers, -t and accept pauses, need no µs. */
		us = ev_timers(&d->ev);
		if ((n = epoll_wait(d->ep, ev, MAX_EVENTS,
		    us < 0 ? -1 : (int)((us + 999) / 1000))) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (i = 0; i < n; i++)
			if (ev[i].data.fd == cfg->lfd)
				ev_accept(&d->ev);
			else
				hand(d, ev[i].data.fd);
	}
}
