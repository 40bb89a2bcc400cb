/* SPDX-License-Identifier: MIT */
/* File-backed mazes: opening a file is never trusting it.
 *
 * Every refused lab_file_open must leave the file byte for byte as it was
 * and must not fault: a SIGBUS (a mapping past the end of a truncated file)
 * ends the run with the case named. Headers with impossible fields carry a
 * recomputed checksum, so that the field check itself is what refuses them.
 * Also: the locks between processes, unclean closes and recovery (with and
 * without keeping the rooms of gone owners), persistence of rooms and data
 * across close and open, and index-only files. */
#define _GNU_SOURCE
#include "harness.h"
#include "core/meta.h"
#include "shared/format.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <labyrinth.h>
#include <labyrinth/shared.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

static char tdir[160];
static const char *volatile cur_case = "";

/* SIGBUS (a mapping past the end of a truncated file) or SIGALRM (an open
 * that blocked): end the run with the case named. */
static void on_fatal(int sig)
{
	static const char bus[] = "test_file: SIGBUS while opening: ";
	static const char alrm[] = "test_file: blocked (10 s) while opening: ";
	const char *c = cur_case;
	ssize_t r = sig == SIGBUS ? write(2, bus, sizeof bus - 1) : write(2, alrm, sizeof alrm - 1);
	r = write(2, c, strlen(c));
	r = write(2, "\n", 1);
	(void)r;
	_exit(sig == SIGBUS ? 4 : 5);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

__attribute__((destructor)) static void tdir_remove(void)
{
	if (tdir[0] && getpid() == (pid_t)strtol(strrchr(tdir, '-') + 1, NULL, 10))
		nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* path of `name` in this run's directory */
static const char *pth(const char *name)
{
	static char buf[4][256];
	static unsigned n;
	if (!tdir[0]) {
		struct sigaction sa = { 0 };
		sa.sa_handler = on_fatal;
		sigaction(SIGBUS, &sa, NULL);
		const char *t = getenv("TMPDIR");
		char tmpl[128];
		snprintf(tmpl, sizeof tmpl, "%s/labfile-XXXXXX", t && *t ? t : "/tmp");
		REQUIRE(mkdtemp(tmpl) != NULL);
		/* the pid at the end, so that forked children never remove it */
		snprintf(tdir, sizeof tdir, "%s-%d", tmpl, (int)getpid());
		REQUIRE(rename(tmpl, tdir) == 0);
	}
	char *b = buf[n++ % 4];
	snprintf(b, sizeof buf[0], "%s/%s", tdir, name);
	return b;
}

struct blob {
	uint8_t *p;
	size_t n;
};

static struct blob slurp(const char *path)
{
	struct blob b = { NULL, 0 };
	int fd = open(path, O_RDONLY);
	REQUIRE(fd >= 0);
	struct stat st;
	REQUIRE(fstat(fd, &st) == 0);
	b.n = (size_t)st.st_size;
	b.p = malloc(b.n ? b.n : 1);
	REQUIRE(b.p);
	size_t got = 0;
	while (got < b.n) {
		ssize_t r = pread(fd, b.p + got, b.n - got, (off_t)got);
		REQUIRE(r > 0);
		got += (size_t)r;
	}
	close(fd);
	return b;
}

static void spit(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0);
	size_t put = 0;
	while (put < n) {
		ssize_t r = write(fd, (const char *)p + put, n - put);
		REQUIRE(r > 0);
		put += (size_t)r;
	}
	REQUIRE(close(fd) == 0);
}

static bool same_as(const char *path, struct blob b)
{
	struct blob now = slurp(path);
	bool same = now.n == b.n && memcmp(now.p, b.p, b.n) == 0;
	free(now.p);
	return same;
}

static void hdr_get(struct blob b, struct lab_obj_hdr *h)
{
	REQUIRE(b.n >= sizeof *h);
	memcpy(h, b.p, sizeof *h);
}

/* write h back into b; fix: recompute the checksum */
static void hdr_put(struct blob b, struct lab_obj_hdr *h, bool fix)
{
	if (fix)
		h->checksum = lab_obj_hdr_sum(h);
	memcpy(b.p, h, sizeof *h);
}

static const unsigned all_flags[] = { 0, LAB_READONLY, LAB_RECOVER, LAB_RECOVER_KEEP };

/* lab_file_open(path, flags) must fail with `want` and leave the file as it was. */
static void refused_at(int line, const char *path, unsigned flags, int want, const char *what)
{
	struct stat st;
	bool exists = stat(path, &st) == 0;
	bool regular = exists && S_ISREG(st.st_mode); /* else its content is not compared */
	struct blob before = { NULL, 0 };
	if (regular)
		before = slurp(path);
	struct labyrinth *m = NULL;
	cur_case = what;
	int rc = lab_file_open(path, flags, &m);
	cur_case = "";
	CHECK_MSG(rc == want, "line %d: %s, flags %#x: lab_file_open = %d (%s), want %d (%s)", line,
		  what, flags, rc, lab_strerror(rc), want, lab_strerror(want));
	CHECK_MSG(m == NULL, "line %d: %s: failed open left a maze", line, what);
	if (m)
		lab_detach(m);
	/* lab_file_inspect gives open's verdict for flags 0, with a reason */
	if (flags == 0) {
		char why[200] = "unset";
		cur_case = what;
		int ri = lab_file_inspect(path, why, sizeof why);
		cur_case = "";
		CHECK_MSG(ri == want, "line %d: %s: lab_file_inspect = %d (%s), want %d", line,
			  what, ri, why, want);
		CHECK_MSG(want == 0 ? why[0] == 0 : why[0] != 0 && strcmp(why, "unset"),
			  "line %d: %s: lab_file_inspect gave the reason '%s'", line, what, why);
	}
	struct stat now;
	if (rc == 0 && m)
		;
	else if (regular)
		CHECK_MSG(same_as(path, before), "line %d: %s, flags %#x: the file changed", line,
			  what, flags);
	else if (exists)
		CHECK_MSG(stat(path, &now) == 0 && now.st_ino == st.st_ino &&
				  now.st_mode == st.st_mode,
			  "line %d: %s, flags %#x: the object changed", line, what, flags);
	else
		CHECK_MSG(stat(path, &now) != 0, "line %d: %s: the open made a file", line, what);
	free(before.p);
}
#define REFUSED(path, flags, want, what) refused_at(__LINE__, path, flags, want, what)

/* Every flag combination refused with want. */
#define REFUSED_ALL(path, want, what)                                                              \
	do {                                                                                       \
		for (size_t f_ = 0; f_ < sizeof all_flags / sizeof all_flags[0]; f_++)             \
			refused_at(__LINE__, path, all_flags[f_], want, what);                     \
	} while (0)

static struct labyrinth *open_ok_at(int line, const char *path, unsigned flags)
{
	struct labyrinth *m = NULL;
	int rc = lab_file_open(path, flags, &m);
	CHECK_MSG(rc == 0 && m, "line %d: lab_file_open(%s, %#x) = %d (%s)", line, path, flags, rc,
		  lab_strerror(rc));
	REQUIRE(rc == 0 && m);
	return m;
}
#define OPEN_OK(path, flags) open_ok_at(__LINE__, path, flags)

static void valid_at(int line, struct labyrinth *m)
{
	char why[256] = "";
	int rc = lab_validate(m, why, sizeof why);
	CHECK_MSG(rc == 0, "line %d: lab_validate = %d: %s", line, rc, why);
}
#define VALID(m) valid_at(__LINE__, m)

static size_t free_rooms(const struct labyrinth *m)
{
	struct lab_stats st;
	lab_stats(m, &st);
	return st.free;
}

static uint8_t pattern(size_t room, size_t off)
{
	return (uint8_t)(room * 31u + off * 7u + 1u);
}

/* fill (or check) the first, a middle and the last 64 bytes of each room */
static bool data_at(struct labyrinth *m, size_t idx, unsigned order, bool fill)
{
	struct lab_stats st;
	lab_stats(m, &st);
	for (size_t r = idx; r < idx + ((size_t)1 << order); r++) {
		uint8_t *p = lab_index_page(m, r);
		if (!p)
			return false;
		const size_t offs[3] = { 0, st.page_size / 2, st.page_size - 64 };
		for (int k = 0; k < 3; k++)
			for (size_t b = offs[k]; b < offs[k] + 64; b++) {
				if (fill)
					p[b] = pattern(r, b);
				else if (p[b] != pattern(r, b))
					return false;
			}
	}
	return true;
}

/* The blocks a test file holds: shared and exclusive, several orders. */
struct blocks {
	size_t n;
	size_t idx[8];
	unsigned order[8];
	bool excl[8];
	size_t rooms;
};

static void alloc_blocks(struct labyrinth *m, struct blocks *b, bool with_data)
{
	static const unsigned orders[] = { 0, 0, 1, 3, 0, 4 };
	memset(b, 0, sizeof *b);
	for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) {
		bool excl = i % 2 == 1;
		lab_gfp_t gfp = LAB_GFP_ATOMIC | (excl ? LAB_GFP_EXCLUSIVE : 0);
		long x = lab_alloc_index(m, gfp, orders[i]);
		REQUIRE(x >= 0);
		b->idx[b->n] = (size_t)x;
		b->order[b->n] = orders[i];
		b->excl[b->n] = excl;
		b->rooms += (size_t)1 << orders[i];
		if (with_data)
			REQUIRE(data_at(m, (size_t)x, orders[i], true));
		b->n++;
	}
}

