/* The cuflow command-line tool: a thin layer over the public C API.
 * Each subcommand is one function; main() dispatches on argv[1]. */
#ifndef CUFLOW_CLI_H
#define CUFLOW_CLI_H

#include <stdint.h>

/* Exit statuses shared by every subcommand. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_USAGE 1    /* bad command line */
#define CLI_EXIT_DAMAGED 2  /* an input was damaged or not a capture; output for the rest was written */

int cmd_info(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_flows(int argc, char **argv);

/* Progress on stderr when it is a terminal (bytes, packets, rate, ETA);
 * silent otherwise. */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_start(const char *label, int enabled);
void cli_progress_update(void *p, uint64_t bytes_done, uint64_t bytes_total, uint64_t packets_done);
void cli_progress_end(cli_progress *p);

#endif
