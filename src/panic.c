/* SPDX-License-Identifier: MIT */
/* Panics: a replaceable handler; the default writes and aborts. All of it
 * is async-signal-safe: no stdio, no allocation. */
#include "internal.h"

static void lab_default_panic(const char *msg)
{
	size_t n = 0;
	while (msg[n])
		n++;
	lab_os_write_err(msg, n);
	lab_os_write_err("\n", 1);
	lab_os_abort();
}

/* handler: NULL means the default. Swapped with acq_rel so the returned
 * previous handler is exactly the one replaced. */
static _Atomic(lab_panic_fn) lab_handler;

lab_panic_fn lab_set_panic_handler(lab_panic_fn fn)
{
	return atomic_exchange_explicit(&lab_handler, fn, memory_order_acq_rel);
}

void lab_panic(const char *msg)
{
	lab_panic_fn fn = atomic_load_explicit(&lab_handler, memory_order_acquire);
	if (!fn)
		lab_default_panic(msg);
	fn(msg);
	lab_os_abort(); /* a handler that returns is followed by abort */
}

void lab_buf_s(struct lab_buf *b, const char *s)
{
	while (*s && b->n + 1 < sizeof(b->b))
		b->b[b->n++] = *s++;
	b->b[b->n] = 0;
}

static void put_digits(struct lab_buf *b, uint64_t x, unsigned base)
{
	char t[24];
	int n = 0;
	do {
		t[n++] = "0123456789abcdef"[x % base];
		x /= base;
	} while (x);
	char s[24];
	for (int i = 0; i < n; i++)
		s[i] = t[n - 1 - i];
	s[n] = 0;
	lab_buf_s(b, s);
}

void lab_buf_u(struct lab_buf *b, uint64_t x)
{
	put_digits(b, x, 10);
}

void lab_buf_x(struct lab_buf *b, uint64_t x)
{
	put_digits(b, x, 16);
}
