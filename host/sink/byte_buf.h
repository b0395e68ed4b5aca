/*
 * A growable byte buffer for the sinks' encoders. Running out of memory
 * sets `oom` and drops later appends, so encoders append freely and check
 * once at the end.
 */
#ifndef CUFLOW_SINK_BYTE_BUF_H
#define CUFLOW_SINK_BYTE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct cf_buf {
	uint8_t *p;
	size_t len, cap;
	int oom;  /* an append failed: contents are incomplete */
} cf_buf;

/* Makes room for `extra` more bytes; 0 on success, -1 (oom set) if not. */
int cf_buf_reserve(cf_buf *b, size_t extra);
void cf_buf_put(cf_buf *b, const void *p, size_t n);
void cf_buf_byte(cf_buf *b, uint8_t v);
void cf_buf_le32(cf_buf *b, uint32_t v);
void cf_buf_le64(cf_buf *b, uint64_t v);
/* Empties the buffer, keeping its memory (reuse across pages/row groups). */
static inline void cf_buf_clear(cf_buf *b)
{
	b->len = 0;
}
void cf_buf_free(cf_buf *b);

#endif
