/*
 * counters.c - the server's connection counters.
 */
#include <sys/mman.h>

#include <err.h>

#include "kit.h"

struct counters *counters;
atomic_int server_stopping;

void
counters_init(void)
{
	/* Shared, not private: forked workers must add to the same page. */
	counters = mmap(NULL, sizeof(*counters), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counters == MAP_FAILED)
		err(1, "mmap counters");
}

void
conn_opened(void)
{
	long now, max;

	atomic_fetch_add_explicit(&counters->total, 1, memory_order_relaxed);
	now = atomic_fetch_add_explicit(&counters->now, 1,
	    memory_order_relaxed) + 1;
	max = atomic_load_explicit(&counters->max_conc, memory_order_relaxed);
	while (now > max && !atomic_compare_exchange_weak_explicit(
	    &counters->max_conc, &max, now, memory_order_relaxed,
	    memory_order_relaxed))
		;
}

void
conn_closed(void)
{
	atomic_fetch_sub_explicit(&counters->now, 1, memory_order_relaxed);
}
