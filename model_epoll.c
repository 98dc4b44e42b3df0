/*
 * model_epoll.c - the C async baseline: a single-threaded, non-blocking
 * epoll event loop.  -w N runs N such loops in threads that share the
 * listening socket (EPOLLEXCLUSIVE wakes one loop per new connection).
 *
 * A connection costs one small struct, indexed by descriptor; -t is a
 * sweep over that table once a second.  Data that
 * the peer is too slow to take is kept per connection, and reading from
 * that peer pauses until it has drained: memory stays bounded by one
 * read per connection.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

#define READ_BUF	(64 * 1024)
#define MAX_EVENTS	256

struct loop;

/*
 * Loops read each other's owner fields in sweep_idle, and a slot passes
 * from one loop to another when the kernel reuses a descriptor number:
 * owner is atomic so that both are ordered (see conn_close).
 */
struct conn {
	_Atomic(struct loop *) owner;	/* NULL while the slot is free */
	char		*pending;	/* echo the peer has not taken yet */
	size_t		 off, len;
	long		 active_ms;	/* last read or write, for -t */
};

static struct conn *conns;	/* indexed by descriptor */
static size_t nconns;

struct loop {
	struct server	*srv;
	int		 ep;
	long		 pause_ms;	/* net_accept_nb's backoff */
	long		 resume_ms;	/* accepting paused until then, or 0 */
	long		 sweep_ms;	/* next idle sweep, with -t */
	char		 buf[READ_BUF];
};

#define SWEEP_MS	1000

static long now_ms(void);

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_close(struct loop *, int);

static void
on_accept(struct loop *l)
{
	struct epoll_event ev;
	struct conn *c;
	int fd;

	for (;;) {
		fd = net_accept_nb(l->srv->lfd, (int)nconns, &l->pause_ms);
		if (fd == -1) {
			if (l->pause_ms == 0)
				return;
			/*
			 * Short of descriptors or memory.  The listening
			 * socket stays readable, so stop watching it for a
			 * while rather than spin; existing connections go on.
			 */
			epoll_ctl(l->ep, EPOLL_CTL_DEL, l->srv->lfd, NULL);
			l->resume_ms = now_ms() + l->pause_ms;
			return;
		}
		if (conn_admit(l->srv, fd) == -1)
			continue;
		/* Pairs with the release in conn_close of the last owner. */
		c = &conns[fd];
		(void)atomic_load_explicit(&c->owner, memory_order_acquire);
		c->active_ms = now_ms();
		atomic_store_explicit(&c->owner, l, memory_order_relaxed);
		ev.events = EPOLLIN | EPOLLRDHUP;
		ev.data.fd = fd;
		/* Through conn_close: a slot left owned would be swept later. */
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			conn_close(l, fd);
	}
}

static void
conn_close(struct loop *l, int fd)
{
	struct conn *c = &conns[fd];

	epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	/* Echo counted when it was read but never sent is taken back. */
	if (c->pending != NULL)
		count_add(&counters->bytes, -(long)(c->len - c->off));
	free(c->pending);
	c->pending = NULL;
	c->off = c->len = 0;
	c->active_ms = 0;
	/*
	 * Cleared before close(2): another loop may get this number next.
	 * The kernel orders our close before its accept, but only the
	 * release (and its acquire in on_accept) orders the stores above
	 * before that loop's, for the compiler and ThreadSanitizer alike.
	 */
	atomic_store_explicit(&c->owner, NULL, memory_order_release);
	conn_closed();
	close(fd);
}

