/*
 * models/prefork.c - -w processes created at start, each serving one
 * connection at a time, in the three designs of the preforking slides:
 *   prefork-nolock  every child blocks in accept(2); the kernel picks one
 *   prefork-lock    a process-shared mutex around accept(2)
 *   prefork-pass    the parent accepts and passes the descriptor to an
 *                   idle child over a Unix socket (SCM_RIGHTS)
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

model_run	model_prefork_nolock, model_prefork_lock, model_prefork_pass;

/* arg: the process-shared accept lock (prefork-lock), or NULL. */
static void __attribute__((noreturn))
child_accept(const struct config *cfg, void *arg)
{
	pthread_mutex_t *lock = arg;
	int fd;

	for (;;) {
		if (lock != NULL && pthread_mutex_lock(lock) == EOWNERDEAD)
			pthread_mutex_consistent(lock);
		fd = net_accept(cfg->lfd);
		if (lock != NULL)
			pthread_mutex_unlock(lock);
		if (conn_admit(cfg, fd) == 0)
			serve_conn(fd);
	}
}

/* Start the children and leave the parent to the signal thread. */
static void __attribute__((noreturn))
spawn_all(const struct config *cfg, void (*fn)(const struct config *, void *),
    void *arg)
{
	int i;

	for (i = 0; i < cfg->workers; i++)
		if (procs_spawn(fn, cfg, arg) == -1)
			err(1, "worker process %d of %d", i + 1, cfg->workers);
	for (;;)
		pause();
}

void __attribute__((noreturn))
model_prefork_nolock(const struct config *cfg)
{
	spawn_all(cfg, child_accept, NULL);
}

void __attribute__((noreturn))
model_prefork_lock(const struct config *cfg)
{
	pthread_mutex_t *accept_lock;
	pthread_mutexattr_t ma;

	accept_lock = mmap(NULL, sizeof(*accept_lock), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (accept_lock == MAP_FAILED)
		err(1, "mmap accept lock");
	/* Robust: a child killed while holding it must not stop the rest. */
	if (pthread_mutexattr_init(&ma) != 0 ||
	    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(accept_lock, &ma) != 0)
		errx(1, "process-shared accept lock");
	spawn_all(cfg, child_accept, accept_lock);
}

/*
 * prefork-pass: each child owns one end of a socketpair.  It receives a
 * descriptor, serves it, and writes one byte back to say it is idle.
 */
static int
recv_fd(int s)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr msg;
	struct cmsghdr *cm;
	int fd;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	if (recvmsg(s, &msg, MSG_CMSG_CLOEXEC) <= 0 ||
	    (cm = CMSG_FIRSTHDR(&msg)) == NULL ||
	    cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

static int
send_fd(int s, int fd)
{
	char byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr msg;
	struct cmsghdr *cm;

	memset(&msg, 0, sizeof(msg));
	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	return sendmsg(s, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* What a prefork-pass child is started with. */
struct pass_child {
	int			 s;	/* its end of its socketpair */
	const struct pollfd	*pfd;	/* the parent's ends, -1 if none */
	int			 n;
};

static void
child_pass(const struct config *cfg, void *arg)
{
	const struct pass_child *pc = arg;
	char idle = 0;
	int fd, i, s = pc->s;

	/*
	 * The parent's end of every pair, its own included, came with the
	 * fork: a thousand children would hold half a million descriptors.
	 */
	for (i = 0; i < pc->n; i++)
		if (pc->pfd[i].fd >= 0)
			close(pc->pfd[i].fd);
	close(cfg->lfd);
	/* A closed socket means the parent is gone: so is our work. */
	while ((fd = recv_fd(s)) != -1) {
		serve_conn(fd);
		if (write(s, &idle, 1) != 1)
			break;
	}
}

/*
 * Start the child for slot i of prefork-pass, with its end of a
 * socketpair.  -1 (and errno) if it cannot be started.
 */
static int
spawn_pass(const struct config *cfg, struct pollfd *pfd, int i)
{
	struct pass_child pc = { -1, pfd, cfg->workers };
	int sv[2], e;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	/* Set before the fork, so that the child closes this end too. */
	pfd[i].fd = sv[0];
	pfd[i].events = POLLIN;
	pc.s = sv[1];
	if (procs_spawn(child_pass, cfg, &pc) == -1) {
		e = errno;
		close(sv[0]);
		close(sv[1]);
		pfd[i].fd = -1;
		errno = e;
		return -1;
	}
	close(sv[1]);
	return 0;
}

/* The parent's side of prefork-pass. */
struct passer {
	struct pollfd	*pfd;	/* each child's socketpair; [n]: listener */
	char		*busy;	/* by child: serving a connection */
	int		 n, nbusy, next;
};

/*
 * Child i wrote (it is idle again) or its end closed: it died, killed or
 * as the server stops, and its connection with it.  Its slot gets a new
 * child unless the server is exiting.
 */
static void
child_ready(const struct config *cfg, struct passer *p, int i)
{
	char byte;

	if (read(p->pfd[i].fd, &byte, 1) != 1) {
		if (atomic_load(&server_stopping))
			for (;;)
				pause();
		close(p->pfd[i].fd);
		if (p->busy[i])
			conn_closed();
		if (spawn_pass(cfg, p->pfd, i) == -1) {
			/* Busy for good: never given work. */
			warn("worker process %d of %d: slot left empty", i + 1,
			    p->n);
			if (!p->busy[i])
				p->nbusy++;
			p->busy[i] = 1;
			return;
		}
	}
	if (p->busy[i]) {
		p->busy[i] = 0;
		p->nbusy--;
	}
}

/* Accept a connection and pass it to the next idle child. */
static void
pass_one(const struct config *cfg, struct passer *p)
{
	int fd;

	if (conn_admit(cfg, fd = net_accept(cfg->lfd)) == -1)
		return;
	/* Round robin over the idle children spreads the work. */
	while (p->busy[p->next])
		p->next = (p->next + 1) % p->n;
	if (send_fd(p->pfd[p->next].fd, fd) == 0) {
		p->busy[p->next] = 1;
		p->nbusy++;
	} else
		conn_closed();
	close(fd);
	p->next = (p->next + 1) % p->n;
}

void __attribute__((noreturn))
model_prefork_pass(const struct config *cfg)
{
	struct passer p = { .n = cfg->workers };
	int i;

	if ((p.pfd = calloc(p.n + 1, sizeof(*p.pfd))) == NULL ||
	    (p.busy = calloc(p.n, 1)) == NULL)
		err(1, "prefork-pass");
	for (i = 0; i < p.n; i++)
		p.pfd[i].fd = -1;
	for (i = 0; i < p.n; i++)
		if (spawn_pass(cfg, p.pfd, i) == -1)
			err(1, "worker process %d of %d", i + 1, p.n);
	p.pfd[p.n].fd = cfg->lfd;
	p.pfd[p.n].events = POLLIN;
	for (;;) {
		p.pfd[p.n].revents = 0;
		/* The listening socket only while a child is idle. */
		if (poll(p.pfd, p.n + (p.nbusy < p.n), -1) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		for (i = 0; i < p.n; i++)
			if (p.pfd[i].revents != 0)
				child_ready(cfg, &p, i);
		if (p.nbusy < p.n && (p.pfd[p.n].revents & POLLIN))
			pass_one(cfg, &p);
	}
}
