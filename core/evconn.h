/*
 * core/evconn.h - what the readiness-driven event loops (epoll, poll,
 * select, dispatch) share: the non-blocking echo connection (evconn.c)
 * and the timers its -d waits run on (timers.c).  io_uring, driven by
 * completions, has its own (models/uring/); what every event loop shares
 * is in loops.h.
 *
 * A model owns the kernel interface: it watches descriptors and calls
 * ev_accept when the listening socket is readable and ev_ready when a
 * connection is.  evconn.c does everything else: reading, the request's
 * work and wait, echoing, keeping what a slow peer cannot take yet, -t,
 * closing; it tells the model through watch() what to watch for next.
 */
#ifndef EVCONN_H
#define EVCONN_H

#include "loops.h"

#define EV_READ_BUF	(64 * 1024)

/* What a descriptor waits for next, as evconn.c tells its model. */
enum ev_want {
	EV_READ,	/* data (for the listener: a connection to accept) */
	EV_WRITE,	/* room for the echo the peer has not taken yet */
	EV_NONE,	/* nothing: on its -d timer, or accepting paused */
	EV_CLOSED	/* closed: the model forgets it */
};

/* A min-heap of deadlines, one per connection on its -d timer. */
struct timer {
	long long	 when_us;
	int		 fd;
	unsigned	 gen;		/* which connection on fd */
};

struct timers {
	struct timer	*heap;
	size_t		 len, cap;
};

struct evloop {
	const struct config *cfg;
	/* The model's: start watching a new connection; -1 if it cannot. */
	int		(*open)(struct evloop *, int);
	/* The model's: watch a connection, or the listener, for w. */
	void		(*watch)(struct evloop *, int, enum ev_want);
	/*
	 * dispatch's: whether another thread has the connection now; the
	 * -t sweep leaves it alone then.  NULL: the loop has all its own.
	 */
	int		(*busy)(struct evloop *, int);
	int		 block_delay;	/* -d in this thread, not on a timer */
	struct timers	 timers;
	long		 pause_ms;	/* net_accept_nb's backoff */
	long long	 resume_us;	/* accepting paused until then, or 0 */
	long long	 sweep_us;	/* the next -t sweep */
	char		 buf[EV_READ_BUF];
};

/* evconn.c */
size_t	ev_table(const struct config *);
void	ev_loop_init(struct evloop *, const struct config *);
void	ev_accept(struct evloop *);
enum ev_want ev_ready(struct evloop *, int);
long long ev_timers(struct evloop *);
void	ev_close(struct evloop *, int);

/* timers.c */
int	timers_add(struct timers *, long long, int, unsigned);
long long timers_first(const struct timers *);
int	timers_pop(struct timers *, long long, unsigned *);

#endif /* EVCONN_H */
