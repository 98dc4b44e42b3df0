/*
 * core/kit.h - what the pieces of bin/10kthreads share: its configuration
 * and live state, the process-wide counters, the facts of a model, and
 * the functions each file provides.
 */
#ifndef KIT_H
#define KIT_H

#include <sys/types.h>
#include <sys/resource.h>

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define PROGNAME	"10kthreads"

/*
 * Counters live in one MAP_SHARED page so that forked children of the
 * process models update the same figures the parent reports.  What each
 * one counts is defined once, in the README's "How to read the figures",
 * and every model (and the Go server) counts it the same way.
 */
struct counters {
	atomic_long	now;		/* connections open now */
	atomic_long	max_conc;	/* peak of now */
	atomic_long	total;		/* connections admitted */
	atomic_long	bytes;		/* bytes written back */
	atomic_long	resets;		/* ended by a read or write error */
	atomic_long	create_failures; /* threads/processes not created */
	atomic_long	accept_errors;	/* failed accepts (net.c decides) */
	atomic_long	over_cap;	/* closed at once: -c reached */
	atomic_long	timeouts;	/* closed after -t idle seconds */
	atomic_long	over_budget;	/* closed at once: memory budget */
	atomic_long	mem_reserved;	/* bytes of large echo buffers held */
	atomic_long	serving;	/* connections in serve_conn now */
	atomic_long	over_fd_setsize; /* closed at once: fd too high */
	atomic_long	waiting;	/* requests in their -d wait now */
	atomic_long	max_waiting;	/* peak of waiting */
};

extern struct counters *counters;

/*
 * Every counter update goes through these.  Relaxed order is enough: a
 * figure is a sum, and nothing else is ordered by it.  count_add returns
 * the new value; a negative n takes back what was counted too early.
 */
static inline long
count_add(atomic_long *c, long n)
{
	return atomic_fetch_add_explicit(c, n, memory_order_relaxed) + n;
}

static inline void
count(atomic_long *c)
{
	(void)count_add(c, 1);
}

/* Raise c to v unless it is already higher: a peak. */
static inline void
count_max(atomic_long *c, long v)
{
	long old = atomic_load_explicit(c, memory_order_relaxed);

	while (v > old && !atomic_compare_exchange_weak_explicit(c, &old, v,
	    memory_order_relaxed, memory_order_relaxed))
		;
}

/*
 * Echoed bytes, in every model: counted just before their send, so that
 * a peer that has its echo finds it in the next report; what is then
 * never sent is taken back.
 */
static inline void
echo_counted(long n)
{
	count_add(&counters->bytes, n);
}

static inline void
echo_unsent(long n)
{
	count_add(&counters->bytes, -n);
}

/* Set once the server begins to exit: workers dying is expected then. */
extern atomic_int server_stopping;

/*
 * The memory budget (membudget.c), set once at start: the limit that
 * binds and what a connection is assumed to cost, in bytes; budget is in
 * connections, 0 for none.  The README's "Running under a memory limit"
 * explains each figure.
 */
enum mem_source { MEM_NONE, MEM_CGROUP_V1, MEM_CGROUP_V2, MEM_FLAG };

struct membudget {
	long		 limit, headroom, start, fixed;
	long		 conn, conn_user, conn_kstack, conn_task, conn_socket;
	long		 budget;
	enum mem_source	 source;	/* where the binding limit comes from */
	const char	*source_name;	/* as the report says it: "-m" */
	const char	*cgroup;	/* the binding cgroup's path, or "" */
	const char	*cost_source;	/* "/proc/slabinfo" or "defaults" */
	const char	*limit_text, *cost_text, *threshold_text; /* report */
};

struct model;

/*
 * What the server is: the command line, and what main sets up from it
 * before any other thread or process exists.  Read only after that, so
 * everything else takes it const.
 */
struct config {
	const struct model *model;	/* -M */
	int		 workers;	/* -w: threads, processes or loops */
	int		 procs;		/* -P: processes sharing the socket */
	long		 max_conns;	/* -c: 0 for no cap */
	int		 idle_timeout;	/* -t: seconds, 0 for none */
	long		 delay_us;	/* -d: wait before each echo */
	long		 work_us;	/* -W: CPU work before each echo */
	size_t		 stack;		/* -s: bytes per connection thread */
	int		 backlog;	/* -b */
	const char	*json_path;	/* -j */
	long		 mem_arg;	/* -m: bytes, 0 if not given */
	int		 sample_pss;	/* several processes: sample PSS */
	/* Set up at start, from the above: */
	char		 addr[80];	/* host:port as bound */
	int		 lfd;		/* the listening socket */
	rlim_t		 fd_limit;
	const struct membudget *mem;
	struct timespec	 start;
};

/*
 * What changes while the server runs, beside the counters: the peaks no
 * kernel counter keeps.  Written only by the signal thread (its samples
 * and its reports), after main has set where the samples start.
 */
struct live {
	long		 peak_kstack_kib;
	long		 peak_pss_kib;
	long		 pss_interval_ms; /* between PSS samples */
};

/*
 * The facts of a design that the memory budget prices and -M list shows:
 * what serves a new connection, what the kernel keeps to watch it beside
 * its socket, and what -w counts.  None has a 0 value: a model whose
 * entry in core/models.c leaves one out is refused at start
 * (models_check), rather than priced at nothing.
 */
