/*
 * The core of the public C API that every other header uses: status
 * codes, the error-buffer size and the version. Every public function
 * returns an int status: CF_OK (0) on success, a negative CF_ERR_* code on
 * failure, and a positive code for a non-error condition (CF_EOF).
 */
#ifndef CUFLOW_STATUS_H
#define CUFLOW_STATUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CF_VERSION_MAJOR 0
#define CF_VERSION_MINOR 1
#define CF_VERSION_PATCH 0
#define CF_VERSION_STRING "0.1.0"

/* Size of every error buffer the API writes into (message + NUL). */
#define CF_ERRBUF_SIZE 512

/* Status codes. Negative values are errors, positive values are
 * non-error conditions, so "< 0 means failure" holds everywhere. */
enum cf_status {
	CF_OK = 0,
	CF_EOF = 1,               /* end of input: no more packets */
	CF_ERR_IO = -1,           /* the operating system refused a read/open/write */
	CF_ERR_NOT_CAPTURE = -2,  /* the input is not a capture file at all */
	CF_ERR_TRUNCATED = -3,    /* the input ends in the middle of a record */
	CF_ERR_CORRUPT = -4,      /* a record or block is inconsistent */
	CF_ERR_NOMEM = -5,        /* an allocation failed */
	CF_ERR_ARG = -6,          /* an argument is invalid */
	CF_ERR_UNSUPPORTED = -7,  /* a valid input uses something cuflow cannot read */
	CF_ERR_DEVICE = -8,       /* the CUDA backend failed or is absent */
	CF_ERR_FILTER = -9,       /* the BPF filter expression does not compile */
	CF_ERR_NO_DATA = -10      /* the input leaves nothing to compute (e.g. no flow survives) */
};

/* A fixed English text for a status code ("ok", "truncated input", ...).
 * Never NULL; unknown codes give "unknown status". */
const char *cf_status_str(int status);

/* The library version as "MAJOR.MINOR.PATCH". */
const char *cf_version(void);

#ifdef __cplusplus
}
#endif

#endif
