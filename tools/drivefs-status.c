/*
 * drivefs-status: what a drivefs mount is doing. Talks to the daemon's control
 * socket (issue 6); until the daemon serves one it says so and exits 2.
 */
#include "common/compat.h"

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "drivefs-status: no control socket yet\n");
	return 2;
}
