/*
 * counters.c - the server's connection counters.
 */
#include <sys/mman.h>

#include <err.h>
#include <errno.h>
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

/*
 * A read or write on a connection failed with e, and the connection ends
 * here.  EAGAIN is -t: SO_RCVTIMEO and SO_SNDTIMEO expire as EAGAIN (an
 * event loop never passes it, having nothing to wait for).  Any other
 * error is the peer resetting the connection or vanishing, whatever the
 * errno: ECONNRESET, EPIPE, ETIMEDOUT, EHOSTUNREACH.
 */
void
conn_failed(int e)
{
	count(e == EAGAIN || e == EWOULDBLOCK ? &counters->timeouts :
	    &counters->resets);
}

void
conn_closed(void)
{
	count_add(&counters->now, -1);
}
