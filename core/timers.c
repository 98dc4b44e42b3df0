/*
 * core/timers.c - the event loops' -d timers: a binary min-heap of deadlines.
 *
 * A loop with thousands of connections waiting at once needs the earliest
 * deadline (how long it may sleep) in O(1), and adds and fires one in
 * O(log n), in one array that costs no descriptor: a timerfd per waiting
 * connection would double the descriptors a connection needs.
 */
#include <stdlib.h>
#include <time.h>

#include "evconn.h"

#define FIRST_CAP	64

long long
timers_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void
swap(struct timer *a, struct timer *b)
{
	struct timer t = *a;

	*a = *b;
	*b = t;
}

/* Add a deadline for connection gen on fd; -1 when out of memory. */
int
timers_add(struct timers *t, long long when_us, int fd, unsigned gen)
{
	struct timer *h;
	size_t i, cap;

	if (t->len == t->cap) {
		cap = t->cap == 0 ? FIRST_CAP : t->cap * 2;
		if ((h = reallocarray(t->heap, cap, sizeof(*h))) == NULL)
			return -1;
		t->heap = h;
		t->cap = cap;
	}
	i = t->len++;
	t->heap[i] = (struct timer){ when_us, fd, gen };
	for (; i > 0 && t->heap[(i - 1) / 2].when_us > t->heap[i].when_us;
	    i = (i - 1) / 2)
		swap(&t->heap[i], &t->heap[(i - 1) / 2]);
	return 0;
}

/* The earliest deadline, or -1 when there is none. */
long long
timers_first(const struct timers *t)
{
	return t->len > 0 ? t->heap[0].when_us : -1;
}

/*
 * Take the earliest deadline if it is due at now_us: returns its
 * descriptor and writes its gen, or -1 when none is due.
 */
int
timers_pop(struct timers *t, long long now_us, unsigned *gen)
{
	struct timer due;
	size_t i, c;

	if (t->len == 0 || t->heap[0].when_us > now_us)
		return -1;
	due = t->heap[0];
	t->heap[0] = t->heap[--t->len];
	for (i = 0; (c = 2 * i + 1) < t->len; i = c) {
		if (c + 1 < t->len &&
		    t->heap[c + 1].when_us < t->heap[c].when_us)
			c++;
		if (t->heap[i].when_us <= t->heap[c].when_us)
			break;
		swap(&t->heap[i], &t->heap[c]);
	}
	*gen = due.gen;
	return due.fd;
}
