/* SPDX-License-Identifier: MIT */
/* labyrinth/shared.h: mazes shared by processes, mazes in files, and the
 * recovery of rooms whose owners are gone.
 *
 * A shared or file-backed maze is one object (POSIX shared memory, a memfd
 * or a file) holding a header, the metadata, a registry of the threads that
 * use it and, unless LAB_NO_MEMORY, the room memory. Nothing in it is an
 * absolute pointer: each process maps it at its own address, and
 * lab_page_index / lab_index_page name pages across processes.
 *
 * Every call of <labyrinth.h> works on these mazes, across processes: every
 * gfp flag and order, exclusive ownership, lab_page_give to a thread of
 * another process, the reserve, and KERNEL waits woken by a free in any
 * process (a shared futex). lab_destroy on a shared maze is lab_detach.
 *
 * Owners. In a shared maze the owner word of a room records an entry of
 * the maze's thread registry (index and generation), not a raw thread id,
 * so a reused thread or process id is never taken for a dead owner. The
 * registry records each thread's id, its process and both start times
 * (from /proc). lab_page_owner still reports the owner's thread id.
 *
 * Error convention as in <labyrinth.h>: 0 or a negative errno. None of
 * these calls is async-signal-safe, except lab_reap's rules noted below.
 */
#ifndef LABYRINTH_SHARED_H
#define LABYRINTH_SHARED_H

#include <labyrinth.h>

