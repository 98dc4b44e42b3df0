/*
 * 10kthreads - a TCP echo server that gives every connection its own
 * small-stack thread, and reports exactly what that costs.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <libutil.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

#define DEFAULT_STACK	(16 * 1024)
#define MAX_STACK	(1024 * 1024 * 1024)
#define USAGE		"usage: %s [-h] [-a addr] [-b backlog] [-c maxconns] " \
			"[-d delay] [-j file] [-M model] [-m bytes] [-P procs] " \
			"[-p port] [-s stacksize] " \
			"[-t seconds] [-W work] [-w workers]\n"

#define MAX_WORKERS	10000
#define MAX_PROCS	256
#define OPTSTRING	"a:b:c:d:hj:M:m:P:p:s:t:W:w:"

/*
 * What each model is, for -h, -M list and the experiment runner, which
 * reads -M list rather than keeping facts of its own.  workers: what -w
 * counts, or NULL if the model takes no -w.  bounded: it serves at most
 * a fixed number of connections at a time, whatever the fd limit: -w,
 * one, or those below fd_ceiling.  per_conn: the thread or process a new
 * connection gets, or NULL.  fd_ceiling: connections on descriptors at or
 * above it are closed at once (select's FD_SETSIZE), or 0.  compared: one
 * of the designs the main experiment (make experiment) compares, a thread
 * per connection against the event loops; the others have experiments of
 * their own.
 */
static const struct model {
	const char	*name;
	void		(*run)(struct server *);
	const char	*workers;
	int		 default_workers;
	int		 bounded;
	int		 processes;
	const char	*per_conn;
	const char	*same_as;
	void		(*check)(void);
	int		 fd_ceiling;
	int		 compared;
} models[] = {
	{ .name = "thread", .run = model_thread, .per_conn = "thread",
	    .compared = 1 },
	{ .name = "prethread", .run = model_prethread, .workers = "threads",
	    .default_workers = 64, .bounded = 1 },
	{ .name = "prethread-nolock", .run = model_prethread_nolock,
	    .workers = "threads", .default_workers = 64, .bounded = 1 },
	{ .name = "pool", .run = model_pool, .workers = "threads",
	    .default_workers = 64, .bounded = 1 },
	{ .name = "prefork", .run = model_prefork_nolock,
	    .workers = "processes", .default_workers = 16, .bounded = 1,
	    .processes = 1, .same_as = "prefork-nolock" },
	{ .name = "prefork-nolock", .run = model_prefork_nolock,
	    .workers = "processes", .default_workers = 16, .bounded = 1,
	    .processes = 1 },
	{ .name = "prefork-lock", .run = model_prefork_lock,
	    .workers = "processes", .default_workers = 16, .bounded = 1,
	    .processes = 1 },
	{ .name = "prefork-pass", .run = model_prefork_pass,
	    .workers = "processes", .default_workers = 16, .bounded = 1,
	    .processes = 1 },
	{ .name = "fork", .run = model_fork, .processes = 1,
	    .per_conn = "process" },
	{ .name = "iterative", .run = model_iterative, .bounded = 1 },
	{ .name = "epoll", .run = model_epoll, .workers = "event loops",
	    .default_workers = 1, .compared = 1 },
	{ .name = "uring", .run = model_uring, .workers = "event loops",
	    .default_workers = 1, .check = model_uring_check, .compared = 1 },
	{ .name = "poll", .run = model_poll, .workers = "event loops",
	    .default_workers = 1 },
	{ .name = "select", .run = model_select, .bounded = 1,
	    .fd_ceiling = FD_SETSIZE },
	/*
	 * As many workers as pool's: the two differ only in when a
	 * connection gets one (when it is ready, or for its whole life).
	 */
	{ .name = "dispatch", .run = model_dispatch, .workers = "threads",
	    .default_workers = 64 },
};
#define NMODELS	(sizeof(models) / sizeof(models[0]))

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, USAGE, PROGNAME);
	exit(2);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	usage();
}

