/*
 * core/cgroup.c - the memory cgroup a process is in, and the limit that binds
 * it.
 *
 * /proc/self/cgroup names the process's cgroup in each hierarchy, and
 * /proc/self/mountinfo where each hierarchy is mounted: no mount point is
 * assumed.  The memory controller is either a v1 hierarchy of its own (a
 * line "N:...memory...:/path"; files memory.limit_in_bytes and
 * memory.usage_in_bytes) or part of the unified v2 hierarchy (the line
 * "0::/path"; files memory.max and memory.current).  On a hybrid machine
 * both kinds are mounted, and a v1 hierarchy that lists the memory
 * controller has it: the controller is in one hierarchy only.
 *
 * A cgroup is also held by the limits of its ancestors, so the walk goes
 * from the process's cgroup up to the hierarchy's root and keeps the
 * level with the least room left (limit minus usage).
 *
 * Nothing here depends on the rest of the server, so that the tests can
 * run it on recorded samples of both files.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

static const char *const limit_file[] = { NULL, "memory.limit_in_bytes",
	"memory.max" };
static const char *const usage_file[] = { NULL, "memory.usage_in_bytes",
	"memory.current" };

/*
 * The whole of a file of any size, NUL-terminated, in memory the caller
 * frees; NULL if it cannot be read.  A container with thousands of mounts
 * has a mountinfo of hundreds of KiB, and a line cut off is a cgroup not
 * found.
 */
static char *
read_all(const char *path)
{
	char *buf = NULL, *p;
	size_t got = 0, size = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (got + 1 >= size) {
			size = size == 0 ? 16384 : size * 2;
			if ((p = realloc(buf, size)) == NULL)
				goto fail;
			buf = p;
		}
		if ((n = read(fd, buf + got, size - 1 - got)) == 0)
			break;
		if (n == -1 && errno != EINTR)
			goto fail;
		if (n > 0)
			got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

/* Does the comma-separated list, of length len, hold word? */
static int
list_has(const char *list, size_t len, const char *word)
{
	size_t wlen = strlen(word);
	const char *p = list, *end = list + len, *comma;

	while (p < end) {
		if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
			comma = end;
		if ((size_t)(comma - p) == wlen && strncmp(p, word, wlen) == 0)
			return 1;
		p = comma + 1;
	}
	return 0;
}

/*
 * The memory controller's line of /proc/self/cgroup: its version and
 * the cgroup's path within the hierarchy.  A v1 hierarchy with memory
 * wins over the v2 line.  Returns the version, 0 if there is neither.
 */
static int
memory_line(const char *text, char *path, size_t len)
{
	const char *line, *c1, *c2, *nl;
	int version = 0;
	size_t plen;

	for (line = text; *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line);
		if ((c1 = memchr(line, ':', (size_t)(nl - line))) == NULL ||
		    (c2 = memchr(c1 + 1, ':', (size_t)(nl - c1 - 1))) == NULL)
			goto next;
		plen = (size_t)(nl - c2 - 1);
		if (plen >= len)
			goto next;
		if (list_has(c1 + 1, (size_t)(c2 - c1 - 1), "memory")) {
			memcpy(path, c2 + 1, plen);
			path[plen] = '\0';
			return 1;
		}
		if (c2 == c1 + 1 && strncmp(line, "0:", 2) == 0 &&
		    version == 0) {
			memcpy(path, c2 + 1, plen);
			path[plen] = '\0';
			version = 2;
		}
next:
		if (*nl == '\0')
			break;
	}
	return version;
}

/* A mountinfo field, with the kernel's octal escapes (\040) undone. */
static void
unescape(const char *s, size_t n, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < len; i++) {
		if (s[i] == '\\' && i + 3 < n &&
		    s[i + 1] >= '0' && s[i + 1] <= '3') {
			out[o++] = (char)((s[i + 1] - '0') * 64 +
			    (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		} else
			out[o++] = s[i];
	}
	out[o] = '\0';
}

/* Field i (from 0) of a space-separated line: its start and length. */
static const char *
field(const char *line, const char *end, int i, size_t *n)
{
	const char *p = line, *sp;

	while (i-- > 0) {
		if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL)
			return NULL;
		p = sp + 1;
	}
	if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL)
		sp = end;
	*n = (size_t)(sp - p);
	return p;
}

/*
 * Is this mountinfo line (line to end) the hierarchy of the given
 * version: cgroup2, or a cgroup (v1) mount with memory among its
 * superblock options?
 */
static int
is_hierarchy(const char *line, const char *end, int version)
{
	const char *sep, *type, *opts;
	size_t tn, on;

	if ((sep = strstr(line, " - ")) == NULL || sep >= end ||
	    (type = field(sep + 3, end, 0, &tn)) == NULL)
		return 0;
	if (version == 2)
		return tn == 7 && strncmp(type, "cgroup2", 7) == 0;
	if (tn != 6 || strncmp(type, "cgroup", 6) != 0 ||
	    (opts = field(sep + 3, end, 2, &on)) == NULL)
		return 0;
	return list_has(opts, on, "memory");
}

/*
 * The directory of cgroup path in the hierarchy mounted by this line:
 * its mount point plus the path below the mount's own root.  The mount
 * may show only part of the hierarchy (a container's), and then the
 * path must lie within that part.
 */
static int
mounted_dir(const char *line, const char *end, const char *path,
    struct memcg *mc)
{
	char root[PATH_MAX];
	const char *f, *rel;
	size_t n, rlen;

