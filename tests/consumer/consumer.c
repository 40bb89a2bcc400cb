/* SPDX-License-Identifier: MIT */
/* A program written against the installed labyrinth, through pkg-config or
 * find_package(labyrinth). It includes every public header and calls
 * functions of each: a private maze (labyrinth.h), the default maze through
 * the Linux-style names (labyrinth/linux.h), and a memfd maze
 * (labyrinth/shared.h). */
#include <labyrinth.h>
#include <labyrinth/linux.h>
#include <labyrinth/shared.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int failed(const char *what, int err)
{
	fprintf(stderr, "%s: %d (%s)\n", what, err, lab_strerror(err));
	return 1;
}

static int private_maze(void)
{
	struct lab_config cfg = { .pages = 64 };
	struct labyrinth *maze;
	int err = lab_create(&maze, &cfg);

	if (err)
		return failed("lab_create", err);
	void *page = lab_alloc_page(maze, LAB_GFP_KERNEL | LAB_GFP_ZERO);
	if (!page)
		return failed("lab_alloc_page", 0);
	memset(page, 0xa5, 4096);
	if (lab_page_owner(maze, page) != lab_self())
		return failed("lab_page_owner: not mine", 0);
	err = lab_free_page(maze, page);
	if (err)
		return failed("lab_free_page", err);
	lab_destroy(maze);
	return 0;
}

static int linux_names(void)
{
	struct page *p = alloc_page(GFP_ATOMIC);
	if (!p)
		return failed("alloc_page: NULL", 0);
	memset(page_address(p), 0, PAGE_SIZE);
	__free_page(p);
	return 0;
}

static int memfd_maze(void)
{
	struct lab_config cfg = { .pages = 64 };
	struct labyrinth *maze;
	int fd;
	int err = lab_create_fd(&cfg, &fd, &maze);

	if (err)
		return failed("lab_create_fd", err);
	if (lab_kind(maze) != LAB_KIND_SHARED)
		return failed("lab_kind: not LAB_KIND_SHARED", lab_kind(maze));
	void *page = lab_alloc_page(maze, LAB_GFP_NOWAIT | LAB_GFP_EXCLUSIVE);
	if (!page)
		return failed("lab_alloc_page (memfd maze): NULL", 0);
	memset(page, 0x5a, 4096);
	long index = lab_page_index(maze, page);
	if (index < 0 || lab_index_page(maze, (size_t)index) != page)
		return failed("lab_index_page: not the page", 0);
	err = lab_free_page(maze, page);
	if (err)
		return failed("lab_free_page (memfd maze)", err);
	long back = lab_reap(maze);
	if (back != 0)
		return failed("lab_reap: nothing to reap, got", (int)back);
	err = lab_detach(maze);
	if (err)
		return failed("lab_detach", err);
	close(fd);
	return 0;
}

int main(void)
{
	if (private_maze() || linux_names() || memfd_maze())
		return 1;
	printf("OK labyrinth %d.%d.%d\n", LAB_VERSION_MAJOR, LAB_VERSION_MINOR, LAB_VERSION_PATCH);
	return 0;
}
