/*
 * core/evconn.c - the non-blocking echo connection of the event-driven models.
 *
 * A connection costs one small struct, indexed by descriptor, in a table
 * that every loop of the process shares.  It is in one of three states:
 *   READING  waiting for data;
 *   WAITING  its last read on the -d timer, its descriptor watched for
 *            nothing, the data kept until the timer fires;
 *   WRITING  an echo the peer is too slow to take kept, and reading
 *            paused until it has drained.
 * Memory thus stays bounded by one read per connection, and since reading
 * pauses until everything read has been echoed, the peer's EOF (a
 * half-close) is seen only then and the connection can simply close.
 *
 * Bytes are counted as echo.c counts them: just before the send, with
 * what is never sent taken back (at once when a send fails, in ev_close
 * when the connection ends with echo pending).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evconn.h"

#define SWEEP_US	(1000 * 1000LL)

enum ev_state { EVS_READING, EVS_WAITING, EVS_WRITING };

struct evconn {
	/*
	 * Loops read each other's owner fields in the -t sweep, and a slot
	 * passes from one loop to another when the kernel reuses a number:
	 * owner is atomic so that both are ordered (see ev_close).
	 */
	_Atomic(struct evloop *) owner;	/* NULL while the slot is free */
	char		*pending;	/* echo not sent yet */
	size_t		 off, len;
	long long	 active_us;	/* last read or write, for -t */
	unsigned	 gen;		/* connections on this slot so far */
	unsigned char	 state;		/* enum ev_state */
	unsigned char	 want;		/* what the model watches for */
};

static struct evconn *conns;	/* indexed by descriptor */
static size_t nconns;

/*
 * The connection table, one slot per descriptor the process may have,
 * and the listening socket made non-blocking, so that a loop that lost
 * the race for a connection moves on.  Returns the number of slots.
 */
size_t
ev_table(const struct config *cfg)
{
	nconns = cfg->fd_limit;
	if ((conns = calloc(nconns, sizeof(*conns))) == NULL)
		err(1, "connection table");
	if (fcntl(cfg->lfd, F_SETFL, fcntl(cfg->lfd, F_GETFL) | O_NONBLOCK) ==
	    -1)
		err(1, "listening socket");
	return nconns;
}

void
ev_loop_init(struct evloop *l, const struct config *cfg)
{
	l->cfg = cfg;
	l->sweep_us = timers_now() + SWEEP_US;
}

/* Tell the model what fd waits for now, if that changed. */
static void
want(struct evloop *l, int fd, enum ev_want w)
{
	struct evconn *c = &conns[fd];

	if (w != EV_CLOSED && c->want != w) {
		c->want = w;
		l->watch(l, fd, w);
	}
}

void
ev_close(struct evloop *l, int fd)
{
	struct evconn *c = &conns[fd];

	/* A wait's bytes were never counted; a send's unsent ones were. */
	if (c->state == EVS_WRITING)
		count_add(&counters->bytes, -(long)(c->len - c->off));
	if (c->state == EVS_WAITING)
		request_waiting(-1);
	free(c->pending);
	c->pending = NULL;
	c->off = c->len = 0;
	c->state = EVS_READING;
	l->watch(l, fd, EV_CLOSED);
	/*
	 * Cleared before close(2): another loop may get this number next.
	 * The kernel orders our close before its accept, but only the
	 * release (and its acquire in ev_open) orders the stores above
	 * before that loop's, for the compiler and ThreadSanitizer alike.
	 * Counted out before the close too: the peer sees EOF only after
	 * it, so a client that connects again finds Now exact.
	 */
	atomic_store_explicit(&c->owner, NULL, memory_order_release);
	conn_closed();
	close(fd);
}

/*
 * The connection did something now.  Only the -t sweep reads the stamp:
 * without -t, no clock read per message.
 */
static void
touch(const struct evloop *l, struct evconn *c)
{
	if (l->cfg->idle_timeout > 0)
		c->active_us = timers_now();
}

