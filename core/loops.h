/*
 * core/loops.h - what every event loop shares, whichever kernel interface
 * it waits on: epoll and poll (through evconn.c), and io_uring.
 */
#ifndef LOOPS_H
#define LOOPS_H

#include "kit.h"

/* A loop's body: it serves its connections for good. */
typedef void *(*loop_fn)(void *) __attribute__((noreturn));

/* loops.c */
void	loops_run(const struct config *,
	    void *(*)(const struct config *, int), loop_fn)
	    __attribute__((noreturn));

#endif /* LOOPS_H */