/* make a cleanly closed file at path with b's blocks allocated by us */
static void make_file(const char *path, size_t pages, unsigned flags, struct blocks *b)
{
	struct lab_config cfg = { .pages = pages, .flags = flags };
	struct labyrinth *m = NULL;
	unlink(path);
	int rc = lab_file_create(path, &cfg, &m);
	CHECK_MSG(rc == 0, "lab_file_create = %d (%s)", rc, lab_strerror(rc));
	REQUIRE(rc == 0 && m);
	CHECK_EQ(lab_kind(m), LAB_KIND_FILE);
	struct blocks mine;
	alloc_blocks(m, b ? b : &mine, !(flags & LAB_NO_MEMORY));
	lab_drain(m);
	VALID(m);
	CHECK_EQ(lab_detach(m), 0);
}

static void copy_file(const char *from, const char *to)
{
	struct blob b = slurp(from);
	spit(to, b.p, b.n);
	free(b.p);
}

/* ------------------------------------------------------------ children */

struct kid {
	pid_t pid;
	int to, from; /* our ends: write to the child, read from it */
};

static struct kid kid_start(void (*fn)(int in, int out, const void *arg), const void *arg)
{
	int a[2], b[2];
	REQUIRE(pipe(a) == 0 && pipe(b) == 0);
	struct kid k;
	fflush(NULL);
	k.pid = fork();
	REQUIRE(k.pid >= 0);
	if (k.pid == 0) {
		close(a[1]);
		close(b[0]);
		fn(a[0], b[1], arg);
		_exit(0);
	}
	close(a[0]);
	close(b[1]);
	k.to = a[1];
	k.from = b[0];
	return k;
}

/* one byte from the child within 10 s; -1 on EOF or timeout */
static int kid_read(struct kid *k)
{
	struct pollfd p = { .fd = k->from, .events = POLLIN };
	if (poll(&p, 1, 10000) != 1)
		return -1;
	uint8_t c;
	return read(k->from, &c, 1) == 1 ? c : -1;
}

static void kid_say(struct kid *k, uint8_t c)
{
	CHECK(write(k->to, &c, 1) == 1);
}

/* the child's exit code, or 100 + signal */
static int kid_end(struct kid *k)
{
	close(k->to);
	close(k->from);
	int st;
	REQUIRE(waitpid(k->pid, &st, 0) == k->pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void say(int fd, uint8_t c)
{
	if (write(fd, &c, 1) != 1)
		_exit(90);
}

static uint8_t hear(int fd)
{
	uint8_t c = 0;
	if (read(fd, &c, 1) != 1)
		return 0;
	return c;
}

/* ------------------------------------------------------------ not a maze */

TEST(open_nonexistent)
{
	REFUSED_ALL(pth("nothing-here"), -ENOENT, "nonexistent path");
	REFUSED(pth("no-dir/x"), 0, -ENOENT, "path in a missing directory");
	struct labyrinth *m = NULL;
	CHECK_EQ(lab_file_open(NULL, 0, &m), -EINVAL);
	CHECK_EQ(lab_file_open(pth("x"), 0, NULL), -EINVAL);
	spit(pth("junk"), "x", 1);
	REFUSED(pth("junk"), 0x80, -EINVAL, "unknown open flag");
	REFUSED(pth("junk"), LAB_RECOVER | LAB_RECOVER_KEEP | 0x1000, -EINVAL, "unknown open flag");
}

TEST(open_not_a_maze)
{
	uint64_t seed = harness_seed(getenv("LAB_TEST_SEED"), 0x5eedf11e);
	const char *p = pth("not-a-maze");
	spit(p, "", 0);
	REFUSED_ALL(p, -EUCLEAN, "empty file");
	spit(p, "hello, maze\n", 12);
	REFUSED_ALL(p, -EUCLEAN, "a line of text");
	static const size_t sizes[] = { 1, 100, 4095, 4096, 8192, 65536, 1 << 20 };
	uint8_t *buf = malloc((size_t)1 << 20);
	REQUIRE(buf);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		for (size_t k = 0; k < sizes[i]; k++)
			buf[k] = (uint8_t)harness_rand(&seed);
		spit(p, buf, sizes[i]);
		REFUSED_ALL(p, -EUCLEAN, "random bytes");
		memset(buf, 0, sizes[i]);
		spit(p, buf, sizes[i]);
		REFUSED_ALL(p, -EUCLEAN, "zeros");
	}
	/* the right magic, version and byte order, the rest random */
	for (int round = 0; round < 8; round++) {
		for (size_t k = 0; k < 65536; k++)
			buf[k] = (uint8_t)harness_rand(&seed);
		struct lab_obj_hdr h;
		memcpy(&h, buf, sizeof h);
		memcpy(h.magic, LAB_OBJ_MAGIC, 8);
		h.version = LAB_OBJ_VERSION;
		h.endian = LAB_OBJ_ENDIAN;
		if (round & 1) /* and a checksum that matches */
			h.checksum = lab_obj_hdr_sum(&h);
		memcpy(buf, &h, sizeof h);
		spit(p, buf, 65536);
		REFUSED_ALL(p, -EUCLEAN, "magic, then random");
	}
	free(buf);
	/* a directory is no maze either */
	REFUSED_ALL(tdir, -EISDIR, "a directory");
}

/* ------------------------------------------------------------ headers */

TEST(open_truncated_or_extended)
{
	const char *good = pth("good"), *p = pth("cut");
	make_file(good, 300, 0, NULL);
	struct blob b = slurp(good);
	struct lab_obj_hdr h;
	hdr_get(b, &h);
	CHECK_EQ(h.total_len, b.n);
	CHECK(h.meta_off >= LAB_OBJ_HDR_BYTES && h.reg_off > h.meta_off && h.rooms_off > h.reg_off);
	const size_t cuts[] = { 0,
				1,
				LAB_OBJ_HDR_BYTES / 2,
				sizeof h,
				LAB_OBJ_HDR_BYTES - 1,
				LAB_OBJ_HDR_BYTES,
				(size_t)h.meta_off + 64,
				(size_t)(h.meta_off + h.meta_len / 2),
				(size_t)(h.meta_off + h.meta_len),
				(size_t)(h.reg_off + h.reg_len / 2),
				(size_t)h.rooms_off,
				(size_t)h.rooms_off + 4096,
				(size_t)(h.rooms_off + h.rooms_len / 2),
				b.n - 4096,
				b.n - 1 };
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		char what[64];
		snprintf(what, sizeof what, "truncated to %zu of %zu bytes", cuts[i], b.n);
		spit(p, b.p, cuts[i]);
		REFUSED_ALL(p, -EUCLEAN, what);
		/* the same file cut by ftruncate (the data past the cut is gone) */
		copy_file(good, p);
		REQUIRE(truncate(p, (off_t)cuts[i]) == 0);
		REFUSED_ALL(p, -EUCLEAN, what);
	}
	/* longer than total_len */
	const size_t extra[] = { 1, 4096, (size_t)1 << 20 };
	for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
		copy_file(good, p);
		REQUIRE(truncate(p, (off_t)(b.n + extra[i])) == 0);
		REFUSED_ALL(p, -EUCLEAN, "longer than total_len");
	}
	/* the untouched original still opens */
	struct labyrinth *m = OPEN_OK(good, 0);
	VALID(m);
	lab_detach(m);
	free(b.p);
}

TEST(open_wrong_magic_version_byte_order)
{
	const char *good = pth("good"), *p = pth("hdr");
	make_file(good, 64, 0, NULL);
	struct blob b = slurp(good);
	struct lab_obj_hdr h0, h;
	hdr_get(b, &h0);

	h = h0;
	memcpy(h.magic, "LABYMAZF", 8);
	hdr_put(b, &h, true);
	spit(p, b.p, b.n);
	REFUSED_ALL(p, -EUCLEAN, "wrong magic");

	h = h0;
	h.magic[0] = 'l';
	hdr_put(b, &h, true);
	spit(p, b.p, b.n);
	REFUSED_ALL(p, -EUCLEAN, "wrong magic (case)");

	const uint32_t versions[] = { 0, LAB_OBJ_VERSION + 1, 0x01000000, UINT32_MAX };
	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		h = h0;
		h.version = versions[i];
		hdr_put(b, &h, true);
		spit(p, b.p, b.n);
		REFUSED_ALL(p, -EPROTO, "another version");
	}

	h = h0;
	h.endian = __builtin_bswap32(LAB_OBJ_ENDIAN);
	hdr_put(b, &h, true);
	spit(p, b.p, b.n);
	REFUSED_ALL(p, -EPROTO, "byte-swapped endian marker");

	/* the whole fixed header byte-swapped, as a machine of the other order
	 * would have written it */
	h = h0;
	h.version = __builtin_bswap32(h.version);
	h.endian = __builtin_bswap32(h.endian);
	h.hdr_size = __builtin_bswap32(h.hdr_size);
	h.page_shift = __builtin_bswap32(h.page_shift);
	h.pages = __builtin_bswap64(h.pages);
	h.meta_off = __builtin_bswap64(h.meta_off);
	h.total_len = __builtin_bswap64(h.total_len);
	h.checksum = __builtin_bswap64(lab_obj_hdr_sum(&h));
	hdr_put(b, &h, false);
	spit(p, b.p, b.n);
	REFUSED_ALL(p, -EPROTO, "byte-swapped header");
	free(b.p);
}

