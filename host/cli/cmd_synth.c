/* STUB: replaced by the synth subcommand. */
#include <stdio.h>
#include "cli.h"
int cmd_synth(int argc, char **argv) { fprintf(stderr, "synth: not implemented\n"); return 1; }
