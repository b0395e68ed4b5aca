/*
 * The dataset commands (extract, netml, flowpic) with --jobs: their
 * producer through the library's run driver (cf_run, CF_RUN_TABLES), one
 * table file per producer table in DIR plus DIR/manifest.json.
 */
#include <errno.h>
#include <stdint.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char cli_jobs_usage[] =
	"  --jobs N              the library's run driver with N workers (1..256), each on its\n"
	"                        own files: DIR/<table>/part-NNNNN.<format> (--format parquet,\n"
	"                        the default here, csv, jsonl or npy) and DIR/manifest.json\n"
	"                        (inputs, counters, parts with rows and sha256); the same bytes\n"
	"                        for every N; inputs may be directories, globs or @lists\n"
	"  --part-rows N         with --jobs: parts close (a checkpoint) once one holds N rows\n"
	"                        (default 1048576)\n"
	"  --resume              with --jobs: continue a killed run after its last checkpoint\n"
	"  --row-group-rows N    with --jobs, Parquet: rows per row group (default 1048576)\n"
	CLI_CONTINUOUS_USAGE;

int cli_continuous_inputs(const char *cmd, cf_run_inputs *in)
{
	char err[CF_ERRBUF_SIZE];
	if (cf_run_inputs_sort_by_time(in, err) < 0) {
		fprintf(stderr, "cuflow %s: --continuous: %s\n", cmd, err);
		return -1;
	}
	return 0;
}

int cli_tables_option(cli_tables_opts *o, const char *cmd, int opt, const char *arg)
{
	char *end;
	unsigned long long v;
	switch (opt) {
	case CLI_OPT_JOBS: return cli_parse_jobs(cmd, arg, &o->jobs) < 0 ? -1 : 1;
	case CLI_OPT_RESUME: o->resume = 1; return 1;
	case CLI_OPT_CONTINUOUS: /* the run driver, one worker (unless --jobs says otherwise: refused) */
		o->continuous = 1;
		if (!o->jobs)
			o->jobs = 1;
		return 1;
	case CLI_OPT_ROW_GROUP:
	case CLI_OPT_PART_ROWS:
		errno = 0;
		v = strtoull(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || v < 1 || v > INT32_MAX) {
			fprintf(stderr, "cuflow %s: --%s takes 1 .. 2147483647\n", cmd,
			        opt == CLI_OPT_ROW_GROUP ? "row-group-rows" : "part-rows");
			return -1;
		}
		if (opt == CLI_OPT_ROW_GROUP)
			o->row_group_rows = v;
		else
			o->part_rows = v;
		return 1;
	default: return 0;
	}
}

int cli_parse_jobs(const char *cmd, const char *arg, uint32_t *jobs)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < 1 || v > 256) {
		fprintf(stderr, "cuflow %s: --jobs takes 1 .. 256\n", cmd);
		return -1;
	}
	*jobs = (uint32_t)v;
	return 0;
}

int cli_parse_row_group(cf_sink_opts *o, const char *cmd, const char *arg)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < 1 || v > INT32_MAX) {
		fprintf(stderr, "cuflow %s: --row-group-rows takes 1 .. 2147483647\n", cmd);
		return -1;
	}
	o->row_group_rows = v;
	return 0;
}

/* What every driver run reports, in input order: damage, duplicates and
 * the run's own outputs; the progress line. */
static void on_file(void *user, const cf_run_file *f)
{
	cli_run_report *rep = user;
	if (f->skipped && f->duplicate_of >= 0)
		fprintf(stderr, "cuflow %s: %s: the same file as input %ld, skipped\n", rep->cmd, f->path, f->duplicate_of + 1);
	else if (f->skipped)
		fprintf(stderr, "cuflow %s: %s: %s, skipped\n", rep->cmd, f->path, f->error);
	else if (f->status < 0)
		fprintf(stderr, "cuflow %s: %s\n", rep->cmd, f->error);
	if (!f->skipped && f->overlap_ns > 0)
		fprintf(stderr,
		        "cuflow %s: %s: starts %.9f s before the latest packet of the files before it: "
		        "not in time order (read as given)\n",
		        rep->cmd, f->path, (double)f->overlap_ns / 1e9);
	if (rep->kill_after && ++rep->commits >= rep->kill_after)
		raise(SIGKILL); /* tests: a run killed right after a commit */
}