static void __attribute__((noreturn))
help(void)
{
	size_t i;

	printf(USAGE
	    "  -a addr       listen address, IPv4 or IPv6 (default 127.0.0.1)\n"
	    "  -b backlog    listen backlog (default: net.core.somaxconn)\n"
	    "  -c maxconns   cap on concurrent connections; beyond it new ones "
	    "are\n"
	    "                accepted and closed at once (default: no cap)\n"
	    "  -d delay      each read waits that long before its echo, like a "
	    "call to a\n"
	    "                backend, using no CPU: 500us, 10ms, 1s "
	    "(default 0)\n"
	    "  -h            this help\n"
	    "  -j file       also write the report as JSON to file\n"
	    "  -M model      server design (default thread; -M list describes "
	    "each):\n               ",
	    PROGNAME);
	for (i = 0; i < NMODELS; i++)
		printf(" %s", models[i].name);
	printf("\n"
	    "  -m bytes      memory limit, k/m/g suffixes, instead of the "
	    "memory cgroup's;\n"
	    "                connections beyond its budget are accepted and "
	    "closed at once\n"
	    "                (default: the cgroup's limit, if any)\n"
	    "  -P procs      run the model in procs processes that share the "
	    "listening\n"
	    "                socket, to hold more connections than one "
	    "process's fd limit\n"
	    "  -p port       TCP port, 0 lets the kernel choose (default 1234)\n"
	    "  -s stacksize  stack per connection thread, k/m suffixes "
	    "(default 16k)\n"
	    "  -t seconds    close connections idle (no byte read or written) "
	    "that long\n"
	    "  -W work       each read uses that much CPU first, then waits -d, "
	    "then is\n"
	    "                echoed: 500us, 10ms, 1s (default 0)\n"
	    "  -w workers    threads, processes or event loops of the "
	    "models that\n"
	    "                pre-create them (default 64 threads, 16 "
	    "processes, 1 loop)\n"
	    "prefork is prefork-nolock.\n");
	printf("SIGINT/SIGTERM print the report and exit; SIGUSR1 prints it and "
	    "keeps serving.\n");
	exit(0);
}

#define DASH(s)	((s) != NULL ? (s) : "-")
#define JSTR(s)	((s) != NULL ? (s) : "")

/*
 * -M list: every model and its facts, aligned for people and, with -j,
 * as JSON of schema 10kthreads-model-list/1 for programs.
 */
static void __attribute__((noreturn))
list_models(const char *json_path)
{
	const struct model *m;
	char wdef[16];
	FILE *fp;
	size_t i;

	/* Opened first: a bad path must fail before anything is printed. */
	fp = NULL;
	if (json_path != NULL && (fp = fopen(json_path, "we")) == NULL)
		err(1, "%s", json_path);
	printf("%-17s %-12s %-10s %-15s %-12s %-10s %-9s %s\n", "model",
	    "concurrency", "runs in", "per connection", "-w counts",
	    "-w default", "compared", "note");
	for (i = 0; i < NMODELS; i++) {
		m = &models[i];
		if (m->workers != NULL)
			snprintf(wdef, sizeof(wdef), "%d", m->default_workers);
		else
			strlcpy(wdef, "-", sizeof(wdef));
		printf("%-17s %-12s %-10s %-15s %-12s %-10s ", m->name,
		    m->bounded ? "bounded" : "unbounded",
		    m->processes ? "processes" : "threads", DASH(m->per_conn),
		    DASH(m->workers), wdef);
		if (m->same_as != NULL)
			printf("%-9s same as %s\n", m->compared ? "yes" : "-",
			    m->same_as);
		else if (m->fd_ceiling > 0)
			printf("%-9s descriptors below %d only\n",
			    m->compared ? "yes" : "-", m->fd_ceiling);
		else
			printf("%s\n", m->compared ? "yes" : "-");
	}
	if (fflush(stdout) == EOF)
		err(1, "stdout");
	if (fp == NULL)
		exit(0);
	fprintf(fp, "{\n  \"schema\": \"10kthreads-model-list/1\",\n"
	    "  \"models\": [\n");
	for (i = 0; i < NMODELS; i++) {
		m = &models[i];
		fprintf(fp, "    {\"name\": \"%s\", \"bounded\": %s, "
		    "\"processes\": %s, \"per_connection\": \"%s\", "
		    "\"workers\": \"%s\", \"default_workers\": %d, "
		    "\"same_as\": \"%s\", \"fd_ceiling\": %d, "
		    "\"compared\": %s}%s\n", m->name,
		    m->bounded ? "true" : "false",
		    m->processes ? "true" : "false", JSTR(m->per_conn),
		    JSTR(m->workers), m->default_workers, JSTR(m->same_as),
		    m->fd_ceiling, m->compared ? "true" : "false",
		    i + 1 < NMODELS ? "," : "");
	}
	fprintf(fp, "  ]\n}\n");
	if (fclose(fp) == EOF)
		err(1, "%s", json_path);
	exit(0);
}

static int
somaxconn(void)
{
	FILE *fp;
	int v = -1;

	if ((fp = fopen("/proc/sys/net/core/somaxconn", "re")) != NULL) {
		if (fscanf(fp, "%d", &v) != 1)
			v = -1;
		fclose(fp);
	}
	return v > 0 ? v : SOMAXCONN;
}