TEST(open_bad_checksum)
{
	const char *good = pth("good"), *p = pth("sum");
	make_file(good, 64, LAB_NO_MEMORY, NULL);
	struct blob b = slurp(good);
	/* every byte of the checksummed fields but the magic, and the checksum
	 * itself, one bit flipped, checksum not recomputed */
	size_t end = offsetof(struct lab_obj_hdr, checksum) + 8;
	for (size_t off = 8; off < end; off++) {
		for (int bit = 0; bit < 8; bit += 7) {
			char what[64];
			snprintf(what, sizeof what, "header byte %zu bit %d flipped", off, bit);
			b.p[off] ^= (uint8_t)(1u << bit);
			spit(p, b.p, b.n);
			b.p[off] ^= (uint8_t)(1u << bit);
			bool ver = off >= offsetof(struct lab_obj_hdr, version) &&
				   off < offsetof(struct lab_obj_hdr, hdr_size);
			/* a flipped version or byte order may be reported as either */
			struct labyrinth *m = NULL;
			struct blob before = slurp(p);
			cur_case = what;
			int rc = lab_file_open(p, 0, &m);
			cur_case = "";
			CHECK_MSG(rc == -EUCLEAN || (ver && rc == -EPROTO), "%s: %d (%s)", what, rc,
				  lab_strerror(rc));
			CHECK_MSG(same_as(p, before), "%s: the file changed", what);
			free(before.p);
			if (rc == 0 && m)
				lab_detach(m);
		}
	}
	spit(p, b.p, b.n);
	struct labyrinth *m = OPEN_OK(p, 0);
	lab_detach(m);
	free(b.p);
}

struct hdr_case {
	const char *what;
	void (*mut)(struct lab_obj_hdr *h);
};

#define HC(name, body)                                                                             \
	static void hc_##name(struct lab_obj_hdr *h)                                               \
	{                                                                                          \
		body;                                                                              \
	}
HC(pages0, h->pages = 0)
HC(pages_2_31_plus_1, h->pages = (1ull << 31) + 1)
HC(pages_2_40, h->pages = 1ull << 40)
HC(pages_max, h->pages = UINT64_MAX)
HC(pages_plus_1, h->pages += 1)
HC(pages_minus_1, h->pages -= 1)
HC(shift0, h->page_shift = 0)
HC(shift11, h->page_shift = 11)
HC(shift13, h->page_shift = 13)
HC(shift41, h->page_shift = 41)
HC(shift63, h->page_shift = 63)
HC(shift64, h->page_shift = 64)
HC(shift255, h->page_shift = 255)
HC(reserve_over, h->reserve = h->pages + 1)
HC(reserve_max, h->reserve = UINT64_MAX)
HC(hdr_size0, h->hdr_size = 0)
HC(hdr_size_big, h->hdr_size = LAB_OBJ_HDR_BYTES + 1)
HC(hdr_size_plus8, h->hdr_size += 8)
HC(flags_unknown, h->flags |= 0x80000000u)
HC(flags_no_memory, h->flags ^= LAB_NO_MEMORY)
HC(kind0, h->kind = 0)
HC(kind7, h->kind = 7)
HC(meta_off0, h->meta_off = 0)
HC(meta_off_in_hdr, h->meta_off = LAB_OBJ_HDR_BYTES / 2)
HC(meta_off_hdr_minus1, h->meta_off = LAB_OBJ_HDR_BYTES - 1)
HC(meta_off_unaligned, h->meta_off += 8)
HC(meta_off_page_later, h->meta_off += 4096)
HC(meta_off_huge, h->meta_off = UINT64_MAX - 4095)
HC(meta_off_2_62, h->meta_off = 1ull << 62)
HC(meta_len0, h->meta_len = 0)
HC(meta_len_plus, h->meta_len += 4096)
HC(meta_len_minus, h->meta_len -= 64)
HC(meta_len_max, h->meta_len = UINT64_MAX)
HC(meta_wraps, h->meta_len = UINT64_MAX - h->meta_off + 1)
HC(reg_off_on_meta, h->reg_off = h->meta_off)
HC(reg_off_unaligned, h->reg_off += 64)
HC(reg_len0, h->reg_len = 0)
HC(reg_len_max, h->reg_len = UINT64_MAX)
HC(rooms_off0, h->rooms_off = 0)
HC(rooms_off_unaligned, h->rooms_off += 8)
HC(rooms_off_half_page, h->rooms_off += 2048)
HC(rooms_off_page_later, h->rooms_off += 4096)
HC(rooms_off_on_reg, h->rooms_off = h->reg_off)
HC(rooms_off_huge, h->rooms_off = UINT64_MAX - 4095)
HC(rooms_len0, h->rooms_len = 0)
HC(rooms_len_plus, h->rooms_len += 4096)
HC(rooms_len_max, h->rooms_len = UINT64_MAX)
HC(total0, h->total_len = 0)
HC(total_minus, h->total_len -= 4096)
HC(total_plus, h->total_len += 4096)
HC(total_max, h->total_len = UINT64_MAX)
HC(nthreads0, h->nthreads = 0)
HC(nthreads1, h->nthreads = 1)
HC(nthreads_plus1, h->nthreads = LAB_SHARED_THREADS + 1)
HC(nthreads_max, h->nthreads = UINT32_MAX)
HC(everything_shifted, {
	h->meta_off += 4096;
	h->reg_off += 4096;
	h->rooms_off += 4096;
})

TEST(open_impossible_fields_with_valid_checksum)
{
	static const struct hdr_case cases[] = {
#define C(n) { #n, hc_##n }
		C(pages0),
		C(pages_2_31_plus_1),
		C(pages_2_40),
		C(pages_max),
		C(pages_plus_1),
		C(pages_minus_1),
		C(shift0),
		C(shift11),
		C(shift13),
		C(shift41),
		C(shift63),
		C(shift64),
		C(shift255),
		C(reserve_over),
		C(reserve_max),
		C(hdr_size0),
		C(hdr_size_big),
		C(hdr_size_plus8),
		C(flags_unknown),
		C(flags_no_memory),
		C(kind0),
		C(kind7),
		C(meta_off0),
		C(meta_off_in_hdr),
		C(meta_off_hdr_minus1),
		C(meta_off_unaligned),
		C(meta_off_page_later),
		C(meta_off_huge),
		C(meta_off_2_62),
		C(meta_len0),
		C(meta_len_plus),
		C(meta_len_minus),
		C(meta_len_max),
		C(meta_wraps),
		C(reg_off_on_meta),
		C(reg_off_unaligned),
		C(reg_len0),
		C(reg_len_max),
		C(rooms_off0),
		C(rooms_off_unaligned),
		C(rooms_off_half_page),
		C(rooms_off_page_later),
		C(rooms_off_on_reg),
		C(rooms_off_huge),
		C(rooms_len0),
		C(rooms_len_plus),
		C(rooms_len_max),
		C(total0),
		C(total_minus),
		C(total_plus),
		C(total_max),
		C(nthreads0),
		C(nthreads1),
		C(nthreads_plus1),
		C(nthreads_max),
		C(everything_shifted),
#undef C
	};
	const char *good = pth("good"), *p = pth("fields");
	make_file(good, 100, 0, NULL);
	struct blob b = slurp(good);
	struct lab_obj_hdr h0;
	hdr_get(b, &h0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct lab_obj_hdr h = h0;
		cases[i].mut(&h);
		hdr_put(b, &h, true);
		spit(p, b.p, b.n);
		REFUSED_ALL(p, -EUCLEAN, cases[i].what);
		/* the same field in a file whose size follows total_len, where
		 * the field changed it */
		if (h.total_len != h0.total_len && h.total_len > 0 &&
		    h.total_len < ((size_t)64 << 20)) {
			REQUIRE(truncate(p, (off_t)h.total_len) == 0);
			REFUSED_ALL(p, -EUCLEAN, cases[i].what);
		}
	}
	hdr_put(b, &h0, false);
	spit(p, b.p, b.n);
	struct labyrinth *m = OPEN_OK(p, 0);
	VALID(m);
	lab_detach(m);
	free(b.p);
}

