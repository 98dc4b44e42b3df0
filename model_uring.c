/*
 * model_uring.c - the io_uring answer to epoll: one ring per event loop,
 * and -w N loops in threads that share the listening socket, taking turns
 * at accepting on it.
 *
 * The echo follows model_epoll.c step for step.  Each connection has one
 * multishot receive, armed once: the poll under it stays armed between
 * messages, so a round trip costs one completion for the data and one
 * send, and no submission for the receive (a one-shot receive costs a
 * submission and a poll arm every time).  A receive takes a buffer from
 * the loop's provided-buffer ring only when data has arrived, so an idle
 * connection holds none.  The echo is sent from that buffer without
 * waiting; a send that comes back short keeps the rest per connection
 * (epoll's pending data) and gives the buffer back at once, so no buffer
 * is held across a wait and a few dozen serve thousands of connections.
 *
 * Reading pauses while an echo is still going out: data that arrives then
 * is kept after it, and the receive is cancelled, then armed again once
 * everything kept has been sent.  Cancelling takes effect at the next
 * submission, so what the kernel had already received by then (one
 * arrival, or a few buffers from a peer that sends without reading) is
 * kept too: bounded, where epoll stops at once.
 *
 * Each receive costs its -W work in the loop, as in every event loop,
 * then its -d wait: the data goes to the connection's own memory, the
 * buffer back to the ring, and the connection waits on an io_uring
 * timeout of its own, so one loop has thousands of requests waiting at
 * once and never blocks.  When the timeout fires, the kept data is sent
 * as a short send's rest would be; data that arrived during the wait
 * joins it.
 *
 * A connection has at most two requests in the kernel, its receive and
 * one send or timeout, so its descriptor and the kind name a request in
 * its completion, and the descriptor stays open until both have
 * completed: closing cancels them first.  Every timer (the -t sweep, the
 * pause after an accept error, -d) is an io_uring timeout: the loop only
 * ever waits in io_uring_submit_and_wait.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

#define SQ_ENTRIES	1024
#define CQ_ENTRIES	8192
#define BUF_SIZE	(16 * 1024)
/*
 * The kernel takes a ring's buffers in the order they were given back,
 * so every buffer in the ring gets touched in turn.  The ring starts
 * small and doubles only when a receive finds it empty: memory follows
 * the peak number of receives completed at once, not the ring's size.
 */
#define BUFS_START	32
#define BUFS_MAX	1024		/* power of 2: the ring's size */
#define BGID		0
#define SWEEP_MS	1000

/* What a completion is for: user_data is the kind << 32 | descriptor. */
enum req {
	REQ_NONE,
	REQ_RECV,		/* multishot: a completion per arrival */
	REQ_SEND,		/* the echo, from a ring buffer */
	REQ_SEND_PENDING,	/* what was kept, from pending */
	REQ_DELAY,		/* -d: a timeout, the read kept in pending */
	REQ_ACCEPT,
	REQ_CANCEL,
	REQ_SWEEP,
	REQ_RESUME,
};

/* Where a connection's receive stands. */
enum recv_state {
	RECV_OFF,		/* ended, or paused: nothing in the kernel */
	RECV_ON,		/* armed */
	RECV_STOPPING,		/* armed, and asked to stop */
	RECV_STARVED,		/* in the loop's queue for a buffer */
};

struct loop;

/*
 * Indexed by descriptor and shared by the loops like epoll's table: owner
 * is atomic for the same reason (see conn_free).  A connection has at
 * most two requests in the kernel: its receive, and one send or -d
 * timeout (req).
 */
struct conn {
	_Atomic(struct loop *) owner;	/* NULL while the slot is free */
	char		*pending;	/* echo kept, in order, not sent yet */
	uint32_t	 off, len;	/* of pending */
	long		 active_ms;	/* last read or write, for -t */
	uint32_t	 slen;		/* length of a REQ_SEND */
	uint16_t	 bid;		/* ring buffer of a REQ_SEND */
	uint8_t		 req;		/* enum req: send or timeout in flight */
	uint8_t		 recv;		/* enum recv_state */
	uint8_t		 closing;	/* freed once nothing is in flight */
	uint8_t		 streaming;	/* sent before its echo: one-shot */
	int		 next_starved;	/* RECV_STARVED queue, -1 at the end */
};

