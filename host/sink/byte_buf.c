/* Growable byte buffer; see byte_buf.h. */
#include "sink/byte_buf.h"

#include <stdlib.h>
#include <string.h>

int cf_buf_reserve(cf_buf *b, size_t extra)
{
	if (b->oom)
		return -1;
	if (b->cap - b->len >= extra)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra) {
		if (cap > SIZE_MAX / 2) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	uint8_t *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void cf_buf_put(cf_buf *b, const void *p, size_t n)
{
	if (!n || cf_buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void cf_buf_byte(cf_buf *b, uint8_t v)
{
	if (cf_buf_reserve(b, 1))
		return;
	b->p[b->len++] = v;
}

void cf_buf_le32(cf_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	cf_buf_put(b, x, 4);
}

void cf_buf_le64(cf_buf *b, uint64_t v)
{
	cf_buf_le32(b, (uint32_t)v);
	cf_buf_le32(b, (uint32_t)(v >> 32));
}

void cf_buf_free(cf_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}