/* Send what is pending; returns 1 when drained, 0 if not, -1 on error. */
static int
flush_pending(int fd, struct conn *c)
{
	ssize_t n;

	c->active_ms = now_ms();
	while (c->off < c->len) {
		n = send(fd, c->pending + c->off, c->len - c->off,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		c->off += (size_t)n;
	}
	free(c->pending);
	c->pending = NULL;
	c->off = c->len = 0;
	return 1;
}

static void
want(struct loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
}

static void
on_writable(struct loop *l, int fd)
{
	int r;

	if ((r = flush_pending(fd, &conns[fd])) == -1) {
		conn_failed(errno);
		conn_close(l, fd);
	} else if (r == 1)
		want(l, fd, EPOLLIN | EPOLLRDHUP);
}

/*
 * Echo what the peer sent.  Bytes are counted before the send, as in
 * echo.c, and what is not sent in the end is taken back: here at once if
 * the send fails, in conn_close if the connection ends with echo pending.
 */
static void
on_readable(struct loop *l, int fd)
{
	struct conn *c = &conns[fd];
	ssize_t n, w;

	c->active_ms = now_ms();
	for (;;) {
		n = read(fd, l->buf, sizeof(l->buf));
		if (n == 0) {
			/* Everything read was echoed or is pending: drain. */
			if (c->pending == NULL)
				conn_close(l, fd);
			return;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			break;
		}
		count_add(&counters->bytes, n);
		if ((w = send(fd, l->buf, (size_t)n, MSG_NOSIGNAL)) == -1) {
			if (errno != EAGAIN) {
				count_add(&counters->bytes, -n);
				break;
			}
			w = 0;
		}
		if (w < n) {
			/* The peer is slow: keep the rest, stop reading. */
			if ((c->pending = malloc((size_t)(n - w))) == NULL) {
				/*
				 * Out of memory: the echo cannot be kept, so
				 * the connection ends.  The peer did nothing
				 * wrong, so it is not counted as a reset.
				 */
				count_add(&counters->bytes, -(n - w));
				conn_close(l, fd);
				return;
			}
			c->len = (size_t)(n - w);
			c->off = 0;
			memcpy(c->pending, l->buf + w, c->len);
			want(l, fd, EPOLLOUT);
			return;
		}
	}
	conn_failed(errno);
	conn_close(l, fd);
}

static void
watch_listener(struct loop *l)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };

	ev.data.fd = l->srv->lfd;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->srv->lfd, &ev) == -1)
		err(1, "epoll_ctl listening socket");
	l->resume_ms = 0;
}

/* Close this loop's connections that have been idle longer than -t. */
static void
sweep_idle(struct loop *l)
{
	long now = now_ms(), limit = l->srv->idle_timeout * 1000L;
	size_t fd;

	for (fd = 0; fd < nconns; fd++)
		if (atomic_load_explicit(&conns[fd].owner,
		    memory_order_relaxed) == l &&
		    now - conns[fd].active_ms > limit) {
			count(&counters->timeouts);
			conn_close(l, (int)fd);
		}
	l->sweep_ms = now + SWEEP_MS;
}

/*
 * The timers: the end of a pause in accepting and the idle sweep.  Returns
 * how long epoll_wait may sleep, in ms, or -1 for as long as it likes.
 */
static int
run_timers(struct loop *l)
{
	int timeout = -1;

	if (l->resume_ms != 0 && now_ms() >= l->resume_ms) {
		/*
		 * Try at once, as a blocking accept would, rather than wait
		 * for a connection: every model, and the Go server, then
		 * fails and counts at the same pace while it is short.
		 */
		watch_listener(l);
		on_accept(l);
	}
	if (l->resume_ms != 0 && (timeout = l->resume_ms - now_ms()) < 0)
		timeout = 0;
	if (l->srv->idle_timeout > 0) {
		if (now_ms() >= l->sweep_ms)
			sweep_idle(l);
		if (timeout == -1 || timeout > SWEEP_MS)
			timeout = SWEEP_MS;
	}
	return timeout;
}

static void *
run_loop(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev[MAX_EVENTS];
	int i, n, fd, timeout;

	for (;;) {
		timeout = run_timers(l);
		if ((n = epoll_wait(l->ep, ev, MAX_EVENTS, timeout)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (i = 0; i < n; i++) {
			fd = ev[i].data.fd;
			if (fd == l->srv->lfd)
				on_accept(l);
			else if (ev[i].events & EPOLLOUT)
				on_writable(l, fd);
			else
				on_readable(l, fd);
		}
	}
	return NULL;
}

void
model_epoll(struct server *srv)
{
	struct loop *l;
	pthread_t t;
	int i, e;

	nconns = srv->fd_limit;
	if ((conns = calloc(nconns, sizeof(*conns))) == NULL)
		err(1, "connection table");
	/* Non-blocking, so a loop that lost the race for a connection moves on. */
	if (fcntl(srv->lfd, F_SETFL, fcntl(srv->lfd, F_GETFL) | O_NONBLOCK) ==
	    -1)
		err(1, "listening socket");
	for (i = 0; i < srv->workers; i++) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			err(1, "event loop");
		l->srv = srv;
		if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
			err(1, "epoll_create1");
		watch_listener(l);
		if (i == srv->workers - 1)
			run_loop(l);
		if ((e = pthread_create(&t, NULL, run_loop, l)) != 0)
			errc(1, e, "event loop %d of %d", i + 1, srv->workers);
	}
}