static struct conn *conns;
static size_t nconns;

struct loop {
	struct server	*srv;
	struct io_uring	 ring;
	struct io_uring_buf_ring *br;
	char		*bufs;		/* BUFS_MAX buffers, touched as used */
	unsigned	 nbufs;		/* given to the ring so far */
	unsigned	 freed;		/* given back during this batch */
	int		 nobufs;	/* a receive found the ring empty */
	int		 starved_head, starved_tail;
	long		 now_ms;	/* at the last wake-up */
	long		 pause_ms;	/* net.c's backoff, or 0 */
	/*
	 * The kernel reads a timeout's timespec when it is submitted.  -d
	 * is the same for every request, so one delay_ts serves them all.
	 */
	struct __kernel_timespec sweep_ts, pause_ts, delay_ts;
};

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline uint64_t
udata(enum req r, int fd)
{
	return (uint64_t)r << 32 | (uint32_t)fd;
}

/* A free submission slot; a full queue is submitted to make room. */
static struct io_uring_sqe *
get_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe;
	int e;

	while ((sqe = io_uring_get_sqe(&l->ring)) == NULL)
		if ((e = io_uring_submit(&l->ring)) < 0 && e != -EINTR &&
		    e != -EAGAIN && e != -EBUSY)
			errc(1, -e, "io_uring_submit");
	return sqe;
}

static void
arm_accept(struct loop *l)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	/*
	 * One connection per accept, armed again after each.  A multishot
	 * accept stays first in the listening socket's queue of exclusive
	 * waiters, so the kernel would give every connection to one loop
	 * (and with -P to one process, up to its descriptor limit); armed
	 * again, an accept joins the end of the queue and the loops take
	 * turns.  Blocking sockets: io_uring never blocks on them, it polls.
	 */
	io_uring_prep_accept(sqe, l->srv->lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, udata(REQ_ACCEPT, l->srv->lfd));
}

static void
arm_timer(struct loop *l, struct __kernel_timespec *ts, long ms,
    enum req r)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (ms % 1000) * 1000000L;
	io_uring_prep_timeout(sqe, ts, 0, 0);
	io_uring_sqe_set_data64(sqe, udata(r, -1));
}

/*
 * A multishot receive, armed once: the poll it waits on stays armed
 * between messages, and each arrival is a completion with a buffer, with
 * nothing submitted for it.  But a multishot receive goes on receiving
 * while the echo goes out, a few buffers at a time, for a peer that does
 * not wait for its echo: such a peer, once seen, gets one-shot receives
 * instead, one buffer per echo, as in epoll.
 */
static void
arm_recv(struct loop *l, int fd)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	if (conns[fd].streaming)
		io_uring_prep_recv(sqe, fd, NULL, BUF_SIZE, 0);
	else {
		io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
		/*
		 * Poll first: the peer's next message is rarely there yet,
		 * and a receive tried at once would take a buffer and give
		 * it back for nothing.
		 */
		sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	}
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, udata(REQ_RECV, fd));
	conns[fd].recv = RECV_ON;
}

static void
arm_send(struct loop *l, int fd, const char *p, size_t len, int flags,
    enum req r)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	io_uring_prep_send(sqe, fd, p, len, MSG_NOSIGNAL | flags);
	io_uring_sqe_set_data64(sqe, udata(r, fd));
	conns[fd].req = r;
}

/* Cancel fd's request r; it reports its own end (-ECANCELED or other). */
static void
cancel(struct loop *l, enum req r, int fd)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	io_uring_prep_cancel64(sqe, udata(r, fd), 0);
	io_uring_sqe_set_data64(sqe, udata(REQ_CANCEL, fd));
	/* Not found or already done: its own completion tells. */
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/* Stop reading fd: its receive ends, with -ECANCELED or on its own. */
static void
recv_stop(struct loop *l, int fd)
{
	if (conns[fd].recv != RECV_ON)
		return;
	cancel(l, REQ_RECV, fd);
	conns[fd].recv = RECV_STOPPING;
}

