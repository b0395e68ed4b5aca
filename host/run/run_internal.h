/* Internals of the run driver (host/run/): SHA-256 and JSON text helpers. */
#ifndef CUFLOW_RUN_INTERNAL_H
#define CUFLOW_RUN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "cuflow/run.h"

typedef struct cf_sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t fill;
} cf_sha256;
void cf_sha256_init(cf_sha256 *s);
void cf_sha256_update(cf_sha256 *s, const void *data, size_t n);
/* Tests only: non-zero makes every digest use the portable loop instead
 * of the CPU's SHA instructions. */
extern int cf_sha256_portable;
/* Finishes and writes the digest as 64 hex digits + NUL. */
void cf_sha256_hex(cf_sha256 *s, char hex[65]);

/* s as a JSON string (quotes, backslash, control bytes escaped). */
void cf_run_json_str(FILE *o, const char *s);
/* Size and mtime of input i from the stat made when the inputs were
 * listed; -1 when it could not be stat'ed then. */
int cf_run_inputs_stat(const cf_run_inputs *in, size_t i, uint64_t *size, int64_t *mtime_ns);
/* Device and inode of input i (-1 when it could not be stat'ed). */
int cf_run_inputs_id(const cf_run_inputs *in, size_t i, dev_t *dev, ino_t *ino);
/* Reads a JSON string starting at p (at its opening quote) into out
 * (cap bytes); returns the byte past the closing quote, or NULL. */
const char *cf_run_json_str_read(const char *p, char *out, size_t cap);

#endif