/*
 * Every connection is a descriptor, so the soft limit is what bounds the
 * server; raise it as far as the hard limit allows.
 */
static rlim_t
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(1, "getrlimit RLIMIT_NOFILE");
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			warn("cannot raise the open-file limit to %llu",
			    (unsigned long long)rl.rlim_max);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

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
#define TICK_MS		100

static void
sample_pss(struct server *srv, struct timespec *next)
{
	struct proctotals w;
	struct timespec now, cpu0, cpu1;
	long sum, interval;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!srv->sample_pss || ms_since(next, &now) < 0)
		return;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
	procs_gather(&w);
	if ((sum = proc_pss_kib(getpid()) + w.pss_kib) > srv->peak_pss_kib)
		srv->peak_pss_kib = sum;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
	interval = PSS_SPACING * ms_since(&cpu0, &cpu1);
	if (interval < TICK_MS)
		interval = TICK_MS;
	srv->pss_interval_ms = interval;
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
static void *
signal_thread(void *arg)
{
	struct server *srv = arg;
	struct timespec tick = { 0, TICK_MS * 1000 * 1000 }, next_pss = { 0, 0 };
	sigset_t set;
	long ks;
	int ok, sig;

	report_signals(&set);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		procs_reap();
		if ((ks = meminfo_kib("KernelStack")) > srv->peak_kstack_kib)
			srv->peak_kstack_kib = ks;
		sample_pss(srv, &next_pss);
		if (sig == -1 || sig == SIGCHLD)
			continue;
		if (sig == SIGUSR1) {
			report(srv, "REPORT", 0);
			continue;
		}
		/* A report the -j file did not get is a failed run, as in Go. */
		ok = report(srv, "EXITING", 1) == 0;
		procs_stop();
		/* exit(3), not _exit(2): LeakSanitizer checks at exit. */
		exit(ok ? 0 : 1);
	}
}

/*
 * Reap what the model's own workers leave (fork, prefork): under -P the
 * top process's signal thread only reaps its direct children.
 */
static void * __attribute__((noreturn))
reaper_thread(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (;;)
		if (sigwait(&set, &sig) == 0)
			procs_reap();
}

static void
model_process(struct server *srv, long i)
{
	pthread_t t;
	int e;

	(void)i;
	if ((e = pthread_create(&t, NULL, reaper_thread, NULL)) != 0)
		errc(1, e, "reaper thread");
	srv->run(srv);
}

/*
 * -P: the processes share one listening socket rather than binding their
 * own with SO_REUSEPORT.  With SO_REUSEPORT the kernel hashes each new
 * connection to a process whether or not it has a descriptor free; with
 * one socket, whichever process has room accepts it.
 *
 * Called while this process still has one thread: the children create
 * threads and allocate, which POSIX allows only after a fork from a
 * single-threaded process.  A lock that another thread held at the fork
 * stays locked in the child for ever (under ASan, half the connections
 * of -P 2 hung in a child that never served them).
 */
static void
spawn_procs(struct server *srv)
{
	int i;

	for (i = 0; i < srv->procs; i++)
		if (procs_spawn(model_process, srv, i) == -1)
			err(1, "server process %d of %d", i + 1, srv->procs);
}

/* What the command line asks for beyond struct server. */
struct args {
	const struct model *model;
	const char	*host, *port;
	int		 workers;	/* -w, or 0 for the model's default */
	int		 listing;	/* -M list */
};

#define XSTR(x)	STR(x)
#define STR(x)	#x

/* A number within [lo, hi] for -flag, or a usage error naming it. */
static long long
flag_number(int flag, const char *arg, long long lo, long long hi,
    const char *what, const char *range)
{
	const char *errstr;
	long long v;

	v = strtonum(arg, lo, hi, &errstr);
	if (errstr != NULL && range != NULL)
		usage_error("-%c %s: %s is %s (%s)", flag, arg, what, errstr,
		    range);
	if (errstr != NULL)
		usage_error("-%c %s: %s is %s", flag, arg, what, errstr);
	return v;
}

/*
 * A size: decimal digits and at most one unit, b k m g t p e in either
 * case (powers of 1024).  Not expand_number(3): it reads "010" as octal,
 * "0x10" as hex and "-1" as a huge number, where the Go server reads
 * decimal.  Returns -1 for a bad shape, 1 when the size overflows.
 */
