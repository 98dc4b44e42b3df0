/*
 * models/select.c - an event loop on select(2), the oldest of the three:
 * bit sets of FD_SETSIZE (1024) descriptors, copied in and scanned up to
 * the highest one at every wake-up.  A descriptor at or beyond
 * FD_SETSIZE does not fit in a set, and setting its bit would write past
 * it, so such a connection is closed as soon as it is accepted and
 * counted (closed over FD_SETSIZE; core/evconn.c does that before admission).
 * One loop: all loops of a process share its descriptor numbers, so more
 * would not hold more.  The connections themselves are core/evconn.c's.
 */
#include <sys/types.h>
#include <sys/select.h>

#include <err.h>
#include <errno.h>
#include <stdlib.h>

#include "evconn.h"

model_run	model_select;

struct sloop {
	struct evloop	 ev;	/* first: evconn.c's callbacks get &ev */
	fd_set		 rd, wr;	/* what each descriptor waits for */
	int		 maxfd;		/* the highest in either, or -1 */
};

/* Never reached: evconn.c refuses such connections before they open. */
static void
check_fd(int fd)
{
	if (fd < 0 || fd >= FD_SETSIZE)
		errx(1, "select: descriptor %d outside FD_SETSIZE (%d)", fd,
		    FD_SETSIZE);
}

static void
s_set(struct sloop *l, int fd, int rd, int wr)
{
	check_fd(fd);
	if (rd)
		FD_SET(fd, &l->rd);
	else
		FD_CLR(fd, &l->rd);
	if (wr)
		FD_SET(fd, &l->wr);
	else
		FD_CLR(fd, &l->wr);
	if ((rd || wr) && fd > l->maxfd)
		l->maxfd = fd;
	while (l->maxfd >= 0 && !FD_ISSET(l->maxfd, &l->rd) &&
	    !FD_ISSET(l->maxfd, &l->wr))
		l->maxfd--;
}

static int
s_open(struct evloop *ev, int fd)
{
	s_set((struct sloop *)ev, fd, 1, 0);
	return 0;
}

static void
s_watch(struct evloop *ev, int fd, enum ev_want w)
{
	s_set((struct sloop *)ev, fd, w == EV_READ, w == EV_WRITE);
}

static int
s_wait(struct sloop *l, fd_set *rd, fd_set *wr, long long us)
{
	struct timeval tv = { us / 1000000, us % 1000000 };

	*rd = l->rd;
	*wr = l->wr;
	return select(l->maxfd + 1, rd, wr, NULL, us < 0 ? NULL : &tv);
}

void __attribute__((noreturn))
model_select(const struct config *cfg)
{
	struct sloop *l;
	fd_set rd, wr;
	int n, fd, top;

	ev_table(cfg);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		err(1, "event loop");
	ev_loop_init(&l->ev, cfg);
	l->ev.open = s_open;
	l->ev.watch = s_watch;
	FD_ZERO(&l->rd);
	FD_ZERO(&l->wr);
	l->maxfd = -1;
	s_watch(&l->ev, cfg->lfd, EV_READ);
	for (;;) {
		if ((n = s_wait(l, &rd, &wr, ev_timers(&l->ev))) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "select");
		}
		/*
		 * Connections accepted or closed on the way are not in these
		 * copies, except by a number reused since select returned:
		 * then ev_ready finds nothing to read and moves on.
		 */
		for (fd = 0, top = l->maxfd; fd <= top && n > 0; fd++) {
			if (!FD_ISSET(fd, &rd) && !FD_ISSET(fd, &wr))
				continue;
			/* In one set only: a connection reads or writes. */
			n--;
			if (fd == cfg->lfd)
				ev_accept(&l->ev);
			else
				ev_ready(&l->ev, fd);
		}
	}
}
