/* STUB: replaced by the real synthetic writer. */
#include "cuflow/cuflow.h"
#include <stdio.h>
void cf_synth_opts_default(cf_synth_opts *o) { (void)o; }
int cf_synth_write(const cf_synth_opts *o, cf_synth_stats *s, char *errbuf) { snprintf(errbuf, CF_ERRBUF_SIZE, "not implemented"); return CF_ERR_UNSUPPORTED; }
