/* SPDX-License-Identifier: MIT */
/* Shared and file-backed mazes: making, checking, mapping and leaving the
 * object that holds one (see format.h for its layout). An object is never
 * trusted: its size is checked with fstat and its header read with pread
 * before anything is mapped, and every offset is recomputed. */
#define _GNU_SOURCE
#include "shared.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#define LAB_OBJ_FLAGS (LAB_NO_MEMORY | LAB_REAP_ON_ATTACH)

struct obj_layout {
	uint64_t meta_off, meta_len, reg_off, reg_len, rooms_off, rooms_len, total;
};

static uint64_t round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static int obj_layout(uint64_t pages, unsigned shift, unsigned flags, struct obj_layout *l)
{
	uint64_t meta = lab_core_meta_size(pages);
	if (!meta || shift < 12 || shift > 40)
		return -EINVAL;
	l->meta_off = LAB_OBJ_HDR_BYTES;
	l->meta_len = round_up(meta, 4096);
	l->reg_off = l->meta_off + l->meta_len;
	l->reg_len = round_up(sizeof(struct lab_registry), 4096);
	uint64_t end = l->reg_off + l->reg_len;
	l->rooms_off = round_up(end, shift >= 21 ? (2u << 20) : 4096);
	l->rooms_len = 0;
	if (!(flags & LAB_NO_MEMORY)) {
		if (pages > ((UINT64_MAX >> 1) - l->rooms_off) >> shift)
			return -EOVERFLOW;
		l->rooms_len = pages << shift;
	}
	l->total = l->rooms_len ? l->rooms_off + l->rooms_len : end;
	if (l->total > (uint64_t)INT64_MAX || l->total > (uint64_t)SIZE_MAX)
		return -EOVERFLOW;
	return 0;
}

/* Why an object was refused, in words; b may be NULL. */
static int refuse(struct lab_buf *b, int err, const char *what)
{
	if (b)
		lab_buf_s(b, what);
	return err;
}

static int refuse_sizes(struct lab_buf *b, unsigned kind, uint64_t have, const char *says,
			uint64_t want)
{
	if (b) {
		lab_buf_s(b, kind == LAB_OBJ_FILE ? "file is " : "object is ");
		lab_buf_u(b, have);
		lab_buf_s(b, says);
		lab_buf_u(b, want);
	}
	return -EUCLEAN;
}

/* Check a header read from an object of `size` bytes: 0, -EUCLEAN or
 * -EPROTO, the reason in why. Fills l with the layout it describes. */
static int hdr_check(const struct lab_obj_hdr *h, uint64_t size, unsigned kind,
		     struct obj_layout *l, struct lab_buf *why)
{
	if (memcmp(h->magic, LAB_OBJ_MAGIC, 8))
		return refuse(why, -EUCLEAN, "not a maze: no labyrinth magic at the start");
	if (h->endian != LAB_OBJ_ENDIAN)
		return h->endian == __builtin_bswap32(LAB_OBJ_ENDIAN) ?
			       refuse(why, -EPROTO,
				      "written on a machine of the other byte order") :
			       refuse(why, -EUCLEAN, "damaged header: bad byte-order mark");
	if (h->version != LAB_OBJ_VERSION) {
		if (why) {
			lab_buf_s(why, "format version ");
			lab_buf_u(why, h->version);
			lab_buf_s(why, "; this library reads version ");
			lab_buf_u(why, LAB_OBJ_VERSION);
		}
		return -EPROTO;
	}
	if (h->hdr_size != sizeof(*h) || h->checksum != lab_obj_hdr_sum(h))
		return refuse(why, -EUCLEAN, "checksum mismatch in the header");
	if (h->kind != kind)
		return refuse(why, -EUCLEAN,
			      h->kind == LAB_OBJ_FILE ?
				      "holds a file maze, not a shared one" :
				      "holds a shared-memory maze, not a file maze");
	if (h->page_shift < 12 || h->page_shift > 40 || h->pages == 0 || h->pages > LAB_MAX_ROOMS ||
	    h->reserve > h->pages || (h->flags & ~LAB_OBJ_FLAGS) || h->barrier > 1 ||
	    h->nthreads != LAB_SHARED_THREADS || obj_layout(h->pages, h->page_shift, h->flags, l))
		return refuse(why, -EUCLEAN, "impossible sizes or flags in the header");
	if (h->meta_off != l->meta_off || h->meta_len != l->meta_len || h->reg_off != l->reg_off ||
	    h->reg_len != l->reg_len || h->rooms_off != l->rooms_off ||
	    h->rooms_len != l->rooms_len || h->total_len != l->total)
		return refuse(why, -EUCLEAN, "offsets in the header do not match its sizes");
	if (size != l->total)
		return refuse_sizes(why, kind, size, " bytes, the header says ", l->total);
	return 0;
}

