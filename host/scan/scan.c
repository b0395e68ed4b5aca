/* STUB */
#include "cuflow/cuflow.h"
int cf_filter_open(const char *expr, cf_filter **out, char *errbuf) { *out = NULL; return CF_ERR_FILTER; }
int cf_filter_match(cf_filter *f, const cf_frame *frame) { return 1; }
void cf_filter_close(cf_filter *f) {}
int cf_scan_file(const char *path, const cf_scan_opts *opts, cf_scan_result *res) { return CF_ERR_UNSUPPORTED; }
