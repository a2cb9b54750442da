/*
 * Unit tests for cache/tree.c and common/hmap.c: the indexes (inode, Drive
 * id, folder + display name), moves, identity swaps for rename-over, lookup
 * counts and freeing, display names from the naming policy, and applying a
 * listed Drive file. The naming policy here is a stand-in (display = Drive
 * name, duplicates get "~id"), enough to see the tree call it right.
 */
#include "common/compat.h"

#include "cache/tree.h"
#include "common/hmap.h"
#include "tests/unit/unit.h"

static int fake_assign(void *ctx, struct tree_name *e, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		char buf[300];

		for (size_t k = 0; k < n; k++)
			if (k != i &&
			    !strcmp(e[k].drive_name, e[i].drive_name) &&
			    strcmp(e[k].id, e[i].id) < 0)
				dup = true;
		snprintf(buf, sizeof(buf), dup ? "%s~%s" : "%s",
			 e[i].drive_name, e[i].id);
		e[i].display = strdup(buf);
		if (!e[i].display)
			return -ENOMEM;
	}
	return 0;
}

static int fake_decode(void *ctx, const char *display, const char *mime,
		       char *out, size_t outsz)
{
	(void)ctx;
	(void)mime;
	snprintf(out, outsz, "%s", display);
	return 0;
}

static const struct tree_naming naming = {fake_assign, fake_decode, NULL};

static void test_hmap_many(void)
{
	struct item {
		struct hmap_node h;
		uint64_t key;
	} *items = calloc(10000, sizeof(*items));
	struct hmap m;
	size_t found = 0;

	hmap_init(&m);
	for (uint64_t i = 0; i < 10000; i++) {
		items[i].key = i * 7919;
		hmap_insert(&m, &items[i].h,
			    hmap_hash(&items[i].key, sizeof(uint64_t), 0));
	}
	CHECK_INT(m.count, 10000);
	for (uint64_t i = 0; i < 10000; i += 2)
		hmap_remove(&m, &items[i].h);
	for (uint64_t i = 0; i < 10000; i++) {
		uint64_t key = i * 7919;
		struct hmap_node *h;

		for (h = hmap_first(&m, hmap_hash(&key, sizeof(key), 0)); h;
		     h = hmap_next(h))
			if (((struct item *)h)->key == key)
				found += (i % 2) ? 1 : 1000000;
	}
	CHECK_INT(found, 5000);
	CHECK_INT(m.count, 5000);
	hmap_release(&m);
	free(items);
}

static struct node *add(struct tree *t, struct node *dir, enum node_kind k,
			const char *name)
{
	struct node *n = tree_node_new_locked(t, k);

	if (n && tree_attach_locked(t, n, dir, name, name) < 0)
		return NULL;
	return n;
}

static void test_index_and_move(void)
{
	struct tree t;
	struct node *a, *d, *b;

	CHECK_INT(tree_init(&t, "ROOT", &naming, NULL), 0);
	CHECK_INT(t.root->ino, TREE_ROOT_INO);
	CHECK(tree_by_id_locked(&t, "ROOT") == t.root);
	d = add(&t, t.root, NODE_DIR, "dir");
	a = add(&t, t.root, NODE_FILE, "a.txt");
	CHECK(d && a);
	CHECK(a->ino > TREE_ROOT_INO && a->ino != d->ino);
	CHECK(tree_get_locked(&t, a->ino) == a);
	CHECK(tree_child_locked(&t, t.root, "a.txt") == a);
	CHECK(tree_child_locked(&t, d, "a.txt") == NULL);
	CHECK_INT(t.root->n_children, 2);

	/* A move re-indexes under the new folder and name. */
	CHECK_INT(tree_move_locked(&t, a, d, "b.txt", "b.txt"), 0);
	CHECK(tree_child_locked(&t, t.root, "a.txt") == NULL);
	CHECK(tree_child_locked(&t, d, "b.txt") == a);
	CHECK_INT(t.root->n_children, 1);
	CHECK_INT(d->n_children, 1);

	/* Ids: set, look up, clear. */
	tree_set_id_locked(&t, a, "ID_A");
	CHECK(tree_by_id_locked(&t, "ID_A") == a);
	tree_set_id_locked(&t, a, "");
	CHECK(tree_by_id_locked(&t, "ID_A") == NULL);

	/* Rename-over: identities swap, bytes stay with the inode. */
	b = add(&t, d, NODE_FILE, "tmp");
	tree_set_id_locked(&t, a, "TARGET");
	a->r.exists = true;
	a->r.version = 7;
	a->c.have_xxh = true;
	CHECK_INT(ranges_add(&b->c.present, 0, 5), 0);
	tree_swap_identity_locked(&t, b, a);
	CHECK(tree_by_id_locked(&t, "TARGET") == b);
	CHECK(b->r.exists && b->r.version == 7 && b->c.have_xxh);
	CHECK(!a->id[0] && !a->r.exists && !a->c.have_xxh);
	CHECK_INT(ranges_total(&b->c.present), 5);
	tree_release(&t);
}