/* Size and header of object fd, read with pread before anything is mapped:
 * 0 or a negative errno, the reason in why. */
static int obj_read_hdr(int fd, unsigned kind, struct lab_obj_hdr *h, struct obj_layout *l,
			struct lab_buf *why)
{
	long long size = lab_os_obj_size(fd);
	if (size < 0)
		return refuse(why, (int)size,
			      size == -EISDIR ? "a directory" :
			      size == -ENODEV ? "not a regular file: a FIFO, socket or device" :
						"fstat failed");
	if ((uint64_t)size < LAB_OBJ_HDR_BYTES) {
		if (size == 0)
			return refuse(why, -EUCLEAN, "not a maze: empty");
		return refuse_sizes(why, kind, (uint64_t)size, " bytes, smaller than a header of ",
				    LAB_OBJ_HDR_BYTES);
	}
	int err = lab_os_obj_read(fd, h, sizeof(*h), 0);
	if (err)
		return refuse(why, err, "cannot read the header");
	return hdr_check(h, (uint64_t)size, kind, l, why);
}

static void unmap_all(struct labyrinth *m)
{
	if (m->map)
		lab_os_unmap(m->map, m->map_len);
	if (m->obj)
		lab_os_unmap(m->obj, m->obj_len);
	m->map = m->obj = NULL;
	m->base = NULL;
}

/* Fill the handle from a checked, mapped object. */
static int handle_setup(struct labyrinth *m, const struct lab_obj_hdr *h,
			const struct obj_layout *l, bool ro)
{
	m->kind = h->kind == LAB_OBJ_FILE ? LAB_KIND_FILE : LAB_KIND_SHARED;
	m->readonly = ro;
	m->fshared = true;
	m->page_shift = h->page_shift;
	m->page_size = (size_t)1 << h->page_shift;
	m->span = (size_t)h->pages << h->page_shift;
	m->flags = h->flags;
	m->meta = (char *)m->obj + l->meta_off;
	m->meta_len = (size_t)l->meta_len;
	m->threads = (struct lab_registry *)((char *)m->obj + l->reg_off);
	/* metadata up to 256 MiB is faulted in now, as for private mazes */
	if (l->reg_off + l->reg_len <= (256u << 20))
		lab_os_populate(m->obj, (size_t)(l->reg_off + l->reg_len), !ro);
	lab_core_view(&m->v, m->meta);
	m->v.heavy_barrier = NULL;
	if (h->barrier && !ro) {
		if (lab_os_global_barrier_register() != 0)
			return -ENOSYS; /* the other users rely on it */
		m->v.heavy_barrier = lab_os_global_barrier;
		atomic_store_explicit(&lab_global_barrier_used, 1, memory_order_relaxed);
	}
	if (l->rooms_len) {
		size_t align = m->page_size << m->v.max_order;
		m->map = lab_os_obj_map(m->fd, l->rooms_off, (size_t)l->rooms_len, align, ro);
		if (!m->map)
			return -ENOMEM;
		m->map_len = (size_t)l->rooms_len;
		m->base = m->map;
	}
	return 0;
}

/* One handle per object per process: two would share registry entries
 * (one per thread), and detaching one would end the other's identity. A
 * forked child may use the handle it inherited or attach anew (then it
 * should use only the new one). */
static pthread_mutex_t objs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct labyrinth *objs[LAB_LIVE_MAX];

