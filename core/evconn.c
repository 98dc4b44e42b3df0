/*
 * core/evconn.c - the non-blocking echo connection of the event-driven
 * models: epoll, poll, select and dispatch.
 *
 * A connection costs its slot in the table every event loop shares
 * (loops.c: its owner, its kept echo, its -t clock) and a few bytes more
 * here.  It is reading, waiting for data; or writing, an echo the peer is
 * too slow to take kept and reading paused until it has drained; and the
 * echo it keeps may be waiting out its -d on a timer, the descriptor
 * watched for nothing meanwhile.  Memory thus stays bounded by one read
 * per connection, and since reading pauses until everything read has
 * been echoed, the peer's EOF (a half-close) is seen only then and the
 * connection can simply close.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "evconn.h"

enum ev_state { EVS_READING, EVS_WRITING };

struct evconn {
	unsigned	 gen;		/* connections on this slot so far */
	unsigned char	 state;		/* enum ev_state */
	unsigned char	 want;		/* what the model watches for */
};

static struct evconn *conns;	/* indexed by descriptor, as slots */

/*
 * The connection tables, one entry per descriptor the process may have,
 * and the listening socket made non-blocking, so that a loop that lost
 * the race for a connection moves on.  Returns the number of entries.
 */
size_t
ev_table(const struct config *cfg)
{
	size_t n = slots_init(cfg);

	if ((conns = calloc(n, sizeof(*conns))) == NULL)
		err(1, "connection table");
	if (fcntl(cfg->lfd, F_SETFL, fcntl(cfg->lfd, F_GETFL) | O_NONBLOCK) ==
	    -1)
		err(1, "listening socket");
	return n;
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
	conns[fd].state = EVS_READING;
	l->watch(l, fd, EV_CLOSED);
	slot_close(fd);
}

/*
 * Now, for the -t clock; only the sweep reads it, so without -t there is
 * no clock read per message.
 */
static long long
now_if_idle(const struct evloop *l)
{
	return l->cfg->idle_timeout > 0 ? timers_now() : 0;
}

/* The connection did something now. */
static void
touch(const struct evloop *l, int fd)
{
	if (l->cfg->idle_timeout > 0)
		slot_touch(fd, timers_now());
}

static void
ev_open(struct evloop *l, int fd)
{
	struct evconn *c = &conns[fd];

	slot_open(fd, l, now_if_idle(l));
	c->state = EVS_READING;
	c->want = EV_READ;
	c->gen++;
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
		fd = net_accept_nb(l->cfg->lfd, (int)nslots, &l->pause_ms);
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

/* Send the pending echo; what fd waits for next. */
static enum ev_want
on_writable(struct evloop *l, int fd)
{
	struct slot *s = &slots[fd];
	ssize_t n;

	for (;;) {
		n = send(fd, s->pending + s->off, s->len - s->off,
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
		touch(l, fd);
		if (slot_sent(fd, (uint32_t)n))
			break;
	}
	conns[fd].state = EVS_READING;
	return EV_READ;
}

/* Echo the n bytes just read into l->buf; EV_READ once all went out. */
static enum ev_want
echo_now(struct evloop *l, int fd, size_t n)
{
	ssize_t w;

	echo_counted((long)n);
	while ((w = send(fd, l->buf, n, MSG_NOSIGNAL)) == -1 && errno == EINTR)
		;
	if (w == -1 && errno != EAGAIN) {
		echo_unsent((long)n);
		conn_failed(errno);
		ev_close(l, fd);
		return EV_CLOSED;
	}
	if (w > 0)
		touch(l, fd);
	if (w == (ssize_t)n)
		return EV_READ;
	if (w == -1)
		w = 0;
	/* The peer is slow: keep the rest, stop reading. */
	if (slot_keep(fd, l->buf + w, (uint32_t)(n - (size_t)w),
	    KEEP_REST) == -1) {
		echo_unsent((long)(n - (size_t)w));
		ev_close(l, fd);
		return EV_CLOSED;
	}
	conns[fd].state = EVS_WRITING;
	return EV_WRITE;
}

/*
 * Put the n bytes just read on the -d timer, to be written when it
 * fires; the loop serves others meanwhile.
 */
static enum ev_want
wait_timer(struct evloop *l, int fd, size_t n)
{
	if (slot_keep(fd, l->buf, (uint32_t)n, KEEP_WAIT) == -1 ||
	    timers_add(&l->timers, timers_now() + request_delay_us(), fd,
	    conns[fd].gen) == -1) {
		ev_close(l, fd);
		return EV_CLOSED;
	}
	conns[fd].state = EVS_WRITING;
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
		touch(l, fd);
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

	/* An error or hang-up in a -d wait: the send after it finds it. */
	if (slots[fd].waiting)
		return EV_NONE;
	if (conns[fd].state == EVS_READING)
		w = on_readable(l, fd);
	else
		w = on_writable(l, fd);
	want(l, fd, w);
	return w;
}

static void
on_timer(struct evloop *l, int fd, unsigned gen)
{
	/* Only a connection that failed to open leaves a stale timer. */
	if (slot_owner(fd) != l || conns[fd].gen != gen || !slots[fd].waiting)
		return;
	slot_wait_end(fd, 1);
	/* The wait was the server's; the idle clock starts again now. */
	touch(l, fd);
	want(l, fd, on_writable(l, fd));
}

/* dispatch's: whether a worker has fd now, so the sweep leaves it be. */
static int
busy(void *loop, int fd)
{
	struct evloop *l = loop;

	return l->busy != NULL && l->busy(l, fd);
}

static void
close_idle(void *loop, int fd)
{
	ev_close(loop, fd);
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
	if (l->cfg->idle_timeout > 0 && now >= l->sweep_us) {
		slots_sweep(l, now, l->cfg->idle_timeout * 1000000LL, busy,
		    close_idle);
		l->sweep_us = now + SWEEP_US;
	}
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
