/*
 * core/signals.c - the signal thread.  Every other thread blocks the report
 * signals (and SIGPIPE is ignored); this one takes them with sigtimedwait
 * rather than in a handler, reaps children, and between signals samples
 * what no counter keeps a peak of.
 */
#include <sys/types.h>

#include <err.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

/* The signals the signal thread takes: the reports, and children ending. */
static void
report_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGCHLD);
}

static long
ms_since(const struct timespec *t0, const struct timespec *t1)
{
	return (t1->tv_sec - t0->tv_sec) * 1000 +
	    (t1->tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * The PSS sum of several processes has no kernel high-water mark, and at
 * exit the connections' memory is gone, so the signal thread samples it.
 * A sample reads each process's smaps_rollup, which walks all its
 * mappings under its mmap lock (where thread creation waits): about 9 ms
 * for a process of 16,600 threads, 0.1 s for 200,000 threads in 12
 * processes.  Samples start PSS_SPACING times as far apart as the last
 * one took in CPU time, and at least one tick apart: they cost at most
 * 1/PSS_SPACING of a core, and each process's thread creation waits for
 * them as rarely.  Each report is a sample too (rusage.c).
 */
#define PSS_SPACING	20

/* What the server is, and the figures only this thread writes. */
struct signal_thread_args {
	const struct config	*cfg;
	struct live		*live;
};

static void
sample_pss(const struct config *cfg, struct live *live, struct timespec *next)
{
	struct proctotals w;
	struct timespec now, cpu0, cpu1;
	long sum, interval;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!cfg->sample_pss || ms_since(next, &now) < 0)
		return;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
	procs_gather(&w);
	if ((sum = proc_pss_kib(getpid()) + w.pss_kib) > live->peak_pss_kib)
		live->peak_pss_kib = sum;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
	interval = PSS_SPACING * ms_since(&cpu0, &cpu1);
	if (interval < TICK_MS)
		interval = TICK_MS;
	live->pss_interval_ms = interval;
	next->tv_sec = now.tv_sec + interval / 1000;
	next->tv_nsec = now.tv_nsec + (interval % 1000) * 1000000;
	if (next->tv_nsec >= 1000000000) {
		next->tv_sec++;
		next->tv_nsec -= 1000000000;
	}
}

/*
 * Signals are taken here, in an ordinary thread, so the report may use
 * stdio and read /proc: nothing of that is safe in a signal handler.
 * Between signals the thread samples the kernel's stack memory, whose
 * peak RSS cannot show: threads that have already exited at the report
 * no longer hold theirs; and the PSS sum of several processes.
 */
static void * __attribute__((noreturn))
signal_thread(void *arg)
{
	const struct signal_thread_args *a = arg;
	const struct config *cfg = a->cfg;
	struct live *live = a->live;
	struct timespec tick = { 0, TICK_MS * 1000 * 1000 };
	struct timespec next_pss = { 0, 0 };
	sigset_t set;
	long ks;
	int ok, sig;

	report_signals(&set);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		procs_reap();
		if ((ks = meminfo_kib("KernelStack")) > live->peak_kstack_kib)
			live->peak_kstack_kib = ks;
		sample_pss(cfg, live, &next_pss);
		if (sig == -1 || sig == SIGCHLD)
			continue;
		if (sig == SIGUSR1) {
			report(cfg, live, 0);
			continue;
		}
		/* A report the -j file did not get fails the run, as in Go. */
		ok = report(cfg, live, 1) == 0;
		procs_stop();
		/* exit(3), not _exit(2): LeakSanitizer checks at exit. */
		exit(ok ? 0 : 1);
	}
}

/*
 * Block the report signals before any thread exists so that every thread
 * inherits the mask and only signal_thread receives them; a peer that
 * vanishes must never kill the server with SIGPIPE.
 */
void
signals_block(void)
{
	sigset_t set;
	int e;

	signal(SIGPIPE, SIG_IGN);
	report_signals(&set);
	if ((e = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0)
		errc(1, e, "pthread_sigmask");
}

/* Signals wait, blocked, until the thread started here takes them. */
void
signals_start(const struct config *cfg, struct live *live)
{
	static struct signal_thread_args a;
	pthread_t t;
	int e;

	a.cfg = cfg;
	a.live = live;
	if ((e = pthread_create(&t, NULL, signal_thread, &a)) != 0)
		errc(1, e, "signal thread");
}
