/*
 * models/poll.c - the event loop of the seed article's poll column: one
 * array of every descriptor, handed to poll(2) whole at each wake-up and
 * scanned whole after it.  That O(n) per wake-up, where epoll costs
 * O(ready), is what this model is here to show.  -w N runs N loops that
 * all poll the listening socket: each new connection wakes all of them,
 * and the ones that lose the race for it find nothing to accept.  The
 * connections themselves are core/evconn.c's.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "evconn.h"

model_run	model_poll;

struct ploop {
	struct evloop	 ev;	/* first: evconn.c's callbacks get &ev */
	struct pollfd	*pfd;	/* [0] is the listening socket */
	/*
	 * at[fd]: fd's index in pfd plus one, 0 if absent: calloc's zeros
	 * stay untouched, so the table costs no memory until used.
	 */
	int		*at;
	nfds_t		 n;
};

/*
 * A descriptor watched for nothing (on its -d timer, or the listener
 * while accepting is paused) stays in the array as ~fd: poll(2) skips
 * negative ones, and ~ gives the number back.
 */
static int
real_fd(int fd)
{
	return fd < 0 ? ~fd : fd;
}

static int
p_open(struct evloop *ev, int fd)
{
	struct ploop *l = (struct ploop *)ev;

	l->at[fd] = (int)l->n + 1;
	l->pfd[l->n].fd = fd;
	l->pfd[l->n].events = POLLIN;
	l->pfd[l->n].revents = 0;
	l->n++;
	return 0;
}

static void
p_watch(struct evloop *ev, int fd, enum ev_want w)
{
	struct ploop *l = (struct ploop *)ev;
	struct pollfd *p;
	int i = fd == ev->cfg->lfd ? 0 : l->at[fd] - 1;

	if (i == -1)
		return;
	p = &l->pfd[i];
	switch (w) {
	case EV_READ:
		p->fd = fd;
		p->events = POLLIN;
		break;
	case EV_WRITE:
		p->fd = fd;
		p->events = POLLOUT;
		break;
	case EV_NONE:
		p->fd = ~fd;
		break;
	case EV_CLOSED:
		/* The last entry fills the hole. */
		*p = l->pfd[--l->n];
		l->at[real_fd(p->fd)] = i + 1;
		l->at[fd] = 0;
		break;
	}
}

/* ppoll(2) for at most us microseconds, or without limit if us < 0. */
static int
p_wait(struct ploop *l, long long us)
{
	struct timespec ts = { us / 1000000, us % 1000000 * 1000 };

	return ppoll(l->pfd, l->n, us < 0 ? NULL : &ts, NULL);
}

static void * __attribute__((noreturn))
run_loop(void *arg)
{
	struct ploop *l = arg;
	nfds_t i;
	int n, fd;

	for (;;) {
		if ((n = p_wait(l, ev_timers(&l->ev))) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		/*
		 * Backwards: closing entry i moves the last one, already
		 * seen, into its place; new connections, appended, were not
		 * polled and have no events yet.  The listener, entry 0,
		 * comes last.
		 */
		for (i = l->n; i-- > 0 && n > 0;) {
			if (l->pfd[i].revents == 0)
				continue;
			n--;
			l->pfd[i].revents = 0;
			if ((fd = l->pfd[i].fd) == l->ev.cfg->lfd)
				ev_accept(&l->ev);
			else
				ev_ready(&l->ev, fd);
		}
	}
}

static void *
make_loop(const struct config *cfg, int i)
{
	struct ploop *l;
	size_t nconns = cfg->fd_limit;

	(void)i;
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->pfd = calloc(nconns, sizeof(*l->pfd))) == NULL ||
	    (l->at = calloc(nconns, sizeof(*l->at))) == NULL)
		err(1, "event loop");
	ev_loop_init(&l->ev, cfg);
	l->ev.open = p_open;
	l->ev.watch = p_watch;
	l->pfd[0].fd = cfg->lfd;
	l->pfd[0].events = POLLIN;
	l->n = 1;
	return l;
}

void __attribute__((noreturn))
model_poll(const struct config *cfg)
{
	ev_table(cfg);
	loops_run(cfg, make_loop, run_loop);
}
