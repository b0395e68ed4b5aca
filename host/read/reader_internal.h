/* Library-internal reader entry points. */
#ifndef CUFLOW_READ_READER_INTERNAL_H
#define CUFLOW_READ_READER_INTERNAL_H

#include <stdint.h>
#include "cuflow/reader.h"

/* cf_reader_open that also reports the byte offset of a header error
 * (-1 when the failure has no offset, e.g. the file cannot be opened). */
int cf_reader_open_at(const char *path, cf_reader **out, char *errbuf, int64_t *err_offset);

#endif
