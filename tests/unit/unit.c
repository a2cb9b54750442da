/*
 * The harness behind unit.h.
 */
#include "common/compat.h"

#include <stdarg.h>

#include "tests/unit/unit.h"

int unit_passed, unit_failed;

void unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	unit_failed++;
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int unit_report(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
