/*
 * core/procfile.c - what the server reads from /proc: its own status, memory
 * and PSS, the machine's meminfo, and every process's stat line.
 *
 * The server's own files and /proc/meminfo stay open from the first read
 * on: the report matters most when the descriptor table is full, and then
 * no file could be opened.  Only the main thread at start and then the
 * signal thread read them.
 */
#include <sys/types.h>

#include <dirent.h>
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

struct procfile {
	const char	*path;
	int		 fd;
	pid_t		 pid;	/* a forked child must not read its parent's */
};

static struct procfile status_file = { "/proc/self/status", -1, 0 };
static struct procfile meminfo_file = { "/proc/meminfo", -1, 0 };
static struct procfile smaps_file = { "/proc/self/smaps_rollup", -1, 0 };

/* The whole text of pf, NUL-terminated; -1 if it cannot be read. */
static int
procfile_text(struct procfile *pf, char *buf, size_t len)
{
	ssize_t n;

	if (pf->fd != -1 && pf->pid != getpid()) {
		close(pf->fd);
		pf->fd = -1;
	}
	if (pf->fd == -1) {
		if ((pf->fd = open(pf->path, O_RDONLY | O_CLOEXEC)) == -1)
			return -1;
		pf->pid = getpid();
	}
	/* A read from offset 0 has the kernel write the text afresh. */
	if ((n = pread(pf->fd, buf, len - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/*
 * The first number after "key:" at the start of a line of text, as in
 * status, meminfo and smaps_rollup (whose kB are KiB); -1 if there is none.
 */
long
proctext_kib(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p;

	for (p = text; *p != '\0'; p++) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':')
			return strtol(p + klen + 1, NULL, 10);
		if ((p = strchr(p, '\n')) == NULL)
			break;
	}
	return -1;
}

static long
procfile_kib(struct procfile *pf, const char *key)
{
	char buf[PROCTEXT_MAX];

	if (procfile_text(pf, buf, sizeof(buf)) == -1)
		return -1;
	return proctext_kib(buf, key);
}

long
proc_status_kib(const char *key)
{
	return procfile_kib(&status_file, key);
}

long
meminfo_kib(const char *key)
{
	return procfile_kib(&meminfo_file, key);
}

/* /proc/meminfo at one instant, for figures that must agree. */
int
meminfo_text(char *buf, size_t len)
{
	return procfile_text(&meminfo_file, buf, len);
}

/* Proportional set size: shared pages divided among their sharers. */
long
proc_pss_kib(pid_t pid)
{
	char path[64], line[256];
	long v = 0;
	FILE *fp;

	if (pid == getpid()) {
		v = procfile_kib(&smaps_file, "Pss");
		return v == -1 ? 0 : v;
	}
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "Pss:", 4) == 0) {
			v = strtol(line + 4, NULL, 10);
			break;
		}
	fclose(fp);
	return v;
}

/*
 * A /proc/<pid>/stat line into p.  The command name may hold spaces and
 * parentheses, so the fields are counted from the last ')'.
 */
int
procstat_parse(const char *buf, struct procstat *p)
{
	const char *s;

	if ((s = strrchr(buf, ')')) == NULL || sscanf(s + 2, "%*c %d %*d %*d "
	    "%*d %*d %*u %*u %*u %*u %*u %ld %ld %*d %*d %*d %*d %ld %*d %*u "
	    "%*u %ld", &p->ppid, &p->utime, &p->stime, &p->threads,
	    &p->rss_pages) != 5)
		return -1;
	return 0;
}

static int
proc_stat(pid_t pid, struct procstat *p)
{
	char path[64], buf[1024];
	FILE *fp;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	ok = fgets(buf, sizeof(buf), fp) != NULL;
	fclose(fp);
	if (!ok || procstat_parse(buf, p) == -1)
		return -1;
	p->pid = pid;
	return 0;
}

/*
 * The stat line of every process there is, as an array the caller frees;
 * NULL if /proc cannot be listed.  A process that ends meanwhile is left
 * out.
 */
struct procstat *
proc_stat_all(size_t *np)
{
	struct procstat *all = NULL, *more, p;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	*np = 0;
	if ((d = opendir("/proc")) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    proc_stat(atoi(de->d_name), &p) == -1)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((more = reallocarray(all, cap, sizeof(*all))) ==
			    NULL)
				err(1, "/proc");
			all = more;
		}
		all[n++] = p;
	}
	closedir(d);
	if (all == NULL && (all = calloc(1, sizeof(*all))) == NULL)
		err(1, "/proc");
	*np = n;
	return all;
}
