/*
 * core/net.c - the listening socket and a patient accept(2).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

static void
sockaddr_name(const struct sockaddr *sa, char *name, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	const void *a;
	int port;

	if (sa->sa_family == AF_INET6) {
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	} else {
		a = &((const struct sockaddr_in *)sa)->sin_addr;
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	}
	if (inet_ntop(sa->sa_family, a, host, sizeof(host)) == NULL)
		strlcpy(host, "?", sizeof(host));
	snprintf(name, len, sa->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d",
	    host, port);
}

static int
is_loopback(const struct sockaddr *sa)
{
	const struct in6_addr *a6;

	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr)
		    >> 24) == 127;
	a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	return IN6_IS_ADDR_LOOPBACK(a6) || (IN6_IS_ADDR_V4MAPPED(a6) &&
	    a6->s6_addr[12] == 127);
}

/*
 * Bind and listen on host:port.  Returns the socket and writes the bound
 * address (with the port the kernel chose for port 0) into name.  Any
 * failure is fatal with one line that names the address.
 */
int
net_listen(const char *host, const char *port, int backlog, char *name,
    size_t namelen)
{
	struct addrinfo hints, *res;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd, on = 1, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		errx(1, "address %s: %s", host, gai_strerror(e));
	if ((fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
	    res->ai_protocol)) == -1)
		err(1, "socket");
	/* Restarting right after a run must not wait for TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		err(1, "setsockopt SO_REUSEADDR");
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
		sockaddr_name(res->ai_addr, name, namelen);
		err(1, "bind %s", name);
	}
	freeaddrinfo(res);
	if (listen(fd, backlog) == -1)
		err(1, "listen");
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1)
		err(1, "getsockname");
	sockaddr_name((struct sockaddr *)&ss, name, namelen);
	if (!is_loopback((struct sockaddr *)&ss))
		warnx("warning: %s is not a loopback address: anyone who can "
		    "reach it can connect and hold threads", name);
	return fd;
}

/*
 * What a failed accept(2) means.  Every failure but these three is
 * counted as an accept error:
 *   EAGAIN        no connection is waiting (non-blocking sockets only);
 *   EINTR         a signal came first;
 *   ECONNABORTED  the peer gave up while queued: no server could take it,
 *                 and Go's runtime retries it silently, so counting it
 *                 here would make the same event count differently.
 * Of the counted ones, those that concern one handshake (Linux passes a
 * pending network error on the new socket to accept) are retried at
 * once; the rest (EMFILE, ENFILE, ENOBUFS, ENOMEM, the unexpected) mean
 * the server is short of something, and it backs off.
 */
enum accept_failure { ACCEPT_EMPTY, ACCEPT_AGAIN, ACCEPT_SHORT };

static enum accept_failure
accept_failed(int e)
{
	switch (e) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
		return ACCEPT_EMPTY;
	case EINTR:
	case ECONNABORTED:
		return ACCEPT_AGAIN;
	}
	count(&counters->accept_errors);
	switch (e) {
	case EPROTO:
	case EPERM:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
		return ACCEPT_AGAIN;
	default:
		return ACCEPT_SHORT;
	}
}

#define BACKOFF_FIRST_MS	10
#define BACKOFF_MAX_MS		1000

/*
 * How long to wait after the server found itself short, the first time
 * and then doubling: waiting for descriptors to free up costs almost no
 * CPU, and every model, blocking or not, fails (and counts) at the same
 * pace, as the Go server does too.
 */
static long
backoff(long *ms)
{
	*ms = *ms == 0 ? BACKOFF_FIRST_MS : *ms * 2;
	if (*ms > BACKOFF_MAX_MS)
		*ms = BACKOFF_MAX_MS;
	return *ms;
}

/*
 * Accept one connection, waiting out every error: a server that exits
 * or spins on EMFILE is the failure this kit exists to avoid.
 */
int
net_accept(int lfd)
{
	struct timespec ts;
	long wait_ms = 0;
	int fd;

	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1)
			return fd;
		if (accept_failed(errno) != ACCEPT_SHORT)
			continue;
		backoff(&wait_ms);
		ts.tv_sec = wait_ms / 1000;
		ts.tv_nsec = (wait_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
}

/* What an event loop's accept ends with; see net_accept_nb. */
static int
accept_end(int fd, enum accept_failure f, int maxfd, long *pause_ms)
{
	if (fd == -1) {
		if (f == ACCEPT_SHORT)
			backoff(pause_ms);
		else
			*pause_ms = 0;
		return -1;
	}
	if (fd >= maxfd) {
		close(fd);
		count(&counters->accept_errors);
		backoff(pause_ms);
		return -1;
	}
	*pause_ms = 0;
	return fd;
}

/*
 * Accept one connection from a non-blocking listening socket, for the
 * event-loop models.  Returns the descriptor, or -1 when there is none to
 * take now.  Then *pause_ms is 0 if the queue is empty, or how long to
 * stop watching the socket if the server is short: the socket stays
 * readable, and watching it would spin.  Each caller keeps its own
 * *pause_ms; a connection taken resets it.
 *
 * A descriptor at or beyond maxfd has no room in the caller's table (only
 * a limit raised while the server runs can make one): it is closed and
 * counted as an accept error, like any other lack of room.
 */
int
net_accept_nb(int lfd, int maxfd, long *pause_ms)
{
	enum accept_failure f = ACCEPT_EMPTY;
	int fd;

	while ((fd = accept4(lfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1 &&
	    (f = accept_failed(errno)) == ACCEPT_AGAIN)
		;
	return accept_end(fd, f, maxfd, pause_ms);
}

/*
 * The same for an accept that the kernel completed for the caller
 * (io_uring): res is the descriptor or -errno.  A failure that concerns
 * one handshake returns -1 with *pause_ms 0, like an empty queue.
 */
int
net_accepted(int res, int maxfd, long *pause_ms)
{
	if (res >= 0)
		return accept_end(res, ACCEPT_EMPTY, maxfd, pause_ms);
	return accept_end(-1, accept_failed(-res), maxfd, pause_ms);
}

/*
 * Per-connection socket options.  Go sets TCP_NODELAY on every
 * connection; the C server does too, so the comparison is like for like.
 * An idle timeout bounds both directions: a peer that sends nothing and a
 * peer that never reads its echo each hold a thread for at most that long.
 */
void
net_configure(int fd, int timeout)
{
	struct timeval tv = { timeout, 0 };
	int on = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (timeout > 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
}
