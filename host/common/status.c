/* Status texts, error messages and the version string. */
#include <stdarg.h>
#include <stdio.h>

#include "cuflow/cuflow.h"
#include "cuflow/errbuf.h"

int cf_errf(char *errbuf, int status, const char *fmt, ...)
{
	if (errbuf) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errbuf, CF_ERRBUF_SIZE, fmt, ap);
		va_end(ap);
	}
	return status;
}

const char *cf_status_str(int status)
{
	switch (status) {
	case CF_OK: return "ok";
	case CF_EOF: return "end of input";
	case CF_ERR_IO: return "input/output error";
	case CF_ERR_NOT_CAPTURE: return "not a capture file";
	case CF_ERR_TRUNCATED: return "truncated input";
	case CF_ERR_CORRUPT: return "corrupt input";
	case CF_ERR_NOMEM: return "out of memory";
	case CF_ERR_ARG: return "invalid argument";
	case CF_ERR_UNSUPPORTED: return "unsupported input";
	case CF_ERR_DEVICE: return "CUDA device error";
	case CF_ERR_FILTER: return "bad filter expression";
	case CF_ERR_NO_DATA: return "nothing to compute";
	}
	return "unknown status";
}

const char *cf_version(void) { return CF_VERSION_STRING; }
