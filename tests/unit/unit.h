/*
 * A minimal unit-test harness: CHECK macros record failures and go on; each
 * test binary ends with `return unit_report();`, which prints the closing
 * line "N passed, M failed" that CI reads.
 */
#ifndef TESTS_UNIT_H
#define TESTS_UNIT_H

#include "common/compat.h"

#include <inttypes.h>

extern int unit_passed, unit_failed;

void unit_fail(const char *file, int line, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
int unit_report(void);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (cond)                                                      \
			unit_passed++;                                         \
		else                                                           \
			unit_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);     \
	} while (0)

#define CHECK_INT(a, b)                                                        \
	do {                                                                   \
		long long a_ = (long long)(a), b_ = (long long)(b);            \
		if (a_ == b_)                                                  \
			unit_passed++;                                         \
		else                                                           \
			unit_fail(__FILE__, __LINE__, "%s == %lld, want %lld", \
				  #a, a_, b_);                                 \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *a_ = (a), *b_ = (b);                               \
		if (a_ && b_ && !strcmp(a_, b_))                               \
			unit_passed++;                                         \
		else                                                           \
			unit_fail(__FILE__, __LINE__,                          \
				  "%s == \"%s\", want \"%s\"", #a,             \
				  a_ ? a_ : "(null)", b_ ? b_ : "(null)");     \
	} while (0)

#endif
