/*
 * net.c - the listening socket and a patient accept(2).
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
 * Accept one connection, waiting out every error: a server that exits
 * or spins on EMFILE is the failure this kit exists to avoid.  Errors
 * that concern one handshake are retried at once; the rest (a full
 * descriptor table, no memory) back off from 10 ms doubling to 1 s, so
 * waiting for descriptors to free up costs almost no CPU.
 */
int
net_accept(int lfd)
{
	struct timespec ts;
	long wait_ms = 10;
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd != -1)
			return fd;
		if (errno == EINTR)
			continue;
		count(&counters->accept_errors);
		switch (errno) {
		case ECONNABORTED:
		case EPROTO:
		case EPERM:
			/* That handshake failed; the next one may not. */
			break;
		default:
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM and the unexpected. */
			ts.tv_sec = wait_ms / 1000;
			ts.tv_nsec = (wait_ms % 1000) * 1000000L;
			nanosleep(&ts, NULL);
			if ((wait_ms *= 2) > 1000)
				wait_ms = 1000;
			break;
		}
	}
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
