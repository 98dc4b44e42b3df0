/*
 * counters.c - the server's connection counters.
 */
#include <sys/mman.h>

#include <err.h>
#include <unistd.h>

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

/*
 * Count an accepted connection in, or close it at once when the -c cap is
 * reached.  Counting first and checking after keeps the cap exact when
 * several threads or processes accept at the same time.
 */
int
conn_admit(const struct server *srv, int fd)
{
	long now, max;

	now = atomic_fetch_add_explicit(&counters->now, 1,
	    memory_order_relaxed) + 1;
	if (srv->max_conns > 0 && now > srv->max_conns) {
		atomic_fetch_sub_explicit(&counters->now, 1,
		    memory_order_relaxed);
		atomic_fetch_add_explicit(&counters->over_cap, 1,
		    memory_order_relaxed);
		close(fd);
		return -1;
	}
	atomic_fetch_add_explicit(&counters->total, 1, memory_order_relaxed);
	net_configure(fd, srv->idle_timeout);
	max = atomic_load_explicit(&counters->max_conc, memory_order_relaxed);
	while (now > max && !atomic_compare_exchange_weak_explicit(
	    &counters->max_conc, &max, now, memory_order_relaxed,
	    memory_order_relaxed))
		;
	return 0;
}

void
conn_closed(void)
{
	atomic_fetch_sub_explicit(&counters->now, 1, memory_order_relaxed);
}
