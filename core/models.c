/*
 * core/models.c - the table of server designs: what -M takes, what -h and
 * -M list print, and what main needs to run each one.
 */
#include <sys/types.h>
#include <sys/select.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

static const struct model models[] = {
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

/* The model called name, or NULL. */
const struct model *
models_find(const char *name)
{
	size_t i;

	for (i = 0; i < NMODELS; i++)
		if (strcmp(name, models[i].name) == 0)
			return &models[i];
	return NULL;
}

/* Every model's name, each after a space, for -h. */
void
models_names(FILE *fp)
{
	size_t i;

	for (i = 0; i < NMODELS; i++)
		fprintf(fp, " %s", models[i].name);
}

#define DASH(s)	((s) != NULL ? (s) : "-")
#define JSTR(s)	((s) != NULL ? (s) : "")

/*
 * -M list: every model and its facts, aligned for people and, with -j,
 * as JSON of schema 10kthreads-model-list/1 for programs.
 */
void __attribute__((noreturn))
models_list(const char *json_path)
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
