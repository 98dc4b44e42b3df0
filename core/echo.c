/*
 * core/echo.c - the echo loop every server model shares.
 *
 * Each byte read is written back before the next read, so when the peer
 * half-closes (read returns 0) everything it sent has already been echoed
 * and the connection can simply be closed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "kit.h"

/*
 * Idle and chatty connections use a small buffer on the thread's own
 * stack, so an idle connection costs no heap.  A read that fills it means
 * bulk data: then a large heap buffer cuts the syscalls per byte, if the
 * memory budget has room for it (else the small one goes on).
 */
#define SMALL_BUF	(2 * 1024)
#define LARGE_BUF	(128 * 1024)

/* Write all of p; returns what is left unsent, 0 when all went out. */
static size_t
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	return len;
}

static void
echo_conn(int fd)
{
	char small[SMALL_BUF], *buf = small, *large = NULL;
	size_t cap = sizeof(small), left;
	unsigned long full = 0;		/* full reads of the small buffer */
	ssize_t n;

	for (;;) {
		n = read(fd, buf, cap);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			conn_failed(errno);
			break;
		}
		/* What the request costs: CPU work, then a wait (-W, -d). */
		request_work();
		request_wait();
		echo_counted(n);
		if ((left = write_all(fd, buf, (size_t)n)) > 0) {
			echo_unsent((long)left);
			conn_failed(errno);
			break;
		}
		/*
		 * A refusal is retried at the 2nd, 4th, 8th... full read, not
		 * at every one: each try reads the cgroup's usage.
		 */
		if ((size_t)n != cap || large != NULL)
			continue;
		full++;
		if ((full & (full - 1)) == 0 &&
		    (large = membudget_alloc(LARGE_BUF)) != NULL) {
			buf = large;
			cap = LARGE_BUF;
		}
	}
	membudget_free(large, LARGE_BUF);
}

/* Serve one admitted connection to its end, in the calling thread. */
void
serve_conn(int fd)
{
	/* Until here a new thread or process may not have run at all. */
	count(&counters->serving);
	echo_conn(fd);
	count_add(&counters->serving, -1);
	/*
	 * Counted out before the close: the peer sees EOF only after it, so
	 * a client that connects again finds Now and Max conc exact.
	 */
	conn_closed();
	close(fd);
}
