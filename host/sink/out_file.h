/*
 * Buffered output file written under a temporary name (PATH.tmp-<pid>)
 * and renamed to PATH only when it is complete, so that a file with the
 * final name is never a partial one. Shared by the sinks and by
 * cf_table_schema_write_json.
 *
 * Errors stick: after a failed write every later call returns the same
 * status, and msg holds "WHO: cannot ACTION PATH: reason" naming the
 * final path.
 */
#ifndef CUFLOW_SINK_OUT_FILE_H
#define CUFLOW_SINK_OUT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "cuflow/status.h"

typedef struct cf_out_file {
	const char *who;     /* "parquet", "csv": the message prefix (static string) */
	char *path;          /* final name */
	char *tmp;           /* PATH.tmp-<pid> */
	int fd;              /* -1 when closed */
	uint64_t off;        /* bytes handed to cf_out_write so far (the file offset) */
	unsigned char *buf;  /* write buffer */
	size_t len, cap;
	int err;             /* sticky status, CF_OK while none */
	char msg[CF_ERRBUF_SIZE];
} cf_out_file;

/* Creates PATH.tmp-<pid> (replacing a stale one) with a buf_size-byte
 * buffer. CF_OK; CF_ERR_IO / CF_ERR_NOMEM with f->msg set. On failure
 * nothing is left open or allocated but f->msg. */
int cf_out_open(cf_out_file *f, const char *who, const char *path, size_t buf_size);
/* Appends n bytes. CF_OK or the sticky error. */
int cf_out_write(cf_out_file *f, const void *p, size_t n);
/* Flushes, closes and renames the file to its final name. On any error
 * (now or before) the temporary file is removed instead and the error is
 * returned. Frees everything; f->msg stays readable. */
int cf_out_commit(cf_out_file *f);
/* Closes and removes the temporary file, frees everything. Safe on a
 * committed, discarded or never-opened (zeroed) file. */
void cf_out_discard(cf_out_file *f);

#endif
