/*
 * models/uring/uring.h - what the files of the io_uring model share: a
 * connection's state, a loop's, and the requests they have in the kernel.
 */
#ifndef URING_H
#define URING_H

#include <liburing.h>
#include <stdint.h>

#include "loops.h"

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
 * What io_uring adds to a connection's slot (loops.h), indexed by
 * descriptor as the slots are.  A connection has at most two requests in
 * the kernel: its receive, and one send or -d timeout (req).
 */
struct conn {
	uint32_t	 slen;		/* length of a REQ_SEND */
	uint16_t	 bid;		/* ring buffer of a REQ_SEND */
	uint8_t		 req;		/* enum req: the send or timeout */
	uint8_t		 recv;		/* enum recv_state */
	uint8_t		 closing;	/* freed once nothing is in flight */
	uint8_t		 streaming;	/* sent before its echo: one-shot */
	int		 next_starved;	/* RECV_STARVED queue, -1 at the end */
};

struct loop {
	const struct config *cfg;
	struct io_uring	 ring;
	struct io_uring_buf_ring *br;
	char		*bufs;		/* BUFS_MAX buffers, touched as used */
	unsigned	 nbufs;		/* given to the ring so far */
	unsigned	 freed;		/* given back during this batch */
	int		 nobufs;	/* a receive found the ring empty */
	int		 starved_head, starved_tail;
	long long	 now_us;	/* at the last wake-up */
	long		 pause_ms;	/* core/net.c's backoff, or 0 */
	/*
	 * The kernel reads a timeout's timespec when it is submitted.  -d
	 * is the same for every request, so one delay_ts serves them all.
	 */
	struct __kernel_timespec sweep_ts, pause_ts, delay_ts;
};

/* Indexed by descriptor, nslots long (conn.c). */
extern struct conn *uring_conns;

static inline uint64_t
udata(enum req r, int fd)
{
	return (uint64_t)r << 32 | (uint32_t)fd;
}

static inline char *
buf_addr(struct loop *l, unsigned bid)
{
	return l->bufs + (size_t)bid * BUF_SIZE;
}

/* conn.c: a connection's requests, buffers and state. */
struct io_uring_sqe *uring_sqe(struct loop *);
void	uring_arm_accept(struct loop *);
void	uring_arm_timer(struct loop *, struct __kernel_timespec *, long,
	    enum req);
void	uring_arm_send(struct loop *, int, const char *, size_t, int,
	    enum req);
void	uring_recv_stop(struct loop *, int);
void	uring_buf_give(struct loop *, unsigned);
void	uring_bufs_grow(struct loop *);
void	uring_conn_next(struct loop *, int);
void	uring_conn_close(struct loop *, int);
void	uring_conn_reset(struct loop *, int, int);
void	uring_conn_open(struct loop *, int);

/* setup.c */
struct io_uring_buf_ring *uring_ring_setup(struct io_uring *, unsigned);

#endif /* URING_H */
