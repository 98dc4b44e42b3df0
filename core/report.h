/*
 * core/report.h - what rusage.c (which gathers and writes the report) and
 * report_fields.c (its table of fields) share.
 */
#ifndef REPORT_H
#define REPORT_H

#include <sys/types.h>
#include <sys/resource.h>

#include <stddef.h>

#include "kit.h"

#define MAX_FIELDS	96

/* Every figure of one report, gathered at one moment. */
struct figures {
	const char	*schema, *server, *model, *address, *event;
	long		 workers, server_procs, stack, backlog, fd_limit;
	long		 max_conns, idle_timeout, delay_us, work_us;
	long		 processes, worker_procs;
	double		 uptime, user_s, sys_s;	/* all processes */
	struct rusage	 ru;			/* this process */
	long		 vmrss, vmhwm, pss_sum, rss_sum, threads;
	double		 kib_per_conn, mem_conn_kib;
	const char	*per_conn_basis;
	long		 goroutines;		/* the Go server's; none here */
	long		 now, max_conc, total, bytes, resets;
	long		 create_failures, accept_errors, over_cap, timeouts;
	long		 over_fd_setsize, max_waiting;
	long		 kstack_peak;
	struct membudget mem;			/* as set at start */
	long		 mem_usage, over_budget;
	long		 pss_peak, pss_sample_ms;
	long		 meminfo[MAX_FIELDS];	/* by field, for MEMINFO ones */
	struct proctotals w;			/* the live worker processes */
};

enum type { T_LONG, T_DBL, T_STR };

/* NOW, or its value in the start report, or its growth since then. */
enum when { NOW, AT_START, SINCE_START };

/*
 * Whether and how a field prints in the aligned block.  The block is the
 * shown fields in the table's order: one with a label starts a line, one
 * without continues the line.  A field prints as pre, the value (with dp
 * decimals, or in humanize_number(3)'s form), post; or as zero instead
 * when the value is 0 and zero is set.
 */
struct text {
	int		 shown;
	const char	*label;
	int		 dp;
	const char	*pre, *post, *zero;
	int		 human;
};

struct field {
	const char	*key;		/* JSON key; NULL: text only */
	enum type	 type;
	size_t		 off;		/* in struct figures, or */
	const char	*meminfo;	/* a /proc/meminfo key, KiB */
	int		 jdp;		/* decimals in the JSON */
	enum when	 when;
	struct text	 text;
};

extern const struct field report_fields[];
extern const size_t report_nfields;
#define REPORT_FIELDS_END	(report_fields + report_nfields)

#endif /* REPORT_H */