	if ((f = field(line, end, 3, &n)) == NULL)
		return -1;
	unescape(f, n, root, sizeof(root));
	rlen = strlen(root);
	if (strcmp(root, "/") == 0)
		rel = path;
	else if (strncmp(path, root, rlen) == 0 &&
	    (path[rlen] == '/' || path[rlen] == '\0'))
		rel = path + rlen;
	else
		return -1;
	if ((f = field(line, end, 4, &n)) == NULL)
		return -1;
	unescape(f, n, mc->mount, sizeof(mc->mount));
	if (strcmp(rel, "/") == 0)
		rel = "";
	if (snprintf(mc->leaf, sizeof(mc->leaf), "%s%s", mc->mount, rel) >=
	    (int)sizeof(mc->leaf))
		return -1;
	return 0;
}

/*
 * Fill mc->version, mc->mount and mc->leaf (the process's own memory
 * cgroup directory) from the texts of /proc/self/cgroup and
 * /proc/self/mountinfo.  Returns the version, 0 if the process has no
 * memory cgroup that is mounted.
 */
int
cgroup_locate(const char *cgroup_text, const char *mountinfo_text,
    struct memcg *mc)
{
	char path[PATH_MAX];
	const char *line, *nl;

	memset(mc, 0, sizeof(*mc));
	if ((mc->version = memory_line(cgroup_text, path, sizeof(path))) == 0)
		return 0;
	for (line = mountinfo_text; *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line);
		if (is_hierarchy(line, nl, mc->version) &&
		    mounted_dir(line, nl, path, mc) == 0)
			return mc->version;
		if (*nl == '\0')
			break;
	}
	mc->version = 0;
	return 0;
}

/*
 * A limit file's value in bytes: -1 for no limit ("max" in v2; in v1 the
 * largest page multiple of a long, which is what an unset limit reads),
 * -2 if it is not a number.
 */
long long
cgroup_parse_limit(const char *text)
{
	long long v, unlimited;
	char *end;

	if (strncmp(text, "max", 3) == 0 &&
	    (text[3] == '\n' || text[3] == '\0'))
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || v < 0 ||
	    (*end != '\n' && *end != '\0'))
		return -2;
	unlimited = LLONG_MAX / sysconf(_SC_PAGESIZE) * sysconf(_SC_PAGESIZE);
	return v >= unlimited ? -1 : v;
}

/* The value of file in dir; -1 for none, -2 unreadable or not a number. */
static long long
level_value(const char *root, const char *dir, const char *file)
{
	char path[PATH_MAX], *text;
	long long v;

	if (snprintf(path, sizeof(path), "%s%s/%s", root, dir, file) >=
	    (int)sizeof(path) || (text = read_all(path)) == NULL)
		return -2;
	v = cgroup_parse_limit(text);
	free(text);
	return v;
}

/*
 * Walk from mc->leaf up to mc->mount and keep in mc the level with a
 * limit and the least room: its directory, limit and usage now.  root
 * prefixes every path (the tests' fake trees; "" otherwise).  Returns 1
 * if a level has a limit, 0 if none has.
 */
int
cgroup_limit(const char *root, struct memcg *mc)
{
	char dir[PATH_MAX], *slash;
	long long limit, usage;
	size_t mlen = strlen(mc->mount);

	mc->limit = -1;
	strlcpy(dir, mc->leaf, sizeof(dir));
	for (;;) {
		limit = level_value(root, dir, limit_file[mc->version]);
		usage = level_value(root, dir, usage_file[mc->version]);
		if (limit >= 0 && usage >= 0 && (mc->limit == -1 ||
		    limit - usage < mc->limit - mc->usage)) {
			strlcpy(mc->dir, dir, sizeof(mc->dir));
			mc->limit = limit;
			mc->usage = usage;
		}
		if (strlen(dir) <= mlen || (slash = strrchr(dir, '/')) == NULL)
			break;
		*slash = '\0';
		if (strlen(dir) < mlen)
			strlcpy(dir, mc->mount, sizeof(dir));
	}
	return mc->limit >= 0;
}

/*
 * Find this process's memory cgroup and its binding limit from procdir
 * (/proc/self) and the tree under root ("").  Returns 1 if there is a
 * limit, 0 if not.
 */
int
cgroup_find(const char *procdir, const char *root, struct memcg *mc)
{
	char path[PATH_MAX], *cg, *mi = NULL;
	int found = 0;

	memset(mc, 0, sizeof(*mc));
	mc->limit = -1;
	snprintf(path, sizeof(path), "%s/cgroup", procdir);
	if ((cg = read_all(path)) != NULL) {
		snprintf(path, sizeof(path), "%s/mountinfo", procdir);
		if ((mi = read_all(path)) != NULL &&
		    cgroup_locate(cg, mi, mc) != 0)
			found = cgroup_limit(root, mc);
	}
	free(cg);
	free(mi);
	if (!found)
		mc->limit = -1;
	return found;
}

/* Open the usage file of the binding level, to pread on every admission. */
int
cgroup_usage_open(const char *root, const struct memcg *mc)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s%s/%s", root, mc->dir,
	    usage_file[mc->version]) >= (int)sizeof(path))
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* The usage in bytes read from an open usage file; -1 on failure. */
long long
cgroup_usage_read(int fd)
{
	char text[64];
	ssize_t n;

	if ((n = pread(fd, text, sizeof(text) - 1, 0)) <= 0)
		return -1;
	text[n] = '\0';
	return strtoll(text, NULL, 10);
}
