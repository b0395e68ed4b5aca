/*
 * Thrift compact-protocol encoder; the wire rules are in thrift_compact.h.
 * Misuse (a field outside a struct, nesting past CF_TC_MAX_DEPTH) is a
 * bug in the caller: it sets t->bad rather than abort, and the caller
 * checks once at the end.
 */
#include "sink/thrift_compact.h"

#include <string.h>

void cf_tc_init(cf_tc *t, cf_buf *out)
{
	t->out = out;
	t->depth = 0;
	t->bad = 0;
}

void cf_tc_varint(cf_buf *b, uint64_t v)
{
	uint8_t x[10];
	size_t n = 0;
	while (v >= 0x80) {
		x[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	x[n++] = (uint8_t)v;
	cf_buf_put(b, x, n);
}

uint64_t cf_tc_zigzag(int64_t v)
{
	/* (v << 1) ^ (v >> 63), with the shift done unsigned (no UB) */
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void field_header(cf_tc *t, int16_t id, int type)
{
	if (t->depth < 1) {
		t->bad = 1;
		return;
	}
	int16_t *last = &t->last[t->depth - 1];
	int delta = id - *last;
	if (delta > 0 && delta <= 15) {
		cf_buf_byte(t->out, (uint8_t)(delta << 4 | type));
	} else {
		cf_buf_byte(t->out, (uint8_t)type);
		cf_tc_varint(t->out, cf_tc_zigzag(id));
	}
	*last = id;
}

void cf_tc_field_bool(cf_tc *t, int16_t id, int v)
{
	field_header(t, id, v ? CF_TC_BOOL_TRUE : CF_TC_BOOL_FALSE);
}

void cf_tc_field_i8(cf_tc *t, int16_t id, int8_t v)
{
	field_header(t, id, CF_TC_I8);
	cf_buf_byte(t->out, (uint8_t)v);
}

void cf_tc_field_i16(cf_tc *t, int16_t id, int16_t v)
{
	field_header(t, id, CF_TC_I16);
	cf_tc_varint(t->out, cf_tc_zigzag(v));
}

void cf_tc_field_i32(cf_tc *t, int16_t id, int32_t v)
{
	field_header(t, id, CF_TC_I32);
	cf_tc_varint(t->out, cf_tc_zigzag(v));
}

void cf_tc_field_i64(cf_tc *t, int16_t id, int64_t v)
{
	field_header(t, id, CF_TC_I64);
	cf_tc_varint(t->out, cf_tc_zigzag(v));
}

void cf_tc_field_double(cf_tc *t, int16_t id, double v)
{
	field_header(t, id, CF_TC_DOUBLE);
	uint64_t bits;
	memcpy(&bits, &v, 8);
	cf_buf_le64(t->out, bits);
}

void cf_tc_field_binary(cf_tc *t, int16_t id, const void *p, size_t n)
{
	field_header(t, id, CF_TC_BINARY);
	cf_tc_elem_binary(t, p, n);
}

void cf_tc_field_string(cf_tc *t, int16_t id, const char *s)
{
	cf_tc_field_binary(t, id, s, strlen(s));
}

void cf_tc_struct_begin(cf_tc *t)
{
	if (t->depth >= CF_TC_MAX_DEPTH) {
		t->bad = 1;
		return;
	}
	t->last[t->depth++] = 0;
}

void cf_tc_field_struct(cf_tc *t, int16_t id)
{
	field_header(t, id, CF_TC_STRUCT);
	cf_tc_struct_begin(t);
}

void cf_tc_struct_end(cf_tc *t)
{
	if (t->depth < 1) {
		t->bad = 1;
		return;
	}
	cf_buf_byte(t->out, 0);
	t->depth--;
}

void cf_tc_field_list(cf_tc *t, int16_t id, int elem, uint32_t size)
{
	field_header(t, id, CF_TC_LIST);
	if (size < 15) {
		cf_buf_byte(t->out, (uint8_t)(size << 4 | (uint32_t)elem));
	} else {
		cf_buf_byte(t->out, (uint8_t)(0xf0 | elem));
		cf_tc_varint(t->out, size);
	}
}

void cf_tc_elem_bool(cf_tc *t, int v)
{
	cf_buf_byte(t->out, v ? 1 : 2);
}

void cf_tc_elem_i32(cf_tc *t, int32_t v)
{
	cf_tc_varint(t->out, cf_tc_zigzag(v));
}

void cf_tc_elem_i64(cf_tc *t, int64_t v)
{
	cf_tc_varint(t->out, cf_tc_zigzag(v));
}

void cf_tc_elem_binary(cf_tc *t, const void *p, size_t n)
{
	cf_tc_varint(t->out, n);
	cf_buf_put(t->out, p, n);
}

void cf_tc_elem_string(cf_tc *t, const char *s)
{
	cf_tc_elem_binary(t, s, strlen(s));
}
