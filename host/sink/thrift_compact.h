/*
 * Thrift compact-protocol encoder, only what Parquet's footer and page
 * headers need (written from the Apache Thrift compact protocol
 * specification, doc/specs/thrift-compact-protocol.md):
 *
 * - i16/i32/i64 are zigzag varints (ULEB128 of (n << 1) ^ (n >> 63)),
 *   i8 one byte, double 8 bytes little-endian, binary/string a varint
 *   length and the bytes;
 * - a struct field starts with a header: one byte (delta << 4 | type) when
 *   the field id exceeds the previous field id of the same struct by 1..15,
 *   else the type byte followed by the id as a zigzag varint; booleans
 *   carry their value in the header's type (1 true, 2 false); a struct ends
 *   with a 0 byte (STOP) and nested structs count their own ids from 0;
 * - a list starts with (size << 4 | element type) when size < 15, else
 *   (0xf0 | element type) followed by the size as a varint; list elements
 *   have no headers, and a bool element is one byte, 1 true, 2 false;
 * - a union is a struct with exactly one field.
 *
 * The caller writes fields in increasing id order, as the generated
 * writers do.
 */
#ifndef CUFLOW_SINK_THRIFT_COMPACT_H
#define CUFLOW_SINK_THRIFT_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include "sink/byte_buf.h"

/* Compact-protocol type codes. */
enum cf_tc_type {
	CF_TC_BOOL_TRUE = 1,
	CF_TC_BOOL_FALSE = 2,
	CF_TC_I8 = 3,
	CF_TC_I16 = 4,
	CF_TC_I32 = 5,
	CF_TC_I64 = 6,
	CF_TC_DOUBLE = 7,
	CF_TC_BINARY = 8,
	CF_TC_LIST = 9,
	CF_TC_SET = 10,
	CF_TC_MAP = 11,
	CF_TC_STRUCT = 12
};
/* The element type code of bool in lists. */
#define CF_TC_BOOL CF_TC_BOOL_TRUE

#define CF_TC_MAX_DEPTH 32

typedef struct cf_tc {
	cf_buf *out;
	int16_t last[CF_TC_MAX_DEPTH];  /* previous field id per open struct */
	int depth;                      /* open structs */
	int bad;                        /* misuse seen (unbalanced structs, too deep): output invalid */
} cf_tc;

/* Starts encoding into out (appending). */
void cf_tc_init(cf_tc *t, cf_buf *out);

/* Raw pieces (exposed for the tests and the RLE encoder). */
void cf_tc_varint(cf_buf *b, uint64_t v);
uint64_t cf_tc_zigzag(int64_t v);

/* Struct fields. */
void cf_tc_field_bool(cf_tc *t, int16_t id, int v);
void cf_tc_field_i8(cf_tc *t, int16_t id, int8_t v);
void cf_tc_field_i16(cf_tc *t, int16_t id, int16_t v);
void cf_tc_field_i32(cf_tc *t, int16_t id, int32_t v);
void cf_tc_field_i64(cf_tc *t, int16_t id, int64_t v);
void cf_tc_field_double(cf_tc *t, int16_t id, double v);
void cf_tc_field_binary(cf_tc *t, int16_t id, const void *p, size_t n);
void cf_tc_field_string(cf_tc *t, int16_t id, const char *s);
/* A struct-valued field: header, then the fields, then cf_tc_struct_end. */
void cf_tc_field_struct(cf_tc *t, int16_t id);
/* A list-valued field of `size` elements of type elem (CF_TC_*). */
void cf_tc_field_list(cf_tc *t, int16_t id, int elem, uint32_t size);

/* A struct that is not a field (the top-level one, a list element). */
void cf_tc_struct_begin(cf_tc *t);
/* Writes STOP and closes the innermost struct. */
void cf_tc_struct_end(cf_tc *t);

/* List elements. */
void cf_tc_elem_bool(cf_tc *t, int v);
void cf_tc_elem_i32(cf_tc *t, int32_t v);
void cf_tc_elem_i64(cf_tc *t, int64_t v);
void cf_tc_elem_binary(cf_tc *t, const void *p, size_t n);
void cf_tc_elem_string(cf_tc *t, const char *s);

#endif