static int
parse_size(const char *arg, uint64_t *v)
{
	static const char units[] = "bkmgtpe";
	size_t digits = strspn(arg, "0123456789");
	const char *u;
	unsigned long long n;
	int shift = 0;

	if (digits == 0 || digits > 20 || (arg[digits] != '\0' &&
	    arg[digits + 1] != '\0'))
		return -1;
	if (arg[digits] != '\0') {
		if ((u = strchr(units, tolower((unsigned char)arg[digits]))) ==
		    NULL)
			return -1;
		shift = 10 * (int)(u - units);
	}
	errno = 0;
	n = strtoull(arg, NULL, 10);
	if (errno == ERANGE || (shift > 0 && n > (UINT64_MAX >> shift)))
		return 1;
	*v = (uint64_t)n << shift;
	return 0;
}

static size_t
flag_stack(const char *arg)
{
	uint64_t stack;
	int r;

	if ((r = parse_size(arg, &stack)) == -1)
		usage_error("-s %s: not a size (try 16k or 1m)", arg);
	if (r == 0 && stack < (uint64_t)PTHREAD_STACK_MIN)
		usage_error("-s %s: stack size is below the minimum of %ld "
		    "bytes (PTHREAD_STACK_MIN)", arg, (long)PTHREAD_STACK_MIN);
	if (r == 1 || stack > MAX_STACK)
		usage_error("-s %s: stack size is above the maximum of 1 GiB",
		    arg);
	return stack;
}

/* -m: a size (see parse_size), above zero. */
static long
flag_memory(const char *arg)
{
	uint64_t v;
	int r;

	if ((r = parse_size(arg, &v)) == -1)
		usage_error("-m %s: not a size (try 64m or 1g)", arg);
	if (r == 1 || v > LONG_MAX)
		usage_error("-m %s: memory limit is too large", arg);
	if (v == 0)
		usage_error("-m %s: memory limit is zero", arg);
	return (long)v;
}

/* A duration for -d or -W, in microseconds, or a usage error. */
static long
flag_duration(int flag, const char *arg, const char *what)
{
	const char *problem;
	long us;

	if ((problem = request_duration(arg, &us)) != NULL)
		usage_error("-%c %s: %s is %s", flag, arg, what, problem);
	return us;
}

static const struct model *
flag_model(const char *arg)
{
	size_t i;

	for (i = 0; i < NMODELS; i++)
		if (strcmp(arg, models[i].name) == 0)
			return &models[i];
	usage_error("-M %s: unknown model (-M list shows them)", arg);
}

static void
parse_flag(int ch, struct server *srv, struct args *a)
{
	switch (ch) {
	case 'a':
		a->host = optarg;
		break;
	case 'b':
		srv->backlog = flag_number(ch, optarg, 1, 65535, "backlog",
		    "1-65535");
		break;
	case 'c':
		srv->max_conns = flag_number(ch, optarg, 1, LONG_MAX,
		    "connection cap", NULL);
		break;
	case 'd':
		srv->delay_us = flag_duration(ch, optarg, "delay");
		break;
	case 'h':
		help();
	case 'j':
		srv->json_path = optarg;
		break;
	case 'M':
		if (strcmp(optarg, "list") == 0)
			a->listing = 1;
		else
			a->model = flag_model(optarg);
		break;
	case 'm':
		srv->mem_arg = flag_memory(optarg);
		break;
	case 'P':
		srv->procs = flag_number(ch, optarg, 1, MAX_PROCS, "processes",
		    "1-" XSTR(MAX_PROCS));
		break;
	case 'p':
		(void)flag_number(ch, optarg, 0, 65535, "port", "0-65535");
		a->port = optarg;
		break;
	case 's':
		srv->stack = flag_stack(optarg);
		break;
	case 't':
		srv->idle_timeout = flag_number(ch, optarg, 1, 86400,
		    "idle timeout", "1-86400 seconds");
		break;
	case 'W':
		srv->work_us = flag_duration(ch, optarg, "work");
		break;
	case 'w':
		a->workers = flag_number(ch, optarg, 1, MAX_WORKERS, "workers",
		    "1-" XSTR(MAX_WORKERS));
		break;
	default:
		if (strchr(OPTSTRING, optopt) != NULL)
			usage_error("-%c needs a value", optopt);
		usage_error("unknown flag -%c", optopt);
	}
}

/*
 * The command line into srv and a, with every default filled in; bad
 * input is a usage error, and -M list lists the models and exits.
 */
