/* The library's error messages: printf into a caller's error buffer
 * (CF_ERRBUF_SIZE bytes, NULL: no message) and hand the status back, so
 * a failure is one line: `return cf_errf(errbuf, CF_ERR_IO, "...", ...);`. */
#ifndef CUFLOW_ERRBUF_H
#define CUFLOW_ERRBUF_H

int cf_errf(char *errbuf, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
