/*
 * core/loops.h - what every event loop shares, whichever kernel interface
 * it waits on (epoll, poll and select through evconn.c, dispatch, and
 * io_uring): how its loops start, and the table of its connections with
 * what each has kept to echo, its -t idle clock and the sweep that closes
 * the idle ones.  One table, one sweep and one way of counting echoed
 * bytes, so that every event loop's figures mean the same.
 */
#ifndef LOOPS_H
#define LOOPS_H

#include <stdint.h>

#include "kit.h"

#define SWEEP_US	(1000 * 1000LL)	/* between two -t sweeps */

/* A loop's body: it serves its connections for good. */
typedef void *(*loop_fn)(void *) __attribute__((noreturn));

/*
 * What every event loop keeps of a connection, indexed by descriptor and
 * shared by all the loops of the process.  A slot passes from one loop to
 * another when the kernel reuses a number, and loops read each other's
 * owners in the -t sweep: owner is atomic so that both are ordered (see
 * slot_close).  The echo kept is counted as echoed, as if being sent,
 * unless it is waiting out its -d.
 */
struct slot {
	_Atomic(const void *) owner;	/* its loop; NULL while free */
	char		*pending;	/* echo kept, in order, not sent yet */
	uint32_t	 off, len;	/* of pending */
	long long	 active_us;	/* last read or write, for -t */
	unsigned char	 waiting;	/* pending is on its -d wait */
};

extern struct slot *slots;	/* nslots of them */
extern size_t nslots;

/* How bytes join a connection's pending echo (slot_keep). */
enum keep {
	KEEP_REST,	/* the rest of a short send, counted: goes first */
	KEEP_MORE,	/* read while an echo is kept: after it, joining it */
	KEEP_WAIT,	/* read, with nothing kept: its -d wait begins */
};

static inline void
slot_touch(int fd, long long now_us)
{
	slots[fd].active_us = now_us;
}

/* loops.c */
void	loops_run(const struct config *,
	    void *(*)(const struct config *, int), loop_fn)
	    __attribute__((noreturn));
size_t	slots_init(const struct config *);
void	slot_open(int, const void *, long long);
const void *slot_owner(int);
int	slot_keep(int, const char *, uint32_t, enum keep);
int	slot_sent(int, uint32_t);
void	slot_wait_end(int, int);
void	slot_close(int);
void	slots_sweep(void *, long long, long long, int (*)(void *, int),
	    void (*)(void *, int));

/* timers.c: the monotonic clock, in microseconds. */
long long timers_now(void);

#endif /* LOOPS_H */
