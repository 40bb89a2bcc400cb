/* SPDX-License-Identifier: MIT */
/* Linux-style names over the process-wide default maze (lab_default()).
 *
 *   struct page *p = alloc_page(GFP_ATOMIC);
 *   if (!p) return -ENOMEM;
 *   void *v = page_address(p);
 *   ...
 *   __free_page(p);
 *
 * A struct page * is an opaque handle, not the page's address: convert with
 * page_address() and virt_to_page(). It carries the room's generation, so a
 * stale handle (its page was freed and allocated again since) is refused.
 * Freeing a stale handle, one that is not allocated, with the wrong order or
 * by a thread that does not own an exclusive page panics (Linux would BUG()). "Exclusive" here means a per-thread owner, not
 * Linux's PageAnonExclusive.
 */
#ifndef LABYRINTH_LINUX_H
#define LABYRINTH_LINUX_H

#include <labyrinth.h>

#ifdef __cplusplus
extern "C" {
#endif

struct page; /* opaque handle into the default maze */
typedef lab_gfp_t gfp_t;

#define GFP_ATOMIC LAB_GFP_ATOMIC
#define GFP_NOWAIT LAB_GFP_NOWAIT
#define GFP_KERNEL LAB_GFP_KERNEL
#define __GFP_ZERO LAB_GFP_ZERO
#define __GFP_NOFAIL LAB_GFP_NOFAIL
#define __GFP_EXCLUSIVE LAB_GFP_EXCLUSIVE

#ifndef PAGE_SHIFT
#define PAGE_SHIFT 12
#endif
#ifndef PAGE_SIZE
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#endif

LAB_API struct page *lab_linux_alloc_pages(gfp_t gfp, unsigned order);
LAB_API void lab_linux_free_pages(struct page *page, unsigned order);
LAB_API void *lab_linux_page_address(const struct page *page);
LAB_API struct page *lab_linux_virt_to_page(const void *addr);

static inline struct page *alloc_pages(gfp_t gfp, unsigned order)
{
	return lab_linux_alloc_pages(gfp, order);
}

static inline struct page *alloc_page(gfp_t gfp)
{
	return lab_linux_alloc_pages(gfp, 0);
}

static inline void __free_pages(struct page *page, unsigned order)
{
	lab_linux_free_pages(page, order);
}

static inline void __free_page(struct page *page)
{
	lab_linux_free_pages(page, 0);
}

static inline void *page_address(const struct page *page)
{
	return lab_linux_page_address(page);
}

static inline struct page *virt_to_page(const void *addr)
{
	return lab_linux_virt_to_page(addr);
}

static inline unsigned long __get_free_page(gfp_t gfp)
{
	struct page *p = lab_linux_alloc_pages(gfp, 0);
	return p ? (unsigned long)(uintptr_t)lab_linux_page_address(p) : 0UL;
}

static inline unsigned long get_zeroed_page(gfp_t gfp)
{
	return __get_free_page(gfp | __GFP_ZERO);
}

static inline void free_page(unsigned long addr)
{
	if (addr)
		lab_linux_free_pages(lab_linux_virt_to_page((const void *)(uintptr_t)addr), 0);
}

#ifdef __cplusplus
}
#endif
#endif /* LABYRINTH_LINUX_H */
