/* SPDX-License-Identifier: MIT */
/* fuzz_file: the header and metadata parser of file mazes.
 * Opening a file is never trusting it: whatever the bytes, lab_file_open
 * must not crash, hang or leak (memory under ASan; file descriptors and
 * mappings are counted here), must answer 0 or a documented error, and a
 * refused open must leave the file byte for byte as it was.
 *
 * Input: byte 0 chooses what to do, the rest is the file (at most 1 MiB).
 *   bits 0-1  the open flags: 0, LAB_READONLY, LAB_RECOVER, LAB_RECOVER_KEEP
 *   bit 2     recompute the header's checksum before writing the file, so
 *             that mutations of the header reach the checks behind it
 *   bit 3     extend the file with zeros to the header's total_len (up to
 *             16 MiB), so that corpus files need not hold the zeros at the
 *             end of a maze file (the registry and the rooms)
 * The file is a memfd, opened through /proc/self/fd/N.
 *
 * Once open: lab_stats, lab_room_info on every room, lab_orphans and
 * lab_validate must not fault. A writable open (flags 0 validates the
 * metadata; a recovery rebuilds it) must pass lab_validate, hand out and
 * take back a few blocks, reap, detach, and leave a file that then opens
 * cleanly (flags 0). A read-only open must leave the file as it was.
 *
 * Built two ways, like the other targets: with clang -fsanitize=fuzzer by
 * `make fuzz` (mk/fuzz.mk), and with tests/fuzz/replay.c for the ctest
 * entry fuzz_file_replay. With -DFUZZ_FILE_SEEDS it is instead a program
 * that writes the seed corpus: fuzz_file_seeds DIR (make fuzz-file-seeds). */
#define _GNU_SOURCE
#include "fuzz.h"
#include "shared/format.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <labyrinth.h>
#include <labyrinth/shared.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FF_MAX_INPUT ((size_t)1 << 20)
#define FF_MAX_EXTEND ((size_t)16 << 20)
#define FF_MAX_ROOMS_WALK 65536u /* lab_room_info on at most so many rooms */

#define FF_FIX_SUM 0x4u
#define FF_EXTEND 0x8u

static const unsigned ff_flags[4] = { 0, LAB_READONLY, LAB_RECOVER, LAB_RECOVER_KEEP };

static char ff_desc[128];

static void fuzz_context(FILE *out)
{
	fputs(ff_desc, out);
}

/* --------------------------------------------------------------- the file */

static int ff_fd = -1;
static char ff_path[64];
static uint8_t *ff_buf; /* what the file should hold: FF_MAX_INPUT bytes */

static void setup_once(void)
{
	if (ff_fd >= 0)
		return;
	ff_fd = memfd_create("fuzz_file", MFD_CLOEXEC);
	ff_buf = malloc(FF_MAX_INPUT);
	if (ff_fd < 0 || !ff_buf) {
		perror("fuzz_file: setup");
		abort();
	}
	snprintf(ff_path, sizeof ff_path, "/proc/self/fd/%d", ff_fd);
}

static void file_write(const uint8_t *p, size_t n, size_t total)
{
	EXPECT(ftruncate(ff_fd, 0) == 0, "ftruncate");
	size_t put = 0;
	while (put < n) {
		ssize_t r = pwrite(ff_fd, p + put, n - put, (off_t)put);
		EXPECT(r > 0, "pwrite");
		put += (size_t)r;
	}
	EXPECT(ftruncate(ff_fd, (off_t)total) == 0, "ftruncate to %zu", total);
}

/* the file still holds the n input bytes followed by zeros up to total */
static bool file_same(size_t n, size_t total)
{
	struct stat st;
	if (fstat(ff_fd, &st) != 0 || (size_t)st.st_size != total)
		return false;
	static uint8_t chunk[65536];
	for (size_t off = 0; off < total; off += sizeof chunk) {
		size_t len = total - off < sizeof chunk ? total - off : sizeof chunk;
		if (pread(ff_fd, chunk, len, (off_t)off) != (ssize_t)len)
			return false;
		for (size_t i = 0; i < len; i++)
			if (chunk[i] != (off + i < n ? ff_buf[off + i] : 0))
				return false;
	}
	return true;
}

/* leaks other than memory: the lowest free descriptor, and mappings of
 * the file */
static int lowest_fd(void)
{
	int fd = fcntl(ff_fd, F_DUPFD_CLOEXEC, 0);
	if (fd >= 0)
		close(fd);
	return fd;
}

static long count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	long n = 0;
	char line[512];
	while (fgets(line, sizeof line, f))
		n += strstr(line, "memfd:fuzz_file") != NULL;
	fclose(f);
	return n;
}

/* --------------------------------------------------------------- checks */

static void inspect(struct labyrinth *m)
{
	struct lab_stats st;
	lab_stats(m, &st);
	struct lab_room r;
	for (size_t i = 0; i < st.pages && i < FF_MAX_ROOMS_WALK; i++) {
		EXPECT(lab_room_info(m, i, &r) == 0, "lab_room_info(%zu)", i);
		EXPECT(r.state <= LAB_ROOM_ALLOCATED && r.block <= i,
		       "room %zu: state %u block %zu", i, r.state, r.block);
		(void)lab_index_owner(m, i);
	}
	EXPECT(lab_room_info(m, st.pages, &r) == -EFAULT, "room past the end");
	size_t idx[4];
	(void)lab_orphans(m, idx, 4);
	(void)lab_validate(m, NULL, 0);
}

