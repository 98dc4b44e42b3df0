/*
 * kit.h - what the pieces of bin/10kthreads share: the server's settings,
 * the process-wide counters and the functions each file provides.
 */
#ifndef KIT_H
#define KIT_H

#include <sys/types.h>
#include <sys/resource.h>

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

/* Set once the server begins to exit: workers dying is expected then. */
extern atomic_int server_stopping;

struct server {
	const char	*model;
	int		 workers;	/* -w: threads, processes or loops */
	int		 procs;		/* -P: processes sharing the socket */
	void		(*run)(struct server *);	/* the model */
	long		 max_conns;	/* -c: 0 for no cap */
	int		 idle_timeout;	/* -t: seconds, 0 for none */
	char		 addr[80];	/* host:port as bound */
	int		 lfd;
	size_t		 stack;		/* bytes per connection thread */
	int		 backlog;
	rlim_t		 fd_limit;
	const char	*json_path;
	struct timespec	 start;
	long		 peak_kstack_kib; /* written by the signal thread only */
	int		 sample_pss;	/* several processes: sample their PSS */
	long		 peak_pss_kib;	/* written by the signal thread only */
	long		 pss_interval_ms; /* likewise: between PSS samples */
};

/* What the worker processes of a process model add to the report. */
struct proctotals {
	int		procs;
	long		threads, rss_kib, pss_kib;
	double		user_s, sys_s;
};

/* counters.c */
void	counters_init(void);
int	conn_admit(const struct server *, int);
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
long	proc_pss_kib(pid_t);
struct procstat *proc_stat_all(size_t *);

/* rusage.c */
int	report_start(const struct server *);
int	report(struct server *, const char *, int);

/* procs.c */
pid_t	procs_spawn(void (*)(struct server *, long), struct server *, long);
void	procs_reap(void);
void	procs_gather(struct proctotals *);
void	procs_stop(void);

/* The server models, one file each. */
void	model_thread(struct server *);
void	model_prethread(struct server *);
void	model_prethread_nolock(struct server *);
void	model_pool(struct server *);
void	model_prefork_nolock(struct server *);
void	model_prefork_lock(struct server *);
void	model_prefork_pass(struct server *);
void	model_fork(struct server *);
void	model_iterative(struct server *);
void	model_epoll(struct server *);
void	model_uring(struct server *);
void	model_uring_check(void);

#endif /* KIT_H */
