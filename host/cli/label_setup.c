/* The label options the dataset commands share (extract, flowpic):
 * --label, --label-from-dir, --labels CSV and the CSV's time conventions,
 * then the labeler they imply. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char cli_label_usage[] =
	"  --label NAME          every item gets label NAME\n"
	"  --label-from-dir      label = name of the directory holding each capture\n"
	"  --labels CSV          ground truth: CIC-IDS2017 / CICFlowMeter CSV or a rules\n"
	"                        CSV (src_ip,dst_ip,src_port,dst_port,protocol,start,end,label)\n"
	"  --label-preset cicids2017  CIC-IDS2017 time conventions (+3 h, day first,\n"
	"                        afternoon hours without PM)\n"
	"  --time-offset S       seconds added to the CSV's times\n"
	"  --label-slack S       widen every CSV time range by S seconds\n"
	"  --default-label NAME  label for unmatched items (default: drop them)\n";

void cli_label_init(cli_label *l)
{
	memset(l, 0, sizeof *l);
	cf_label_opts_default(&l->lo);
}

int cli_label_option(cli_label *l, const char *cmd, int opt, const char *arg)
{
	char *end;
	switch (opt) {
	case CLI_OPT_LABEL: l->constant = arg; return 1;
	case CLI_OPT_LABEL_DIR: l->from_dir = 1; return 1;
	case CLI_OPT_LABELS: l->csv = arg; return 1;
	case CLI_OPT_LABEL_DEFAULT: l->lo.default_label = arg; return 1;
	case CLI_OPT_LABEL_PRESET:
		if (strcmp(arg, "cicids2017")) {
			fprintf(stderr, "cuflow %s: --label-preset takes cicids2017\n", cmd);
			return -1;
		} else {
			const char *def = l->lo.default_label;
			cf_label_opts_cicids2017(&l->lo);
			l->lo.default_label = def;
		}
		return 1;
	case CLI_OPT_LABEL_OFFSET:
	case CLI_OPT_LABEL_SLACK: {
		errno = 0;
		double v = strtod(arg, &end);
		if (errno || end == arg || *end || (opt == CLI_OPT_LABEL_SLACK && v < 0)) {
			fprintf(stderr, "cuflow %s: bad number '%s'\n", cmd, arg);
			return -1;
		}
		if (opt == CLI_OPT_LABEL_OFFSET)
			l->lo.time_offset_ns = (int64_t)(v * 1e9);
		else
			l->lo.slack_ns = (int64_t)(v * 1e9);
		return 1;
	}
	}
	return 0;
}

int cli_label_open(cli_label *l, const char *cmd, const char *first_capture)
{
	char err[CF_ERRBUF_SIZE];
	if (!!l->constant + l->from_dir + !!l->csv > 1) {
		fprintf(stderr, "cuflow %s: --label, --label-from-dir and --labels exclude each other\n", cmd);
		return -1;
	}
	l->desc = l->csv ? l->csv : l->constant ? "constant" : "directory";
	if (l->csv && cf_labeler_open_csv(l->csv, &l->lo, &l->labeler, err) < 0) {
		fprintf(stderr, "cuflow %s: %s\n", cmd, err);
		return -1;
	}
	char first_dir[4096] = "unknown"; /* the first capture's label, so no unused name */
	if (l->from_dir)
		cf_label_dir_name(first_capture, first_dir, sizeof first_dir);
	if ((l->constant || l->from_dir) &&
	    cf_labeler_open_constant(l->constant ? l->constant : first_dir, &l->labeler, err) < 0) {
		fprintf(stderr, "cuflow %s: %s\n", cmd, err);
		return -1;
	}
	return 0;
}

void cli_label_file(cli_label *l, const char *path)
{
	char name[4096];
	if (l->from_dir && cf_label_dir_name(path, name, sizeof name) == CF_OK)
		cf_labeler_set_constant(l->labeler, name);
}

void cli_label_close(cli_label *l)
{
	cf_labeler_close(l->labeler);
	l->labeler = NULL;
}