#ifdef __cplusplus
extern "C" {
#endif

/* lab_config.flags, shared mazes only */
#define LAB_REAP_ON_ATTACH 0x8u /* every attach runs lab_reap first */

/* The thread registry of a shared maze: threads that may own rooms at once
 * (live ones, and dead ones not reaped yet). A thread that finds it full
 * reaps once, then fails its allocation with -EAGAIN (NULL). */
#define LAB_SHARED_THREADS 4096u

/* Opening never blocks and never trusts: whatever the object is (FIFO,
 * socket, device, directory, or a symbolic link to one), the answer is an
 * error and the object is untouched. The errors of the calls that open an
 * existing object, in the order they are checked:
 *   -EINVAL        NULL name, path or maze, bad flags, fd < 0
 *   the open(2) errors of the name or path: -ENOENT (no such object),
 *                  -EACCES, -ELOOP (for shm: the name is a symbolic link),
 *                  -ENAMETOOLONG, -ENOTDIR, -EROFS, -EMFILE, -ENFILE
 *   -EISDIR        a directory (lab_shm_attach: -EINVAL, as shm_open says)
 *   -ENODEV        not a regular file: a FIFO, socket or device (/dev/null)
 *   -EBUSY         files: locked by another process, or already open in
 *                  this one; shm and fds: already attached in this process
 *   -EUCLEAN       not a maze (no magic), a damaged or truncated header, a
 *                  size other than the header's, impossible sizes or
 *                  offsets, damaged metadata or registry; files opened for
 *                  writing without LAB_RECOVER: not closed cleanly, or
 *                  damaged metadata (lab_validate). lab_file_inspect says
 *                  which, in words.
 *   -EPROTO        another format version or byte order
 *   -ENOMEM        no address space or memory to map it
 *   -ENOSYS        the maze relies on membarrier and this system lacks it
 *   -EMFILE        more mazes open in this process than the library holds
 *   recovery (LAB_RECOVER): -EBUSY, -EUCLEAN as for lab_recover.
 * Create: -EINVAL (bad config), -EEXIST (the name or path exists), the
 * open(2) errors above, -ENOSPC (no space for the metadata), -EOVERFLOW,
 * -ENOMEM. */

/* POSIX shared memory. name as for shm_open ("/name"). Create fails with
 * -EEXIST if the name exists; attach with the errors above. */
LAB_API int lab_shm_create(const char *name, const struct lab_config *cfg, struct labyrinth **maze);
LAB_API int lab_shm_attach(const char *name, struct labyrinth **maze);
LAB_API int lab_shm_unlink(const char *name);

/* A process holds one handle per object: a second attach (or open) of an
 * object this process already has is -EBUSY. A forked child may use the
 * handle it inherited, or attach anew and use only the new one. */

/* The same on a memfd: create makes one and returns it in *fd (close it
 * when no process needs to attach any more); attach maps a maze from any fd
 * that holds one (passed over a Unix socket, or inherited). */
LAB_API int lab_create_fd(const struct lab_config *cfg, int *fd, struct labyrinth **maze);
LAB_API int lab_attach_fd(int fd, struct labyrinth **maze);

/* Leave a shared or file-backed maze: this process's thread caches go back
 * to the maze, its registry entries are marked gone (their rooms stay
 * allocated until a reap), and the mappings are removed. A file maze is
 * marked cleanly closed and unlocked. On a private maze it is lab_destroy. */
LAB_API int lab_detach(struct labyrinth *maze);

/* Return to the maze every room whose owner thread (or its process) no
 * longer exists, and the thread caches of dead threads. Safe while other
 * threads and processes use the maze. The number of rooms returned, or
 * -EINVAL. The one operation a dead thread had in flight may leave up to
 * one block or one cache batch (32 rooms) claimed; lab_recover, on a quiet
 * maze, gets those back. Works on private mazes too (exited threads). */
LAB_API long lab_reap(struct labyrinth *maze);

/* Files. The file holds the metadata and, unless cfg->flags has
 * LAB_NO_MEMORY (a frame allocator that keeps indices only), the rooms.
 * A file maze is used by one process at a time (an exclusive flock);
 * allocated rooms stay allocated across close and open. create: -EEXIST
 * if path exists. open: the errors above, with the file untouched. */
LAB_API int lab_file_create(const char *path, const struct lab_config *cfg,
			    struct labyrinth **maze);
#define LAB_RECOVER 0x1u      /* recover: rebuild the summaries, reclaim the dead's rooms */
#define LAB_RECOVER_KEEP 0x2u /* recover, but keep the rooms of gone owners (listed) */
#define LAB_READONLY 0x4u     /* map read-only and take a shared lock: inspect only */
LAB_API int lab_file_open(const char *path, unsigned flags, struct labyrinth **maze);

/* Why lab_file_open(path, 0, ...) would fail, without opening anything for
 * writing or changing anything: it returns the code that open would return
 * (0 if the file would open) and writes the reason, NUL-terminated and
 * truncated to whylen, into why (may be NULL): for example "not closed
 * cleanly: open with LAB_RECOVER", "checksum mismatch in the header", "file
 * is 4096 bytes, the header says 2101248". It holds the file's exclusive
 * lock while it checks, as the open would. Not async-signal-safe. */
LAB_API int lab_file_inspect(const char *path, char *why, size_t whylen);

/* A file maze: 1 if it had been closed cleanly when this handle opened it,
 * 0 if its last writer died with it open (it needs recovery), -EINVAL if
 * maze is no file maze. */
LAB_API int lab_file_clean(const struct labyrinth *maze);

/* What a recovery did. */
struct lab_recovery {
	size_t reclaimed;     /* rooms of gone owners returned to the maze */
	size_t kept;	      /* rooms of gone owners kept (LAB_RECOVER_KEEP) */
	size_t kept_blocks;   /* blocks among them: lab_orphans lists them */
	size_t inflight;      /* rooms an interrupted operation left claimed, returned */
	size_t caches;	      /* thread caches emptied (their rooms count as free) */
	size_t rows_fixed;    /* row and group summaries that were rebuilt differently */
	uint64_t nanoseconds; /* time the recovery took */
};

/* Recover a maze that no other thread or process is using (after a crash,
 * with the crashed processes gone): check the room bitmaps and owner words,
 * rebuild every summary (row and group counts, the free count, thread
 * caches) from them, and reclaim (or with LAB_RECOVER_KEEP keep) the rooms
 * of owners that are gone. 0, -EINVAL, -EUCLEAN (damage that is no crash
 * state: nothing is written then), -EBUSY (a live thread of another
 * process is registered with the maze: it is not quiet). out may be NULL. */
LAB_API int lab_recover(struct labyrinth *maze, unsigned flags, struct lab_recovery *out);
/* The last recovery of this handle (zeros if none). */
LAB_API void lab_recovery_info(const struct labyrinth *maze, struct lab_recovery *out);

/* List the blocks whose owner is gone (kept by LAB_RECOVER_KEEP, or not
 * reaped yet): up to cap first room indices into idx (may be NULL with cap
 * 0). The number of such blocks, or -EINVAL. */
LAB_API long lab_orphans(const struct labyrinth *maze, size_t *idx, size_t cap);
/* Make the calling thread the owner of a block whose owner is gone. 0,
 * -EFAULT, -EINVAL (not a block start), -ENOENT (free), -EPERM (its owner
 * is alive). */
LAB_API int lab_index_adopt(struct labyrinth *maze, size_t index);

/* What kind of maze this is. */
#define LAB_KIND_PRIVATE 0
#define LAB_KIND_SHARED 1 /* shm or memfd */
#define LAB_KIND_FILE 2
LAB_API int lab_kind(const struct labyrinth *maze);

#ifdef __cplusplus
}
#endif
#endif /* LABYRINTH_SHARED_H */