static void valid(struct labyrinth *m, const char *when)
{
	char why[256] = "";
	int rc = lab_validate(m, why, sizeof why);
	EXPECT(rc == 0, "lab_validate %s = %d: %s", when, rc, why);
}

/* a writable maze: a few blocks out and back */
static void exercise(struct labyrinth *m)
{
	struct lab_stats st;
	lab_stats(m, &st);
	size_t free0 = st.free;
	long got[4];
	unsigned ord[4] = { 0, 1, 3, (unsigned)st.max_order };
	for (int k = 0; k < 4; k++) {
		lab_gfp_t gfp = LAB_GFP_ATOMIC | (k & 1 ? LAB_GFP_EXCLUSIVE : 0);
		got[k] = lab_alloc_index(m, gfp, ord[k]);
		EXPECT(got[k] >= 0 || got[k] == -ENOMEM || got[k] == -EAGAIN,
		       "alloc order %u = %ld", ord[k], got[k]);
		if (got[k] < 0)
			continue;
		size_t i = (size_t)got[k];
		EXPECT(i < st.pages && (i & (((size_t)1 << ord[k]) - 1)) == 0,
		       "order %u block at %zu of %zu", ord[k], i, st.pages);
		lab_owner_t ow = lab_index_owner(m, i);
		EXPECT(ow == lab_self(), "owner of %zu: %u, we are %u", i, ow, lab_self());
		unsigned char *p = lab_index_page(m, i);
		if (p) {
			p[0] = 1;
			p[(st.page_size << ord[k]) - 1] = 2;
		}
	}
	for (int k = 3; k >= 0; k--)
		if (got[k] >= 0) {
			int rc = lab_free_index(m, (size_t)got[k], ord[k]);
			EXPECT(rc == 0, "free of %ld order %u = %d", got[k], ord[k], rc);
		}
	lab_drain(m);
	lab_stats(m, &st);
	EXPECT(st.free == free0, "free %zu after the round trip, %zu before", st.free, free0);
	valid(m, "after alloc and free");
	long r = lab_reap(m);
	EXPECT(r >= 0, "lab_reap = %ld", r);
	valid(m, "after lab_reap");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup_once();
	if (size < 1)
		return 0;
	unsigned mode = data[0];
	unsigned flags = ff_flags[mode & 3];
	size_t n = size - 1 < FF_MAX_INPUT ? size - 1 : FF_MAX_INPUT;
	memcpy(ff_buf, data + 1, n);
	struct lab_obj_hdr h;
	bool has_hdr = n >= sizeof h;
	if (has_hdr && (mode & FF_FIX_SUM)) {
		memcpy(&h, ff_buf, sizeof h);
		h.checksum = lab_obj_hdr_sum(&h);
		memcpy(ff_buf, &h, sizeof h);
	}
	size_t total = n;
	if (has_hdr && (mode & FF_EXTEND)) {
		memcpy(&h, ff_buf, sizeof h);
		if (h.total_len > n && h.total_len <= FF_MAX_EXTEND)
			total = (size_t)h.total_len;
	}
	bool clean = false;
	if (has_hdr) {
		memcpy(&h, ff_buf, sizeof h);
		clean = lab_load_relaxed(&h.state) == LAB_OBJ_CLEAN;
	}
	/* a writable open of a file not closed cleanly needs a recovery */
	bool must_refuse = !clean && flags == 0;
	snprintf(ff_desc, sizeof ff_desc, "lab_file_open(%zu bytes, flags %#x, %s)", total, flags,
		 clean ? "clean" : "not clean");
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "%s\n", ff_desc);
	file_write(ff_buf, n, total);

	int fd0 = lowest_fd();
	long maps0 = count_maps();
	struct labyrinth *m = NULL;
	int rc = lab_file_open(ff_path, flags, &m);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "  = %d (%s)\n", rc, lab_strerror(rc));
	if (rc != 0) {
		EXPECT(m == NULL, "= %d, but *maze = %p", rc, (void *)m);
		/* documented: -EUCLEAN, -EPROTO; -EBUSY from a recovery that
		 * finds a live process registered; -ENOMEM */
		EXPECT(rc == -EUCLEAN || rc == -EPROTO || rc == -ENOMEM ||
			       (rc == -EBUSY && (flags & (LAB_RECOVER | LAB_RECOVER_KEEP))),
		       "= %d (%s)", rc, lab_strerror(rc));
		EXPECT(file_same(n, total), "= %d, and the file changed", rc);
	} else {
		EXPECT(!must_refuse, "a file not closed cleanly opened without LAB_RECOVER");
		EXPECT(m != NULL, "= 0 without a maze");
		EXPECT(lab_kind(m) == LAB_KIND_FILE || (flags & LAB_READONLY), "lab_kind = %d",
		       lab_kind(m));
		inspect(m);
		/* a read-only open checks the header and the metadata's layout,
		 * not the rooms' states (it is for inspecting what is there):
		 * inspect() ran lab_validate on it, whatever its answer */
		if (!(flags & LAB_READONLY)) {
			valid(m, "after open");
			exercise(m);
		}
		EXPECT(lab_detach(m) == 0, "lab_detach");
		if (flags & LAB_READONLY) {
			EXPECT(file_same(n, total), "a read-only open changed the file");
		} else {
			/* closed cleanly: it opens again as it is */
			struct labyrinth *m2 = NULL;
			rc = lab_file_open(ff_path, 0, &m2);
			EXPECT(rc == 0, "reopen after a clean close = %d (%s)", rc,
			       lab_strerror(rc));
			valid(m2, "after the reopen");
			EXPECT(lab_detach(m2) == 0, "lab_detach after the reopen");
		}
	}
	EXPECT(lowest_fd() == fd0, "a file descriptor leaked (lowest free %d, was %d)", lowest_fd(),
	       fd0);
	long maps1 = count_maps();
	EXPECT(maps1 == maps0, "mappings of the file: %ld, were %ld", maps1, maps0);
	return 0;
}