enum conn_served {
	SERVED_THREAD = 1,	/* a thread of its own: stack, task */
	SERVED_PROCESS,		/* a process of its own */
	SERVED_WORKER,		/* a thread or process made at start */
	SERVED_LOOP,		/* an event loop: an entry in its table */
	NSERVED
};

enum conn_watch {
	WATCH_NONE = 1,		/* nothing: blocking reads, poll, select */
	WATCH_EPOLL,		/* an epoll item */
	WATCH_URING,		/* an armed io_uring receive */
	NWATCH
};

enum workers {
	WORKERS_NONE = 1,	/* it takes no -w */
	WORKERS_THREADS,
	WORKERS_PROCESSES,
	WORKERS_LOOPS,		/* event loops, a thread each */
	NWORKERS
};

/*
 * What a model is: it runs the server and never returns.  Each model file
 * declares its function with this type before defining it, and so does
 * the table in models.c, so the compiler holds both to one signature.
 */
typedef void model_run(const struct config *);

/*
 * What each model is, for -h, -M list, the memory budget and the
 * experiment runner, which reads -M list rather than keeping facts of its
 * own.  bounded: it serves at most a fixed number of connections at a
 * time, whatever the fd limit: -w, one, or those below fd_ceiling.
 * fd_ceiling: connections on descriptors at or above it are closed at
 * once (select's FD_SETSIZE), or 0.  compared: one of the designs the
 * main experiment (make experiment) compares, a thread per connection
 * against the event loops; the others have experiments of their own.
 * check: exits saying what the machine lacks for the model, or NULL.
 */
struct model {
	const char	*name;
	model_run	*run __attribute__((noreturn));
	void		(*check)(void);
	enum conn_served served;
	enum conn_watch	 watch;
	enum workers	 workers;
	int		 default_workers;
	int		 bounded;
	int		 fd_ceiling;
	const char	*same_as;
	int		 compared;
};

/* What the worker processes of a process model add to the report. */
struct proctotals {
	int		procs;
	long		threads, rss_kib, pss_kib;
	double		user_s, sys_s;
};

/* cgroup.c: the memory cgroup of a process and its binding limit. */
struct memcg {
	int		 version;	/* 1 or 2; 0: no memory cgroup */
	char		 mount[PATH_MAX], leaf[PATH_MAX], dir[PATH_MAX];
	long long	 limit, usage;	/* of dir, in bytes; limit -1: none */
};

int	cgroup_locate(const char *, const char *, struct memcg *);
long long cgroup_parse_limit(const char *);
int	cgroup_limit(const char *, struct memcg *);
int	cgroup_find(const char *, const char *, struct memcg *);
int	cgroup_usage_open(const char *, const struct memcg *);
long long cgroup_usage_read(int);

/* counters.c */
void	counters_init(void);
int	conn_admit(const struct config *, int);
void	conn_failed(int);
void	conn_closed(void);

/* echo.c */
void	serve_conn(int);

/* net.c */
int	net_listen(const char *, const char *, int, char *, size_t);
int	net_accept(int);
int	net_accept_nb(int, int, long *);
int	net_accepted(int, int, long *);
void	net_configure(int, int);

/* conncost.c: what the memory cgroup is charged, in bytes. */
struct costs {
	long		 conn_user, conn_kstack, conn_task, conn_socket;
	long		 fixed;		/* the model's workers, made up front */
	long		 thread_kernel;	/* one thread's kernel stack, objects */
	const char	*source;	/* of the object sizes */
};

void	costs_of(const struct config *, struct costs *);

/* membudget.c */
const struct membudget *membudget_init(const struct config *);
int	membudget_full(void);
int	membudget_over(long);
long	membudget_usage(void);
void	*membudget_alloc(size_t);
void	membudget_free(void *, size_t);
void	membudget_print(FILE *);

/* request.c */
const char *request_duration(const char *, long *);
void	request_format(char *, size_t, long);
void	request_init(const struct config *);
void	request_work(void);
void	request_wait(void);
long	request_delay_us(void);
void	request_waiting(int);

/* procfile.c */
struct procstat {
	pid_t	pid, ppid;
	long	utime, stime;		/* clock ticks */
	long	threads, rss_pages;
};

#define PROCTEXT_MAX	8192	/* enough for status, meminfo, smaps_rollup */

long	proc_status_kib(const char *);
long	meminfo_kib(const char *);
int	meminfo_text(char *, size_t);
long	proctext_kib(const char *, const char *);
int	procstat_parse(const char *, struct procstat *);
long	proc_pss_kib(pid_t);
struct procstat *proc_stat_all(size_t *);

/* rusage.c */
int	report_start(const struct config *, const struct live *);
int	report(const struct config *, struct live *, int);

/* models.c */
void	models_check(void);
const struct model *models_find(const char *);
const char *model_workers(const struct model *);
int	model_processes(const struct model *);
void	models_names(FILE *);
void	models_list(const char *) __attribute__((noreturn));

/* signals.c: how often the signal thread wakes between signals. */
#define TICK_MS		100
void	signals_block(void);
void	signals_start(const struct config *, struct live *);

/* procs.c */
pid_t	procs_spawn(void (*)(const struct config *, void *),
	    const struct config *, void *);
void	procs_start(const struct config *);
void	procs_reap(void);
void	procs_gather(struct proctotals *);
void	procs_stop(void);

#endif /* KIT_H */
