/*
 * workload: a process tree with known counts for perfcount's tests.
 *
 * usage: workload calls threads sleeps pages
 *
 * Before it says "ready" it starts one thread and forks one child, each
 * of which waits for its own byte on standard input: they stand for the
 * tasks a server already has when counting starts. After the main thread
 * reads its byte, the tree makes getppid() `calls` times in each of: the
 * main thread, the early thread, the early child, `threads` new threads
 * and one new child process (new tasks exit before the counts are read);
 * then the main thread sleeps 1 ms `sleeps` times and writes to `pages`
 * fresh pages.
 */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long calls;

static long
number(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 10000000)
		errx(2, "%s: %s is not a count from 0 to 10000000", what, s);
	return v;
}

static void
spin(void)
{
	for (long i = 0; i < calls; i++)
		syscall(SYS_getppid);
}

static void
waitgo(void)
{
	char c;

	if (read(STDIN_FILENO, &c, 1) != 1)
		errx(1, "standard input closed before the go byte");
}

static void *
early(void *arg)
{
	(void)arg;
	waitgo();
	spin();
	return NULL;
}

static void *
late(void *arg)
{
	(void)arg;
	spin();
	return NULL;
}

static void
child(int wait)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		if (wait)
			waitgo();
		spin();
		_exit(0);
	}
	if (!wait && (waitpid(pid, &status, 0) == -1 || status != 0))
		errx(1, "late child failed");
}

int
main(int argc, char *argv[])
{
	struct timespec ms = { 0, 1000000 };
	pthread_t first, *t;
	long threads, sleeps, pages, psz, i;
	int status;
	char *mem;

	if (argc != 5)
		errx(2, "usage: workload calls threads sleeps pages");
	calls = number(argv[1], "calls");
	threads = number(argv[2], "threads");
	sleeps = number(argv[3], "sleeps");
	pages = number(argv[4], "pages");
	if ((t = calloc(threads + 1, sizeof(*t))) == NULL)
		err(1, "calloc");
	if ((errno = pthread_create(&first, NULL, early, NULL)) != 0)
		err(1, "pthread_create");
	child(1);
	printf("ready\n");
	fflush(stdout);

	waitgo();
	spin();
	for (i = 0; i < threads; i++)
		if ((errno = pthread_create(&t[i], NULL, late, NULL)) != 0)
			err(1, "pthread_create");
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	child(0);
	for (i = 0; i < sleeps; i++)
		nanosleep(&ms, NULL);
	psz = sysconf(_SC_PAGESIZE);
	mem = mmap(NULL, pages * psz + 1, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		err(1, "mmap");
	for (i = 0; i < pages; i++)
		mem[i * psz] = 1;
	pthread_join(first, NULL);
	if (wait(&status) == -1 || status != 0)
		errx(1, "early child failed");
	return 0;
}
