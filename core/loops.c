/*
 * core/loops.c - what every event loop shares (loops.h): starting a
 * model's -w loops, and the table of connections they serve, with the
 * echo each has kept and how it is counted, and the -t sweep.
 *
 * The loops start each in a thread of its own but the last, which runs
 * in the calling thread, so that -w 1 costs no thread beyond the one that
 * set it up.
 *
 * Echoed bytes are counted as echo.c counts them: just before the send,
 * with what is never sent taken back.  Bytes a connection keeps because
 * the peer is slow are thus counted already; bytes waiting out their -d
 * are counted only when the wait ends, as they are about to be sent.
 */
#include <sys/types.h>

#include <err.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loops.h"

struct slot *slots;
size_t nslots;

/*
 * Make loop i of cfg->workers with make(cfg, i) and run it with run.
 * Each loop is made just before it starts, in the order of i.
 */
void
loops_run(const struct config *cfg,
    void *(*make)(const struct config *, int), loop_fn run)
{
	pthread_t t;
	int i, e;

	for (i = 0; i < cfg->workers - 1; i++)
		if ((e = pthread_create(&t, NULL, run, make(cfg, i))) != 0)
			errc(1, e, "event loop %d of %d", i + 1, cfg->workers);
	run(make(cfg, cfg->workers - 1));
}

/* One slot per descriptor the process may have; returns how many. */
size_t
slots_init(const struct config *cfg)
{
	nslots = cfg->fd_limit;
	if ((slots = calloc(nslots, sizeof(*slots))) == NULL)
		err(1, "connection table");
	return nslots;
}

/* fd is a new connection of loop's, active at now_us. */
void
slot_open(int fd, const void *loop, long long now_us)
{
	struct slot *s = &slots[fd];

	/* Pairs with the release in slot_close of the slot's last owner. */
	(void)atomic_load_explicit(&s->owner, memory_order_acquire);
	s->active_us = now_us;
	atomic_store_explicit(&s->owner, loop, memory_order_relaxed);
}

/* The loop fd is with, or NULL: any loop may ask. */
const void *
slot_owner(int fd)
{
	return atomic_load_explicit(&slots[fd].owner, memory_order_relaxed);
}

/*
 * Keep n bytes at p in fd's pending echo, as how says.  -1 when out of
 * memory: the caller ends the connection, which is not a reset, since
 * the peer did nothing wrong.
 */
int
slot_keep(int fd, const char *p, uint32_t n, enum keep how)
{
	struct slot *s = &slots[fd];
	uint32_t have = s->len - s->off;
	char *q;

	if (how != KEEP_REST && s->off == 0) {
		/* Appending: large blocks grow in place (mremap). */
		if ((q = realloc(s->pending, (size_t)have + n)) == NULL)
			return -1;
		memcpy(q + have, p, n);
	} else {
		if ((q = malloc((size_t)have + n)) == NULL)
			return -1;
		if (have > 0)
			memcpy(q + (how == KEEP_REST ? n : 0),
			    s->pending + s->off, have);
		memcpy(q + (how == KEEP_REST ? 0 : have), p, n);
		free(s->pending);
	}
	s->pending = q;
	s->off = 0;
	s->len = have + n;
	if (how == KEEP_WAIT) {
		s->waiting = 1;
		request_waiting(1);
	} else if (how == KEEP_MORE && !s->waiting)
		echo_counted(n);
	return 0;
}

static void
drop(struct slot *s)
{
	free(s->pending);
	s->pending = NULL;
	s->off = s->len = 0;
}

/* n more bytes of fd's pending echo went out; 1 once all of it has. */
int
slot_sent(int fd, uint32_t n)
{
	struct slot *s = &slots[fd];

	s->off += n;
	if (s->off < s->len)
		return 0;
	drop(s);
	return 1;
}

/*
 * fd's -d wait is over: its pending echo is counted, to be sent now, or
 * with send 0 (the connection is closing) dropped, never counted.
 */
void
slot_wait_end(int fd, int send)
{
	struct slot *s = &slots[fd];

	s->waiting = 0;
	request_waiting(-1);
	if (send)
		echo_counted((long)(s->len - s->off));
	else
		drop(s);
}

/*
 * The end of fd: what it kept and counted is taken back, its slot is
 * free and its descriptor closed.  The model must have forgotten it.
 */
void
slot_close(int fd)
{
	struct slot *s = &slots[fd];

	if (s->waiting) {
		s->waiting = 0;
		request_waiting(-1);
	} else if (s->len > s->off)
		echo_unsent((long)(s->len - s->off));
	drop(s);
	/*
	 * Cleared before close(2): another loop may get this number next.
	 * The kernel orders our close before its accept, but only the
	 * release (and its acquire in slot_open) orders the stores above
	 * before that loop's, for the compiler and ThreadSanitizer alike.
	 * Counted out before the close too: the peer sees EOF only after
	 * it, so a client that connects again finds Now exact.
	 */
	atomic_store_explicit(&s->owner, NULL, memory_order_release);
	conn_closed();
	close(fd);
}

/*
 * -t: close loop's connections idle longer than limit_us at now_us, with
 * close(loop, fd).  busy(loop, fd) says a connection is not the sweep's
 * to close now (with another thread, or closing already); it is asked
 * first, before any other field is read.  A connection waiting out its -d
 * is not idle: the wait is the server's, not the peer's.
 */
void
slots_sweep(void *loop, long long now_us, long long limit_us,
    int (*busy)(void *, int), void (*close_idle)(void *, int))
{
	struct slot *s;
	size_t fd;

	for (fd = 0; fd < nslots; fd++) {
		s = &slots[fd];
		if (atomic_load_explicit(&s->owner, memory_order_relaxed) !=
		    loop || busy(loop, (int)fd) || s->waiting ||
		    now_us - s->active_us <= limit_us)
			continue;
		count(&counters->timeouts);
		close_idle(loop, (int)fd);
	}
}
