/*
 * 10kthreads - a TCP echo server that gives every connection its own
 * small-stack thread, and reports exactly what that costs.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <limits.h>
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
	models_names(stdout);
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

/* What the command line asks for beyond struct config. */
struct args {
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
	const struct model *m;

	if ((m = models_find(arg)) == NULL)
		usage_error("-M %s: unknown model (-M list shows them)", arg);
	return m;
}

static void
parse_flag(int ch, struct config *cfg, struct args *a)
{
	switch (ch) {
	case 'a':
		a->host = optarg;
		break;
	case 'b':
		cfg->backlog = flag_number(ch, optarg, 1, 65535, "backlog",
		    "1-65535");
		break;
	case 'c':
		cfg->max_conns = flag_number(ch, optarg, 1, LONG_MAX,
		    "connection cap", NULL);
		break;
	case 'd':
		cfg->delay_us = flag_duration(ch, optarg, "delay");
		break;
	case 'h':
		help();
	case 'j':
		cfg->json_path = optarg;
		break;
	case 'M':
		if (strcmp(optarg, "list") == 0)
			a->listing = 1;
		else
			cfg->model = flag_model(optarg);
		break;
	case 'm':
		cfg->mem_arg = flag_memory(optarg);
		break;
	case 'P':
		cfg->procs = flag_number(ch, optarg, 1, MAX_PROCS, "processes",
		    "1-" XSTR(MAX_PROCS));
		break;
	case 'p':
		(void)flag_number(ch, optarg, 0, 65535, "port", "0-65535");
		a->port = optarg;
		break;
	case 's':
		cfg->stack = flag_stack(optarg);
		break;
	case 't':
		cfg->idle_timeout = flag_number(ch, optarg, 1, 86400,
		    "idle timeout", "1-86400 seconds");
		break;
	case 'W':
		cfg->work_us = flag_duration(ch, optarg, "work");
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
 * The command line into cfg and a, with every default filled in; bad
 * input is a usage error, and -M list lists the models and exits.
 */
static void
parse_args(int argc, char *argv[], struct config *cfg, struct args *a)
{
	int ch;

	memset(cfg, 0, sizeof(*cfg));
	memset(a, 0, sizeof(*a));
	cfg->backlog = -1;
	cfg->stack = DEFAULT_STACK;
	cfg->model = models_find("thread");
	a->host = "127.0.0.1";
	a->port = "1234";
	/* getopt's own messages name argv[0]; ours name the program. */
	opterr = 0;
	while ((ch = getopt(argc, argv, OPTSTRING)) != -1)
		parse_flag(ch, cfg, a);
	if (optind != argc)
		usage_error("unexpected argument: %s", argv[optind]);
	if (a->listing)
		models_list(cfg->json_path);
	if (a->workers != 0 && cfg->model->workers == WORKERS_NONE)
		usage_error("-w: model %s takes no workers", cfg->model->name);
	if (cfg->backlog == -1)
		cfg->backlog = somaxconn();
	if (cfg->procs == 0)
		cfg->procs = 1;
	cfg->workers = a->workers != 0 ? a->workers :
	    cfg->model->default_workers;
	cfg->sample_pss = cfg->procs > 1 || model_processes(cfg->model);
	/* Before anything listens: a model that cannot run says so now. */
	if (cfg->model->check != NULL)
		cfg->model->check();
}

/*
 * -d and -W come last, and only when set, so that whoever parses the
 * line without them still finds it ending where it did.
 */
static void
print_start_line(const struct config *cfg)
{
	const struct model *model = cfg->model;
	rlim_t room = cfg->fd_limit - (rlim_t)cfg->lfd - 1;
	char d[32];

	if (model->fd_ceiling > 0 && room > (rlim_t)model->fd_ceiling -
	    (rlim_t)cfg->lfd - 1)
		room = (rlim_t)model->fd_ceiling - (rlim_t)cfg->lfd - 1;
	printf("%s: listening on %s model %s", PROGNAME, cfg->addr,
	    model->name);
	if (model->workers != WORKERS_NONE)
		printf(" (%d %s)", cfg->workers, model_workers(model));
	if (cfg->procs > 1)
		printf(" in %d processes", cfg->procs);
	printf(", stack %zu KiB, backlog %d", cfg->stack / 1024, cfg->backlog);
	membudget_print(stdout);
	printf(", fd limit %llu (room for ~%llu connections)",
	    (unsigned long long)cfg->fd_limit,
	    (unsigned long long)room * cfg->procs);
	if (cfg->delay_us > 0) {
		request_format(d, sizeof(d), cfg->delay_us);
		printf(", request delay %s", d);
	}
	if (cfg->work_us > 0) {
		request_format(d, sizeof(d), cfg->work_us);
		printf(", request work %s", d);
	}
	printf("\n");
	fflush(stdout);
}

int
main(int argc, char *argv[])
{
	struct config cfg;
	struct live live;
	struct args a;

	models_check();
	parse_args(argc, argv, &cfg, &a);
	signals_block();
	counters_init();
	request_init(&cfg);
	cfg.fd_limit = raise_fd_limit();
	cfg.lfd = net_listen(a.host, a.port, cfg.backlog, cfg.addr,
	    sizeof(cfg.addr));
	cfg.mem = membudget_init(&cfg);
	clock_gettime(CLOCK_MONOTONIC, &cfg.start);
	/* The first sample comes at the first tick. */
	memset(&live, 0, sizeof(live));
	live.peak_pss_kib = proc_pss_kib(getpid());
	live.pss_interval_ms = TICK_MS;
	if (report_start(&cfg, &live) == -1)
		exit(1);
	/*
	 * The -P processes exist before the start line: whoever reads it may
	 * look for them at once.
	 */
	if (cfg.procs > 1)
		procs_start(&cfg);
	if (cfg.model->fd_ceiling > 0)
		warnx("model %s watches descriptors below %d only: it holds "
		    "about %d connections, and closes further ones at once "
		    "(closed over FD_SETSIZE)", cfg.model->name,
		    cfg.model->fd_ceiling, cfg.model->fd_ceiling - cfg.lfd - 1);
	print_start_line(&cfg);
	signals_start(&cfg, &live);
	if (cfg.procs > 1)
		for (;;)
			pause();
	cfg.model->run(&cfg);
}