static void test_lifetime(void)
{
	struct tree t;
	struct node *a;
	uint64_t ino, *dead;
	size_t n;

	CHECK_INT(tree_init(&t, "ROOT", &naming, NULL), 0);
	a = add(&t, t.root, NODE_FILE, "a");
	ino = a->ino;
	a->nlookup = 2;
	a->c.has_file = true;
	/* Unlinked but looked up: stays (the kernel may still use it). */
	tree_detach_locked(&t, a);
	a->l.deleted = true;
	tree_maybe_free_locked(&t, a);
	CHECK(tree_get_locked(&t, ino) == a);
	tree_ref_locked(a);
	tree_forget_locked(&t, a, 2);
	CHECK(tree_get_locked(&t, ino) == a); /* our reference holds it */
	tree_unref_locked(&t, a);
	CHECK(tree_get_locked(&t, ino) == NULL);
	/* Its cache file is handed over for removal. */
	tree_take_dead_locked(&t, &dead, &n);
	CHECK_INT(n, 1);
	CHECK(n == 1 && dead[0] == ino);
	free(dead);
	tree_release(&t);
}

static void test_listed_and_names(void)
{
	struct drive_prop props[] = {{(char *)TREE_PROP_MODE, (char *)"755"}};
	struct drive_file f;
	struct tree t;
	struct node *x, *y;
	char path[64];

	CHECK_INT(tree_init(&t, "ROOT", &naming, NULL), 0);
	drive_file_init(&f);
	snprintf(f.id, sizeof(f.id), "ID1");
	f.name = (char *)"same.py";
	f.mime_type = (char *)"text/x-python";
	snprintf(f.parent, sizeof(f.parent), "ROOT");
	f.size = 12;
	f.version = 3;
	f.modified_ms = 1700000000123;
	f.app_props = props;
	f.n_app_props = 1;
	CHECK_INT(tree_apply_listed_locked(&t, t.root, &f), 0);
	snprintf(f.id, sizeof(f.id), "ID2");
	f.n_app_props = 0;
	CHECK_INT(tree_apply_listed_locked(&t, t.root, &f), 0);
	CHECK_INT(tree_assign_names_locked(&t, t.root), 0);
	x = tree_child_locked(&t, t.root, "same.py");
	y = tree_child_locked(&t, t.root, "same.py~ID2");
	CHECK(x && y && x != y);
	CHECK(x && x->r.exists && x->l.exec && x->l.size == 12 &&
	      x->r.version == 3 && x->l.mtime.tv_sec == 1700000000 &&
	      x->l.mtime.tv_nsec == 123000000);
	CHECK(y && !y->l.exec);
	CHECK_INT(tree_path_locked(y, path, sizeof(path)), 0);
	CHECK_STR(path, "same.py~ID2");
	/* Listing the same id again refreshes, no second node. */
	f.size = 20;
	CHECK_INT(tree_apply_listed_locked(&t, t.root, &f), 0);
	CHECK(tree_by_id_locked(&t, "ID2") == y && y->l.size == 20);
	CHECK_INT(t.root->n_children, 2);
	tree_release(&t);
}

int main(void)
{
	test_hmap_many();
	test_index_and_move();
	test_lifetime();
	test_listed_and_names();
	return unit_report();
}
