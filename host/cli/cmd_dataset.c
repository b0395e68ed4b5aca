/*
 * cuflow dataset: a training set from the database `cuflow sessions`
 * writes (seed 002's "Outstanding" list; docs/dataset.md). The work is
 * cf_dataset_prepare's; this parses the options and reports.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/dataset.h"
#include "cli.h"

enum { O_SQL = 2300, O_LABEL_COL, O_TOP_DNS, O_MIN_COUNT, O_SPLITS, O_SEED, O_PARQUET, O_CATEGORICAL, O_LABEL };

static void usage(FILE *o)
{
	fprintf(o,
	        "usage: cuflow dataset DB.sqlite -o DIR [options]\n"
	        "\n"
	        "A training set from the sessions database `cuflow sessions` writes: the rows of\n"
	        "a query, a label per row, stratified train/validation/test splits, numeric\n"
	        "columns min-max scaled and category maps fitted on the training rows only, and\n"
	        "one-hot DNS names queried by each row's device. docs/dataset.md.\n"
	        "\n"
	        "  -o, --output DIR        X_{train,val,test}.npy, y_*.npy, idx_*.npy, maps.json\n"
	        "                          (an earlier output there is replaced)\n"
	        "  --sql QUERY             the rows (default: the seed's query plus d.mac); a\n"
	        "                          column named mac gives the DNS columns\n"
	        "  --label-column COL      classes = COL's distinct values (default: is_iot,\n"
	        "                          device_type != 'Other')\n"
	        "  --label EXPR            classes = the values of an SQL expression over the\n"
	        "                          query's columns (\"device_type like '%%Camera%%'\"):\n"
	        "                          the query is wrapped as SELECT q.*, (EXPR) AS label\n"
	        "  --categorical COLS      columns mapped to category indices besides every text\n"
	        "                          column (default srcport,dstport,manufacturer)\n"
	        "  --top-dns K             one-hot columns for the K most queried names (100; 0: none)\n"
	        "  --min-count N           category values seen fewer than N times in training\n"
	        "                          map to \"other\" (default 1)\n"
	        "  --splits A,B,C          train, validation, test percentages (default 70,15,15)\n"
	        "  --seed S                seed of the split (default 0)\n"
	        "  --parquet               also DIR/dataset.parquet (split, label and X per row)\n"
	        "  -q, --quiet             no summary on stderr\n");
}

static int parse_u64(const char *opt, const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-') {
		fprintf(stderr, "cuflow dataset: bad %s '%s' (a whole number >= 0)\n", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_splits(const char *s, double out[3])
{
	const char *p = s;
	char err[CF_ERRBUF_SIZE];
	for (int i = 0; i < 3; i++) {
		char *end;
		errno = 0;
		out[i] = strtod(p, &end);
		if (errno || end == p || (i < 2 && *end != ',') || (i == 2 && *end)) {
			fprintf(stderr, "cuflow dataset: bad --splits '%s' (three percentages: train,val,test, e.g. 70,15,15)\n",
			        s);
			return -1;
		}
		p = end + 1;
	}
	if (cf_dataset_check_splits(out, err) != CF_OK) {
		fprintf(stderr, "cuflow dataset: bad --splits '%s': %s\n", s, err);
		return -1;
	}
	return 0;
}

int cmd_dataset(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'},         {"sql", required_argument, 0, O_SQL},
		{"label-column", required_argument, 0, O_LABEL_COL}, {"top-dns", required_argument, 0, O_TOP_DNS},
		{"min-count", required_argument, 0, O_MIN_COUNT}, {"splits", required_argument, 0, O_SPLITS},
		{"seed", required_argument, 0, O_SEED},         {"parquet", no_argument, 0, O_PARQUET},
		{"categorical", required_argument, 0, O_CATEGORICAL}, {"quiet", no_argument, 0, 'q'},
		{"label", required_argument, 0, O_LABEL},       {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	cf_dataset_opts o;
	cf_dataset_opts_default(&o);
	const char *out = NULL, *label_expr = NULL;
	int quiet = 0, c;
	uint64_t v;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case O_SQL: o.sql = optarg; break;
		case O_LABEL_COL: o.label_column = optarg; break;
		case O_LABEL: label_expr = optarg; break;
		case O_CATEGORICAL: o.categorical = optarg; break;
		case O_PARQUET: o.parquet = 1; break;
		case O_TOP_DNS:
			if (parse_u64("--top-dns", optarg, &v) || v > 1000000) {
				if (v > 1000000)
					fprintf(stderr, "cuflow dataset: --top-dns %s is more than 1000000\n", optarg);
				return CLI_EXIT_USAGE;
			}
			o.top_dns = (uint32_t)v;
			break;
		case O_MIN_COUNT:
			if (parse_u64("--min-count", optarg, &o.min_count))
				return CLI_EXIT_USAGE;
			break;
		case O_SEED:
			if (parse_u64("--seed", optarg, &o.seed))
				return CLI_EXIT_USAGE;
			break;
		case O_SPLITS:
			if (parse_splits(optarg, o.splits))
				return CLI_EXIT_USAGE;
			break;
		default: usage(stderr); return CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || !out) {
		fprintf(stderr, "cuflow dataset: %s\n", !out ? "-o DIR is required" : "one database is required");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	char *wrapped = NULL;
	if (label_expr) {
		if (o.label_column) {
			fprintf(stderr, "cuflow dataset: --label and --label-column exclude each other\n");
			return CLI_EXIT_USAGE;
		}
		/* line breaks: a trailing -- comment in the query or the expression
		 * must not swallow the wrapper */
		const char *base = o.sql ? o.sql : cf_dataset_default_sql;
		size_t bl = strlen(base);
		while (bl && strchr(" \t\r\n", base[bl - 1]))
			bl--;
		if (bl && base[bl - 1] == ';') /* a subquery takes no terminator */
			bl--;
		size_t n = bl + strlen(label_expr) + 64;
		if (!(wrapped = malloc(n))) {
			fprintf(stderr, "cuflow dataset: out of memory\n");
			return CLI_EXIT_USAGE;
		}
		snprintf(wrapped, n, "SELECT q.*, (%s\n) AS label FROM (\n%.*s\n) AS q", label_expr, (int)bl, base);
		o.sql = wrapped;
		o.label_column = "label";
	}
	char err[CF_ERRBUF_SIZE] = "";
	cf_dataset_summary s;
	int st = cf_dataset_prepare(argv[optind], out, &o, &s, err);
	free(wrapped);
	if (st != CF_OK) {
		fprintf(stderr, "cuflow dataset: %s\n", err[0] ? err : cf_status_str(st));
		/* options the library rejects (a bad query, a missing column) are
		   the command line's fault; the rest is the database's */
		return st == CF_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_DAMAGED;
	}
	if (s.dns_skipped)
		fprintf(stderr, "cuflow dataset: the query has no 'mac' column: no DNS columns\n");
	if (!quiet)
		fprintf(stderr,
		        "cuflow dataset: %" PRIu64 " rows -> train %" PRIu64 ", val %" PRIu64 ", test %" PRIu64
		        "; %u columns (%u DNS), %u classes -> %s\n",
		        s.rows, s.split_rows[0], s.split_rows[1], s.split_rows[2], s.columns, s.dns_columns, s.classes, out);
	return CLI_EXIT_OK;
}