static void
ev_open(struct evloop *l, int fd)
{
	struct evconn *c = &conns[fd];

	/* Pairs with the release in ev_close of the slot's last owner. */
	(void)atomic_load_explicit(&c->owner, memory_order_acquire);
	touch(l, c);
	c->state = EVS_READING;
	c->want = EV_READ;
	c->gen++;
	atomic_store_explicit(&c->owner, l, memory_order_relaxed);
	/* Through ev_close: a slot left owned would be swept later. */
	if (l->open(l, fd) == -1)
		ev_close(l, fd);
}

/*
 * Accept every connection waiting.  Short of descriptors or memory, stop
 * watching the listening socket for a while rather than spin on it (it
 * stays readable); existing connections go on.
 */
void
ev_accept(struct evloop *l)
{
	int fd;

	for (;;) {
		fd = net_accept_nb(l->cfg->lfd, (int)nconns, &l->pause_ms);
		if (fd == -1) {
			if (l->pause_ms == 0)
				return;
			l->watch(l, l->cfg->lfd, EV_NONE);
			l->resume_us = timers_now() + l->pause_ms * 1000LL;
			return;
		}
		/* select(2) cannot watch it: refused before admission. */
		if (l->cfg->model->fd_ceiling > 0 &&
		    fd >= l->cfg->model->fd_ceiling) {
			count(&counters->over_fd_setsize);
			close(fd);
			continue;
		}
		if (conn_admit(l->cfg, fd) == 0)
			ev_open(l, fd);
	}
}

/*
 * Keep n bytes of p as fd's pending echo.  Out of memory it cannot be
 * kept and the caller ends the connection; the peer did nothing wrong, so
 * that is not counted as a reset.
 */
static int
keep(int fd, const char *p, size_t n)
{
	struct evconn *c = &conns[fd];

	if ((c->pending = malloc(n)) == NULL)
		return -1;
	memcpy(c->pending, p, n);
	c->off = 0;
	c->len = n;
	return 0;
}

/* Send the pending echo; what fd waits for next. */
static enum ev_want
on_writable(struct evloop *l, int fd)
{
	struct evconn *c = &conns[fd];
	ssize_t n;

	while (c->off < c->len) {
		n = send(fd, c->pending + c->off, c->len - c->off,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return EV_WRITE;
			conn_failed(errno);
			ev_close(l, fd);
			return EV_CLOSED;
		}
		c->off += (size_t)n;
		touch(l, c);
	}
	free(c->pending);
	c->pending = NULL;
	c->off = c->len = 0;
	c->state = EVS_READING;
	return EV_READ;
}

/* Echo the n bytes just read into l->buf; EV_READ once all went out. */
static enum ev_want
echo_now(struct evloop *l, int fd, size_t n)
{
	struct evconn *c = &conns[fd];
	ssize_t w;

	count_add(&counters->bytes, (long)n);
	while ((w = send(fd, l->buf, n, MSG_NOSIGNAL)) == -1 && errno == EINTR)
		;
	if (w == -1 && errno != EAGAIN) {
		count_add(&counters->bytes, -(long)n);
		conn_failed(errno);
		ev_close(l, fd);
		return EV_CLOSED;
	}
	if (w > 0)
		touch(l, c);
	if (w == (ssize_t)n)
		return EV_READ;
	if (w == -1)
		w = 0;
	/* The peer is slow: keep the rest, stop reading. */
	if (keep(fd, l->buf + w, n - (size_t)w) == -1) {
		count_add(&counters->bytes, -(long)(n - (size_t)w));
		ev_close(l, fd);
		return EV_CLOSED;
	}
	c->state = EVS_WRITING;
	return EV_WRITE;
}

/* Put the n bytes just read on the -d timer; the loop serves others. */
static enum ev_want
wait_timer(struct evloop *l, int fd, size_t n)
{
	struct evconn *c = &conns[fd];

	if (keep(fd, l->buf, n) == -1 || timers_add(&l->timers,
	    timers_now() + request_delay_us(), fd, c->gen) == -1) {
		ev_close(l, fd);
		return EV_CLOSED;
	}
	c->state = EVS_WAITING;
	request_waiting(1);
	return EV_NONE;
}