static char *
buf_addr(struct loop *l, unsigned bid)
{
	return l->bufs + (size_t)bid * BUF_SIZE;
}

static void
buf_give(struct loop *l, unsigned bid)
{
	io_uring_buf_ring_add(l->br, buf_addr(l, bid), BUF_SIZE, bid,
	    io_uring_buf_ring_mask(BUFS_MAX), 0);
	io_uring_buf_ring_advance(l->br, 1);
	l->freed++;
}

/* Give the ring more buffers: BUFS_START, then double, up to BUFS_MAX. */
static void
bufs_grow(struct loop *l)
{
	unsigned n, add = l->nbufs == 0 ? BUFS_START : l->nbufs;

	if (add > BUFS_MAX - l->nbufs)
		add = BUFS_MAX - l->nbufs;
	for (n = 0; n < add; n++)
		buf_give(l, l->nbufs + n);
	l->nbufs += add;
}

/*
 * Keep n bytes at p in fd's pending echo: before what is there (the rest
 * of a short send) or after it (an arrival).  -1 when out of memory.
 */
static int
keep(int fd, const char *p, uint32_t n, int before)
{
	struct conn *c = &conns[fd];
	uint32_t have = c->len - c->off;
	char *q;

	if (!before && c->off == 0) {
		/* Appending: large blocks grow in place (mremap). */
		if ((q = realloc(c->pending, (size_t)have + n)) == NULL)
			return -1;
		memcpy(q + have, p, n);
	} else {
		if ((q = malloc((size_t)have + n)) == NULL)
			return -1;
		if (have > 0)
			memcpy(q + (before ? n : 0), c->pending + c->off,
			    have);
		memcpy(q + (before ? 0 : have), p, n);
		free(c->pending);
	}
	c->pending = q;
	c->off = 0;
	c->len = have + n;
	return 0;
}

/*
 * The end of a connection: its slot is free and its descriptor closed.
 * Only here, once nothing of it is left in the kernel.
 */
static void
conn_free(int fd)
{
	struct conn *c = &conns[fd];

	/* Echo counted when it was read but never sent is taken back. */
	if (c->pending != NULL)
		count_add(&counters->bytes, -(long)(c->len - c->off));
	free(c->pending);
	c->pending = NULL;
	c->off = c->len = 0;
	c->active_ms = 0;
	c->req = REQ_NONE;
	c->recv = RECV_OFF;
	c->closing = 0;
	c->streaming = 0;
	/* Cleared before close(2), released: as in model_epoll.c. */
	atomic_store_explicit(&c->owner, NULL, memory_order_release);
	conn_closed();
	close(fd);
}

/*
 * What fd does next, after any of its completions.  Closing, it is freed
 * once nothing of it is in the kernel.  Else kept echo goes out, one send
 * at a time, and reading resumes once all of it has.
 */
static void
conn_next(struct loop *l, int fd)
{
	struct conn *c = &conns[fd];

	if (c->closing) {
		if (c->req == REQ_NONE && c->recv == RECV_OFF)
			conn_free(fd);
		return;
	}
	if (c->req != REQ_NONE)
		return;
	if (c->pending != NULL)
		arm_send(l, fd, c->pending + c->off, c->len - c->off, 0,
		    REQ_SEND_PENDING);
	else if (c->recv == RECV_OFF)
		arm_recv(l, fd);
}

/* Close now, or once what is in flight has been cancelled. */
static void
conn_close(struct loop *l, int fd)
{
	struct conn *c = &conns[fd];

	if (c->closing)
		return;
	c->closing = 1;
	/* A starved one is freed when the queue reaches it. */
	recv_stop(l, fd);
	if (c->req != REQ_NONE)
		cancel(l, c->req, fd);
	conn_next(l, fd);
}

/* A read or write failed: a reset, whatever the error. */
static void
conn_reset(struct loop *l, int fd)
{
	count(&counters->resets);
	conn_close(l, fd);
}

