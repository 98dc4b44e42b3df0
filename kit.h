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
};

extern struct counters *counters;

struct server {
	const char	*model;
	char		 addr[80];	/* host:port as bound */
	int		 lfd;
	size_t		 stack;		/* bytes per connection thread */
	int		 backlog;
	rlim_t		 fd_limit;
	const char	*json_path;
	struct timespec	 start;
	long		 start_rss_kib;
	long		 start_kstack_kib;
	long		 peak_kstack_kib; /* written by the signal thread only */
};

/* counters.c */
void	counters_init(void);
void	conn_opened(void);
void	conn_closed(void);

/* echo.c */
void	echo_conn(int);

/* net.c */
int	net_listen(const char *, const char *, int, char *, size_t);
int	net_accept(int);
void	net_configure(int);

/* rusage.c */
long	proc_status_kib(const char *);
long	meminfo_kib(const char *);
void	report_print(FILE *, const struct server *, const char *);
int	report_json(const struct server *, const char *);

/* model_thread.c */
void	model_thread(struct server *);

#endif /* KIT_H */