static int claim_object(struct labyrinth *m)
{
	if (lab_os_obj_id(m->fd, &m->obj_dev, &m->obj_ino))
		return -EINVAL;
	m->opener = lab_os_getpid();
	int err = -EMFILE;
	pthread_mutex_lock(&objs_lock);
	unsigned free_at = LAB_LIVE_MAX;
	uint32_t me = m->opener;
	for (unsigned i = 0; i < LAB_LIVE_MAX; i++) {
		struct labyrinth *o = objs[i];
		if (o && o->opener != me)
			objs[i] = o = NULL; /* inherited through fork: not this process's */
		if (!o) {
			if (free_at == LAB_LIVE_MAX)
				free_at = i;
		} else if (o->obj_dev == m->obj_dev && o->obj_ino == m->obj_ino) {
			free_at = LAB_LIVE_MAX;
			err = -EBUSY;
			break;
		}
	}
	if (free_at < LAB_LIVE_MAX) {
		objs[free_at] = m;
		err = 0;
	}
	pthread_mutex_unlock(&objs_lock);
	return err;
}

static void drop_object(struct labyrinth *m)
{
	pthread_mutex_lock(&objs_lock);
	for (unsigned i = 0; i < LAB_LIVE_MAX; i++)
		if (objs[i] == m)
			objs[i] = NULL;
	pthread_mutex_unlock(&objs_lock);
}

static int fail(struct labyrinth *m, int err)
{
	unmap_all(m);
	lab_os_obj_close(m->fd);
	lab_handle_put(m);
	return err;
}

/* A handle for object fd with its header, metadata and registry mapped;
 * err: the caller's verdict so far (on error fd is closed). */
static int handle_map(int fd, int err, const struct obj_layout *l, bool ro, struct labyrinth **out)
{
	struct labyrinth *m = err ? NULL : lab_handle_get();
	*out = m;
	if (!m) {
		lab_os_obj_close(fd);
		return err ? err : -ENOMEM;
	}
	lab_thread_setup_once();
	m->fd = fd;
	m->obj_len = (size_t)l->rooms_off;
	m->obj = lab_os_obj_map(fd, 0, m->obj_len, 4096, ro);
	return m->obj ? 0 : fail(m, -ENOMEM);
}

/* Make a maze in the empty object fd (which the handle then keeps). */
static int obj_create(int fd, unsigned kind, const struct lab_config *cfg, struct labyrinth **out)
{
	if (!out || !cfg) {
		lab_os_obj_close(fd);
		return -EINVAL;
	}
	*out = NULL;
	size_t p = cfg->page_size ? cfg->page_size : 4096;
	int err = 0;
	if (p < 4096 || (p & (p - 1)) || (uint64_t)p > LAB_MAX_PAGE_SIZE || cfg->pages == 0 ||
	    cfg->pages > LAB_MAX_ROOMS || cfg->reserve > cfg->pages || cfg->memory ||
	    (cfg->flags & ~LAB_OBJ_FLAGS))
		err = -EINVAL;
	for (unsigned i = 0; i < sizeof(cfg->reserved_) / sizeof(cfg->reserved_[0]); i++)
		if (cfg->reserved_[i])
			err = -EINVAL;
	unsigned shift = (unsigned)__builtin_ctzll(p);
	struct obj_layout l;
	if (!err)
		err = obj_layout(cfg->pages, shift, cfg->flags, &l);
	if (!err)
		err = lab_os_obj_resize(fd, l.total);
	/* the metadata gets its blocks now: a full disk or /dev/shm is an
	 * error here, not a SIGBUS at the first store */
	if (!err)
		err = lab_os_obj_reserve(fd, l.rooms_off);
	struct labyrinth *m;
	err = handle_map(fd, err, &l, false, &m);
	if (err)
		return err;
	struct lab_obj_hdr *h = m->obj;
	lab_core_format((char *)m->obj + l.meta_off, cfg->pages, shift, cfg->reserve);
	h->version = LAB_OBJ_VERSION;
	h->endian = LAB_OBJ_ENDIAN;
	h->hdr_size = sizeof(*h);
	h->page_shift = shift;
	h->pages = cfg->pages;
	h->reserve = cfg->reserve;
	h->flags = cfg->flags;
	h->kind = kind;
	h->meta_off = l.meta_off;
	h->meta_len = l.meta_len;
	h->reg_off = l.reg_off;
	h->reg_len = l.reg_len;
	h->rooms_off = l.rooms_off;
	h->rooms_len = l.rooms_len;
	h->total_len = l.total;
	h->barrier = lab_os_global_barrier_register() == 0;
	h->nthreads = LAB_SHARED_THREADS;
	lab_store_relaxed(&h->state, LAB_OBJ_OPEN);
	/* the magic and checksum last: a reader sees a whole header or none */
	atomic_thread_fence(memory_order_release);
	memcpy(h->magic, LAB_OBJ_MAGIC, 8);
	h->checksum = lab_obj_hdr_sum(h);
	struct obj_layout chk;
	err = hdr_check(h, l.total, kind, &chk, NULL);
	if (!err)
		err = handle_setup(m, h, &l, false);
	if (!err)
		err = claim_object(m);
	if (err)
		return fail(m, err);
	lab_handle_publish(m);
	*out = m;
	return 0;
}