static void
conn_open(struct loop *l, int fd)
{
	struct conn *c = &conns[fd];

	/* Pairs with the release in conn_free of the last owner. */
	(void)atomic_load_explicit(&c->owner, memory_order_acquire);
	c->active_ms = l->now_ms;
	atomic_store_explicit(&c->owner, l, memory_order_relaxed);
	arm_recv(l, fd);
}

/*
 * The kernel accepted (res is the descriptor) or failed (-errno); net.c
 * counts the failures as for every model.  The next accept is armed at
 * once, or, when the server is short of descriptors or memory, after
 * net.c's backoff, since at once would spin.
 */
static void
on_accept(struct loop *l, int res)
{
	int fd;

	if ((fd = net_accepted(res, (int)nconns, &l->pause_ms)) != -1 &&
	    conn_admit(l->srv, fd) == 0)
		conn_open(l, fd);
	if (l->pause_ms != 0)
		arm_timer(l, &l->pause_ts, l->pause_ms, REQ_RESUME);
	else
		arm_accept(l);
}

/* -d: wait on a timeout with the n bytes just read kept in pending. */
static int
wait_delay(struct loop *l, int fd, const char *p, uint32_t n)
{
	struct io_uring_sqe *sqe;

	if (keep(fd, p, n, 0) == -1)
		return -1;
	sqe = get_sqe(l);
	io_uring_prep_timeout(sqe, &l->delay_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, udata(REQ_DELAY, fd));
	conns[fd].req = REQ_DELAY;
	request_waiting(1);
	return 0;
}

/*
 * n bytes arrived in buffer bid: echo them from there, or wait first.
 * While the last echo is still going out (or waiting), they are kept
 * after it and reading stops until all has gone: the receive is stopped
 * only then, so one arrival, or the few the kernel had already received,
 * may be kept.  They join that echo and its -d wait.
 */
static void
on_data(struct loop *l, int fd, unsigned bid, uint32_t n)
{
	struct conn *c = &conns[fd];
	int kept;

	c->active_ms = l->now_ms;
	request_work();
	if (c->req != REQ_NONE || c->pending != NULL) {
		/* It sends without waiting for its echo: see arm_recv. */
		c->streaming = 1;
		kept = keep(fd, buf_addr(l, bid), n, 0);
		/* Counted before the send, except what waits for -d. */
		if (kept == 0 && c->req != REQ_DELAY)
			count_add(&counters->bytes, n);
		recv_stop(l, fd);
	} else if (request_delay_us() > 0)
		kept = wait_delay(l, fd, buf_addr(l, bid), n);
	else {
		/* Counted before the send, as in every model; see on_send. */
		count_add(&counters->bytes, n);
		c->bid = (uint16_t)bid;
		c->slen = n;
		/* Without waiting: a full socket must not hold the buffer. */
		arm_send(l, fd, buf_addr(l, bid), n, MSG_DONTWAIT, REQ_SEND);
		return;
	}
	buf_give(l, bid);
	/* Out of memory: ended, but not a reset, as in on_send. */
	if (kept == -1)
		conn_close(l, fd);
}

/* The receive's completions: data, its end, or an error. */
static void
on_recv(struct loop *l, int fd, int res, unsigned flags)
{
	struct conn *c = &conns[fd];
	unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;

	if (!(flags & IORING_CQE_F_MORE))
		c->recv = RECV_OFF;
	if (res > 0 && !c->closing) {
		on_data(l, fd, bid, (uint32_t)res);
		return;
	}
	if (flags & IORING_CQE_F_BUFFER)
		buf_give(l, bid);
	if (c->closing || res == -ECANCELED || res == -EINTR ||
	    res == -EAGAIN)
		conn_next(l, fd);
	else if (res == -ENOBUFS && c->req == REQ_NONE && c->pending == NULL) {
		/* All buffers are out: wait in line for one given back. */
		c->recv = RECV_STARVED;
		c->next_starved = -1;
		if (l->starved_tail == -1)
			l->starved_head = fd;
		else
			conns[l->starved_tail].next_starved = fd;
		l->starved_tail = fd;
		l->nobufs = 1;
	} else if (res == -ENOBUFS)
		;	/* received again once the echo has gone: conn_next */
	else if (res == 0 && c->req == REQ_NONE && c->pending == NULL)
		/* EOF, with everything read echoed. */
		conn_close(l, fd);
	else if (res < 0)
		conn_reset(l, fd);
	/* EOF with echo still going out: received again after it. */
}

