/* Fast text for CSV writers: numbers appended to a buffer without stdio.
 * Each function writes at p and returns the end (no NUL). The output is
 * the same text printf gives ("%llu", "%lld", "%.17g", inet_ntop for IPv4):
 * 4 million flows of 21 doubles each spent most of `cuflow flows` in
 * vfprintf. */
#ifndef CUFLOW_TEXT_FMT_H
#define CUFLOW_TEXT_FMT_H

#include <stdint.h>
#include <stdio.h>

/* Room one call may need at most. */
#define CF_FMT_MAX 32

char *cf_fmt_u64(char *p, uint64_t v);
char *cf_fmt_i64(char *p, int64_t v);
/* printf("%.17g", v): integral values below 1e15 in magnitude without
 * snprintf (most statistics of short flows are), the rest through it. */
char *cf_fmt_g17(char *p, double v);
/* a.b.c.d from 4 bytes in network order. */
char *cf_fmt_ipv4(char *p, const uint8_t a[4]);

/* A JSON string (quotes, \\ and \" escaped, control bytes as \u00XX;
 * the bytes are UTF-8 already); NULL writes null. */
void cf_fput_json_str(FILE *f, const char *s);
/* A CSV field, quoted (RFC 4180) only when it holds a comma, quote or
 * line break (a label may). */
void cf_fput_csv_field(FILE *f, const char *v);

#endif
