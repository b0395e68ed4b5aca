/* STUB */
#include <stdio.h>
#include "cuflow/cuflow.h"
int cf_reader_open(const char *path, cf_reader **out, char *errbuf) { *out = NULL; snprintf(errbuf, CF_ERRBUF_SIZE, "%s: reader not implemented", path); return CF_ERR_UNSUPPORTED; }
int cf_reader_next(cf_reader *r, cf_frame *f) { return CF_EOF; }
const cf_reader_info *cf_reader_get_info(const cf_reader *r) { return NULL; }
const char *cf_reader_error(const cf_reader *r) { return ""; }
int64_t cf_reader_error_offset(const cf_reader *r) { return -1; }
uint64_t cf_reader_bytes_read(const cf_reader *r) { return 0; }
void cf_reader_close(cf_reader *r) {}
int cf_reader_open_memory(const void *data, size_t len, const char *name, cf_reader **out, char *errbuf) { *out = NULL; return CF_ERR_UNSUPPORTED; }