/*
 * Read and echo until the peer has nothing more to say now.  Each read
 * costs its -W work here, then its -d wait: on a timer in an event loop,
 * or in this thread for dispatch's workers (block_delay).
 */
static enum ev_want
on_readable(struct evloop *l, int fd)
{
	enum ev_want w;
	ssize_t n;

	for (;;) {
		n = read(fd, l->buf, sizeof(l->buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return EV_READ;
		if (n <= 0) {
			/* EOF: all read before it has been echoed. */
			if (n == -1)
				conn_failed(errno);
			ev_close(l, fd);
			return EV_CLOSED;
		}
		touch(l, &conns[fd]);
		request_work();
		if (request_delay_us() > 0 && !l->block_delay)
			return wait_timer(l, fd, (size_t)n);
		request_wait();
		if ((w = echo_now(l, fd, (size_t)n)) != EV_READ)
			return w;
	}
}

/*
 * fd is ready: do what it waits for.  Returns what it waits for now, or
 * EV_CLOSED if it has been closed (its number may already be another
 * connection's).
 */
enum ev_want
ev_ready(struct evloop *l, int fd)
{
	enum ev_want w;

	switch (conns[fd].state) {
	case EVS_READING:
		w = on_readable(l, fd);
		break;
	case EVS_WRITING:
		w = on_writable(l, fd);
		break;
	default:
		/* An error or hang-up: the send after the timer finds it. */
		return EV_NONE;
	}
	want(l, fd, w);
	return w;
}

static void
on_timer(struct evloop *l, int fd, unsigned gen)
{
	struct evconn *c = &conns[fd];

	/* Only a connection that failed to open leaves a stale timer. */
	if (atomic_load_explicit(&c->owner, memory_order_relaxed) != l ||
	    c->gen != gen || c->state != EVS_WAITING)
		return;
	request_waiting(-1);
	count_add(&counters->bytes, (long)c->len);
	c->state = EVS_WRITING;
	/* The wait was the server's; the idle clock starts again now. */
	touch(l, c);
	want(l, fd, on_writable(l, fd));
}

/*
 * -t: close this loop's connections idle that long.  A connection on its
 * -d timer is not idle: the wait is the server's, not the peer's.
 */
static void
sweep_idle(struct evloop *l, long long now)
{
	long long limit = l->cfg->idle_timeout * 1000000LL;
	struct evconn *c;
	size_t fd;

	for (fd = 0; fd < nconns; fd++) {
		c = &conns[fd];
		if (atomic_load_explicit(&c->owner,
		    memory_order_relaxed) != l ||
		    (l->busy != NULL && l->busy(l, (int)fd)) ||
		    c->state == EVS_WAITING || now - c->active_us <= limit)
			continue;
		count(&counters->timeouts);
		ev_close(l, (int)fd);
	}
	l->sweep_us = now + SWEEP_US;
}

/*
 * The loop's timers: -d waits that are over, the end of a pause in
 * accepting, the -t sweep.  Returns how long the loop may sleep, in
 * microseconds, or -1 for as long as it likes.
 */
long long
ev_timers(struct evloop *l)
{
	long long now = timers_now(), next;
	unsigned gen;
	int fd;

	while ((fd = timers_pop(&l->timers, now, &gen)) != -1)
		on_timer(l, fd, gen);
	if (l->resume_us != 0 && now >= l->resume_us) {
		/*
		 * Try at once, as a blocking accept would, rather than wait
		 * for a connection: every model, and the Go server, then
		 * fails and counts at the same pace while it is short.
		 */
		l->resume_us = 0;
		l->watch(l, l->cfg->lfd, EV_READ);
		ev_accept(l);
	}
	if (l->cfg->idle_timeout > 0 && now >= l->sweep_us)
		sweep_idle(l, now);
	next = timers_first(&l->timers);
	if (l->resume_us != 0 && (next == -1 || l->resume_us < next))
		next = l->resume_us;
	if (l->cfg->idle_timeout > 0 && (next == -1 || l->sweep_us < next))
		next = l->sweep_us;
	if (next == -1)
		return -1;
	now = timers_now();
	return next > now ? next - now : 0;
}
