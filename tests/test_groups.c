/* SPDX-License-Identifier: MIT */
/* The core's placement rules, driven through its own interface with the
 * steps interleaved by hand, so that every check is deterministic:
 *  - slots refill from groups of their own: no group holds rooms of two
 *    slots while each has a group (the group tag);
 *  - small requests pack into partly used rows before they break a free
 *    row anywhere (the summaries), so huge frames survive churn;
 *  - a slot that frees all it took reuses those rows (its home group);
 *  - once an allocation found the bitfield dry, frees bypass the caches
 *    (the scarce hint), and the next allocation finds the room by search;
 *  - a dead slot's reset gives its group back.
 * Seeds: LAB_TEST_SEED, printed. */
#include "harness.h"
#include "core/cache.h"
#include "core/rows.h"

#include <stdlib.h>

static struct lab_view view;
static void *region;

static struct lab_view *maze(uint64_t pages)
{
	free(region);
	size_t n = lab_core_meta_size(pages);
	REQUIRE(n > 0);
	region = aligned_alloc(64, (n + 63) & ~(size_t)63);
	REQUIRE(region);
	memset(region, 0, n);
	lab_core_format(region, pages, 12, 0);
	lab_core_view(&view, region);
	view.heavy_barrier = NULL; /* one thread: a fence suffices */
	return &view;
}

static void valid(const struct lab_view *v)
{
	char why[160] = "";
	int rc = lab_core_validate(v, why, sizeof why);
	CHECK_MSG(rc == 0, "lab_core_validate: %s", why);
}

static uint32_t owner_of(const struct lab_view *v, uint64_t idx)
{
	return lab_load_relaxed(&v->owners[idx]) & LAB_OW_TID;
}

static uint32_t group_of(uint64_t idx)
{
	return (uint32_t)(idx >> (LAB_ROW_SHIFT + LAB_GROUP_SHIFT));
}

/* Two slots whose homes are neighbouring groups take rooms in turn, three
 * groups' worth each: every group holds the rooms of one slot only. */
TEST(groups_not_shared)
{
	struct lab_view *v = maze(1u << 20); /* 64 groups */
	/* slots 0 and 32: homes 0 and 1 (bit-reversed index * 64 / 64) */
	int a = lab_core_slot_claim(v, 1, 0), b = lab_core_slot_claim(v, 2, 32);
	REQUIRE(a == 0 && b == 32);
	CHECK_EQ(lab_slot_home(v, 0), 0);
	CHECK_EQ(lab_slot_home(v, 32), 1);
	const size_t each = 3u << (LAB_ROW_SHIFT + LAB_GROUP_SHIFT);
	long *ia = malloc(each * sizeof *ia), *ib = malloc(each * sizeof *ib);
	REQUIRE(ia && ib);
	for (size_t i = 0; i < each; i++) {
		ia[i] = lab_core_alloc(v, a, 0, true, lab_ow_make(1, 0, true));
		ib[i] = lab_core_alloc(v, b, 0, true, lab_ow_make(2, 0, true));
		REQUIRE(ia[i] >= 0 && ib[i] >= 0);
	}
	uint32_t seen[64] = { 0 }; /* per group: bit 0 slot a's, bit 1 slot b's */
	for (uint64_t r = 0; r < v->pages; r++)
		if (owner_of(v, r) == 1 || owner_of(v, r) == 2)
			seen[group_of(r)] |= owner_of(v, r);
	unsigned shared = 0, used = 0;
	for (unsigned g = 0; g < 64; g++) {
		shared += seen[g] == 3;
		used += seen[g] != 0;
	}
	CHECK_MSG(shared == 0, "%u of %u groups hold rooms of both slots", shared, used);
	CHECK_EQ(used, 6);
	valid(v);
	for (size_t i = 0; i < each; i++) {
		CHECK_EQ(lab_core_free(v, a, (uint64_t)ia[i], 0, 1), 0);
		CHECK_EQ(lab_core_free(v, b, (uint64_t)ib[i], 0, 2), 0);
	}
	lab_core_drain(v, a);
	lab_core_drain(v, b);
	valid(v);
	/* freed all they took: the next rooms come from the same groups */
	long x = lab_core_alloc(v, a, 0, true, lab_ow_make(1, 0, true));
	REQUIRE(x >= 0);
	CHECK_MSG(seen[group_of((uint64_t)x)] == 1, "slot a's next room %ld lies in group %u", x,
		  group_of((uint64_t)x));
	CHECK_EQ(lab_core_free(v, a, (uint64_t)x, 0, 1), 0);
	CHECK(lab_core_slot_release(v, a, 1));
	CHECK(lab_core_slot_release(v, b, 2));
	for (unsigned g = 0; g < v->ngroups; g++)
		CHECK_EQ(lab_load_relaxed(&v->groups[g].tag), 0);
	valid(v);
	free(ia);
	free(ib);
}

