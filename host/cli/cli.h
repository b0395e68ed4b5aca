/* The cuflow command-line tool: a thin layer over the public C API.
 * Each subcommand is one function; main() dispatches on argv[1]. */
#ifndef CUFLOW_CLI_H
#define CUFLOW_CLI_H

#include <stdint.h>

#include "cuflow/cuflow.h"

/* Exit statuses shared by every subcommand. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_USAGE 1    /* bad command line */
#define CLI_EXIT_DAMAGED 2  /* an input was damaged or not a capture; output for the rest was written */

int cmd_info(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_flows(int argc, char **argv);

/* Shared by the scanning commands (info, flows): --decap, --backend and
 * --filter, then the filter, backend and batch they imply. */
typedef struct cli_scan {
	cf_scan_opts so;         /* decode options set; filter, backend, batch after open */
	cf_pkt_batch batch;
	int backend_kind;
	const char *filter_expr;
} cli_scan;
void cli_scan_init(cli_scan *s);
/* Handles option letter 'f', 'd' or 'b': 1 handled, 0 not ours, -1 bad
 * value (message printed). */
int cli_scan_option(cli_scan *s, const char *cmd, int opt, const char *arg);
/* Opens the filter, the backend (printing its note when show_note) and the
 * batch. 0, or -1 with a message printed; cli_scan_close either way. */
int cli_scan_open(cli_scan *s, const char *cmd, int show_note);
void cli_scan_close(cli_scan *s);

/* Progress on stderr when it is a terminal (bytes, packets, rate, ETA);
 * silent otherwise. */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_start(const char *label, int enabled);
void cli_progress_update(void *p, uint64_t bytes_done, uint64_t bytes_total, uint64_t packets_done);
void cli_progress_end(cli_progress *p);

#endif
