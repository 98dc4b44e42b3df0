/*
 * core/loops.c - starting a model's -w event loops: each in a thread of
 * its own but the last, which runs in the calling thread, so that -w 1
 * costs no thread beyond the one that set it up.
 */
#include <err.h>
#include <pthread.h>

#include "loops.h"

/*
 * Make loop i of srv->workers with make(srv, i) and run it with run.
 * Each loop is made just before it starts, in the order of i.
 */
void
loops_run(struct server *srv, void *(*make)(struct server *, int),
    loop_fn run)
{
	pthread_t t;
	int i, e;

	for (i = 0; i < srv->workers - 1; i++)
		if ((e = pthread_create(&t, NULL, run, make(srv, i))) != 0)
			errc(1, e, "event loop %d of %d", i + 1, srv->workers);
	run(make(srv, srv->workers - 1));
}