/* The checks of an attach on a handle whose header, metadata and registry
 * are mapped (h: the header as read before the mapping). Reads only, so
 * lab_file_inspect runs them on a read-only mapping. flags are the open's:
 * a file opened for writing without LAB_RECOVER must have been closed
 * cleanly, and then it must be valid, with every cache empty and unowned
 * (detach left them so) and no registration in progress. */
static int obj_verify(struct labyrinth *m, const struct lab_obj_hdr *h, const struct obj_layout *l,
		      unsigned kind, unsigned flags, struct lab_buf *why)
{
	const struct lab_obj_hdr *live = m->obj;
	if (memcmp(live, h, offsetof(struct lab_obj_hdr, state)))
		return refuse(why, -EUCLEAN, "the header changed while it was opened");
	if (lab_core_meta_check((char *)m->obj + l->meta_off, l->meta_len, h->pages, h->page_shift,
				h->reserve))
		return refuse(why, -EUCLEAN, "damaged metadata header");
	/* registry words hold a 13-bit generation and a state, nothing more */
	const struct lab_registry *reg = (const void *)((const char *)m->obj + l->reg_off);
	for (uint32_t i = 0; i < LAB_SHARED_THREADS; i++)
		if (lab_load_relaxed(&reg->ent[i].word) >> 15)
			return refuse(why, -EUCLEAN, "damaged thread registry");
	bool clean = lab_load_acquire(&live->state) == LAB_OBJ_CLEAN;
	bool recover = flags & (LAB_RECOVER | LAB_RECOVER_KEEP);
	if (kind != LAB_OBJ_FILE || recover || (flags & LAB_READONLY))
		return 0;
	if (!clean)
		return refuse(why, -EUCLEAN, "not closed cleanly: open with LAB_RECOVER");
	struct lab_view v;
	lab_core_view(&v, (char *)m->obj + l->meta_off);
	char vwhy[128];
	if (lab_core_validate(&v, vwhy, sizeof(vwhy))) {
		refuse(why, 0, "damaged metadata: ");
		return refuse(why, -EUCLEAN, vwhy);
	}
	for (uint32_t i = 0; i < v.nslots; i++) {
		struct lab_slot *sl = &v.slots[i];
		if (lab_load_relaxed(&sl->key) || lab_load_relaxed(&sl->top) ||
		    lab_load_relaxed(&sl->busy) || lab_load_relaxed(&sl->lock) ||
		    lab_load_relaxed(&sl->freeing))
			return refuse(why, -EUCLEAN,
				      "closed cleanly, but a thread cache is not empty");
	}
	for (uint32_t i = 0; i < LAB_SHARED_THREADS; i++)
		if ((lab_load_relaxed(&reg->ent[i].word) & 3) == LAB_REG_BUSY)
			return refuse(why, -EUCLEAN,
				      "closed cleanly, but a thread registration is in progress");
	return 0;
}

/* Map the maze in object fd (kept by the handle on success, closed on
 * failure). flags: LAB_RECOVER, LAB_RECOVER_KEEP, LAB_READONLY. */
