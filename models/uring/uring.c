/*
 * models/uring/uring.c - the io_uring answer to epoll: one ring per event
 * loop, and -w N loops in threads that share the listening socket, taking
 * turns at accepting on it.
 *
 * The echo follows the other event loops' (core/evconn.c) step for step,
 * and keeps what it has to echo, counts its bytes and sweeps -t with
 * theirs (core/loops.c).  Each connection has one multishot receive,
 * armed once: the poll under it stays armed between messages, so a round
 * trip costs one completion for the data and one send, and no submission
 * for the receive (a one-shot receive costs a submission and a poll arm
 * every time).  A receive takes a buffer from the loop's provided-buffer
 * ring only when data has arrived, so an idle connection holds none.  The
 * echo is sent from that buffer without waiting; a send that comes back
 * short keeps the rest per connection (as the other loops keep theirs)
 * and gives the buffer back at once, so no buffer is held across a wait
 * and a few dozen serve thousands of connections.
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
 *
 * This file handles the completions; what a connection submits and holds
 * is in conn.c, setting up a ring in setup.c.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "uring.h"

model_run	model_uring;

#define SWEEP_MS	(SWEEP_US / 1000)

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

	fd = net_accepted(res, (int)nslots, &l->pause_ms);
	if (fd != -1 && conn_admit(l->cfg, fd) == 0)
		uring_conn_open(l, fd);
	if (l->pause_ms != 0)
		uring_arm_timer(l, &l->pause_ts, l->pause_ms, REQ_RESUME);
	else
		uring_arm_accept(l);
}

/* -d: wait on a timeout with the n bytes just read kept in pending. */
static int
wait_delay(struct loop *l, int fd, const char *p, uint32_t n)
{
	struct io_uring_sqe *sqe;

	if (slot_keep(fd, p, n, KEEP_WAIT) == -1)
		return -1;
	sqe = uring_sqe(l);
	io_uring_prep_timeout(sqe, &l->delay_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, udata(REQ_DELAY, fd));
	uring_conns[fd].req = REQ_DELAY;
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
	struct conn *c = &uring_conns[fd];
	int kept;

	slot_touch(fd, l->now_us);
	request_work();
	if (c->req != REQ_NONE || slots[fd].pending != NULL) {
		/* Sends without waiting for its echo: arm_recv, conn.c */
		c->streaming = 1;
		/* Joins the echo kept, and its -d wait if it has one. */
		kept = slot_keep(fd, buf_addr(l, bid), n, KEEP_MORE);
		uring_recv_stop(l, fd);
	} else if (request_delay_us() > 0)
		kept = wait_delay(l, fd, buf_addr(l, bid), n);
	else {
		/* Counted before the send, as in every model; see on_send. */
		echo_counted(n);
		c->bid = (uint16_t)bid;
		c->slen = n;
		/* Without waiting: a full socket must not hold the buffer. */
		uring_arm_send(l, fd, buf_addr(l, bid), n, MSG_DONTWAIT,
		    REQ_SEND);
		return;
	}
	uring_buf_give(l, bid);
	/* Out of memory: ended, but not a reset, as in on_send. */
	if (kept == -1)
		uring_conn_close(l, fd);
}

/* The receive's completions: data, its end, or an error. */
static void
on_recv(struct loop *l, int fd, int res, unsigned flags)
{
	struct conn *c = &uring_conns[fd];
	unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;

	if (!(flags & IORING_CQE_F_MORE))
		c->recv = RECV_OFF;
	if (res > 0 && !c->closing) {
		on_data(l, fd, bid, (uint32_t)res);
		return;
	}
	if (flags & IORING_CQE_F_BUFFER)
		uring_buf_give(l, bid);
	if (c->closing || res == -ECANCELED || res == -EINTR ||
	    res == -EAGAIN)
		uring_conn_next(l, fd);
	else if (res == -ENOBUFS && c->req == REQ_NONE &&
	    slots[fd].pending == NULL) {
		/* All buffers are out: wait in line for one given back. */
		c->recv = RECV_STARVED;
		c->next_starved = -1;
		if (l->starved_tail == -1)
			l->starved_head = fd;
		else
			uring_conns[l->starved_tail].next_starved = fd;
		l->starved_tail = fd;
		l->nobufs = 1;
	} else if (res == -ENOBUFS)
		;	/* received again once the echo has gone (conn_next) */
	else if (res == 0 && c->req == REQ_NONE && slots[fd].pending == NULL)
		/* EOF, with everything read echoed. */
		uring_conn_close(l, fd);
	else if (res < 0)
		uring_conn_reset(l, fd, res);
	/* EOF with echo still going out: received again after it. */
}

