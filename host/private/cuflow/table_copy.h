/*
 * A batch copied into memory of its own (one allocation), for holders
 * that keep rows after the producer's call returns (the run driver's
 * queues). The copy's arrays are writable: the driver adds run offsets
 * to id and row-number columns in place.
 */
#ifndef CUFLOW_TABLE_COPY_H
#define CUFLOW_TABLE_COPY_H

#include <stddef.h>
#include "cuflow/table.h"

typedef struct cf_table_copy {
	cf_table_batch batch;  /* points into mem; string offsets rebased to 0 */
	size_t bytes;          /* memory held */
	uint32_t table;        /* the producer's table index (the holder's tag) */
	void *mem;
} cf_table_copy;

/* CF_OK with *out set, CF_ERR_ARG (batch does not fit s) or CF_ERR_NOMEM. */
int cf_table_batch_copy(const cf_table_schema *s, const cf_table_batch *b, cf_table_copy **out);
void cf_table_copy_free(cf_table_copy *c);
/* Column i's values as writable memory (for the offsets). */
static inline void *cf_table_copy_values(cf_table_copy *c, uint32_t i)
{
	return (void *)(uintptr_t)c->batch.columns[i].values;
}

#endif
