/*
 * Library-internal: the batch operations of a backend (cuflow/backend.h
 * opens and closes it). Each is synchronous; an AUTO backend whose device
 * fails redoes the batch on the CPU (see cf_backend_open).
 */
#ifndef CUFLOW_BACKEND_BATCH_H
#define CUFLOW_BACKEND_BATCH_H

#include "cuflow/backend.h"
#include "cuflow/summary.h"
#include "cuflow/pkt_batch.h"
#include "cuflow/flow_batch.h"
#include "cuflow/netml_batch.h"
#include "cuflow/flowpic_batch.h"
#include "cuflow/window_batch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* acc += summary of the batch's packets. The batch is borrowed (host or
 * pinned memory); the call is synchronous. CF_OK or CF_ERR_DEVICE. */
int cf_backend_summarize(cf_backend *b, const cf_pkt_batch *batch, cf_summary *acc);

/* Computes every piece of the batch (flow_batch.h says what) in place.
 * Synchronous. CF_OK, CF_ERR_NOMEM or CF_ERR_DEVICE (cf_backend_error). */
int cf_backend_flow_features(cf_backend *b, cf_flow_batch *batch);

/* Computes every row of a netml batch (netml_batch.h) into batch->out,
 * FFT included. b NULL runs the CPU reference. Synchronous. CF_OK,
 * CF_ERR_NOMEM or CF_ERR_DEVICE (cf_backend_error). */
int cf_backend_netml_features(cf_backend *b, cf_netml_batch *batch);
/* Bins every image of a FlowPic batch (flowpic_batch.h) into batch->out
 * and batch->packets. b NULL runs the CPU reference. Synchronous. CF_OK or
 * CF_ERR_DEVICE (cf_backend_error). */
int cf_backend_flowpic_images(cf_backend *b, cf_flowpic_batch *batch);

/* The rows of every window of a windows batch (window_batch.h) into
 * batch->rows. b NULL runs the CPU reference. Synchronous. CF_OK,
 * CF_ERR_NOMEM or CF_ERR_DEVICE (cf_backend_error). */
int cf_backend_window_rows(cf_backend *b, cf_window_batch *batch);
#ifdef __cplusplus
}
#endif

#endif