/* --------------------------------------------------------------- seeds */
#ifdef FUZZ_FILE_SEEDS

static const char *seed_dir;

/* the file at path as a seed: mode byte, then the bytes without the zeros
 * at the end (FF_EXTEND puts them back) */
static void seed_from(const char *path, unsigned mode, const char *name)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(path);
		exit(1);
	}
	size_t n = (size_t)st.st_size;
	uint8_t *b = malloc(n + 1);
	if (!b || pread(fd, b + 1, n, 0) != (ssize_t)n) {
		perror(path);
		exit(1);
	}
	close(fd);
	size_t keep = n;
	if (mode & FF_EXTEND)
		while (keep > 0 && b[keep] == 0)
			keep--;
	if (keep > FF_MAX_INPUT) {
		fprintf(stderr, "%s: %zu bytes is too large for a seed\n", name, keep);
		exit(1);
	}
	b[0] = (uint8_t)mode;
	char out[512];
	snprintf(out, sizeof out, "%s/%s", seed_dir, name);
	FILE *f = fopen(out, "wb");
	if (!f || fwrite(b, 1, keep + 1, f) != keep + 1 || fclose(f) != 0) {
		perror(out);
		exit(1);
	}
	printf("%s: %zu bytes (file of %zu)\n", name, keep + 1, n);
	free(b);
}

static void make(const char *path, size_t pages, size_t reserve, unsigned flags, int blocks,
		 bool detach)
{
	unlink(path);
	struct lab_config cfg = { .pages = pages, .reserve = reserve, .flags = flags };
	struct labyrinth *m = NULL;
	int rc = lab_file_create(path, &cfg, &m);
	if (rc) {
		fprintf(stderr, "lab_file_create: %s\n", lab_strerror(rc));
		exit(1);
	}
	for (int i = 0; i < blocks; i++)
		if (lab_alloc_index(m, LAB_GFP_ATOMIC | (i & 1 ? LAB_GFP_EXCLUSIVE : 0),
				    (unsigned)(i % 4)) < 0)
			break;
	if (detach)
		lab_detach(m);
	else
		_exit(0); /* a crash: no detach */
}

/* in a child, so that a crash is a crash (its process is gone) */
static void make_in_child(const char *path, size_t pages, size_t reserve, unsigned flags,
			  int blocks, bool detach)
{
	pid_t pid = fork();
	if (pid == 0) {
		make(path, pages, reserve, flags, blocks, detach);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "seed maker failed\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	seed_dir = argv[1];
	char path[512];
	snprintf(path, sizeof path, "%s/.maze-tmp", seed_dir);
	const unsigned X = FF_EXTEND;
	make_in_child(path, 1, 0, LAB_NO_MEMORY, 0, true);
	seed_from(path, X, "clean-1-room-index-only");
	make_in_child(path, 1000, 10, LAB_NO_MEMORY, 12, true);
	seed_from(path, X, "clean-1000-rooms-index-only");
	seed_from(path, X | 1, "clean-1000-rooms-index-only-readonly");
	seed_from(path, X | 3, "clean-1000-rooms-index-only-keep");
	make_in_child(path, 16, 0, 0, 5, true);
	seed_from(path, X, "clean-16-rooms");
	make_in_child(path, 600, 0, LAB_NO_MEMORY | LAB_REAP_ON_ATTACH, 30, true);
	seed_from(path, X, "clean-600-rooms-reap-on-attach");
	make_in_child(path, 700, 0, LAB_NO_MEMORY, 20, false);
	seed_from(path, X, "crash-700-rooms");
	seed_from(path, X | 1, "crash-700-rooms-readonly");
	seed_from(path, X | 2, "crash-700-rooms-recover");
	seed_from(path, X | 3, "crash-700-rooms-keep");
	make_in_child(path, 32, 2, 0, 6, false);
	seed_from(path, X | 2, "crash-32-rooms-recover");
	unlink(path);
	return 0;
}
#endif
