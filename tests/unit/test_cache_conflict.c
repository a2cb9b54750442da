/*
 * Conflict-copy names (cache/conflict.c): "stem.conflict-<host>-<UTC
 * time>.ext", dotfiles whole, long names cut on a UTF-8 boundary.
 */
#include "common/compat.h"

#include "cache/cache_i.h"
#include "cache/conflict.h"
#include "tests/unit/unit.h"

/* 2026-11-22 07:44:33 UTC */
#define T_MS 1795333473000LL

static void test_names(void)
{
	static struct cache c; /* only host is used */
	char out[300];

	conflict_host_init(&c, "colab-vm.c.project.internal");
	CHECK_STR(c.host, "colab-vm");
	CHECK_INT(conflict_name(&c, "notes.py", T_MS, 1, out, sizeof(out)), 0);
	CHECK_STR(out, "notes.conflict-colab-vm-20261122-074433.py");
	CHECK_INT(conflict_name(&c, "notes.py", T_MS, 2, out, sizeof(out)), 0);
	CHECK_STR(out, "notes.conflict-colab-vm-20261122-074433-2.py");
	CHECK_INT(conflict_name(&c, ".bashrc", T_MS, 1, out, sizeof(out)), 0);
	CHECK_STR(out, ".bashrc.conflict-colab-vm-20261122-074433");
	CHECK_INT(conflict_name(&c, "Makefile", T_MS, 1, out, sizeof(out)), 0);
	CHECK_STR(out, "Makefile.conflict-colab-vm-20261122-074433");
	CHECK_INT(conflict_name(&c, "a.tar.gz", T_MS, 1, out, sizeof(out)), 0);
	CHECK_STR(out, "a.tar.conflict-colab-vm-20261122-074433.gz");

	conflict_host_init(&c, "we!rd host");
	CHECK_STR(c.host, "werdhost");
	conflict_host_init(&c, "...");
	CHECK_STR(c.host, "host");
}

static void test_long_names(void)
{
	static struct cache c;
	char name[256], out[300];
	size_t i;

	conflict_host_init(&c, "h");
	/* 250 bytes of two-byte characters (é) and ".txt": the stem is cut
	 * to fit 255 bytes, never inside a character. */
	for (i = 0; i + 2 <= 246; i += 2)
		memcpy(name + i, "\xc3\xa9", 2);
	memcpy(name + i, ".txt", 5);
	CHECK_INT(conflict_name(&c, name, T_MS, 1, out, sizeof(out)), 0);
	CHECK(strlen(out) <= 255);
	CHECK(strstr(out, ".conflict-h-20261122-074433.txt") != NULL);
	CHECK(((unsigned char)out[strstr(out, ".conflict") - out - 1] &
	       0xC0) != 0xC0); /* the last stem byte ends a character */
	CHECK_INT(conflict_name(&c, name, T_MS, 1, out, 20), -ENAMETOOLONG);
}

int main(void)
{
	test_names();
	test_long_names();
	return unit_report();
}