TEST(open_header_state_words)
{
	const char *good = pth("good"), *p = pth("state");
	make_file(good, 64, 0, NULL);
	struct blob b = slurp(good);
	struct lab_obj_hdr h0, h;
	hdr_get(b, &h0);
	CHECK_EQ(lab_load_relaxed(&h0.state), LAB_OBJ_CLEAN);

	/* the state is not checksummed: a garbage state is damage */
	h = h0;
	lab_store_relaxed(&h.state, 0x12345678u);
	hdr_put(b, &h, false);
	spit(p, b.p, b.n);
	REFUSED(p, 0, -EUCLEAN, "garbage state word");

	/* OPEN: the last writer did not close it */
	h = h0;
	lab_store_relaxed(&h.state, LAB_OBJ_OPEN);
	hdr_put(b, &h, false);
	spit(p, b.p, b.n);
	REFUSED(p, 0, -EUCLEAN, "state OPEN without LAB_RECOVER");
	struct labyrinth *m = OPEN_OK(p, LAB_READONLY);
	VALID(m);
	lab_detach(m);
	CHECK_MSG(same_as(p, b), "a read-only open changed the file");
	m = OPEN_OK(p, LAB_RECOVER);
	VALID(m);
	lab_detach(m);
	m = OPEN_OK(p, 0); /* closed cleanly now */
	lab_detach(m);

	/* the attach count is for tools: any value opens */
	h = h0;
	lab_store_relaxed(&h.attaches, 0xdeadbeefu);
	hdr_put(b, &h, false);
	spit(p, b.p, b.n);
	m = OPEN_OK(p, 0);
	VALID(m);
	lab_detach(m);
	free(b.p);
}

/* ------------------------------------------------------------ metadata */

struct meta_at {
	struct lab_obj_hdr h;
	struct lab_meta m;
	size_t base; /* file offset of the metadata */
};

static void meta_get(struct blob b, struct meta_at *a)
{
	hdr_get(b, &a->h);
	a->base = (size_t)a->h.meta_off;
	REQUIRE(a->base + sizeof a->m <= b.n);
	memcpy(&a->m, b.p + a->base, sizeof a->m);
	REQUIRE(a->m.magic == LAB_META_MAGIC);
}

static uint32_t *owner_word(struct blob b, const struct meta_at *a, size_t room)
{
	return (uint32_t *)(void *)(b.p + a->base + a->m.off_owners + 4 * room);
}

static uint64_t *bit_word(struct blob b, const struct meta_at *a, size_t room)
{
	return (uint64_t *)(void *)(b.p + a->base + a->m.off_bits + 8 * (room >> 6));
}

enum {
	DAMAGE_ALWAYS,
	DAMAGE_MAYBE_CRASH
};

/* The file with one piece of damage: refused without LAB_RECOVER. With it,
 * damage that a crash could leave may be repaired (then the maze must
 * validate), other damage is refused. */
static void damaged(const char *p, struct blob b, int kind, const char *what)
{
	spit(p, b.p, b.n);
	REFUSED(p, 0, -EUCLEAN, what);
	for (int k = 0; k < 3; k++) {
		unsigned fl = k == 0 ? LAB_RECOVER : k == 1 ? LAB_RECOVER_KEEP : LAB_READONLY;
		spit(p, b.p, b.n);
		struct blob before = slurp(p);
		struct labyrinth *m = NULL;
		cur_case = what;
		int rc = lab_file_open(p, fl, &m);
		cur_case = "";
		if (kind == DAMAGE_ALWAYS && fl != LAB_READONLY) {
			CHECK_MSG(rc == -EUCLEAN, "%s, flags %#x: %d, want -EUCLEAN", what, fl, rc);
		} else {
			CHECK_MSG(rc == 0 || rc == -EUCLEAN, "%s, flags %#x: %d", what, fl, rc);
		}
		if (rc == 0 && m) {
			if (fl == LAB_READONLY) {
				/* inspection of a damaged maze must not fault */
				struct lab_room r;
				struct lab_stats st;
				lab_stats(m, &st);
				for (size_t i = 0; i < st.pages && i < 4096; i++)
					lab_room_info(m, i, &r);
				lab_orphans(m, NULL, 0);
				lab_validate(m, NULL, 0);
			} else {
				VALID(m);
			}
			lab_detach(m);
			if (fl == LAB_READONLY)
				CHECK_MSG(same_as(p, before), "%s: read-only open changed it",
					  what);
		} else {
			CHECK_MSG(same_as(p, before), "%s, flags %#x: the file changed", what, fl);
		}
		free(before.p);
	}
}

TEST(open_damaged_metadata)
{
	const char *good = pth("good"), *p = pth("meta");
	struct blocks bl;
	make_file(good, 1000, LAB_NO_MEMORY, &bl); /* no rooms: a small file */
	struct blob b = slurp(good);
	struct meta_at a;
	meta_get(b, &a);
	CHECK_EQ(a.m.pages, 1000);
	size_t last = 999; /* free: the blocks are at the start */
	for (size_t i = 0; i < bl.n; i++)
		REQUIRE(bl.idx[i] + ((size_t)1 << bl.order[i]) <= last);
	size_t head = bl.idx[3], tail = bl.idx[3] + 1; /* the order-3 block */
	REQUIRE(bl.order[3] == 3);
	uint32_t *ow;
	uint64_t *bw;

	/* room bitmap: a free room's bit cleared (an in-flight claim, if it
	 * came from a crash), an allocated room's bit set */
	bw = bit_word(b, &a, last);
	*bw ^= 1ull << (last & 63);
	damaged(p, b, DAMAGE_MAYBE_CRASH, "free room's bit cleared");
	*bw ^= 1ull << (last & 63);
	bw = bit_word(b, &a, head);
	*bw ^= 1ull << (head & 63);
	damaged(p, b, DAMAGE_MAYBE_CRASH, "allocated room's bit set");
	*bw ^= 1ull << (head & 63);

	/* owner words: a free room that claims an owner; the tail of a block
	 * with an owner; a block head's order changed */
	ow = owner_word(b, &a, last);
	*ow = *owner_word(b, &a, head);
	damaged(p, b, DAMAGE_ALWAYS, "free room with an owner");
	*ow = 0;
	ow = owner_word(b, &a, tail);
	*ow = *owner_word(b, &a, head);
	damaged(p, b, DAMAGE_ALWAYS, "a block's tail with an owner");
	*ow = 0;
	ow = owner_word(b, &a, head);
	uint32_t keep = *ow;
	*ow = (keep & ~LAB_OW_ORDER) | (5u << LAB_OW_ORDER_SHIFT);
	damaged(p, b, DAMAGE_MAYBE_CRASH, "a block's order changed");
	*ow = (keep & ~LAB_OW_ORDER) | (15u << LAB_OW_ORDER_SHIFT);
	damaged(p, b, DAMAGE_ALWAYS, "order 15");
	*ow = keep;

	/* summaries: a row count off by one (a crash can leave that: LAB_RECOVER
	 * rebuilds it) */
	uint32_t *row0 = (uint32_t *)(void *)(b.p + a.base + a.m.off_rows);
	*row0 += 1;
	spit(p, b.p, b.n);
	REFUSED(p, 0, -EUCLEAN, "row count off by one");
	struct labyrinth *m = OPEN_OK(p, LAB_RECOVER);
	VALID(m);
	struct lab_recovery rec;
	lab_recovery_info(m, &rec);
	CHECK(rec.rows_fixed >= 1);
	/* and the blocks' owner (our entry, gone since the detach) is dead */
	CHECK_EQ(rec.reclaimed, bl.rooms);
	CHECK_EQ(free_rooms(m), 1000);
	lab_detach(m);
	*row0 -= 1;

	/* the metadata header: it must agree with the file header */
	struct lab_meta *mm = (struct lab_meta *)(void *)(b.p + a.base);
	struct lab_meta m0;
	memcpy(&m0, mm, sizeof m0);
	mm->magic ^= 1;
	damaged(p, b, DAMAGE_ALWAYS, "metadata magic");
	memcpy(mm, &m0, sizeof m0);
	mm->version = 99;
	damaged(p, b, DAMAGE_ALWAYS, "metadata version");
	memcpy(mm, &m0, sizeof m0);
	mm->pages = 1001;
	damaged(p, b, DAMAGE_ALWAYS, "metadata pages");
	memcpy(mm, &m0, sizeof m0);
	mm->pages = 1ull << 40;
	damaged(p, b, DAMAGE_ALWAYS, "metadata pages huge");
	memcpy(mm, &m0, sizeof m0);
	mm->page_shift = 20;
	damaged(p, b, DAMAGE_ALWAYS, "metadata page_shift");
	memcpy(mm, &m0, sizeof m0);
	mm->nrows = 1u << 30;
	damaged(p, b, DAMAGE_ALWAYS, "metadata nrows");
	memcpy(mm, &m0, sizeof m0);
	mm->nslots = UINT32_MAX;
	damaged(p, b, DAMAGE_ALWAYS, "metadata nslots");
	memcpy(mm, &m0, sizeof m0);
	mm->max_order = 40;
	damaged(p, b, DAMAGE_ALWAYS, "metadata max_order");
	memcpy(mm, &m0, sizeof m0);
	mm->off_owners = 1ull << 40;
	damaged(p, b, DAMAGE_ALWAYS, "metadata off_owners far away");
	memcpy(mm, &m0, sizeof m0);
	mm->off_bits = m0.off_owners;
	damaged(p, b, DAMAGE_ALWAYS, "metadata off_bits on the owners");
	memcpy(mm, &m0, sizeof m0);
	mm->off_slots = UINT64_MAX - 63;
	damaged(p, b, DAMAGE_ALWAYS, "metadata off_slots wraps");
	memcpy(mm, &m0, sizeof m0);
	mm->total_bytes = a.h.meta_len * 2;
	damaged(p, b, DAMAGE_ALWAYS, "metadata total_bytes");
	memcpy(mm, &m0, sizeof m0);
	mm->reserve = 2000;
	damaged(p, b, DAMAGE_ALWAYS, "metadata reserve over pages");
	memcpy(mm, &m0, sizeof m0);

	/* a thread cache that claims rooms it cannot hold: a recovery rebuilds
	 * the caches from the owner words, so it may repair this */
	struct lab_slot *s0 = (struct lab_slot *)(void *)(b.p + a.base + a.m.off_slots);
	struct lab_slot sk;
	memcpy(&sk, s0, sizeof sk);
	lab_store_relaxed(&s0->top, 3);
	lab_store_relaxed(&s0->ent[0], 5000);
	lab_store_relaxed(&s0->ent[1], (uint32_t)head);
	lab_store_relaxed(&s0->ent[2], (uint32_t)last);
	damaged(p, b, DAMAGE_MAYBE_CRASH, "a cache holding rooms outside and allocated");
	memcpy(s0, &sk, sizeof sk);
	lab_store_relaxed(&s0->top, 1000);
	damaged(p, b, DAMAGE_MAYBE_CRASH, "a cache top past its capacity");
	memcpy(s0, &sk, sizeof sk);

	/* two rooms parked in slot 0 with every summary consistent, the cache
	 * listing one of them twice: the first two allocations would get the
	 * same room. Then listed once each: consistent, but a cleanly closed
	 * file has empty caches (its process drained them), so still refused */
	uint32_t *grp0 = (uint32_t *)(void *)(b.p + a.base + a.m.off_groups);
	for (size_t r = last - 1; r <= last; r++) {
		*bit_word(b, &a, r) |= 1ull << (r & 63);
		*owner_word(b, &a, r) = LAB_OW_CACHED | 0u;
	}
	row0 = (uint32_t *)(void *)(b.p + a.base + a.m.off_rows) + (last >> 9);
	*row0 -= 2;
	*grp0 -= 2;
	lab_store_relaxed(&s0->top, 2);
	lab_store_relaxed(&s0->ent[0], (uint32_t)last);
	lab_store_relaxed(&s0->ent[1], (uint32_t)last);
	damaged(p, b, DAMAGE_MAYBE_CRASH, "a cache listing one room twice");
	lab_store_relaxed(&s0->ent[0], (uint32_t)last - 1);
	damaged(p, b, DAMAGE_MAYBE_CRASH, "a full cache in a cleanly closed file");
	memcpy(s0, &sk, sizeof sk);
	for (size_t r = last - 1; r <= last; r++) {
		*bit_word(b, &a, r) &= ~(1ull << (r & 63));
		*owner_word(b, &a, r) = 0;
	}
	*row0 += 2;
	*grp0 += 2;

	/* everything restored: the file opens again */
	CHECK_MSG(same_as(good, b), "the damage was not all undone");
	spit(p, b.p, b.n);
	m = OPEN_OK(p, 0);
	VALID(m);
	CHECK_EQ(free_rooms(m), 1000 - bl.rooms);
	lab_detach(m);
	free(b.p);
}