static void on_progress(void *user, const cf_run_progress *p)
{
	cli_progress_run(((cli_run_report *)user)->pr, p);
}

void cli_run_report_start(cli_run_report *rep, const char *cmd, int quiet, cf_run_opts *ro)
{
	memset(rep, 0, sizeof *rep);
	rep->cmd = cmd;
	const char *k = getenv("CUFLOW_TEST_KILL_AFTER_COMMITS");
	if (k)
		rep->kill_after = strtoull(k, NULL, 10);
	rep->pr = cli_progress_start(cmd, !quiet && !cli_mpi_rank());
	ro->net = cli_mpi_net(); /* several ranks: the inputs are shared out */
	ro->on_file = on_file;
	ro->on_progress = on_progress;
	ro->user = rep;
	signal(SIGXFSZ, SIG_IGN); /* a file size limit: write() fails with EFBIG, reported */
}

int cli_run_tables(const cli_tables *t, char **args, int n)
{
	char err[CF_ERRBUF_SIZE];
	cf_run_inputs *inputs = NULL;
	if (cf_run_inputs_expand((const char *const *)args, n, &inputs, err) < 0) {
		fprintf(stderr, "cuflow %s: %s\n", t->cmd, err);
		return CLI_EXIT_USAGE;
	}
	if (t->run.continuous && cli_continuous_inputs(t->cmd, inputs) < 0) {
		cf_run_inputs_free(inputs);
		return CLI_EXIT_USAGE;
	}
	size_t ni = cf_run_inputs_count(inputs);
	/* --label-from-dir: every input's directory name, numbered in input order */
	char **names = NULL;
	if (t->labels && cf_producer_labels_dir_names(t->labels, inputs, &names, err) < 0) {
		fprintf(stderr, "cuflow %s: %s\n", t->cmd, err);
		cf_run_inputs_free(inputs);
		return CLI_EXIT_USAGE;
	}
	cf_sink_opts so;
	cf_sink_opts_default(&so);
	so.shard_rows = t->shard_rows;
	if (t->run.row_group_rows)
		so.row_group_rows = t->run.row_group_rows;
	cf_run_opts ro;
	cf_run_opts_default(&ro);
	ro.output = t->dir;
	ro.format = CF_RUN_TABLES;
	ro.format_name = t->sink;
	ro.producer = t->producer;
	ro.producer_config = t->config;
	ro.sink = t->sink;
	ro.sink_opts = &so;
	ro.decode = t->cs->so.decode;
	ro.filter = t->cs->filter_expr;
	ro.backend_kind = t->cs->backend_kind;
	ro.hook_thread = t->cs->so.hook_thread;
	ro.jobs = t->run.jobs;
	ro.resume = t->run.resume;
	ro.continuous = t->run.continuous;
	ro.part_rows = t->run.part_rows;
	ro.options_json = t->options_json;
	cli_run_report rep;
	cli_run_report_start(&rep, t->cmd, t->quiet, &ro);
	cf_run_result res;
	int st = cf_run(&ro, inputs, &res, err);
	cli_progress_end(rep.pr);
	int rank = cli_mpi_rank(); /* rank 0 reports a run over several ranks */
	if (!t->quiet && !rank && res.backend_note[0])
		fprintf(stderr, "cuflow: %s\n", res.backend_note);
	int rc;
	if (st < 0) {
		fprintf(stderr, "cuflow %s%s: %s\n", t->cmd, rank ? " (a rank)" : "", err);
		rc = CLI_EXIT_USAGE;
	} else if (rank) {
		rc = CLI_EXIT_OK;
	} else {
		fprintf(stderr,
		        "cuflow %s: %" PRIu64 " rows from %zu files (%zu damaged, %zu skipped; %" PRIu64
		        " packets read) in %s; counters per input in %s\n",
		        t->cmd, res.rows, res.files, res.files_damaged, res.files_skipped, res.total.packets, t->dir,
		        res.manifest);
		if (res.backend_fallbacks)
			fprintf(stderr, "cuflow: %s\n", res.backend_note);
		rc = res.files_damaged ? CLI_EXIT_DAMAGED : CLI_EXIT_OK;
	}
	cf_producer_labels_free_dir_names(names, ni);
	cf_run_inputs_free(inputs);
	return rc;
}
