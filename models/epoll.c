/*
 * models/epoll.c - the C async baseline: a single-threaded, non-blocking
 * epoll event loop.  -w N runs N such loops in threads that share the
 * listening socket (EPOLLEXCLUSIVE wakes one loop per new connection).
 * The connections themselves are core/evconn.c's.
 */
#include <sys/types.h>
#include <sys/epoll.h>

#include <err.h>
#include <errno.h>
#include <stdlib.h>

#include "evconn.h"

model_run	model_epoll;

#define MAX_EVENTS	256

struct eloop {
	struct evloop	 ev;	/* first: evconn.c's callbacks get &ev */
	int		 ep;
};

static int
e_open(struct evloop *ev, int fd)
{
	struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP };

	e.data.fd = fd;
	return epoll_ctl(((struct eloop *)ev)->ep, EPOLL_CTL_ADD, fd, &e);
}

static void
e_watch(struct evloop *ev, int fd, enum ev_want w)
{
	struct eloop *l = (struct eloop *)ev;
	struct epoll_event e = { .data.fd = fd };

	if (fd == ev->cfg->lfd) {
		/* EPOLLEXCLUSIVE cannot be modified, only added and deleted. */
		e.events = EPOLLIN | EPOLLEXCLUSIVE;
		if (w == EV_NONE)
			epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
		else if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &e) == -1)
			err(1, "epoll_ctl listening socket");
		return;
	}
	switch (w) {
	case EV_READ:
		e.events = EPOLLIN | EPOLLRDHUP;
		break;
	case EV_WRITE:
		e.events = EPOLLOUT;
		break;
	case EV_NONE:
		/*
		 * On its -d timer.  Errors and hang-ups are reported even
		 * when nothing is asked for; one-shot reports one at most,
		 * where level-triggered would spin until the timer fires.
		 */
		e.events = EPOLLONESHOT;
		break;
	case EV_CLOSED:
		/* close(2) takes it out of the set: no descriptor is shared. */
		return;
	}
	epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &e);
}

/*
 * epoll_wait for at most us microseconds (-1: no limit).  epoll_pwait2
 * takes them as they are; where it is missing (older kernels, valgrind)
 * epoll_wait rounds them up to whole milliseconds.
 */
static int
e_wait(int ep, struct epoll_event *ev, long long us)
{
	static _Atomic int no_pwait2;
	struct timespec ts = { us / 1000000, us % 1000000 * 1000 };
	int n;

	if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
		n = epoll_pwait2(ep, ev, MAX_EVENTS, us < 0 ? NULL : &ts, NULL);
		if (n != -1 || errno != ENOSYS)
			return n;
		atomic_store_explicit(&no_pwait2, 1, memory_order_relaxed);
	}
	return epoll_wait(ep, ev, MAX_EVENTS, us < 0 ? -1 :
	    (int)((us + 999) / 1000));
}

static void * __attribute__((noreturn))
run_loop(void *arg)
{
	struct eloop *l = arg;
	struct epoll_event ev[MAX_EVENTS];
	int i, n, fd;

	for (;;) {
		if ((n = e_wait(l->ep, ev, ev_timers(&l->ev))) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (i = 0; i < n; i++) {
			fd = ev[i].data.fd;
			if (fd == l->ev.cfg->lfd)
				ev_accept(&l->ev);
			else
				ev_ready(&l->ev, fd);
		}
	}
}

static void *
make_loop(const struct config *cfg, int i)
{
	struct eloop *l;

	(void)i;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		err(1, "event loop");
	ev_loop_init(&l->ev, cfg);
	l->ev.open = e_open;
	l->ev.watch = e_watch;
	if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	e_watch(&l->ev, cfg->lfd, EV_READ);
	return l;
}

void __attribute__((noreturn))
model_epoll(const struct config *cfg)
{
	ev_table(cfg);
	loops_run(cfg, make_loop, run_loop);
}
