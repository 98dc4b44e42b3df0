/*
 * models/uring/conn.c - a connection of the io_uring model: the requests
 * it submits, the ring buffers it takes and gives back, and its end.  The
 * echo it keeps is in its slot (core/loops.c); the completions that drive
 * it are handled in uring.c.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>

#include "uring.h"

struct conn *uring_conns;

/* A free submission slot; a full queue is submitted to make room. */
struct io_uring_sqe *
uring_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe;
	int e;

	while ((sqe = io_uring_get_sqe(&l->ring)) == NULL)
		if ((e = io_uring_submit(&l->ring)) < 0 && e != -EINTR &&
		    e != -EAGAIN && e != -EBUSY)
			errc(1, -e, "io_uring_submit");
	return sqe;
}

void
uring_arm_accept(struct loop *l)
{
	struct io_uring_sqe *sqe = uring_sqe(l);

	/*
	 * One connection per accept, armed again after each.  A multishot
	 * accept stays first in the listening socket's queue of exclusive
	 * waiters, so the kernel would give every connection to one loop
	 * (and with -P to one process, up to its descriptor limit); armed
	 * again, an accept joins the end of the queue and the loops take
	 * turns.  Blocking sockets: io_uring never blocks on them, it polls.
	 */
	io_uring_prep_accept(sqe, l->cfg->lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, udata(REQ_ACCEPT, l->cfg->lfd));
}

void
uring_arm_timer(struct loop *l, struct __kernel_timespec *ts, long ms,
    enum req r)
{
	struct io_uring_sqe *sqe = uring_sqe(l);

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
	struct io_uring_sqe *sqe = uring_sqe(l);

	if (uring_conns[fd].streaming)
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
	uring_conns[fd].recv = RECV_ON;
}

void
uring_arm_send(struct loop *l, int fd, const char *p, size_t len, int flags,
    enum req r)
{
	struct io_uring_sqe *sqe = uring_sqe(l);

	io_uring_prep_send(sqe, fd, p, len, MSG_NOSIGNAL | flags);
	io_uring_sqe_set_data64(sqe, udata(r, fd));
	uring_conns[fd].req = r;
}

/* Cancel fd's request r; it reports its own end (-ECANCELED or other). */
static void
cancel(struct loop *l, enum req r, int fd)
{
	struct io_uring_sqe *sqe = uring_sqe(l);

	io_uring_prep_cancel64(sqe, udata(r, fd), 0);
	io_uring_sqe_set_data64(sqe, udata(REQ_CANCEL, fd));
	/* Not found or already done: its own completion tells. */
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/* Stop reading fd: its receive ends, with -ECANCELED or on its own. */
void
uring_recv_stop(struct loop *l, int fd)
{
	if (uring_conns[fd].recv != RECV_ON)
		return;
	cancel(l, REQ_RECV, fd);
	uring_conns[fd].recv = RECV_STOPPING;
}

void
uring_buf_give(struct loop *l, unsigned bid)
{
	io_uring_buf_ring_add(l->br, buf_addr(l, bid), BUF_SIZE, bid,
	    io_uring_buf_ring_mask(BUFS_MAX), 0);
	io_uring_buf_ring_advance(l->br, 1);
	l->freed++;
}

/* Give the ring more buffers: BUFS_START, then double, up to BUFS_MAX. */
void
uring_bufs_grow(struct loop *l)
{
	unsigned n, add = l->nbufs == 0 ? BUFS_START : l->nbufs;

	if (add > BUFS_MAX - l->nbufs)
		add = BUFS_MAX - l->nbufs;
	for (n = 0; n < add; n++)
		uring_buf_give(l, l->nbufs + n);
	l->nbufs += add;
}

/*
 * The end of a connection: its slot is free and its descriptor closed.
 * Only here, once nothing of it is left in the kernel.
 */
static void
conn_free(int fd)
{
	struct conn *c = &uring_conns[fd];

	c->req = REQ_NONE;
	c->recv = RECV_OFF;
	c->closing = 0;
	c->streaming = 0;
	slot_close(fd);
}

/*
 * What fd does next, after any of its completions.  Closing, it is freed
 * once nothing of it is in the kernel.  Else kept echo goes out, one send
 * at a time, and reading resumes once all of it has.
 */
void
uring_conn_next(struct loop *l, int fd)
{
	struct conn *c = &uring_conns[fd];

	if (c->closing) {
		if (c->req == REQ_NONE && c->recv == RECV_OFF)
			conn_free(fd);
		return;
	}
	if (c->req != REQ_NONE)
		return;
	if (slots[fd].pending != NULL)
		uring_arm_send(l, fd, slots[fd].pending + slots[fd].off,
		    slots[fd].len - slots[fd].off, 0, REQ_SEND_PENDING);
	else if (c->recv == RECV_OFF)
		arm_recv(l, fd);
}

/* Close now, or once what is in flight has been cancelled. */
void
uring_conn_close(struct loop *l, int fd)
{
	struct conn *c = &uring_conns[fd];

	if (c->closing)
		return;
	c->closing = 1;
	/* A starved one is freed when the queue reaches it. */
	uring_recv_stop(l, fd);
	if (c->req != REQ_NONE)
		cancel(l, c->req, fd);
	uring_conn_next(l, fd);
}

/* A read or write failed with res, -errno: counted as every model does. */
void
uring_conn_reset(struct loop *l, int fd, int res)
{
	conn_failed(-res);
	uring_conn_close(l, fd);
}

void
uring_conn_open(struct loop *l, int fd)
{
	slot_open(fd, l, l->now_us);
	arm_recv(l, fd);
}
