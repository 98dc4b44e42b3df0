/*
 * core/counters.c - the server's connection counters.
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
 * Count an accepted connection in, or close it at once when the -c cap or
 * the memory budget is reached; the smaller of the two refuses first.
 * Counting first and checking after keeps both exact when several
 * threads or processes accept at the same time.  The memory in use is
 * checked before the count: a connection refused for it must not count
 * in, even for a moment, or another admitted meanwhile would see a peak
 * that never was.
 */
int
conn_admit(const struct config *cfg, int fd)
{
	atomic_long *refused = NULL;
	long now;

	if (membudget_full()) {
		count(&counters->over_budget);
		close(fd);
		return -1;
	}
	now = count_add(&counters->now, 1);
	if (cfg->max_conns > 0 && now > cfg->max_conns)
		refused = &counters->over_cap;
	else if (membudget_over(now))
		refused = &counters->over_budget;
	if (refused != NULL) {
		count_add(&counters->now, -1);
		count(refused);
		close(fd);
		return -1;
	}
	count(&counters->total);
	net_configure(fd, cfg->idle_timeout);
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
