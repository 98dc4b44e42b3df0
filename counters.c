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
	long now;

	now = count_add(&counters->now, 1);
	if (srv->max_conns > 0 && now > srv->max_conns) {
		count_add(&counters->now, -1);
		count(&counters->over_cap);
		close(fd);
		return -1;
	}
	count(&counters->total);
	net_configure(fd, srv->idle_timeout);
	count_max(&counters->max_conc, now);
	return 0;
}

void
conn_closed(void)
{
	count_add(&counters->now, -1);
}
