/*
 * echo.c - the echo loop every server model shares.
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
 * bulk data: then a large heap buffer cuts the syscalls per byte.
 */
#define SMALL_BUF	(2 * 1024)
#define LARGE_BUF	(128 * 1024)

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* SO_RCVTIMEO and SO_SNDTIMEO expire as EAGAIN: that is -t, not a reset. */
static void
count_failure(int e)
{
	count(e == EAGAIN || e == EWOULDBLOCK ? &counters->timeouts :
	    &counters->resets);
}

static void
echo_conn(int fd)
{
	char small[SMALL_BUF], *buf = small, *large = NULL;
	size_t cap = sizeof(small);
	ssize_t n;

	for (;;) {
		n = read(fd, buf, cap);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			count_failure(errno);
			break;
		}
		/*
		 * Counted before the write: a peer that has its echo must
		 * find it in the next report.  A write that fails takes it
		 * back.
		 */
		count_add(&counters->bytes, n);
		if (write_all(fd, buf, (size_t)n) == -1) {
			count_add(&counters->bytes, -n);
			count_failure(errno);
			break;
		}
		if ((size_t)n == cap && large == NULL &&
		    (large = malloc(LARGE_BUF)) != NULL) {
			buf = large;
			cap = LARGE_BUF;
		}
	}
	free(large);
}

/* Serve one admitted connection to its end, in the calling thread. */
void
serve_conn(int fd)
{
	echo_conn(fd);
	/*
	 * Counted out before the close: the peer sees EOF only after it, so
	 * a client that connects again finds Now and Max conc exact.
	 */
	conn_closed();
	close(fd);
}
