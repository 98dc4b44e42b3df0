/*
 * models/uring/setup.c - setting up the io_uring model's rings, and the
 * check that this kernel has what the model needs, before anything
 * listens.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "uring.h"

#define SQ_ENTRIES	1024
#define CQ_ENTRIES	8192

/*
 * Flags for a ring, best first: one thread submits and completions wait
 * for it (6.1), completions run only when it enters (5.19).
 */
static const unsigned ring_flags[] = {
	IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
	    IORING_SETUP_DEFER_TASKRUN,
	IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
};

/* Returns 0 or -errno; EINVAL means a kernel older than 5.19. */
static int
ring_init(struct io_uring *ring)
{
	struct io_uring_params p;
	size_t i;
	int e = -EINVAL;

	for (i = 0; i < sizeof(ring_flags) / sizeof(ring_flags[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = ring_flags[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = CQ_ENTRIES;
		if ((e = io_uring_queue_init_params(SQ_ENTRIES, ring, &p)) !=
		    -EINVAL)
			break;
	}
	return e;
}

/* Register a provided-buffer ring of n entries; returns it or NULL. */
static struct io_uring_buf_ring *
bufring_init(struct io_uring *ring, unsigned n, int *e)
{
	struct io_uring_buf_reg reg;
	void *br;

	br = mmap(NULL, n * sizeof(struct io_uring_buf), PROT_READ |
	    PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED) {
		*e = -errno;
		return NULL;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uintptr_t)br;
	reg.ring_entries = n;
	reg.bgid = BGID;
	/* liburing 2.3 has no io_uring_setup_buf_ring: the two steps. */
	if ((*e = io_uring_register_buf_ring(ring, &reg, 0)) != 0) {
		munmap(br, n * sizeof(struct io_uring_buf));
		return NULL;
	}
	io_uring_buf_ring_init(br);
	return br;
}

static long
sysctl_value(const char *path)
{
	FILE *fp;
	long v = -1;

	if ((fp = fopen(path, "re")) != NULL) {
		if (fscanf(fp, "%ld", &v) != 1)
			v = -1;
		fclose(fp);
	}
	return v;
}

static void __attribute__((noreturn))
setup_failed(int e)
{
	long disabled = sysctl_value("/proc/sys/kernel/io_uring_disabled");

	if (e == -EPERM && disabled == 2)
		errx(1, "-M uring: io_uring is disabled on this machine "
		    "(kernel.io_uring_disabled = 2)");
	if (e == -EPERM && disabled == 1)
		errx(1, "-M uring: io_uring is disabled for this user "
		    "(kernel.io_uring_disabled = 1 allows only root and "
		    "kernel.io_uring_group)");
	if (e == -EPERM)
		errx(1, "-M uring: io_uring is not permitted here: a seccomp "
		    "filter or security policy forbids it (io_uring_setup: %s)",
		    strerror(-e));
	if (e == -ENOSYS)
		errx(1, "-M uring: io_uring is not available: this kernel has "
		    "none, or a seccomp filter hides it (io_uring_setup: %s)",
		    strerror(-e));
	if (e == -EINVAL)
		errx(1, "-M uring: this kernel's io_uring is too old "
		    "(io_uring_setup: %s; needs Linux 5.19 or later)",
		    strerror(-e));
	errx(1, "-M uring: cannot set up io_uring (io_uring_setup: %s)",
	    strerror(-e));
}

static void __attribute__((noreturn))
bufring_failed(int e)
{
	errx(1, "-M uring: this kernel's io_uring has no provided-buffer "
	    "rings (io_uring_register: %s; needs Linux 5.19 or later)",
	    strerror(-e));
}

/*
 * A ring and its provided-buffer ring of nbufs entries, or exit saying
 * what this machine lacks.
 */
struct io_uring_buf_ring *
uring_ring_setup(struct io_uring *ring, unsigned nbufs)
{
	struct io_uring_buf_ring *br;
	int e;

	if ((e = ring_init(ring)) != 0)
		setup_failed(e);
	if ((br = bufring_init(ring, nbufs, &e)) == NULL)
		bufring_failed(e);
	return br;
}

/*
 * Multishot receive came in Linux 6.0, after buffer rings: a receive on a
 * socket pair with a byte waiting and a ring with no buffers ends with
 * ENOBUFS where it exists, EINVAL where it does not.
 */
static void
recv_multishot_check(struct io_uring *ring)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int sv[2], e;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		err(1, "-M uring: socketpair");
	if (write(sv[1], "x", 1) != 1)
		err(1, "-M uring: socketpair");
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	if ((e = io_uring_submit_and_wait(ring, 1)) >= 0 &&
	    (e = io_uring_peek_cqe(ring, &cqe)) == 0) {
		e = cqe->res;
		io_uring_cqe_seen(ring, cqe);
	}
	if (e == -EINVAL)
		errx(1, "-M uring: this kernel's io_uring has no multishot "
		    "receive (needs Linux 6.0 or later)");
	close(sv[0]);
	close(sv[1]);
}

/*
 * Before anything listens: a machine where io_uring is disabled, filtered
 * or too old fails here with one line, and -P spawns no process for it.
 */
void
model_uring_check(void)
{
	struct io_uring ring;
	struct io_uring_buf_ring *br;

	br = uring_ring_setup(&ring, 8);
	recv_multishot_check(&ring);
	io_uring_unregister_buf_ring(&ring, BGID);
	munmap(br, 8 * sizeof(struct io_uring_buf));
	io_uring_queue_exit(&ring);
}