/* A send of the echo from a ring buffer completed. */
static void
on_send(struct loop *l, int fd, int res)
{
	struct conn *c = &uring_conns[fd];
	int failed = res < 0 && res != -EAGAIN, kept = 0;
	uint32_t sent = res > 0 ? (uint32_t)res : 0, rest = c->slen - sent;

	c->req = REQ_NONE;
	if (sent > 0)
		slot_touch(fd, l->now_us);
	if (rest > 0 && !c->closing && !failed) {
		/* The peer is slow: keep the rest first, stop reading. */
		kept = slot_keep(fd, buf_addr(l, c->bid) + sent, rest,
		    KEEP_REST);
		uring_recv_stop(l, fd);
	}
	/* Echo counted when it was read but not sent is taken back. */
	if (rest > 0 && (c->closing || failed || kept == -1))
		echo_unsent(rest);
	uring_buf_give(l, c->bid);
	if (failed && !c->closing)
		uring_conn_reset(l, fd, res);
	else if (kept == -1)
		/* Out of memory: the peer did nothing wrong (as epoll). */
		uring_conn_close(l, fd);
	else
		uring_conn_next(l, fd);
}

/* A -d wait is over, or was cancelled: send what was kept. */
static void
on_delay(struct loop *l, int fd)
{
	struct conn *c = &uring_conns[fd];

	c->req = REQ_NONE;
	/* Closing, what was kept is dropped, never having been counted. */
	slot_wait_end(fd, !c->closing);
	/* The wait was the server's; the idle clock starts again. */
	if (!c->closing)
		slot_touch(fd, l->now_us);
	/* A reset during the wait shows at the send, as in core/evconn.c. */
	uring_conn_next(l, fd);
}

/* A send of kept echo completed: more of it, or read again. */
static void
on_send_pending(struct loop *l, int fd, int res)
{
	struct conn *c = &uring_conns[fd];

	c->req = REQ_NONE;
	if (res > 0) {
		/* All of it sent: reading resumes (conn_next). */
		(void)slot_sent(fd, (uint32_t)res);
		slot_touch(fd, l->now_us);
	}
	if (!c->closing && res < 0 && res != -EAGAIN && res != -EINTR) {
		uring_conn_reset(l, fd, res);
		return;
	}
	uring_conn_next(l, fd);
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
		uring_bufs_grow(l);
	l->nobufs = 0;
	while (l->freed > 0 && (fd = l->starved_head) != -1) {
		c = &uring_conns[fd];
		if ((l->starved_head = c->next_starved) == -1)
			l->starved_tail = -1;
		c->recv = RECV_OFF;
		if (!c->closing)
			l->freed--;
		uring_conn_next(l, fd);
	}
	l->freed = 0;
}

/* Closing already: the -t sweep leaves it be. */
static int
closing(void *loop, int fd)
{
	(void)loop;
	return uring_conns[fd].closing;
}

static void
close_idle(void *loop, int fd)
{
	uring_conn_close(loop, fd);
}

/* -t: close this loop's idle connections, and sweep again later. */
static void
sweep_idle(struct loop *l)
{
	slots_sweep(l, l->now_us, l->cfg->idle_timeout * 1000000LL, closing,
	    close_idle);
	uring_arm_timer(l, &l->sweep_ts, SWEEP_MS, REQ_SWEEP);
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
		uring_arm_accept(l);
		break;
	default:
		/* REQ_CANCEL: the cancelled request reports for itself. */
		break;
	}
}

static void * __attribute__((noreturn))
run_loop(void *arg)
{
	struct loop *l = arg;
	struct io_uring_cqe *cqe;
	unsigned head, n;
	int e;

	/* Here, in the loop's thread: the ring has a single issuer. */
	l->br = uring_ring_setup(&l->ring, BUFS_MAX);
	uring_bufs_grow(l);
	l->delay_ts.tv_sec = request_delay_us() / 1000000;
	l->delay_ts.tv_nsec = request_delay_us() % 1000000 * 1000;
	l->now_us = timers_now();
	uring_arm_accept(l);
	if (l->cfg->idle_timeout > 0)
		uring_arm_timer(l, &l->sweep_ts, SWEEP_MS, REQ_SWEEP);
	for (;;) {
		e = io_uring_submit_and_wait(&l->ring, 1);
		if (e < 0 && e != -EINTR && e != -EAGAIN && e != -EBUSY)
			errc(1, -e, "io_uring_submit_and_wait");
		l->now_us = timers_now();
		n = 0;
		io_uring_for_each_cqe(&l->ring, head, cqe) {
			on_cqe(l, cqe);
			n++;
		}
		io_uring_cq_advance(&l->ring, n);
		feed_starved(l);
	}
}

/* The ring itself is set up in the loop's own thread (run_loop). */
static void *
make_loop(const struct config *cfg, int i)
{
	struct loop *l;

	(void)i;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		err(1, "event loop");
	l->cfg = cfg;
	l->starved_head = l->starved_tail = -1;
	/* Address space only: pages come as buffers are used. */
	l->bufs = mmap(NULL, (size_t)BUFS_MAX * BUF_SIZE, PROT_READ |
	    PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->bufs == MAP_FAILED)
		err(1, "receive buffers");
	return l;
}

void __attribute__((noreturn))
model_uring(const struct config *cfg)
{
	if ((uring_conns = calloc(slots_init(cfg), sizeof(*uring_conns))) ==
	    NULL)
		err(1, "connection table");
	loops_run(cfg, make_loop, run_loop);
}