/* Half full, then rounds of freeing a random tenth of the held rooms and
 * allocating as many again: the held rooms end up packed, so the free
 * rows are exactly what the free rooms allow (nothing broken needlessly),
 * and every one of them can be taken as an order-9 block. */
TEST(small_requests_pack)
{
	uint64_t seed = harness_seed(getenv("LAB_TEST_SEED"), 0x9a0c5);
	const uint64_t pages = 1u << 18;
	struct lab_view *v = maze(pages);
	int s = lab_core_slot_claim(v, 7, 0);
	REQUIRE(s >= 0);
	uint32_t ow = lab_ow_make(7, 0, false);
	/* not a whole number of groups: the slot's own group keeps free rows */
	size_t n = pages / 2 + 5000, k = n / 10;
	long *held = malloc(n * sizeof *held);
	REQUIRE(held);
	for (size_t i = 0; i < n; i++)
		REQUIRE((held[i] = lab_core_alloc(v, s, 0, true, ow)) >= 0);
	for (int round = 0; round < 50; round++) {
		for (size_t q = 0; q < k; q++) { /* k distinct random held rooms */
			size_t x = q + harness_rand(&seed) % (n - q);
			long t = held[q];
			held[q] = held[x];
			held[x] = t;
			CHECK_EQ(lab_core_free(v, s, (uint64_t)held[q], 0, 7), 0);
		}
		for (size_t q = 0; q < k; q++)
			REQUIRE((held[q] = lab_core_alloc(v, s, 0, true, ow)) >= 0);
	}
	lab_core_drain(v, s);
	valid(v);
	struct lab_core_stats st;
	lab_core_stats(v, &st);
	uint64_t bound = (pages - n) >> LAB_ROW_SHIFT;
	CHECK_MSG(st.huge_free == bound, "%llu whole free rows, the free rooms allow %llu",
		  (unsigned long long)st.huge_free, (unsigned long long)bound);
	uint64_t blocks = 0;
	while (lab_core_alloc(v, s, LAB_ROW_SHIFT, true, lab_ow_make(7, LAB_ROW_SHIFT, false)) >= 0)
		blocks++;
	CHECK_EQ(blocks, bound);
	free(held);
}

/* A slot that freed all it took reuses those groups: round after round
 * of taking two groups' worth and freeing them stays in the same three
 * groups (the last one it reserved, then from its home group on). */
TEST(freed_rows_are_reused)
{
	struct lab_view *v = maze(1u << 20);
	int a = lab_core_slot_claim(v, 1, 0);
	REQUIRE(a == 0);
	const size_t n = 2u << (LAB_ROW_SHIFT + LAB_GROUP_SHIFT);
	long *r = malloc(n * sizeof *r);
	REQUIRE(r);
	uint64_t used = 0; /* bit g: group g held a room in some round */
	for (int round = 0; round < 8; round++) {
		for (size_t i = 0; i < n; i++) {
			REQUIRE((r[i] = lab_core_alloc(v, a, 0, true, lab_ow_make(1, 0, true))) >=
				0);
			used |= 1ull << group_of((uint64_t)r[i]);
		}
		for (size_t i = 0; i < n; i++)
			CHECK_EQ(lab_core_free(v, a, (uint64_t)r[i], 0, 1), 0);
	}
	CHECK_MSG(__builtin_popcountll(used) <= 3, "8 rounds of 2 groups' worth used groups %#llx",
		  (unsigned long long)used);
	lab_core_drain(v, a);
	valid(v);
	free(r);
}

/* Rows another thread freed in a group that a slot reserved are left to
 * that slot: a second slot that needs a new group does not go there,
 * although partly used rows come before free ones. */
