/*
 * drivefs: the daemon's entry point.
 */
#include "common/compat.h"

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 0;
}