/* ------------------------------------------------------------ locks */

static void kid_hold(int in, int out, const void *arg)
{
	const unsigned *flags = arg;
	struct labyrinth *m = NULL;
	int rc = lab_file_open(pth("locked"), *flags, &m);
	say(out, rc == 0 ? 'r' : 'e');
	hear(in); /* until told, or until the parent closes the pipe */
	if (m)
		lab_detach(m);
	_exit(rc == 0 ? 0 : 1);
}

TEST(open_locked_by_another_process)
{
	const char *p = pth("locked");
	make_file(p, 128, 0, NULL);
	static const unsigned writer = 0, reader = LAB_READONLY;

	/* a writer holds it: no second writer, no reader */
	struct kid k = kid_start(kid_hold, &writer);
	REQUIRE(kid_read(&k) == 'r');
	REFUSED(p, 0, -EBUSY, "writer in another process");
	REFUSED(p, LAB_READONLY, -EBUSY, "read-only while another process writes");
	REFUSED(p, LAB_RECOVER, -EBUSY, "recover while another process writes");
	kid_say(&k, 'x');
	CHECK_EQ(kid_end(&k), 0);
	struct labyrinth *m = OPEN_OK(p, 0);
	lab_detach(m);

	/* a reader holds it: more readers, no writer */
	k = kid_start(kid_hold, &reader);
	REQUIRE(kid_read(&k) == 'r');
	REFUSED(p, 0, -EBUSY, "writer while another process reads");
	m = OPEN_OK(p, LAB_READONLY);
	VALID(m);
	lab_detach(m);
	kid_say(&k, 'x');
	CHECK_EQ(kid_end(&k), 0);

	/* a child that dies holding it: the lock goes with it, the close was
	 * clean-less */
	k = kid_start(kid_hold, &writer);
	REQUIRE(kid_read(&k) == 'r');
	kill(k.pid, SIGKILL);
	CHECK_EQ(kid_end(&k), 100 + SIGKILL);
	REFUSED(p, 0, -EUCLEAN, "the last writer was killed");
	m = OPEN_OK(p, LAB_RECOVER);
	VALID(m);
	lab_detach(m);
}

TEST(readonly_open_is_inspection_only)
{
	const char *p = pth("ro");
	struct blocks bl;
	make_file(p, 256, 0, &bl);
	struct blob before = slurp(p);
	struct labyrinth *m = OPEN_OK(p, LAB_READONLY);
	CHECK_EQ(lab_kind(m), LAB_KIND_FILE);
	VALID(m);
	struct lab_stats st;
	lab_stats(m, &st);
	CHECK_EQ(st.pages, 256);
	CHECK_EQ(st.free, 256 - bl.rooms);
	for (size_t i = 0; i < bl.n; i++) {
		struct lab_room r;
		CHECK_EQ(lab_room_info(m, bl.idx[i], &r), 0);
		CHECK_EQ(r.state, LAB_ROOM_ALLOCATED);
		CHECK_EQ(r.order, bl.order[i]);
		CHECK_EQ(r.exclusive, bl.excl[i]);
		CHECK_EQ(r.owner, lab_self());
		CHECK(data_at(m, bl.idx[i], bl.order[i], false));
	}
	CHECK(lab_alloc_index(m, LAB_GFP_ATOMIC, 0) < 0);
	CHECK(lab_alloc_page(m, LAB_GFP_ATOMIC) == NULL);
	CHECK(lab_free_index(m, bl.idx[0], 0) < 0);
	CHECK(lab_index_give(m, bl.idx[0], 1) < 0);
	CHECK(lab_index_adopt(m, bl.idx[1]) < 0);
	CHECK(lab_reap(m) <= 0);
	CHECK(lab_recover(m, 0, NULL) < 0);
	CHECK_EQ(free_rooms(m), 256 - bl.rooms);
	CHECK_EQ(lab_detach(m), 0);
	CHECK_MSG(same_as(p, before), "a read-only open changed the file");
	free(before.p);
}

/* ------------------------------------------------------------ unclean close */

/* the child makes the file, allocates b's blocks and dies without detach */
static void kid_make_and_die(int in, int out, const void *arg)
{
	(void)in;
	const char *p = arg;
	struct lab_config cfg = { .pages = 256 };
	struct labyrinth *m = NULL;
	if (lab_file_create(p, &cfg, &m) != 0)
		_exit(1);
	struct blocks b;
	static const unsigned orders[] = { 0, 0, 2, 4, 0 };
	memset(&b, 0, sizeof b);
	for (size_t i = 0; i < 5; i++) {
		lab_gfp_t gfp = LAB_GFP_ATOMIC | (i == 2 ? LAB_GFP_EXCLUSIVE : 0);
		long x = lab_alloc_index(m, gfp, orders[i]);
		if (x < 0 || !data_at(m, (size_t)x, orders[i], true))
			_exit(2);
		b.idx[i] = (size_t)x;
		b.order[i] = orders[i];
		b.excl[i] = i == 2;
		b.rooms += (size_t)1 << orders[i];
	}
	b.n = 5;
	if (write(out, &b, sizeof b) != (ssize_t)sizeof b)
		_exit(3);
	_exit(0); /* no detach: the file stays OPEN, the thread cache full */
}