/* A send of the echo from a ring buffer completed. */
static void
on_send(struct loop *l, int fd, int res)
{
	struct conn *c = &conns[fd];
	int failed = res < 0 && res != -EAGAIN, kept = 0;
	uint32_t sent = res > 0 ? (uint32_t)res : 0, rest = c->slen - sent;

	c->req = REQ_NONE;
	if (sent > 0)
		c->active_ms = l->now_ms;
	if (rest > 0 && !c->closing && !failed) {
		/* The peer is slow: keep the rest first, stop reading. */
		kept = keep(fd, buf_addr(l, c->bid) + sent, rest, 1);
		recv_stop(l, fd);
	}
	/* Echo counted when it was read but not sent is taken back. */
	if (rest > 0 && (c->closing || failed || kept == -1))
		count_add(&counters->bytes, -(long)rest);
	buf_give(l, c->bid);
	if (failed && !c->closing)
		conn_reset(l, fd);
	else if (kept == -1)
		/* Out of memory: the peer did nothing wrong (as epoll). */
		conn_close(l, fd);
	else
		conn_next(l, fd);
}

/* A -d wait is over, or was cancelled: send what was kept. */
static void
on_delay(struct loop *l, int fd)
{
	struct conn *c = &conns[fd];

	c->req = REQ_NONE;
	request_waiting(-1);
	if (c->closing) {
		/* Never counted, so not taken back in conn_free. */
		free(c->pending);
		c->pending = NULL;
		c->off = c->len = 0;
	} else {
		count_add(&counters->bytes, (long)(c->len - c->off));
		/* The wait was the server's; the idle clock starts again. */
		c->active_ms = l->now_ms;
	}
	/* A reset during the wait shows at the send, as in evconn.c. */
	conn_next(l, fd);
}

/* A send of kept echo completed: more of it, or read again. */
static void
on_send_pending(struct loop *l, int fd, int res)
{
	struct conn *c = &conns[fd];

	c->req = REQ_NONE;
	if (res > 0) {
		c->off += (uint32_t)res;
		c->active_ms = l->now_ms;
	}
	if (!c->closing && res < 0 && res != -EAGAIN && res != -EINTR) {
		conn_reset(l, fd);
		return;
	}
	if (!c->closing && c->off == c->len) {
		free(c->pending);
		c->pending = NULL;
		c->off = c->len = 0;
	}
	conn_next(l, fd);
}

/*
 * After a batch: one starved connection receives again for each buffer
 * given back, and an empty ring that starved someone grows once.
 */
static void
feed_starved(struct loop *l)
{
	struct conn *c;
	int fd;

	if (l->nobufs && l->nbufs < BUFS_MAX)
		bufs_grow(l);
	l->nobufs = 0;
	while (l->freed > 0 && (fd = l->starved_head) != -1) {
		c = &conns[fd];
		if ((l->starved_head = c->next_starved) == -1)
			l->starved_tail = -1;
		c->recv = RECV_OFF;
		if (!c->closing)
			l->freed--;
		conn_next(l, fd);
	}
	l->freed = 0;
}

/*
 * Close this loop's connections that have been idle longer than -t.  One
 * on its -d timeout is not idle: the wait is the server's, not the peer's.
 */
static void
sweep_idle(struct loop *l)
{
	long limit = l->srv->idle_timeout * 1000L;
	size_t fd;

	for (fd = 0; fd < nconns; fd++)
		if (atomic_load_explicit(&conns[fd].owner,
		    memory_order_relaxed) == l && !conns[fd].closing &&
		    conns[fd].req != REQ_DELAY &&
		    l->now_ms - conns[fd].active_ms > limit) {
			count(&counters->timeouts);
			conn_close(l, (int)fd);
		}
	arm_timer(l, &l->sweep_ts, SWEEP_MS, REQ_SWEEP);
}