TEST(reserved_group_left_alone)
{
	struct lab_view *v = maze(1u << 20);
	int a = lab_core_slot_claim(v, 1, 0), b = lab_core_slot_claim(v, 2, 32);
	REQUIRE(a == 0 && b == 32);
	long ra[100];
	for (int i = 0; i < 100; i++)
		REQUIRE((ra[i] = lab_core_alloc(v, a, 0, true, lab_ow_make(1, 0, false))) >= 0);
	uint32_t ga = group_of((uint64_t)ra[0]);
	for (int i = 0; i < 100; i += 2) /* freed around any cache: rows partly used */
		CHECK_EQ(lab_core_free(v, -1, (uint64_t)ra[i], 0, 3), 0);
	const size_t nb = (1u << (LAB_ROW_SHIFT + LAB_GROUP_SHIFT)) + 1000;
	long *rb = malloc(nb * sizeof *rb);
	REQUIRE(rb);
	size_t inside = 0;
	for (size_t i = 0; i < nb; i++) {
		REQUIRE((rb[i] = lab_core_alloc(v, b, 0, true, lab_ow_make(2, 0, false))) >= 0);
		inside += group_of((uint64_t)rb[i]) == ga;
	}
	CHECK_MSG(inside == 0, "slot b took %zu rooms in slot a's group %u", inside, ga);
	valid(v);
	free(rb);
}

/* The bitfield runs dry: the last allocation sets the hint, a free by
 * another slot then goes to the bitfield (not its cache), and the next
 * allocation finds that room by search. */
TEST(scarce_frees_bypass_caches)
{
	const uint64_t pages = 4096;
	struct lab_view *v = maze(pages);
	int a = lab_core_slot_claim(v, 1, 0), b = lab_core_slot_claim(v, 2, 1);
	REQUIRE(a >= 0 && b >= 0);
	long *held = malloc(pages * sizeof *held);
	REQUIRE(held);
	for (uint64_t i = 0; i < pages; i++)
		REQUIRE((held[i] = lab_core_alloc(v, a, 0, true, lab_ow_make(1, 0, false))) >= 0);
	CHECK_EQ(lab_core_alloc(v, a, 0, true, lab_ow_make(1, 0, false)), -LAB_ENOMEM);
	CHECK_EQ(lab_load_relaxed(&v->m->scarce), 1);
	/* slot b frees a shared room: it lands in the bitfield */
	CHECK_EQ(lab_core_free(v, b, (uint64_t)held[100], 0, 2), 0);
	CHECK_EQ(lab_load_relaxed(&v->slots[b].top), 0);
	CHECK_EQ(lab_load_relaxed(&v->owners[held[100]]), 0);
	long x = lab_core_alloc(v, a, 0, true, lab_ow_make(1, 0, false));
	CHECK_EQ(x, held[100]);
	/* frees again: once a group has two batches free, caches take frees */
	for (uint64_t i = 0; i < pages; i++)
		CHECK_EQ(lab_core_free(v, b, (uint64_t)held[i], 0, 2), 0);
	CHECK_EQ(lab_load_relaxed(&v->m->scarce), 0);
	CHECK(lab_load_relaxed(&v->slots[b].top) > 0);
	lab_core_drain(v, b);
	valid(v);
	free(held);
}

/* A dead owner's slot, reset by a reaper, no longer reserves its group. */
TEST(reset_slot_gives_its_group_back)
{
	struct lab_view *v = maze(1u << 16);
	int a = lab_core_slot_claim(v, 9, 0);
	REQUIRE(a >= 0);
	long x = lab_core_alloc(v, a, 0, true, lab_ow_make(9, 0, true));
	REQUIRE(x >= 0);
	uint32_t g1 = lab_load_relaxed(&v->slots[a].group);
	REQUIRE(g1 != 0);
	CHECK_EQ(lab_load_relaxed(&v->groups[g1 - 1].tag), (uint32_t)a + 1);
	valid(v);
	REQUIRE(lab_core_slot_seize(v, a, 9));
	/* the reaper returns the cached rooms, then resets the slot */
	uint32_t top = lab_load_relaxed(&v->slots[a].top);
	for (uint32_t i = 0; i < top; i++) {
		uint32_t e = lab_load_relaxed(&v->slots[a].ent[i]);
		lab_store_relaxed(&v->owners[e], 0);
		lab_rows_free(v, e, 0);
	}
	lab_core_slot_reset(v, a, 9);
	CHECK_EQ(lab_load_relaxed(&v->groups[g1 - 1].tag), 0);
	CHECK_EQ(lab_load_relaxed(&v->slots[a].group), 0);
	CHECK_EQ(lab_core_free_exact(v, (uint64_t)x, lab_ow_make(9, 0, true)), 0);
	valid(v);
}