static void dead_maker(const char *p, struct blocks *b, pid_t *pid)
{
	unlink(p);
	struct kid k = kid_start(kid_make_and_die, p);
	*pid = k.pid;
	REQUIRE(read(k.from, b, sizeof *b) == (ssize_t)sizeof *b);
	CHECK_EQ(kid_end(&k), 0);
}

TEST(unclean_close_needs_recover)
{
	const char *p = pth("unclean"), *q = pth("unclean-copy");
	struct blocks b;
	pid_t kid;
	dead_maker(p, &b, &kid);
	struct blob crash = slurp(p);
	struct lab_obj_hdr h;
	hdr_get(crash, &h);
	CHECK_EQ(lab_load_relaxed(&h.state), LAB_OBJ_OPEN);

	REFUSED(p, 0, -EUCLEAN, "not closed cleanly");

	/* read-only: inspect the crash as it is, change nothing */
	struct labyrinth *m = OPEN_OK(p, LAB_READONLY);
	for (size_t i = 0; i < b.n; i++) {
		struct lab_room r;
		CHECK_EQ(lab_room_info(m, b.idx[i], &r), 0);
		CHECK_EQ(r.state, LAB_ROOM_ALLOCATED);
		CHECK_EQ(r.order, b.order[i]);
		CHECK_EQ(r.owner, (lab_owner_t)kid);
		CHECK(data_at(m, b.idx[i], b.order[i], false));
	}
	CHECK_EQ(lab_orphans(m, NULL, 0), (long)b.n);
	CHECK_EQ(lab_detach(m), 0);
	CHECK_MSG(same_as(p, crash), "a read-only open changed the file");

	/* recover: the dead child's rooms come back */
	copy_file(p, q);
	m = OPEN_OK(q, LAB_RECOVER);
	struct lab_recovery r;
	lab_recovery_info(m, &r);
	CHECK_EQ(r.reclaimed, b.rooms);
	CHECK_EQ(r.kept, 0);
	CHECK_EQ(r.kept_blocks, 0);
	CHECK_EQ(r.inflight, 0);
	CHECK_EQ(free_rooms(m), 256);
	CHECK_EQ(lab_orphans(m, NULL, 0), 0);
	VALID(m);
	long x = lab_alloc_index(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, 8);
	CHECK(x >= 0);
	CHECK_EQ(lab_free_index(m, (size_t)x, 8), 0);
	CHECK_EQ(lab_detach(m), 0);
	m = OPEN_OK(q, 0); /* and it was closed cleanly */
	CHECK_EQ(free_rooms(m), 256);
	lab_detach(m);

	/* the original crash is still a crash */
	REFUSED(p, 0, -EUCLEAN, "not closed cleanly, after the copy recovered");

	/* a crash with damage no crash leaves (an owner word inside the order-4
	 * block): the recovery refuses it and writes nothing, not even the
	 * registry entries of the dead */
	struct meta_at a;
	meta_get(crash, &a);
	REQUIRE(b.order[3] == 4);
	*owner_word(crash, &a, b.idx[3] + 1) = *owner_word(crash, &a, b.idx[3]);
	spit(q, crash.p, crash.n);
	REFUSED(q, LAB_RECOVER, -EUCLEAN, "crash plus damage, LAB_RECOVER");
	REFUSED(q, LAB_RECOVER_KEEP, -EUCLEAN, "crash plus damage, LAB_RECOVER_KEEP");
	free(crash.p);
}

TEST(recover_keep_lists_orphans_and_adopt)
{
	const char *p = pth("keep");
	struct blocks b;
	pid_t kid;
	dead_maker(p, &b, &kid);
	struct labyrinth *m = OPEN_OK(p, LAB_RECOVER_KEEP);
	struct lab_recovery r;
	lab_recovery_info(m, &r);
	CHECK_EQ(r.kept, b.rooms);
	CHECK_EQ(r.kept_blocks, b.n);
	CHECK_EQ(r.reclaimed, 0);
	CHECK_EQ(r.inflight, 0);
	CHECK_EQ(free_rooms(m), 256 - b.rooms);
	VALID(m);

	size_t list[16];
	long n = lab_orphans(m, list, 16);
	CHECK_EQ(n, (long)b.n);
	for (size_t i = 0; i < b.n; i++) {
		bool found = false;
		for (long j = 0; j < n && j < 16; j++)
			found |= list[j] == b.idx[i];
		CHECK_MSG(found, "block at %zu not listed", b.idx[i]);
		CHECK(data_at(m, b.idx[i], b.order[i], false));
	}
	CHECK_EQ(lab_orphans(m, list, 2), (long)b.n); /* the count even when cut */
	CHECK_EQ(lab_orphans(NULL, NULL, 0), -EINVAL);

	/* exclusive and its owner gone: nobody may free it until adopted */
	size_t ex = b.idx[2];
	CHECK_EQ(lab_free_index(m, ex, 2), -EPERM);
	CHECK_EQ(lab_index_adopt(m, ex + 1), -EINVAL); /* not a block start */
	CHECK_EQ(lab_index_adopt(m, 255), -ENOENT);    /* free */
	CHECK_EQ(lab_index_adopt(m, 256), -EFAULT);    /* outside */
	CHECK_EQ(lab_index_adopt(m, ex), 0);
	CHECK_EQ(lab_index_owner(m, ex), lab_self());
	struct lab_room ri;
	CHECK_EQ(lab_room_info(m, ex, &ri), 0);
	CHECK_EQ(ri.exclusive, 1);
	CHECK_EQ(ri.order, 2);
	CHECK_EQ(lab_index_adopt(m, ex), -EPERM); /* its owner (we) is alive */
	CHECK_EQ(lab_orphans(m, NULL, 0), (long)b.n - 1);
	CHECK_EQ(lab_free_index(m, ex, 2), 0);
	VALID(m);
	CHECK_EQ(lab_detach(m), 0);

	/* closed cleanly; the kept blocks are still orphans, until a reap */
	m = OPEN_OK(p, 0);
	CHECK_EQ(lab_orphans(m, NULL, 0), (long)b.n - 1);
	CHECK_EQ(free_rooms(m), 256 - b.rooms + 4);
	CHECK_EQ(lab_reap(m), (long)(b.rooms - 4));
	CHECK_EQ(lab_reap(m), 0);
	CHECK_EQ(lab_orphans(m, NULL, 0), 0);
	CHECK_EQ(free_rooms(m), 256);
	VALID(m);
	lab_detach(m);
}

/* ------------------------------------------------------------ create */

TEST(create_refuses_existing_path_and_bad_config)
{
	const char *p = pth("exists");
	spit(p, "not a maze", 10);
	struct blob before = slurp(p);
	struct lab_config cfg = { .pages = 16 };
	struct labyrinth *m = NULL;
	CHECK_EQ(lab_file_create(p, &cfg, &m), -EEXIST);
	CHECK(m == NULL);
	CHECK_MSG(same_as(p, before), "create on an existing file changed it");
	free(before.p);

	make_file(p, 64, 0, NULL);
	before = slurp(p);
	CHECK_EQ(lab_file_create(p, &cfg, &m), -EEXIST);
	CHECK(m == NULL);
	CHECK_MSG(same_as(p, before), "create on an existing maze changed it");
	free(before.p);

	const char *q = pth("badcfg");
	struct lab_config bad[] = {
		{ .pages = 0 },
		{ .pages = 16, .page_size = 1000 },
		{ .pages = 16, .page_size = 2048 },
		{ .pages = 16, .reserve = 17 },
		{ .pages = 16, .flags = 0x80000000u },
		{ .pages = ((size_t)1 << 31) + 1, .flags = LAB_NO_MEMORY },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ(lab_file_create(q, &bad[i], &m), -EINVAL);
		CHECK(m == NULL);
		struct stat st;
		CHECK_MSG(stat(q, &st) != 0, "config %zu: a failed create left a file", i);
		unlink(q);
	}
	CHECK_EQ(lab_file_create(q, NULL, &m), -EINVAL);
	CHECK_EQ(lab_file_create(NULL, &cfg, &m), -EINVAL);
	CHECK_EQ(lab_file_create(q, &cfg, NULL), -EINVAL);
	unlink(q);
	CHECK_EQ(lab_file_create(pth("no-dir/x"), &cfg, &m), -ENOENT);
}

/* ------------------------------------------------------------ persistence */

