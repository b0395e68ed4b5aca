/* What the built-in producers share (host/produce/). */
#ifndef CUFLOW_PRODUCE_INTERNAL_H
#define CUFLOW_PRODUCE_INTERNAL_H

#include "cuflow/producers.h"

/* Opens the labeler l asks for (*out NULL when l asks for none). CF_OK or
 * the labeler's error, message in errbuf. */
int cf_produce_labeler_open(const cf_producer_labels *l, cf_labeler **out, char *errbuf);
/* Before each input: from_dir takes the input's directory name. */
void cf_produce_labeler_file(cf_labeler *lab, const cf_producer_labels *l, const char *path);

#endif
