/*
 * cgroupfind - what the C server's cgroup.c finds, for the Go tests that
 * hold both implementations to the same recorded samples.
 *
 *	cgroupfind procdir root	found version leaf|dir|limit usage
 *	cgroupfind -l text	the limit text parsed (-2: not a number)
 */
#include <stdio.h>
#include <string.h>

#include "kit.h"

int
main(int argc, char *argv[])
{
	struct memcg mc;
	int found;

	if (argc == 3 && strcmp(argv[1], "-l") == 0) {
		printf("%lld\n", cgroup_parse_limit(argv[2]));
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: cgroupfind procdir root | -l text\n");
		return 2;
	}
	found = cgroup_find(argv[1], argv[2], &mc);
	printf("%d %d %s|%s|%lld %lld\n", found, mc.version, mc.leaf, mc.dir,
	    mc.limit, found ? mc.usage : 0);
	return 0;
}