TEST(persistence_same_process)
{
	const char *p = pth("persist");
	unlink(p);
	struct lab_config cfg = { .pages = 2048, .reserve = 16 };
	struct labyrinth *m = NULL;
	REQUIRE(lab_file_create(p, &cfg, &m) == 0);
	static const unsigned orders[] = { 0, 0, 0, 0, 0, 3, 9, 10 };
	size_t n = sizeof orders / sizeof orders[0], idx[8], rooms = 0;
	for (size_t i = 0; i < n; i++) {
		void *pg = lab_alloc_pages(m, LAB_GFP_ATOMIC, orders[i]);
		REQUIRE(pg);
		long x = lab_page_index(m, pg);
		REQUIRE(x >= 0);
		idx[i] = (size_t)x;
		CHECK(data_at(m, idx[i], orders[i], true));
		rooms += (size_t)1 << orders[i];
	}
	VALID(m);
	CHECK_EQ(lab_detach(m), 0);

	struct stat st;
	REQUIRE(stat(p, &st) == 0);
	struct blob b = slurp(p);
	struct lab_obj_hdr h;
	hdr_get(b, &h);
	CHECK_EQ(h.total_len, (uint64_t)st.st_size);
	CHECK_EQ(h.rooms_len, 2048ull * 4096);
	CHECK_EQ(h.kind, LAB_OBJ_FILE);
	CHECK_EQ(lab_load_relaxed(&h.state), LAB_OBJ_CLEAN);
	free(b.p);

	m = OPEN_OK(p, 0);
	CHECK_EQ(lab_kind(m), LAB_KIND_FILE);
	struct lab_stats s;
	lab_stats(m, &s);
	CHECK_EQ(s.pages, 2048);
	CHECK_EQ(s.reserve, 16);
	CHECK_EQ(s.page_size, 4096);
	CHECK_EQ(s.free, 2048 - rooms);
	VALID(m);
	/* the detach marked our old registry entry gone: the blocks are orphans */
	CHECK_EQ(lab_orphans(m, NULL, 0), (long)n);
	for (size_t i = 0; i < n; i++) {
		struct lab_room r;
		CHECK_EQ(lab_room_info(m, idx[i], &r), 0);
		CHECK_EQ(r.state, LAB_ROOM_ALLOCATED);
		CHECK_EQ(r.order, orders[i]);
		CHECK_EQ(r.exclusive, 0);
		CHECK_EQ(r.owner, lab_self());
		CHECK_EQ(r.block, idx[i]);
		CHECK_MSG(data_at(m, idx[i], orders[i], false), "block %zu lost its data", i);
	}
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(lab_free_index(m, idx[i], orders[i]), 0);
	CHECK_EQ(free_rooms(m), 2048);
	CHECK_EQ(lab_orphans(m, NULL, 0), 0);
	VALID(m);
	lab_detach(m);
	m = OPEN_OK(p, 0);
	lab_drain(m);
	CHECK_EQ(free_rooms(m), 2048);
	lab_detach(m);
}

static void kid_persist(int in, int out, const void *arg)
{
	(void)in;
	struct labyrinth *m = NULL;
	if (lab_file_open(arg, 0, &m) != 0)
		_exit(1);
	struct blocks b;
	alloc_blocks(m, &b, true);
	if (write(out, &b, sizeof b) != (ssize_t)sizeof b)
		_exit(2);
	_exit(lab_detach(m) == 0 ? 0 : 3);
}

TEST(persistence_across_processes)
{
	const char *p = pth("persist2");
	make_file(p, 512, 0, NULL);
	struct labyrinth *m = OPEN_OK(p, 0);
	size_t before = free_rooms(m);
	lab_detach(m);
	struct kid k = kid_start(kid_persist, p);
	struct blocks b;
	REQUIRE(read(k.from, &b, sizeof b) == (ssize_t)sizeof b);
	pid_t kid = k.pid;
	CHECK_EQ(kid_end(&k), 0);

	m = OPEN_OK(p, 0);
	CHECK_EQ(free_rooms(m), before - b.rooms);
	for (size_t i = 0; i < b.n; i++) {
		struct lab_room r;
		CHECK_EQ(lab_room_info(m, b.idx[i], &r), 0);
		CHECK_EQ(r.owner, (lab_owner_t)kid);
		CHECK_EQ(r.exclusive, b.excl[i]);
		CHECK(data_at(m, b.idx[i], b.order[i], false));
		if (b.excl[i]) {
			CHECK_EQ(lab_free_index(m, b.idx[i], b.order[i]), -EPERM);
			CHECK_EQ(lab_index_give(m, b.idx[i], lab_self()), -EPERM);
			CHECK_EQ(lab_index_adopt(m, b.idx[i]), 0);
		}
		CHECK_EQ(lab_free_index(m, b.idx[i], b.order[i]), 0);
	}
	CHECK_EQ(free_rooms(m), before);
	VALID(m);
	lab_detach(m);
}

TEST(index_only_file_is_small)
{
	const char *p = pth("index-only");
	unlink(p);
	struct lab_config cfg = { .pages = (size_t)1 << 20, .flags = LAB_NO_MEMORY };
	struct labyrinth *m = NULL;
	REQUIRE(lab_file_create(p, &cfg, &m) == 0);
	CHECK(lab_alloc_page(m, LAB_GFP_ATOMIC) == NULL);
	CHECK(lab_index_page(m, 0) == NULL);
	long a = lab_alloc_index(m, LAB_GFP_ATOMIC, 0);
	long big = lab_alloc_index(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, 10);
	CHECK(a >= 0 && big >= 0 && (big & 1023) == 0);
	CHECK_EQ(lab_detach(m), 0);

	struct stat st;
	REQUIRE(stat(p, &st) == 0);
	/* about 4 bytes of owner word and a bit per room, the registry, the
	 * header: far below the 4 GiB of rooms */
	CHECK_MSG(st.st_size < (off_t)16 << 20, "index-only file of %lld bytes",
		  (long long)st.st_size);
	struct blob b = slurp(p);
	struct lab_obj_hdr h;
	hdr_get(b, &h);
	CHECK_EQ(h.rooms_len, 0);
	CHECK_EQ(h.total_len, (uint64_t)st.st_size);
	CHECK(h.flags & LAB_NO_MEMORY);
	free(b.p);

	m = OPEN_OK(p, 0);
	struct lab_room r;
	CHECK_EQ(lab_room_info(m, (size_t)a, &r), 0);
	CHECK_EQ(r.state, LAB_ROOM_ALLOCATED);
	CHECK_EQ(lab_room_info(m, (size_t)big + 5, &r), 0);
	CHECK_EQ(r.block, (size_t)big);
	CHECK_EQ(r.order, 10);
	CHECK_EQ(free_rooms(m), ((size_t)1 << 20) - 1025);
	CHECK_EQ(lab_free_index(m, (size_t)a, 0), 0);
	CHECK_EQ(lab_index_adopt(m, (size_t)big), 0);
	CHECK_EQ(lab_free_index(m, (size_t)big, 10), 0);
	long c = lab_alloc_index(m, LAB_GFP_NOWAIT, 3);
	CHECK(c >= 0);
	CHECK_EQ(lab_free_index(m, (size_t)c, 3), 0);
	lab_drain(m);
	CHECK_EQ(free_rooms(m), (size_t)1 << 20);
	VALID(m);
	lab_detach(m);
}

/* ------------------------------------------------------------ objects that are no file */

/* Nothing but a regular file is a maze, and no open blocks on any other
 * object: a FIFO (whose open would wait for a writer), a socket, character
 * devices, a directory, and symbolic links to each. Every open mode and
 * lab_file_inspect answer at once with the documented error. */