static void
parse_args(int argc, char *argv[], struct server *srv, struct args *a)
{
	int ch;

	memset(srv, 0, sizeof(*srv));
	memset(a, 0, sizeof(*a));
	srv->backlog = -1;
	srv->stack = DEFAULT_STACK;
	a->model = &models[0];
	a->host = "127.0.0.1";
	a->port = "1234";
	/* getopt's own messages name argv[0]; ours name the program. */
	opterr = 0;
	while ((ch = getopt(argc, argv, OPTSTRING)) != -1)
		parse_flag(ch, srv, a);
	if (optind != argc)
		usage_error("unexpected argument: %s", argv[optind]);
	if (a->listing)
		list_models(srv->json_path);
	if (a->workers != 0 && a->model->workers == NULL)
		usage_error("-w: model %s takes no workers", a->model->name);
	if (srv->backlog == -1)
		srv->backlog = somaxconn();
	srv->model = a->model->name;
	srv->run = a->model->run;
	srv->fd_ceiling = a->model->fd_ceiling;
	if (srv->procs == 0)
		srv->procs = 1;
	srv->workers = a->workers != 0 ? a->workers :
	    a->model->default_workers;
	srv->sample_pss = srv->procs > 1 || a->model->processes;
	/* Before anything listens: a model that cannot run says so now. */
	if (a->model->check != NULL)
		a->model->check();
}

/*
 * Block the report signals before any thread exists so that every thread
 * inherits the mask and only signal_thread receives them; a peer that
 * vanishes must never kill the server with SIGPIPE.
 */
static void
block_signals(void)
{
	sigset_t set;
	int e;

	signal(SIGPIPE, SIG_IGN);
	report_signals(&set);
	if ((e = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0)
		errc(1, e, "pthread_sigmask");
}

/*
 * -d and -W come last, and only when set, so that whoever parses the
 * line without them still finds it ending where it did.
 */
static void
print_start_line(const struct server *srv, const struct model *model)
{
	rlim_t room = srv->fd_limit - (rlim_t)srv->lfd - 1;
	char d[32];

	if (srv->fd_ceiling > 0 && room > (rlim_t)srv->fd_ceiling -
	    (rlim_t)srv->lfd - 1)
		room = (rlim_t)srv->fd_ceiling - (rlim_t)srv->lfd - 1;
	printf("%s: listening on %s model %s", PROGNAME, srv->addr,
	    srv->model);
	if (model->workers != NULL)
		printf(" (%d %s)", srv->workers, model->workers);
	if (srv->procs > 1)
		printf(" in %d processes", srv->procs);
	printf(", stack %zu KiB, backlog %d", srv->stack / 1024, srv->backlog);
	membudget_print(stdout);
	printf(", fd limit %llu (room for ~%llu connections)",
	    (unsigned long long)srv->fd_limit,
	    (unsigned long long)room * srv->procs);
	if (srv->delay_us > 0) {
		request_format(d, sizeof(d), srv->delay_us);
		printf(", request delay %s", d);
	}
	if (srv->work_us > 0) {
		request_format(d, sizeof(d), srv->work_us);
		printf(", request work %s", d);
	}
	printf("\n");
	fflush(stdout);
}

int
main(int argc, char *argv[])
{
	struct server srv;
	struct args a;
	pthread_t t;
	int e;

	parse_args(argc, argv, &srv, &a);
	block_signals();
	counters_init();
	request_init(&srv);
	srv.fd_limit = raise_fd_limit();
	srv.lfd = net_listen(a.host, a.port, srv.backlog, srv.addr,
	    sizeof(srv.addr));
	srv.mem = membudget_init(&srv, a.model->per_conn, a.model->processes,
	    a.model->workers != NULL, srv.mem_arg);
	clock_gettime(CLOCK_MONOTONIC, &srv.start);
	/* The first sample comes at the first tick. */
	srv.peak_pss_kib = proc_pss_kib(getpid());
	srv.pss_interval_ms = TICK_MS;
	if (report_start(&srv) == -1)
		exit(1);
	/*
	 * The -P processes exist before the start line: whoever reads it may
	 * look for them at once.
	 */
	if (srv.procs > 1)
		spawn_procs(&srv);
	if (srv.fd_ceiling > 0)
		warnx("model %s watches descriptors below %d only: it holds "
		    "about %d connections, and closes further ones at once "
		    "(closed over FD_SETSIZE)", srv.model, srv.fd_ceiling,
		    srv.fd_ceiling - srv.lfd - 1);
	print_start_line(&srv, a.model);
	/* Signals wait, blocked, until the signal thread takes them. */
	if ((e = pthread_create(&t, NULL, signal_thread, &srv)) != 0)
		errc(1, e, "signal thread");
	if (srv.procs > 1)
		for (;;)
			pause();
	srv.run(&srv);
	return 0;
}
