/*
 * core/loops.c - starting a model's -w event loops: each in a thread of
 * its own but the last, which runs in the calling thread, so that -w 1
 * costs no thread beyond the one that set it up.
 */
#include <err.h>
#include <pthread.h>

#include "loops.h"

/*
 * Make loop i of cfg->workers with make(cfg, i) and run it with run.
 * Each loop is made just before it starts, in the order of i.
 */
void
loops_run(const struct config *cfg,
    void *(*make)(const struct config *, int), loop_fn run)
{
	pthread_t t;
	int i, e;

	for (i = 0; i < cfg->workers - 1; i++)
		if ((e = pthread_create(&t, NULL, run, make(cfg, i))) != 0)
			errc(1, e, "event loop %d of %d", i + 1, cfg->workers);
	run(make(cfg, cfg->workers - 1));
}