static int obj_attach(int fd, unsigned kind, unsigned flags, struct labyrinth **out)
{
	if (!out) {
		lab_os_obj_close(fd);
		return -EINVAL;
	}
	*out = NULL;
	struct lab_obj_hdr h;
	struct obj_layout l;
	int err = obj_read_hdr(fd, kind, &h, &l, NULL);
	bool ro = flags & LAB_READONLY;
	struct labyrinth *m;
	err = handle_map(fd, err, &l, ro, &m);
	if (err)
		return err;
	err = obj_verify(m, &h, &l, kind, flags, NULL);
	if (!err)
		err = handle_setup(m, &h, &l, ro);
	if (err)
		return fail(m, err);
	struct lab_obj_hdr *live = m->obj;
	bool recover = flags & (LAB_RECOVER | LAB_RECOVER_KEEP);
	m->was_clean = lab_load_acquire(&live->state) == LAB_OBJ_CLEAN;
	if (kind == LAB_OBJ_FILE && !recover && !ro)
		lab_store_release(&m->threads->lock, 0); /* ours alone (flock) */
	err = claim_object(m);
	if (err)
		return fail(m, err);
	lab_handle_publish(m);
	if (recover) {
		err = lab_recover(m, flags & (LAB_RECOVER | LAB_RECOVER_KEEP), NULL);
		if (err) {
			lab_handle_unpublish(m);
			drop_object(m);
			return fail(m, err);
		}
	}
	if (kind == LAB_OBJ_FILE && !ro)
		lab_store_release(&live->state, LAB_OBJ_OPEN);
	if (!ro)
		lab_add_relaxed(&live->attaches, 1);
	if (ro)
		lab_handle_readonly(m);
	if ((h.flags & LAB_REAP_ON_ATTACH) && !ro)
		lab_reap(m);
	*out = m;
	return 0;
}

int lab_shm_create(const char *name, const struct lab_config *cfg, struct labyrinth **maze)
{
	if (maze)
		*maze = NULL;
	if (!name || !maze || !cfg)
		return -EINVAL;
	int fd = lab_os_shm_open(name, true);
	if (fd < 0)
		return fd;
	int err = obj_create(fd, LAB_OBJ_SHARED, cfg, maze);
	if (err)
		lab_os_shm_unlink(name);
	return err;
}

int lab_shm_attach(const char *name, struct labyrinth **maze)
{
	if (maze)
		*maze = NULL;
	if (!name || !maze)
		return -EINVAL;
	int fd = lab_os_shm_open(name, false);
	return fd < 0 ? fd : obj_attach(fd, LAB_OBJ_SHARED, 0, maze);
}

int lab_shm_unlink(const char *name)
{
	return name ? lab_os_shm_unlink(name) : -EINVAL;
}

int lab_create_fd(const struct lab_config *cfg, int *fd, struct labyrinth **maze)
{
	if (maze)
		*maze = NULL;
	if (!fd || !maze || !cfg)
		return -EINVAL;
	int f = lab_os_memfd();
	if (f < 0)
		return f;
	int err = obj_create(f, LAB_OBJ_SHARED, cfg, maze);
	if (err)
		return err;
	/* the caller's fd is its own: the handle keeps the original */
	*fd = lab_os_dup((*maze)->fd);
	if (*fd < 0) {
		int e = *fd;
		lab_detach(*maze);
		*maze = NULL;
		return e;
	}
	return 0;
}

int lab_attach_fd(int fd, struct labyrinth **maze)
{
	if (maze)
		*maze = NULL;
	if (fd < 0 || !maze)
		return -EINVAL;
	int f = lab_os_dup(fd);
	return f < 0 ? f : obj_attach(f, LAB_OBJ_SHARED, 0, maze);
}

int lab_file_create(const char *path, const struct lab_config *cfg, struct labyrinth **maze)
{
	if (maze)
		*maze = NULL;
	if (!path || !maze || !cfg)
		return -EINVAL;
	int fd = lab_os_file_open(path, true, false);
	if (fd < 0)
		return fd;
	int err = lab_os_obj_lock(fd, true);
	if (!err)
		err = obj_create(fd, LAB_OBJ_FILE, cfg, maze);
	else
		lab_os_obj_close(fd);
	if (err)
		lab_os_file_unlink(path);
	return err;
}

