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
 * process models update the same figures the parent reports.
 */
struct counters {
	atomic_long	now;		/* connections open now */
	atomic_long	max_conc;	/* peak of now */
	atomic_long	total;		/* connections accepted */
	atomic_long	bytes;		/* bytes echoed */
	atomic_long	resets;		/* peers that reset or vanished */
	atomic_long	create_failures; /* threads/processes not created */
	atomic_long	accept_errors;	/* accept(2) failures of any kind */
	atomic_long	over_cap;	/* closed at once: -c reached */
	atomic_long	timeouts;	/* closed after -t idle seconds */
};

extern struct counters *counters;

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
	long		 start_rss_kib;
	long		 start_pss_kib;
	long		 start_kstack_kib;
	long		 peak_kstack_kib; /* written by the signal thread only */
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
void	conn_closed(void);

/* echo.c */
void	serve_conn(int);

/* net.c */
int	net_listen(const char *, const char *, int, char *, size_t);
int	net_accept(int);
void	net_configure(int, int);

/* rusage.c */
long	proc_status_kib(const char *);
long	meminfo_kib(const char *);
int	report(const struct server *, const char *, int);
int	report_json(const struct server *, const char *);

/* procs.c */
pid_t	procs_spawn(void (*)(struct server *, long), struct server *, long);
void	procs_reap(void);
void	procs_gather(struct proctotals *);
long	procs_pss_kib(pid_t);
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
