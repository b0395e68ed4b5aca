/*
 * Library-internal umbrella: the public API (cuflow/cuflow.h) plus the
 * batch layouts and backend batch operations the engines and the backends
 * share. Never installed; the CLI includes only the public headers.
 */
#ifndef CUFLOW_INTERNAL_H
#define CUFLOW_INTERNAL_H

#include "cuflow/cuflow.h"
#include "cuflow/pkt_batch.h"
#include "cuflow/flow_part.h"
#include "cuflow/flow_batch.h"
#include "cuflow/netml_batch.h"
#include "cuflow/flowpic_batch.h"
#include "cuflow/backend_batch.h"

#endif
