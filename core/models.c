/*
 * core/models.c - the table of server designs: what -M takes, what -h and
 * -M list print, what main runs, and the facts the memory budget prices a
 * connection of each by.  No other file names a model.
 *
 * To add a model:
 *   1. write models/NAME.c (or a folder, as uring's): declare
 *      `model_run model_NAME;` and define it, noreturn;
 *   2. declare it below as the others are;
 *   3. add its entry to the table, in -M list's order, with every fact.
 */
#include <sys/types.h>
#include <sys/select.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

#define NORETURN	__attribute__((noreturn))

/* The models, one file each in models/ (uring's, a folder). */
model_run	model_thread NORETURN;
model_run	model_prethread NORETURN;
model_run	model_prethread_nolock NORETURN;
model_run	model_pool NORETURN;
model_run	model_prefork_nolock NORETURN;
model_run	model_prefork_lock NORETURN;
model_run	model_prefork_pass NORETURN;
model_run	model_fork NORETURN;
model_run	model_iterative NORETURN;
model_run	model_epoll NORETURN;
model_run	model_uring NORETURN;
model_run	model_poll NORETURN;
model_run	model_select NORETURN;
model_run	model_dispatch NORETURN;
/* models/uring/setup.c: exits saying what this kernel lacks for -M uring. */
void	model_uring_check(void);

/*
 * Every model states what serves a connection, what watches it and what
 * -w counts; models_check refuses to start without them.
 */
static const struct model models[] = {
	{ .name = "thread", .run = model_thread, .served = SERVED_THREAD,
	    .watch = WATCH_NONE, .workers = WORKERS_NONE, .compared = 1 },
	{ .name = "prethread", .run = model_prethread,
	    .served = SERVED_WORKER, .watch = WATCH_NONE,
	    .workers = WORKERS_THREADS, .default_workers = 64, .bounded = 1 },
	{ .name = "prethread-nolock", .run = model_prethread_nolock,
	    .served = SERVED_WORKER, .watch = WATCH_NONE,
	    .workers = WORKERS_THREADS, .default_workers = 64, .bounded = 1 },
	{ .name = "pool", .run = model_pool, .served = SERVED_WORKER,
	    .watch = WATCH_NONE, .workers = WORKERS_THREADS,
	    .default_workers = 64, .bounded = 1 },
	{ .name = "prefork", .run = model_prefork_nolock,
	    .served = SERVED_WORKER, .watch = WATCH_NONE,
	    .workers = WORKERS_PROCESSES, .default_workers = 16, .bounded = 1,
	    .same_as = "prefork-nolock" },
	{ .name = "prefork-nolock", .run = model_prefork_nolock,
	    .served = SERVED_WORKER, .watch = WATCH_NONE,
	    .workers = WORKERS_PROCESSES, .default_workers = 16, .bounded = 1 },
	{ .name = "prefork-lock", .run = model_prefork_lock,
	    .served = SERVED_WORKER, .watch = WATCH_NONE,
	    .workers = WORKERS_PROCESSES, .default_workers = 16, .bounded = 1 },
	{ .name = "prefork-pass", .run = model_prefork_pass,
	    .served = SERVED_WORKER, .watch = WATCH_NONE,
	    .workers = WORKERS_PROCESSES, .default_workers = 16, .bounded = 1 },
	{ .name = "fork", .run = model_fork, .served = SERVED_PROCESS,
	    .watch = WATCH_NONE, .workers = WORKERS_NONE },
	/* Its one worker is the thread that accepts. */
	{ .name = "iterative", .run = model_iterative, .served = SERVED_WORKER,
	    .watch = WATCH_NONE, .workers = WORKERS_NONE, .bounded = 1 },
	{ .name = "epoll", .run = model_epoll, .served = SERVED_LOOP,
	    .watch = WATCH_EPOLL, .workers = WORKERS_LOOPS,
	    .default_workers = 1, .compared = 1 },
	{ .name = "uring", .run = model_uring, .check = model_uring_check,
	    .served = SERVED_LOOP, .watch = WATCH_URING,
	    .workers = WORKERS_LOOPS, .default_workers = 1, .compared = 1 },
	{ .name = "poll", .run = model_poll, .served = SERVED_LOOP,
	    .watch = WATCH_NONE, .workers = WORKERS_LOOPS,
	    .default_workers = 1 },
	/* One loop: the loops of a process would share FD_SETSIZE. */
	{ .name = "select", .run = model_select, .served = SERVED_LOOP,
	    .watch = WATCH_NONE, .workers = WORKERS_NONE, .bounded = 1,
	    .fd_ceiling = FD_SETSIZE },
	/*
	 * As many workers as pool's: the two differ only in when a
	 * connection gets one (when it is ready, or for its whole life).
	 * The loop watches every connection; a worker serves it when ready.
	 */
	{ .name = "dispatch", .run = model_dispatch, .served = SERVED_LOOP,
	    .watch = WATCH_EPOLL, .workers = WORKERS_THREADS,
	    .default_workers = 64 },
};
#define NMODELS	(sizeof(models) / sizeof(models[0]))

