/* SPDX-License-Identifier: MIT */
/* The layout of a shared or file-backed maze object (shm, memfd, file).
 *
 *   offset 0          struct lab_obj_hdr, padded to 4096 bytes
 *   meta_off          the core metadata (src/core/meta.h), page aligned
 *   reg_off           the thread registry (struct lab_reg_ent[LAB_SHARED_THREADS])
 *   rooms_off         the rooms (rooms_len = pages << page_shift), absent
 *                     (rooms_len 0) with LAB_NO_MEMORY
 *   total_len         the object's size; rooms_off + rooms_len
 *
 * All integers are in the writer's byte order; `endian` tells a reader of
 * another order. The header's fixed part is covered by `checksum` (FNV-1a,
 * 64 bits, over the bytes before it). The offsets are a pure function of
 * pages, page_shift and flags (lab_obj_layout): a reader recomputes them
 * and refuses a header that disagrees. */
#ifndef LAB_SHARED_FORMAT_H
#define LAB_SHARED_FORMAT_H

#include "../core/atomic.h"
#include <stddef.h>
#include <stdint.h>

#define LAB_OBJ_MAGIC "LABYMAZE"
#define LAB_OBJ_VERSION 2u
#define LAB_OBJ_ENDIAN 0x01020304u
#define LAB_OBJ_HDR_BYTES 4096u

#define LAB_OBJ_SHARED 1u /* kind: shm or memfd */
#define LAB_OBJ_FILE 2u	  /* kind: a file */

/* state: CLEAN after a clean close (file) or before first use; OPEN while
 * a process has it open for writing. */
#define LAB_OBJ_CLEAN 0x434c454eu /* "CLEN" */
#define LAB_OBJ_OPEN 0x4f50454eu  /* "OPEN" */

struct lab_obj_hdr {
	char magic[8];	     /* LAB_OBJ_MAGIC, no terminator */
	uint32_t version;    /* LAB_OBJ_VERSION */
	uint32_t endian;     /* LAB_OBJ_ENDIAN in the writer's order */
	uint32_t hdr_size;   /* sizeof(struct lab_obj_hdr) */
	uint32_t page_shift; /* log2 of the room size, 12..40 */
	uint64_t pages;	     /* rooms, 1..2^31 */
	uint64_t reserve;    /* rooms only ATOMIC may take */
	uint32_t flags;	     /* lab_config.flags */
	uint32_t kind;	     /* LAB_OBJ_SHARED or LAB_OBJ_FILE */
	uint64_t meta_off, meta_len;
	uint64_t reg_off, reg_len;
	uint64_t rooms_off, rooms_len;
	uint64_t total_len;
	uint32_t barrier;  /* 1: cache owners rely on MEMBARRIER global expedited */
	uint32_t nthreads; /* registry entries: LAB_SHARED_THREADS */
	uint64_t checksum; /* FNV-1a 64 over every byte before this field */
	/* Mutable part, not checksummed. state: LAB_OBJ_CLEAN / LAB_OBJ_OPEN,
	 * written (release) by the process holding the file's exclusive lock;
	 * attaches: a count of attaches (relaxed), for tools. */
	_Alignas(64) lab_a32 state;
	lab_a32 attaches;
};

/* The header's checksum: FNV-1a, 64 bits, over the bytes before it. */
static inline uint64_t lab_obj_hdr_sum(const struct lab_obj_hdr *h)
{
	const unsigned char *b = (const unsigned char *)h;
	uint64_t sum = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < offsetof(struct lab_obj_hdr, checksum); i++)
		sum = (sum ^ b[i]) * 0x100000001b3ull;
	return sum;
}

#endif
