/* The cuflow command-line tool: a thin layer over the public C API.
 * Each subcommand is one function; main() dispatches on argv[1]. */
#ifndef CUFLOW_CLI_H
#define CUFLOW_CLI_H

#include <stdint.h>
#include <getopt.h>
#include <stdio.h>

#include "cuflow/cuflow.h"
#include "cuflow/run.h"
#include "cuflow/producers.h"

/* Exit statuses shared by every subcommand. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_USAGE 1    /* bad command line */
#define CLI_EXIT_DAMAGED 2  /* an input was damaged or not a capture; output for the rest was written */

int cmd_info(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_netml(int argc, char **argv);
int cmd_flowpic(int argc, char **argv);
int cmd_windows(int argc, char **argv);
/* IoT sessions into SQLite (cmd_sessions.c) and the training set prepared from it (cmd_dataset.c). */
int cmd_sessions(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
/* The models (cmd_model.c). */
int cmd_train(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_predict(int argc, char **argv);

/* An IP address as text (inet_ntop; "?" when impossible). */
void cli_ip_str(const uint8_t *a, int version, char *out, size_t cap);
/* s as a quoted JSON string (quotes, backslashes, control bytes escaped). */
void cli_json_str(FILE *o, const char *s);
/* v as one CSV field: as it is, or quoted (quotes doubled) when it holds a
 * comma, a quote or a line break. */
void cli_csv_field(FILE *o, const char *v);

/* Shared by the scanning commands (info, flows): --decap, --backend and
 * --filter, then the filter, backend and batch they imply. */
typedef struct cli_scan {
	cf_scan_opts so;         /* decode options set; filter, backend, batch after open */
	cf_pkt_batch *batch;
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

/* Shared by the flow commands (flows, extract): the flow options, then
 * the engine run over every capture. */
enum cli_flow_opt {
	CLI_OPT_IDLE = 1000, CLI_OPT_ACTIVE, CLI_OPT_LINGER, CLI_OPT_UNI, CLI_OPT_TCP_END, CLI_OPT_MAX_FLOWS,
	CLI_OPT_SEQ, CLI_OPT_PIECE, CLI_OPT_SIZE, CLI_OPT_ORDER, CLI_OPT_THREADS, CLI_OPT_ORIENTATION,
	CLI_OPT_COMPAT
};
/* getopt_long entries of the shared options (scan options included). */
#define CLI_FLOW_LONGOPTS                                                                              \
	{"idle-timeout", required_argument, 0, CLI_OPT_IDLE},                                              \
	{"active-timeout", required_argument, 0, CLI_OPT_ACTIVE},                                          \
	{"tcp-linger", required_argument, 0, CLI_OPT_LINGER},                                              \
	{"unidirectional", no_argument, 0, CLI_OPT_UNI},                                                   \
	{"tcp-end", required_argument, 0, CLI_OPT_TCP_END},                                                \
	{"max-flows", required_argument, 0, CLI_OPT_MAX_FLOWS},                                            \
	{"seq", required_argument, 0, CLI_OPT_SEQ},                                                        \
	{"piece-packets", required_argument, 0, CLI_OPT_PIECE},                                            \
	{"size", required_argument, 0, CLI_OPT_SIZE},                                                      \
	{"order", required_argument, 0, CLI_OPT_ORDER},                                                    \
	{"threads", required_argument, 0, CLI_OPT_THREADS},                                                \
	{"orientation", required_argument, 0, CLI_OPT_ORIENTATION},                                        \
	{"compat", required_argument, 0, CLI_OPT_COMPAT},                                                  \
	{"filter", required_argument, 0, 'f'},                                                             \
	{"decap", required_argument, 0, 'd'},                                                              \
	{"backend", required_argument, 0, 'b'},                                                            \
	{"quiet", no_argument, 0, 'q'}
extern const char cli_flow_usage[];  /* help lines of those options */
typedef struct cli_flow {
	cf_flow_opts fo;
	cli_scan cs;
	int quiet;
	int seq_given, size_given; /* --seq / --size were on the command line */
	int tcp_end_given, decap_given, orientation_given; /* for --compat's implied settings */
	uint64_t ts_bad_fraction, ts_out_of_range; /* the readers' timestamp counters, all files */
	char backend_used[8];    /* "cpu" or "cuda" once cli_flow_run opened it */
} cli_flow;
void cli_flow_init(cli_flow *f);
/* 1 handled, 0 not ours, -1 bad value (message printed). */
int cli_flow_option(cli_flow *f, const char *cmd, int opt, const char *arg);
/* The command's inputs expanded as `cuflow flows` expands them (a
 * directory: every file below it, sorted by name; a quoted glob; @LIST), for
 * the single-process paths of extract and flowpic. NULL after a message on
 * stderr when an argument cannot be expanded. */
cf_run_inputs *cli_inputs_expand(const char *cmd, char **args, int n);
/* `cuflow flows --joy-compat` (flows_joy.c): Joy 4.5.0's records of the
 * inputs into out_path (gz: gzip; "-": stdout). Returns the exit status. */
int cli_flows_joy(const char *out_path, int gz, char **args, int nargs, int quiet);
/* Opens backend and engine, runs every input (files expanded as above; each
 * ends with end of input), prints damage and the counters to stderr. out_failed(user),
 * when given, says whether the output broke. Returns the exit status. */
int cli_flow_run(cli_flow *f, const char *cmd, char **files, int nfiles, cf_flow_emit_fn emit, void *user,
                 int (*out_failed)(void *), cf_flow_counters *counters, cf_summary *total);
/* Pieces of cli_flow_run for drivers of their own (flows: cf_run):
 * --compat's implied settings, the counters and timestamp lines. */
void cli_flow_apply_compat(cli_flow *f);
void cli_flow_print_counters(FILE *e, const char *cmd, const cf_summary *s, const cf_flow_counters *c);
void cli_flow_print_ts_counters(FILE *e, const char *cmd, const cli_flow *f);
/* Called before each capture with its path (labels per directory);
 * NULL by default. */
extern void (*cli_flow_on_file)(void *user, const char *path);

/* The dataset commands with --jobs (run_tables.c): the producer through
 * the library's run driver into DIR/<table>/part-NNNNN.<sink> +
 * DIR/manifest.json. Their shared options: */
enum cli_tables_opt { CLI_OPT_JOBS = 1200, CLI_OPT_ROW_GROUP, CLI_OPT_PART_ROWS, CLI_OPT_RESUME, CLI_OPT_CONTINUOUS };
#define CLI_TABLES_LONGOPTS                                                                            \
	{"jobs", required_argument, 0, CLI_OPT_JOBS},                                                      \
	{"row-group-rows", required_argument, 0, CLI_OPT_ROW_GROUP},                                       \
	{"part-rows", required_argument, 0, CLI_OPT_PART_ROWS},                                            \
	{"resume", no_argument, 0, CLI_OPT_RESUME},                                                        \
	{"continuous", no_argument, 0, CLI_OPT_CONTINUOUS}
typedef struct cli_tables_opts {
	uint32_t jobs;            /* 0: not given (the command's own loop) */
	uint64_t row_group_rows;  /* Parquet; 0: the sink's default */
	uint64_t part_rows;       /* 0: the driver's default */
	int resume;
	int continuous;           /* the inputs are one stream (sets jobs to 1 when not given) */
} cli_tables_opts;
/* 1 handled, 0 not ours, -1 bad value (message printed). */
int cli_tables_option(cli_tables_opts *o, const char *cmd, int opt, const char *arg);
typedef struct cli_tables {
	const char *cmd;
	const cf_producer_ops *producer;
	const void *config;
	cf_producer_labels *labels;  /* the config's labels (from_dir names are filled in), or NULL */
	const char *dir;
	const char *sink;            /* "parquet", "csv", "jsonl", "npy" */
	uint64_t shard_rows;
	const cli_scan *cs;
	cli_tables_opts run;
	int quiet;
	const char *options_json;    /* for the manifest, or NULL */
} cli_tables;
/* The reporting of a cf_run (flows, the --jobs commands): damaged,
 * duplicate and own-output inputs on stderr, the progress line, the
 * CUFLOW_TEST_KILL_AFTER_COMMITS test hook; sets ro's callbacks and
 * ignores SIGXFSZ (a file size limit is reported as a write error).
 * cli_progress_end(rep.pr) after the run. */
typedef struct cli_progress cli_progress;
typedef struct cli_run_report {
	const char *cmd;
	cli_progress *pr;
	uint64_t commits, kill_after;
} cli_run_report;
void cli_run_report_start(cli_run_report *rep, const char *cmd, int quiet, cf_run_opts *ro);
extern const char cli_jobs_usage[];
/* 0, or -1 with a message printed. */
int cli_parse_jobs(const char *cmd, const char *arg, uint32_t *jobs);
/* --row-group-rows N into o: 0, or -1 with a message printed. */
int cli_parse_row_group(cf_sink_opts *o, const char *cmd, const char *arg);
/* Several ranks (cli_mpi.c): MPI starts only when an MPI starter launched
 * the process; cli_mpi_net() is then the run driver's transport (NULL for
 * one process); cli_mpi_end finishes MPI (MPI_Abort when this rank failed
 * with CLI_EXIT_USAGE, so the others do not wait) and returns rc. */
void cli_mpi_start(int *argc, char ***argv);
const cf_run_net *cli_mpi_net(void);
int cli_mpi_rank(void);
int cli_mpi_end(int rc);
/* Under several ranks the dataset commands use the run driver (jobs 1
 * when --jobs is not given). */
static inline void cli_tables_ranks(cli_tables_opts *o)
{
	if (cli_mpi_net() && !o->jobs)
		o->jobs = 1;
}

/* --continuous (flows, sessions, the dataset commands): the inputs in the
 * order of their first packets, one stream. 0, or -1 with a message printed. */
int cli_continuous_inputs(const char *cmd, cf_run_inputs *in);
#define CLI_CONTINUOUS_USAGE                                                                           \
	"  --continuous          the inputs are one capture cut in files (tcpdump -C/-G,\n"               \
	"                        editcap): read in the order of their first packets as one\n"             \
	"                        stream, so flows, windows and sessions crossing a file\n"                 \
	"                        border are those of the whole capture (one worker; rows go\n"             \
	"                        to the file being read when they end); a file that starts\n"             \
	"                        before the previous one ends is reported (docs/run.md)\n"
/* Returns the exit status. */
int cli_run_tables(const cli_tables *t, char **args, int n);

/* Shared by the dataset commands (extract, flowpic): the label options
 * and the labeler they imply. */
enum cli_label_opt {
	CLI_OPT_LABEL = 1100, CLI_OPT_LABEL_DIR, CLI_OPT_LABELS, CLI_OPT_LABEL_PRESET, CLI_OPT_LABEL_OFFSET,
	CLI_OPT_LABEL_SLACK, CLI_OPT_LABEL_DEFAULT
};
#define CLI_LABEL_LONGOPTS                                                                             \
	{"label", required_argument, 0, CLI_OPT_LABEL},                                                    \
	{"label-from-dir", no_argument, 0, CLI_OPT_LABEL_DIR},                                             \
	{"labels", required_argument, 0, CLI_OPT_LABELS},                                                  \
	{"label-preset", required_argument, 0, CLI_OPT_LABEL_PRESET},                                      \
	{"time-offset", required_argument, 0, CLI_OPT_LABEL_OFFSET},                                       \
	{"label-slack", required_argument, 0, CLI_OPT_LABEL_SLACK},                                        \
	{"default-label", required_argument, 0, CLI_OPT_LABEL_DEFAULT}
extern const char cli_label_usage[];
typedef struct cli_label {
	cf_label_opts lo;
	const char *constant, *csv;
	int from_dir;
	cf_labeler *labeler;     /* after open; NULL without a label option */
	const char *desc;        /* the CSV path, "constant" or "directory" */
} cli_label;
void cli_label_init(cli_label *l);
/* 1 handled, 0 not ours, -1 bad value (message printed). */
int cli_label_option(cli_label *l, const char *cmd, int opt, const char *arg);
/* Checks the options exclude each other and opens the labeler. 0, or -1
 * with a message printed. */
int cli_label_open(cli_label *l, const char *cmd, const char *first_capture);
/* Before each capture: --label-from-dir takes its directory's name. */
void cli_label_file(cli_label *l, const char *path);
void cli_label_close(cli_label *l);

/* Progress on stderr when it is a terminal (bytes, packets, rate, ETA);
 * silent otherwise. */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_start(const char *label, int enabled);
void cli_progress_update(void *p, uint64_t bytes_done, uint64_t bytes_total, uint64_t packets_done);
void cli_progress_end(cli_progress *p);
/* The same for a whole cf_run (files done/total, bytes, packets, rate,
 * ETA); a cf_run_opts.on_progress with the cli_progress as user. */
void cli_progress_run(void *p, const cf_run_progress *rp);

#endif