TEST(open_never_blocks_on_any_object)
{
	struct sigaction sa = { 0 }, old;
	sa.sa_handler = on_fatal;
	sigaction(SIGALRM, &sa, &old);
	alarm(10);

	const char *fifo = pth("fifo");
	REQUIRE(mkfifo(fifo, 0600) == 0);
	REFUSED_ALL(fifo, -ENODEV, "a FIFO");
	const char *sock = pth("sock");
	int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(sfd >= 0);
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	REQUIRE(strlen(sock) < sizeof un.sun_path);
	strcpy(un.sun_path, sock);
	REQUIRE(bind(sfd, (struct sockaddr *)&un, sizeof un) == 0);
	REQUIRE(listen(sfd, 1) == 0);
	REFUSED_ALL(sock, -ENODEV, "a listening socket");
	REFUSED_ALL("/dev/null", -ENODEV, "/dev/null");
	REFUSED_ALL("/dev/zero", -ENODEV, "/dev/zero");
	REFUSED_ALL(tdir, -EISDIR, "a directory");

	/* pth's buffers rotate: the targets get their own */
	char to_fifo[256], to_sock[256], gone[256];
	snprintf(to_fifo, sizeof to_fifo, "%s", fifo);
	snprintf(to_sock, sizeof to_sock, "%s", sock);
	snprintf(gone, sizeof gone, "%s", pth("gone"));
	const struct {
		const char *target, *link;
		int want;
	} links[] = {
		{ to_fifo, "to-fifo", -ENODEV },     { to_sock, "to-sock", -ENODEV },
		{ "/dev/null", "to-null", -ENODEV }, { tdir, "to-dir", -EISDIR },
		{ gone, "dangling", -ENOENT },
	};
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		char l[256];
		snprintf(l, sizeof l, "%s", pth(links[i].link));
		REQUIRE(symlink(links[i].target, l) == 0);
		REFUSED_ALL(l, links[i].want, links[i].link);
	}
	/* a symbolic link to a maze is a maze */
	make_file(pth("real"), 64, 0, NULL);
	REQUIRE(symlink(pth("real"), pth("to-real")) == 0);
	lab_detach(OPEN_OK(pth("to-real"), 0));

	/* fds: a pipe, a socket, a directory, a device */
	int pfd[2];
	REQUIRE(pipe(pfd) == 0);
	int dfd = open(tdir, O_RDONLY | O_DIRECTORY);
	int zfd = open("/dev/zero", O_RDONLY);
	REQUIRE(dfd >= 0 && zfd >= 0);
	const struct {
		int fd, want;
		const char *what;
	} fds[] = {
		{ pfd[0], -ENODEV, "a pipe's read end" },
		{ pfd[1], -ENODEV, "a pipe's write end" },
		{ sfd, -ENODEV, "a socket" },
		{ dfd, -EISDIR, "a directory" },
		{ zfd, -ENODEV, "/dev/zero" },
	};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		struct labyrinth *m = NULL;
		cur_case = fds[i].what;
		int rc = lab_attach_fd(fds[i].fd, &m);
		cur_case = "";
		CHECK_MSG(rc == fds[i].want && !m, "lab_attach_fd(%s) = %d (%s), want %d",
			  fds[i].what, rc, lab_strerror(rc), fds[i].want);
	}

	/* POSIX shared memory: the same objects under /dev/shm */
	char name[64], path[96];
	snprintf(name, sizeof name, "/lab-test-fifo-%d", (int)getpid());
	snprintf(path, sizeof path, "/dev/shm%s", name);
	struct labyrinth *m = NULL;
	if (mkfifo(path, 0600) == 0) {
		cur_case = "a FIFO in /dev/shm";
		CHECK_EQ(lab_shm_attach(name, &m), -ENODEV);
		unlink(path);
		REQUIRE(mkdir(path, 0700) == 0);
		cur_case = "a directory in /dev/shm"; /* glibc's shm_open says EINVAL */
		CHECK_EQ(lab_shm_attach(name, &m), -EINVAL);
		rmdir(path);
		REQUIRE(symlink("/dev/null", path) == 0);
		cur_case = "a symbolic link in /dev/shm";
		CHECK_EQ(lab_shm_attach(name, &m), -ELOOP);
		unlink(path);
		CHECK(m == NULL);
	} else {
		CHECK_MSG(0, "mkfifo %s: %s", path, strerror(errno));
	}
	cur_case = "";
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	close(pfd[0]);
	close(pfd[1]);
	close(sfd);
	close(dfd);
	close(zfd);
}

static void inspect_is_at(int line, const char *path, int want, const char *reason)
{
	struct blob before = slurp(path);
	char why[200] = "unset";
	int rc = lab_file_inspect(path, why, sizeof why);
	CHECK_MSG(rc == want && !strcmp(why, reason),
		  "line %d: lab_file_inspect = %d '%s', want %d '%s'", line, rc, why, want, reason);
	CHECK_MSG(same_as(path, before), "line %d: lab_file_inspect changed the file", line);
	free(before.p);
}
#define INSPECT_IS(path, want, reason) inspect_is_at(__LINE__, path, want, reason)

/* holds the file at arg open read-only until told */
static void kid_read_only(int in, int out, const void *arg)
{
	struct labyrinth *m = NULL;
	int rc = lab_file_open(arg, LAB_READONLY, &m);
	say(out, rc == 0 ? 'r' : 'e');
	hear(in);
	if (m)
		lab_detach(m);
	_exit(rc == 0 ? 0 : 1);
}

/* lab_file_inspect: open's verdict in words, nothing written. */
TEST(inspect_says_why)
{
	const char *p = pth("inspect"), *q = pth("inspect-bad");
	make_file(p, 300, 0, NULL);
	INSPECT_IS(p, 0, "");
	struct blob b = slurp(p);
	struct lab_obj_hdr h;
	hdr_get(b, &h);

	/* the header's complaints */
	char want[128];
	spit(q, b.p, 4096);
	snprintf(want, sizeof want, "file is 4096 bytes, the header says %llu",
		 (unsigned long long)b.n);
	INSPECT_IS(q, -EUCLEAN, want);
	spit(q, b.p, 1000);
	INSPECT_IS(q, -EUCLEAN, "file is 1000 bytes, smaller than a header of 4096");
	spit(q, "", 0);
	INSPECT_IS(q, -EUCLEAN, "not a maze: empty");
	struct lab_obj_hdr bad = h;
	bad.magic[0] ^= 1;
	hdr_put(b, &bad, true);
	spit(q, b.p, b.n);
	INSPECT_IS(q, -EUCLEAN, "not a maze: no labyrinth magic at the start");
	bad = h;
	bad.reserve ^= 1;
	hdr_put(b, &bad, false);
	spit(q, b.p, b.n);
	INSPECT_IS(q, -EUCLEAN, "checksum mismatch in the header");
	bad = h;
	bad.version = LAB_OBJ_VERSION + 1;
	hdr_put(b, &bad, true);
	spit(q, b.p, b.n);
	snprintf(want, sizeof want, "format version %u; this library reads version %u",
		 LAB_OBJ_VERSION + 1, LAB_OBJ_VERSION);
	INSPECT_IS(q, -EPROTO, want);
	bad = h;
	bad.endian = __builtin_bswap32(LAB_OBJ_ENDIAN);
	hdr_put(b, &bad, true);
	spit(q, b.p, b.n);
	INSPECT_IS(q, -EPROTO, "written on a machine of the other byte order");
	bad = h;
	bad.rooms_off += 4096;
	hdr_put(b, &bad, true);
	spit(q, b.p, b.n);
	INSPECT_IS(q, -EUCLEAN, "offsets in the header do not match its sizes");
	bad = h;
	bad.kind = LAB_OBJ_SHARED;
	hdr_put(b, &bad, true);
	spit(q, b.p, b.n);
	INSPECT_IS(q, -EUCLEAN, "holds a shared-memory maze, not a file maze");
	hdr_put(b, &h, false);

	/* not closed cleanly: recovery, not damage */
	struct blocks blk;
	pid_t kid;
	const char *u = pth("inspect-unclean");
	dead_maker(u, &blk, &kid);
	INSPECT_IS(u, -EUCLEAN, "not closed cleanly: open with LAB_RECOVER");
	struct labyrinth *m = OPEN_OK(u, LAB_RECOVER);
	lab_detach(m);
	INSPECT_IS(u, 0, "");

	/* locks: this process, then another */
	m = OPEN_OK(p, 0);
	INSPECT_IS(p, -EBUSY, "already open in this process");
	lab_detach(m);
	struct kid k = kid_start(kid_read_only, p);
	REQUIRE(kid_read(&k) == 'r');
	INSPECT_IS(p, -EBUSY, "open in another process (its lock is held)");
	kid_say(&k, 'x');
	CHECK_EQ(kid_end(&k), 0);
	INSPECT_IS(p, 0, "");

	/* the reason is cut to whylen, and why may be NULL */
	char tiny[8];
	spit(q, "", 0);
	CHECK_EQ(lab_file_inspect(q, tiny, sizeof tiny), -EUCLEAN);
	CHECK(!strcmp(tiny, "not a m"));
	CHECK_EQ(lab_file_inspect(q, NULL, 0), -EUCLEAN);
	CHECK_EQ(lab_file_inspect(p, NULL, 0), 0);
	CHECK_EQ(lab_file_inspect(NULL, tiny, sizeof tiny), -EINVAL);
	CHECK_EQ(lab_file_inspect(pth("none"), tiny, 0), -ENOENT);
	free(b.p);
}

/* Every code an open or attach returns has its own text, and the text is
 * true for the calls that return it. */
TEST(error_texts_are_true)
{
	static const int codes[] = { EINVAL, ENOMEM, EOVERFLOW, EFAULT, ENOENT,	      EBUSY,
				     EPROTO, EEXIST, EACCES,	EAGAIN, ESRCH,	      ENOSYS,
				     EIO,    EPERM,  EUCLEAN,	EISDIR, ENODEV,	      ELOOP,
				     EMFILE, ENFILE, ENOSPC,	EROFS,	ENAMETOOLONG, ENOTDIR };
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		CHECK_MSG(strcmp(lab_strerror(-codes[i]), "unknown error"),
			  "lab_strerror(-%d) has no text", codes[i]);
	/* a second attach in the same process: EBUSY, and the text says so */
	struct lab_config cfg = { .pages = 64 };
	struct labyrinth *a = NULL, *b = NULL;
	int fd = -1;
	REQUIRE(lab_create_fd(&cfg, &fd, &a) == 0);
	CHECK_EQ(lab_attach_fd(fd, &b), -EBUSY);
	CHECK(strstr(lab_strerror(-EBUSY), "already in this one") != NULL);
	lab_detach(a);
	close(fd);
	/* a missing shm name: ENOENT, described as a missing object */
	CHECK_EQ(lab_shm_attach("/lab-test-no-such-object", &b), -ENOENT);
	CHECK(strstr(lab_strerror(-ENOENT), "no such file or shared-memory object") != NULL);
	/* EUCLEAN names the call that tells its meanings apart */
	CHECK(strstr(lab_strerror(-EUCLEAN), "lab_file_inspect") != NULL);
}