static void
on_cqe(struct loop *l, const struct io_uring_cqe *cqe)
{
	enum req r = (enum req)(cqe->user_data >> 32);
	int fd = (int)(uint32_t)cqe->user_data;

	switch (r) {
	case REQ_ACCEPT:
		on_accept(l, cqe->res);
		break;
	case REQ_RECV:
		on_recv(l, fd, cqe->res, cqe->flags);
		break;
	case REQ_SEND:
		on_send(l, fd, cqe->res);
		break;
	case REQ_SEND_PENDING:
		on_send_pending(l, fd, cqe->res);
		break;
	case REQ_DELAY:
		/* -ETIME when it fires, -ECANCELED when closing ended it. */
		on_delay(l, fd);
		break;
	case REQ_SWEEP:
		sweep_idle(l);
		break;
	case REQ_RESUME:
		arm_accept(l);
		break;
	default:
		/* REQ_CANCEL: the cancelled request reports for itself. */
		break;
	}
}

/*
 * Flags for a ring, best first: one thread submits and completions wait
 * for it (6.1), completions run only when it enters (5.19).
 */
static const unsigned ring_flags[] = {
	IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
	    IORING_SETUP_DEFER_TASKRUN,
	IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
};

/* Returns 0 or -errno; EINVAL means a kernel older than 5.19. */
static int
ring_init(struct io_uring *ring)
{
	struct io_uring_params p;
	size_t i;
	int e = -EINVAL;

	for (i = 0; i < sizeof(ring_flags) / sizeof(ring_flags[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = ring_flags[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = CQ_ENTRIES;
		if ((e = io_uring_queue_init_params(SQ_ENTRIES, ring, &p)) !=
		    -EINVAL)
			break;
	}
	return e;
}

/* Register a provided-buffer ring of n entries; returns it or NULL. */
static struct io_uring_buf_ring *
bufring_init(struct io_uring *ring, unsigned n, int *e)
{
	struct io_uring_buf_reg reg;
	void *br;

	br = mmap(NULL, n * sizeof(struct io_uring_buf), PROT_READ |
	    PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED) {
		*e = -errno;
		return NULL;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uintptr_t)br;
	reg.ring_entries = n;
	reg.bgid = BGID;
	/* liburing 2.3 has no io_uring_setup_buf_ring: the two steps. */
	if ((*e = io_uring_register_buf_ring(ring, &reg, 0)) != 0) {
		munmap(br, n * sizeof(struct io_uring_buf));
		return NULL;
	}
	io_uring_buf_ring_init(br);
	return br;
}

static long
sysctl_value(const char *path)
{
	FILE *fp;
	long v = -1;

	if ((fp = fopen(path, "re")) != NULL) {
		if (fscanf(fp, "%ld", &v) != 1)
			v = -1;
		fclose(fp);
	}
	return v;
}

static void __attribute__((noreturn))
setup_failed(int e)
{
	long disabled = sysctl_value("/proc/sys/kernel/io_uring_disabled");

	if (e == -EPERM && disabled == 2)
		errx(1, "-M uring: io_uring is disabled on this machine "
		    "(kernel.io_uring_disabled = 2)");
	if (e == -EPERM && disabled == 1)
		errx(1, "-M uring: io_uring is disabled for this user "
		    "(kernel.io_uring_disabled = 1 allows only root and "
		    "kernel.io_uring_group)");
	if (e == -EPERM)
		errx(1, "-M uring: io_uring is not permitted here: a seccomp "
		    "filter or security policy forbids it (io_uring_setup: %s)",
		    strerror(-e));
	if (e == -ENOSYS)
		errx(1, "-M uring: io_uring is not available: this kernel has "
		    "none, or a seccomp filter hides it (io_uring_setup: %s)",
		    strerror(-e));
	if (e == -EINVAL)
		errx(1, "-M uring: this kernel's io_uring is too old "
		    "(io_uring_setup: %s; needs Linux 5.19 or later)",
		    strerror(-e));
	errx(1, "-M uring: cannot set up io_uring (io_uring_setup: %s)",
	    strerror(-e));
}

static void __attribute__((noreturn))
bufring_failed(int e)
{
	errx(1, "-M uring: this kernel's io_uring has no provided-buffer "
	    "rings (io_uring_register: %s; needs Linux 5.19 or later)",
	    strerror(-e));
}

/*
 * Multishot receive came in Linux 6.0, after buffer rings: a receive on a
 * socket pair with a byte waiting and a ring with no buffers ends with
 * ENOBUFS where it exists, EINVAL where it does not.
 */
static void
recv_multishot_check(struct io_uring *ring)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int sv[2], e;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		err(1, "-M uring: socketpair");
	if (write(sv[1], "x", 1) != 1)
		err(1, "-M uring: socketpair");
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	if ((e = io_uring_submit_and_wait(ring, 1)) >= 0 &&
	    (e = io_uring_peek_cqe(ring, &cqe)) == 0) {
		e = cqe->res;
		io_uring_cqe_seen(ring, cqe);
	}
	if (e == -EINVAL)
		errx(1, "-M uring: this kernel's io_uring has no multishot "
		    "receive (needs Linux 6.0 or later)");
	close(sv[0]);
	close(sv[1]);
}

/*
 * Before anything listens: a machine where io_uring is disabled, filtered
 * or too old fails here with one line, and -P spawns no process for it.
 */
void
model_uring_check(void)
{
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	int e;

	if ((e = ring_init(&ring)) != 0)
		setup_failed(e);
	if ((br = bufring_init(&ring, 8, &e)) == NULL)
		bufring_failed(e);
	recv_multishot_check(&ring);
	io_uring_unregister_buf_ring(&ring, BGID);
	munmap(br, 8 * sizeof(struct io_uring_buf));
	io_uring_queue_exit(&ring);
}

static void *
run_loop(void *arg)
{
	struct loop *l = arg;
	struct io_uring_cqe *cqe;
	unsigned head, n;
	int e;

	/* Here, in the loop's thread: the ring has a single issuer. */
	if ((e = ring_init(&l->ring)) != 0)
		setup_failed(e);
	if ((l->br = bufring_init(&l->ring, BUFS_MAX, &e)) == NULL)
		bufring_failed(e);
	bufs_grow(l);
	l->delay_ts.tv_sec = request_delay_us() / 1000000;
	l->delay_ts.tv_nsec = request_delay_us() % 1000000 * 1000;
	l->now_ms = now_ms();
	arm_accept(l);
	if (l->srv->idle_timeout > 0)
		arm_timer(l, &l->sweep_ts, SWEEP_MS, REQ_SWEEP);
	for (;;) {
		e = io_uring_submit_and_wait(&l->ring, 1);
		if (e < 0 && e != -EINTR && e != -EAGAIN && e != -EBUSY)
			errc(1, -e, "io_uring_submit_and_wait");
		l->now_ms = now_ms();
		n = 0;
		io_uring_for_each_cqe(&l->ring, head, cqe) {
			on_cqe(l, cqe);
			n++;
		}
		io_uring_cq_advance(&l->ring, n);
		feed_starved(l);
	}
	return NULL;
}

void
model_uring(struct server *srv)
{
	struct loop *l;
	pthread_t t;
	int i, e;

	nconns = srv->fd_limit;
	if ((conns = calloc(nconns, sizeof(*conns))) == NULL)
		err(1, "connection table");
	for (i = 0; i < srv->workers; i++) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			err(1, "event loop");
		l->srv = srv;
		l->starved_head = l->starved_tail = -1;
		/* Address space only: pages come as buffers are used. */
		l->bufs = mmap(NULL, (size_t)BUFS_MAX * BUF_SIZE, PROT_READ |
		    PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (l->bufs == MAP_FAILED)
			err(1, "receive buffers");
		if (i == srv->workers - 1)
			run_loop(l);
		if ((e = pthread_create(&t, NULL, run_loop, l)) != 0)
			errc(1, e, "event loop %d of %d", i + 1, srv->workers);
	}
}