int lab_file_open(const char *path, unsigned flags, struct labyrinth **maze)
{
	if (maze)
		*maze = NULL;
	if (!path || !maze || (flags & ~(LAB_RECOVER | LAB_RECOVER_KEEP | LAB_READONLY)) ||
	    ((flags & LAB_READONLY) && (flags & (LAB_RECOVER | LAB_RECOVER_KEEP))))
		return -EINVAL;
	bool ro = flags & LAB_READONLY;
	int fd = lab_os_file_open(path, false, ro);
	if (fd < 0)
		return fd;
	int err = lab_os_obj_lock(fd, !ro);
	if (err) {
		lab_os_obj_close(fd);
		return err;
	}
	return obj_attach(fd, LAB_OBJ_FILE, flags, maze);
}

/* Whether this process holds a handle on the object of fd. */
static bool object_held(int fd)
{
	uint64_t dev, ino;
	if (lab_os_obj_id(fd, &dev, &ino))
		return false;
	bool held = false;
	uint32_t me = lab_os_getpid();
	pthread_mutex_lock(&objs_lock);
	for (unsigned i = 0; i < LAB_LIVE_MAX; i++) {
		const struct labyrinth *o = objs[i];
		if (o && o->opener == me && o->obj_dev == dev && o->obj_ino == ino)
			held = true;
	}
	pthread_mutex_unlock(&objs_lock);
	return held;
}

static int why_out(char *why, size_t whylen, const struct lab_buf *b, int err)
{
	if (why && whylen) {
		size_t n = b->n < whylen - 1 ? b->n : whylen - 1;
		memcpy(why, b->b, n);
		why[n] = 0;
	}
	return err;
}

/* The checks of lab_file_open(path, 0, ...) on a read-only descriptor and
 * mapping: the same verdict, in words, and nothing written. The exclusive
 * lock that open would take is taken for the length of the check. */
int lab_file_inspect(const char *path, char *why, size_t whylen)
{
	struct lab_buf b = { .n = 0 };
	b.b[0] = 0;
	if (!path)
		return why_out(why, whylen, &b, refuse(&b, -EINVAL, "no path"));
	int fd = lab_os_file_open(path, false, true);
	if (fd < 0) {
		refuse(&b, 0,
		       fd == -EISDIR ? "a directory" :
		       fd == -ENODEV ? "not a regular file: a FIFO, socket or device" :
		       fd == -ENOENT ? "no such file" :
				       lab_strerror(fd));
		return why_out(why, whylen, &b, fd);
	}
	int err = lab_os_obj_lock(fd, true);
	if (err) {
		refuse(&b, 0,
		       err != -EBUSY   ? "cannot lock it" :
		       object_held(fd) ? "already open in this process" :
					 "open in another process (its lock is held)");
		lab_os_obj_close(fd);
		return why_out(why, whylen, &b, err);
	}
	struct lab_obj_hdr h;
	struct obj_layout l;
	err = obj_read_hdr(fd, LAB_OBJ_FILE, &h, &l, &b);
	struct labyrinth *m;
	if (err) {
		lab_os_obj_close(fd);
		return why_out(why, whylen, &b, err);
	}
	err = handle_map(fd, 0, &l, true, &m);
	if (err)
		return why_out(why, whylen, &b, refuse(&b, err, "cannot map it"));
	err = obj_verify(m, &h, &l, LAB_OBJ_FILE, 0, &b);
	fail(m, 0);
	return why_out(why, whylen, &b, err);
}

int lab_detach(struct labyrinth *m)
{
	if (!lab_readable(m))
		return -EINVAL;
	if (!m->kind) {
		lab_destroy(m);
		return 0;
	}
	if (!m->readonly) {
		/* this thread's cache goes back; the rest of the process's are
		 * taken back from their (now dead) entries */
		lab_thread_release(m);
		lab_reg_leave_process(m);
		lab_reap_some(m, LAB_REAP_CACHES);
		/* a forked child shares the parent's lock and file: only the
		 * opener closes it cleanly */
		if (m->kind == LAB_KIND_FILE && m->opener == lab_os_getpid())
			lab_store_release(&((struct lab_obj_hdr *)m->obj)->state, LAB_OBJ_CLEAN);
	}
	lab_handle_unpublish(m);
	drop_object(m);
	unmap_all(m);
	lab_os_obj_close(m->fd);
	lab_handle_put(m);
	return 0;
}

int lab_file_clean(const struct labyrinth *m)
{
	if (!lab_readable(m) || m->kind != LAB_KIND_FILE)
		return -EINVAL;
	return m->was_clean;
}
