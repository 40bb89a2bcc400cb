/* A program written against the installed labyrinth, through pkg-config or
 * find_package(labyrinth). It uses only the public headers. */
#include <labyrinth.h>
#include <labyrinth/linux.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
	struct lab_config cfg = { .pages = 64 };
	struct labyrinth *maze;
	int err = lab_create(&maze, &cfg);

	if (err) {
		fprintf(stderr, "lab_create: %d\n", err);
		return 1;
	}
	void *page = lab_alloc_page(maze, LAB_GFP_KERNEL | LAB_GFP_ZERO);
	if (!page) {
		fprintf(stderr, "lab_alloc_page: NULL\n");
		return 1;
	}
	memset(page, 0xa5, 4096);
	if (lab_page_owner(maze, page) != lab_self()) {
		fprintf(stderr, "lab_page_owner: not mine\n");
		return 1;
	}
	err = lab_free_page(maze, page);
	if (err) {
		fprintf(stderr, "lab_free_page: %d\n", err);
		return 1;
	}
	lab_destroy(maze);

	/* The Linux-style names over the default maze. */
	struct page *p = alloc_page(GFP_ATOMIC);
	if (!p) {
		fprintf(stderr, "alloc_page: NULL\n");
		return 1;
	}
	memset(page_address(p), 0, PAGE_SIZE);
	__free_page(p);

	printf("OK labyrinth %d.%d.%d\n", LAB_VERSION_MAJOR, LAB_VERSION_MINOR, LAB_VERSION_PATCH);
	return 0;
}