/*
 * Exit, naming the model and the fact, if an entry leaves out a fact the
 * budget or -w needs: a cost guessed as zero would let the server take
 * more connections than its memory holds.
 */
void
models_check(void)
{
	const struct model *m;
	const char *missing;

	for (m = models; m < models + NMODELS; m++) {
		missing = NULL;
		if (m->served < SERVED_THREAD || m->served >= NSERVED)
			missing = "what serves a connection (.served)";
		else if (m->watch < WATCH_NONE || m->watch >= NWATCH)
			missing = "what watches a connection (.watch)";
		else if (m->workers < WORKERS_NONE || m->workers >= NWORKERS)
			missing = "what -w counts (.workers)";
		else if (m->workers != WORKERS_NONE && m->default_workers < 1)
			missing = "how many workers -w defaults to "
			    "(.default_workers)";
		if (missing != NULL)
			errx(1, "model %s: its entry in the models table "
			    "(core/models.c) lacks %s", m->name, missing);
	}
}

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

/*
 * The facts in words, for -M list and the start line; NULL where a model
 * has nothing to show.  models_check has kept each in range.
 */
static const char *const workers_words[NWORKERS] = {
	[WORKERS_THREADS] = "threads", [WORKERS_PROCESSES] = "processes",
	[WORKERS_LOOPS] = "event loops",
};
static const char *const served_words[NSERVED] = {
	[SERVED_THREAD] = "thread", [SERVED_PROCESS] = "process",
};

/* What -w counts, or NULL. */
const char *
model_workers(const struct model *m)
{
	return workers_words[m->workers];
}

/* Whether it runs in processes, whose memory is summed as PSS. */
int
model_processes(const struct model *m)
{
	return m->workers == WORKERS_PROCESSES || m->served == SERVED_PROCESS;
}

/* The thread or process a new connection gets, or NULL. */
static const char *
per_conn(const struct model *m)
{
	return served_words[m->served];
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

/* -M list's text: one aligned row a model. */
static void
list_text(void)
{
	const struct model *m;
	char wdef[16];

	printf("%-17s %-12s %-10s %-15s %-12s %-10s %-9s %s\n", "model",
	    "concurrency", "runs in", "per connection", "-w counts",
	    "-w default", "compared", "note");
	for (m = models; m < models + NMODELS; m++) {
		if (m->workers != WORKERS_NONE)
			snprintf(wdef, sizeof(wdef), "%d", m->default_workers);
		else
			strlcpy(wdef, "-", sizeof(wdef));
		printf("%-17s %-12s %-10s %-15s %-12s %-10s ", m->name,
		    m->bounded ? "bounded" : "unbounded",
		    model_processes(m) ? "processes" : "threads",
		    DASH(per_conn(m)), DASH(model_workers(m)), wdef);
		if (m->same_as != NULL)
			printf("%-9s same as %s\n", m->compared ? "yes" : "-",
			    m->same_as);
		else if (m->fd_ceiling > 0)
			printf("%-9s descriptors below %d only\n",
			    m->compared ? "yes" : "-", m->fd_ceiling);
		else
			printf("%s\n", m->compared ? "yes" : "-");
	}
}

/* -M list's JSON: schema 10kthreads-model-list/1. */
static void
list_json(FILE *fp)
{
	const struct model *m;

	fprintf(fp, "{\n  \"schema\": \"10kthreads-model-list/1\",\n"
	    "  \"models\": [\n");
	for (m = models; m < models + NMODELS; m++)
		fprintf(fp, "    {\"name\": \"%s\", \"bounded\": %s, "
		    "\"processes\": %s, \"per_connection\": \"%s\", "
		    "\"workers\": \"%s\", \"default_workers\": %d, "
		    "\"same_as\": \"%s\", \"fd_ceiling\": %d, "
		    "\"compared\": %s}%s\n", m->name,
		    m->bounded ? "true" : "false",
		    model_processes(m) ? "true" : "false", JSTR(per_conn(m)),
		    JSTR(model_workers(m)), m->default_workers,
		    JSTR(m->same_as), m->fd_ceiling,
		    m->compared ? "true" : "false",
		    m + 1 < models + NMODELS ? "," : "");
	fprintf(fp, "  ]\n}\n");
}

/*
 * -M list: every model and its facts, aligned for people and, with -j,
 * as JSON for programs.
 */
void __attribute__((noreturn))
models_list(const char *json_path)
{
	FILE *fp = NULL;

	/* Opened first: a bad path must fail before anything is printed. */
	if (json_path != NULL && (fp = fopen(json_path, "we")) == NULL)
		err(1, "%s", json_path);
	list_text();
	if (fflush(stdout) == EOF)
		err(1, "stdout");
	if (fp == NULL)
		exit(0);
	list_json(fp);
	if (fclose(fp) == EOF)
		err(1, "%s", json_path);
	exit(0);
}
