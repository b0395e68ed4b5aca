/* STUB */
#include <stdio.h>
#include "cli.h"
int cmd_info(int argc, char **argv) { fprintf(stderr, "info: not implemented\n"); return 1; }
