/*
 * core/request.c - what a request costs beyond its echo: -W, CPU work, then
 * -d, a wait such as a call to a backend.  Every model does both after
 * each read and before writing that read's echo.  The blocking models
 * wait here, in the connection's own thread or process; the event loops
 * wait on a timer (evconn.c), so that one loop serves many waiting
 * connections at once.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kit.h"

#define MAX_DURATION_US	(60L * 1000 * 1000)
/* The most work done between two looks at the clock: the overshoot. */
#define SPIN_CHUNK_US	20
#define CALIBRATE_SPINS	(1L << 20)

/*
 * -d, -W and the speed of spin(), set once by request_init in main
 * before any other thread or process exists, and only read after that.
 */
static long delay_us, work_us, spins_per_us;

static const struct unit {
	const char	*name;
	long		 us;
} units[] = { { "us", 1 }, { "ms", 1000 }, { "s", 1000 * 1000 } };
#define NUNITS	(sizeof(units) / sizeof(units[0]))

/*
 * A duration for -d or -W: a whole number and a unit, us, ms or s, from 0
 * to 60 s.  Returns NULL, or what is wrong for "-d ARG: delay is ...".
 * The Go server words the same errors the same way.
 */
const char *
request_duration(const char *arg, long *us)
{
	const char *errstr;
	char digits[16];
	size_t n, i;
	long long v;

	n = strspn(arg, "0123456789");
	for (i = 0; i < NUNITS; i++)
		if (n > 0 && strcmp(arg + n, units[i].name) == 0)
			break;
	if (i == NUNITS)
		return "invalid (a whole number and us, ms or s, as in 10ms)";
	if (n >= sizeof(digits))
		return "too large (at most 60s)";
	memcpy(digits, arg, n);
	digits[n] = '\0';
	v = strtonum(digits, 0, MAX_DURATION_US / units[i].us, &errstr);
	if (errstr != NULL)
		return "too large (at most 60s)";
	*us = (long)v * units[i].us;
	return NULL;
}

/* us in the largest unit that holds it exactly, as -d and -W take it. */
void
request_format(char *buf, size_t len, long us)
{
	size_t i = NUNITS - 1;

	while (i > 0 && us % units[i].us != 0)
		i--;
	snprintf(buf, len, "%ld%s", us / units[i].us, units[i].name);
}

static long long
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Work the compiler cannot drop: volatile keeps every step. */
static void
spin(long n)
{
	volatile unsigned long x = 1;

	while (n-- > 0)
		x = x * 31 + 7;
}

void
request_init(const struct config *cfg)
{
	long long t;

	delay_us = cfg->delay_us;
	work_us = cfg->work_us;
	if (work_us == 0)
		return;
	/*
	 * Only so that the clock is read every SPIN_CHUNK_US or so: it is
	 * the clock, not this estimate, that decides when work is done.
	 */
	t = cpu_ns();
	spin(CALIBRATE_SPINS);
	t = (cpu_ns() - t) / 1000;
	spins_per_us = t > 0 ? CALIBRATE_SPINS / t : CALIBRATE_SPINS;
	if (spins_per_us < 1)
		spins_per_us = 1;
}

/*
 * -W: use work_us of this thread's CPU time.  The thread's CPU clock, not
 * the wall clock: a thread preempted halfway still does all its work, so
 * a request costs the same CPU in every model however loaded the machine.
 */
void
request_work(void)
{
	long long end;
	long chunk;

	if (work_us == 0)
		return;
	chunk = spins_per_us * (work_us < SPIN_CHUNK_US ? work_us :
	    SPIN_CHUNK_US);
	end = cpu_ns() + work_us * 1000LL;
	do
		spin(chunk);
	while (cpu_ns() < end);
}

/* n requests begin (1) or end (-1) their -d wait. */
void
request_waiting(int n)
{
	long w = count_add(&counters->waiting, n);

	if (n > 0)
		count_max(&counters->max_waiting, w);
}

/* -d in the calling thread: it sleeps, using no CPU. */
void
request_wait(void)
{
	struct timespec ts;

	if (delay_us == 0)
		return;
	ts.tv_sec = delay_us / 1000000;
	ts.tv_nsec = delay_us % 1000000 * 1000;
	request_waiting(1);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	request_waiting(-1);
}

long
request_delay_us(void)
{
	return delay_us;
}
