/* cuflow train / evaluate / predict: option parsing over include/cuflow/model.h. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cuflow/backend.h"
#include "cuflow/model.h"
#include "cuflow/status.h"
#include "cli.h"

enum {
	OPT_MODEL = 1300, OPT_LABEL, OPT_LABEL_DIR, OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_VAL, OPT_TEST, OPT_SEED,
	OPT_EARLY, OPT_THREADS, OPT_COMPAT, OPT_PKT_H, OPT_ID_H, OPT_TTL_DIM, OPT_UNITS, OPT_LAYERS, OPT_MAXPKT,
	OPT_MAXIDS, OPT_MAXFLOWS, OPT_EXPORT, OPT_BACKEND, OPT_FORMAT, OPT_LR_PATIENCE, OPT_VAL_DATA, OPT_TEST_DATA, OPT_PAD_SYM
};

static const char model_inputs_usage[] =
	"Inputs (files, directories, quoted globs, @LIST): Joy's JSON lines (plain or .gz; Joy's own files\n"
	"and cuflow's `flows --format jsonl` / `--joy-compat`) and captures (pcap, pcapng; flows tracked as\n"
	"Joy 4.5.0 tracks them); for train and evaluate also `cuflow extract` datasets (npy layout: a\n"
	"directory, one input; labels from its labels.npy; docs/models.md).\n"
	"  --label field|dir|file  where a flow's class comes from: the record's \"label\" key (default),\n"
	"                          the directory holding the file, or the file's name up to its first '.'\n"
	"  --label-from-dir        the same as --label dir\n"
	"  --threads N             threads across the batch (default: every core)\n"
	"  --batch N               flows per batch\n"
	"  --max-flows N           read at most N labelled flows\n"
	"  --backend cpu|cuda|auto cuda: the nested model's LSTMs on cuDNN and dense layers on cuBLAS\n"
	"                          (auto stays on the CPU for models: docs/gpu.md)\n"
	"  --quiet                 no progress or per-epoch lines\n";

static int parse_label(const char *cmd, const char *v, int *out)
{
	if (!strcmp(v, "field")) *out = CF_MODEL_LABEL_FIELD;
	else if (!strcmp(v, "dir")) *out = CF_MODEL_LABEL_DIR;
	else if (!strcmp(v, "file")) *out = CF_MODEL_LABEL_FILE;
	else {
		fprintf(stderr, "cuflow %s: --label must be field, dir or file, not '%s'\n", cmd, v);
		return -1;
	}
	return 0;
}

static int parse_int(const char *cmd, const char *name, const char *v, long lo, long hi, int *out)
{
	char *end;
	long x = strtol(v, &end, 10);
	if (!*v || *end || x < lo || x > hi) {
		fprintf(stderr, "cuflow %s: %s must be an integer in %ld..%ld, not '%s'\n", cmd, name, lo, hi, v);
		return -1;
	}
	*out = (int)x;
	return 0;
}

static int parse_double(const char *cmd, const char *name, const char *v, double lo, double hi, double *out)
{
	char *end;
	double x = strtod(v, &end);
	if (!*v || *end || !(x >= lo && x <= hi)) {
		fprintf(stderr, "cuflow %s: %s must be a number in [%g, %g], not '%s'\n", cmd, name, lo, hi, v);
		return -1;
	}
	*out = x;
	return 0;
}

/* A progress line on a terminal (files, flows, rate, ETA), rewritten in
 * place; the next message starts on a line of its own. */
typedef struct progress {
	const char *cmd;
	struct timespec t0;
	int shown;
} progress;

static double since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) * 1e-9;
}

static void on_progress(void *user, uint64_t done, uint64_t total, uint64_t flows)
{
	progress *p = user;
	double s = since(&p->t0);
	fprintf(stderr, "\rcuflow %s: %llu/%llu files, %llu flows, %.0f flows/s", p->cmd, (unsigned long long)done,
	        (unsigned long long)total, (unsigned long long)flows, s > 0 ? flows / s : 0.0);
	if (done > 0 && done < total) fprintf(stderr, ", ETA %.0f s   ", s / done * (total - done));
	else fprintf(stderr, "            ");
	p->shown = 1;
}

static void on_message(void *user, const char *line)
{
	progress *p = user;
	if (p->shown) fputc('\n', stderr);
	p->shown = 0;
	fprintf(stderr, "cuflow %s: %s\n", p->cmd, line);
}

static void on_epoch(void *user, const cf_epoch_metrics *m)
{
	progress *p = user;
	if (p->shown) fputc('\n', stderr);
	p->shown = 0;
	fprintf(stderr, "epoch %3d  loss %.4f  acc %.4f", m->epoch, m->loss, m->accuracy);
	if (!isnan(m->val_loss)) fprintf(stderr, "  val_loss %.4f  val_acc %.4f", m->val_loss, m->val_accuracy);
	fprintf(stderr, "  lr %.3g  %.1f s  %.0f/s%s\n", m->lr, m->seconds, m->train_flows_per_s,
	        m->best ? "  *" : "");
}

/* Expands the inputs into a NULL-free path array (freed with the run
 * inputs): extract datasets first, each one input, then the files the other
 * arguments name. */
static const char **expand(const char *cmd, char **args, int n, cf_run_inputs **in, int *count)
{
	if (n <= 0) {
		fprintf(stderr, "cuflow %s: no input given\n", cmd);
		return NULL;
	}
	char *rest[n + 1];
	int n_sets = 0, n_rest = 0;
	for (int i = 0; i < n; i++)
		if (cf_model_input_is_dataset(args[i])) args[n_sets++] = args[i];
		else rest[n_rest++] = args[i];
	/* args now starts with the datasets, in their order */
	*in = NULL;
	if (n_rest && !(*in = cli_inputs_expand(cmd, rest, n_rest))) return NULL;
	size_t k = *in ? cf_run_inputs_count(*in) : 0;
	const char **paths = calloc((size_t)n_sets + k + 1, sizeof *paths);
	if (!paths) return NULL;
	for (int i = 0; i < n_sets; i++) paths[i] = args[i];
	for (size_t i = 0; i < k; i++) paths[n_sets + i] = cf_run_inputs_path(*in, i);
	*count = n_sets + (int)k;
	return paths;
}

static int parse_backend(const char *cmd, const char *v, int *kind)
{
	if (cf_backend_parse(v, kind) == CF_OK) return 0;
	fprintf(stderr, "cuflow %s: --backend must be cpu, cuda or auto, not '%s'\n", cmd, v);
	return -1;
}

/* The exit status of a model command, with its error line. */
static int model_exit(const char *cmd, int rc, const char *err)
{
	if (rc == CF_OK) return CLI_EXIT_OK;
	fprintf(stderr, "cuflow %s: %s\n", cmd, err[0] ? err : cf_status_str(rc));
	return rc == CF_ERR_CORRUPT || rc == CF_ERR_TRUNCATED ? CLI_EXIT_DAMAGED : CLI_EXIT_USAGE;
}

int cmd_train(int argc, char **argv)
{
	static const struct option lo[] = {
		{"model", required_argument, 0, OPT_MODEL}, {"output", required_argument, 0, 'o'},
		{"pad", required_argument, 0, OPT_PAD_SYM},
		{"label", required_argument, 0, OPT_LABEL}, {"label-from-dir", no_argument, 0, OPT_LABEL_DIR},
		{"epochs", required_argument, 0, OPT_EPOCHS}, {"batch", required_argument, 0, OPT_BATCH},
		{"lr", required_argument, 0, OPT_LR}, {"val-fraction", required_argument, 0, OPT_VAL},
		{"test-fraction", required_argument, 0, OPT_TEST}, {"val-data", required_argument, 0, OPT_VAL_DATA},
		{"test-data", required_argument, 0, OPT_TEST_DATA}, {"seed", required_argument, 0, OPT_SEED},
		{"early-stop", required_argument, 0, OPT_EARLY}, {"lr-patience", required_argument, 0, OPT_LR_PATIENCE},
		{"threads", required_argument, 0, OPT_THREADS},
		{"reference-compat", no_argument, 0, OPT_COMPAT}, {"pkt-hidden", required_argument, 0, OPT_PKT_H},
		{"id-hidden", required_argument, 0, OPT_ID_H}, {"ttl-dim", required_argument, 0, OPT_TTL_DIM},
		{"dense-units", required_argument, 0, OPT_UNITS}, {"dense-layers", required_argument, 0, OPT_LAYERS},
		{"max-packets", required_argument, 0, OPT_MAXPKT}, {"max-ids", required_argument, 0, OPT_MAXIDS},
		{"max-flows", required_argument, 0, OPT_MAXFLOWS}, {"export", required_argument, 0, OPT_EXPORT},
		{"backend", required_argument, 0, OPT_BACKEND}, {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	cf_train_opts o;
	cf_train_opts_default(&o);
	const char *out = NULL;
	int quiet = 0, v = 0, n_val_args = 0, n_test_args = 0, pad_sym = -1;
	char *val_args[argc + 1], *test_args[argc + 1]; /* --val-data / --test-data arguments, at most one per argv entry */
	optind = 1;
	for (int c; (c = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1;) {
		int bad = 0;
		switch (c) {
		case 'o': out = optarg; break;
		case 'q': quiet = 1; break;
		case OPT_VAL_DATA: val_args[n_val_args++] = optarg; break;
		case OPT_TEST_DATA: test_args[n_test_args++] = optarg; break;
		case OPT_MODEL:
			if (!strcmp(optarg, "nested")) o.kind = CF_MODEL_NESTED;
			else if (!strcmp(optarg, "flowpic")) {
				o.kind = CF_MODEL_FLOWPIC;
				cf_flowpic_cnn_config_default(&o.cnn, CF_FLOWPIC_CNN_OFFICIAL);
			} else if (!strcmp(optarg, "flowpic-mini")) {
				o.kind = CF_MODEL_FLOWPIC_MINI;
				cf_flowpic_cnn_config_default(&o.cnn, CF_FLOWPIC_CNN_MINI);
			} else {
				fprintf(stderr, "cuflow train: --model must be nested, flowpic or flowpic-mini, not '%s'\n", optarg);
				bad = 1;
			}
			break;
		case OPT_PAD_SYM: bad = parse_int("train", "--pad", optarg, 0, 1000, &pad_sym); break;
		case OPT_LABEL: bad = parse_label("train", optarg, &o.label_mode); break;
		case OPT_LABEL_DIR: o.label_mode = CF_MODEL_LABEL_DIR; break;
		case OPT_EPOCHS: bad = parse_int("train", "--epochs", optarg, 1, 1000000, &o.epochs); break;
		case OPT_BATCH: bad = parse_int("train", "--batch", optarg, 1, 1 << 20, &o.batch); break;
		case OPT_LR: bad = parse_double("train", "--lr", optarg, 1e-12, 10, &o.lr); break;
		case OPT_VAL: bad = parse_double("train", "--val-fraction", optarg, 0, 0.9, &o.val_fraction); break;
		case OPT_TEST: bad = parse_double("train", "--test-fraction", optarg, 0, 0.9, &o.test_fraction); break;
		case OPT_SEED: bad = parse_int("train", "--seed", optarg, 0, 2147483647, &v); o.seed = (uint64_t)v; break;
		case OPT_EARLY: bad = parse_int("train", "--early-stop", optarg, 0, 1000000, &o.early_stop); break;
		case OPT_LR_PATIENCE: bad = parse_int("train", "--lr-patience", optarg, 0, 1000000, &o.lr_patience); break;
		case OPT_THREADS: bad = parse_int("train", "--threads", optarg, 0, 4096, &o.threads); break;
		case OPT_COMPAT: o.model.reference_compat = 1; break;
		case OPT_PKT_H: bad = parse_int("train", "--pkt-hidden", optarg, 1, 1024, &o.model.pkt_hidden); break;
		case OPT_ID_H: bad = parse_int("train", "--id-hidden", optarg, 1, 1024, &o.model.id_hidden); break;
		case OPT_TTL_DIM: bad = parse_int("train", "--ttl-dim", optarg, 1, 4096, &o.model.ttl_dim); break;
		case OPT_UNITS: bad = parse_int("train", "--dense-units", optarg, 1, 65536, &o.model.dense_units); break;
		case OPT_LAYERS: bad = parse_int("train", "--dense-layers", optarg, 0, 16, &o.model.dense_layers); break;
		case OPT_MAXPKT: bad = parse_int("train", "--max-packets", optarg, 1, 512, &o.model.max_packets); break;
		case OPT_MAXIDS: bad = parse_int("train", "--max-ids", optarg, 1, 4096, &o.model.max_ids); break;
		case OPT_MAXFLOWS: bad = parse_int("train", "--max-flows", optarg, 0, 2147483647, &v); o.max_flows = (uint64_t)v; break;
		case OPT_EXPORT: o.export_dir = optarg; break;
		case OPT_BACKEND: bad = parse_backend("train", optarg, &o.backend); break;
		case 'h':
			printf("usage: cuflow train --model nested DATA... -o MODEL_DIR [options]\n"
			       "       cuflow train --model flowpic|flowpic-mini FLOWPIC_DIR... -o MODEL_DIR [options]\n\n"
			       "Trains seed 003's nested model (packet LSTM, TTL embedding, IP-id LSTM, dense stack) on\n"
			       "labelled flows, or a FlowPic CNN (the official 1500x1500 LeNet-style model: flowpic; tcbench's\n"
			       "32x32 LeNet-5: flowpic-mini) on `cuflow flowpic` output directories (labels.npy and\n"
			       "meta.json's names; --pad N: symmetric padding, tcbench's 3, instead of Keras's same);\n"
			       "writes MODEL_DIR/model.safetensors, config.json, metrics.csv,\n"
			       "learning_curves.png, accuracy_curves.png and, with --test-fraction or --test-data,\n"
			       "test/metrics.json,\n"
			       "test/confusion.csv and test/confusion.png (docs/models.md).\n\n%s"
			       "  --epochs N (10)  --lr X (1e-3, Adam)  --seed N (1)\n"
			       "  --val-fraction F (0.2)  --test-fraction F (0): seeded splits of the flows\n"
			       "  --val-data PATH  a validation set of its own instead (repeatable; same labelling)\n"
			       "  --test-data PATH a held-out test set of its own instead of --test-fraction (repeatable;\n"
			       "                   e.g. other sessions than the training data's)\n"
			       "  --early-stop N   stop after N epochs without a better validation loss (0: off)\n"
			       "  --lr-patience N  ReduceLROnPlateau: x0.2 after N epochs without improvement (5)\n"
			       "  --reference-compat  the seed's raw inputs and batch-max zero padding (no lengths)\n"
			       "  --pkt-hidden 16 --id-hidden 8 --ttl-dim 8 --dense-units 10 --dense-layers 3\n"
			       "  --max-packets 100 --max-ids 50   sequence lengths kept per flow\n"
			       "  --export DIR     also write the featurized splits (.npy) and the initial weights\n",
			       model_inputs_usage);
			return CLI_EXIT_OK;
		default: return CLI_EXIT_USAGE;
		}
		if (bad) return CLI_EXIT_USAGE;
	}
	if (pad_sym >= 0) o.cnn.pad_sym = pad_sym; /* after --model, whatever the order */
	if (!out) {
		fprintf(stderr, "cuflow train: -o MODEL_DIR is required\n");
		return CLI_EXIT_USAGE;
	}
	if (n_test_args && o.test_fraction > 0) {
		fprintf(stderr, "cuflow train: --test-data and --test-fraction exclude each other\n");
		return CLI_EXIT_USAGE;
	}
	cf_run_inputs *in = NULL, *vin = NULL, *xin = NULL;
	int n = 0, nv = 0, nx = 0;
	const char **paths = expand("train", argv + optind, argc - optind, &in, &n);
	const char **vpaths = NULL, **xpaths = NULL;
	if (paths && ((n_val_args && !(vpaths = expand("train", val_args, n_val_args, &vin, &nv))) ||
	              (n_test_args && !(xpaths = expand("train", test_args, n_test_args, &xin, &nx))))) {
		free(paths);
		paths = NULL;
	}
	if (!paths) {
		free(vpaths);
		cf_run_inputs_free(in);
		cf_run_inputs_free(vin);
		cf_run_inputs_free(xin);
		return CLI_EXIT_USAGE;
	}
	o.val_inputs = vpaths;
	o.n_val_inputs = nv;
	o.test_inputs = xpaths;
	o.n_test_inputs = nx;
	progress pr = {"train", {0, 0}, 0};
	clock_gettime(CLOCK_MONOTONIC, &pr.t0);
	if (!quiet) {
		o.on_epoch = on_epoch;
		o.on_message = on_message;
		if (isatty(2)) o.on_progress = on_progress;
		o.user = &pr;
	}
	char err[CF_ERRBUF_SIZE] = "";
	int rc = cf_model_train(paths, n, out, &o, err);
	free(paths);
	free(vpaths);
	free(xpaths);
	cf_run_inputs_free(in);
	cf_run_inputs_free(vin);
	cf_run_inputs_free(xin);
	return model_exit("train", rc, err);
}

int cmd_evaluate(int argc, char **argv)
{
	static const struct option lo[] = {
		{"output", required_argument, 0, 'o'}, {"label", required_argument, 0, OPT_LABEL},
		{"label-from-dir", no_argument, 0, OPT_LABEL_DIR}, {"batch", required_argument, 0, OPT_BATCH},
		{"threads", required_argument, 0, OPT_THREADS}, {"max-flows", required_argument, 0, OPT_MAXFLOWS},
		{"backend", required_argument, 0, OPT_BACKEND}, {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	cf_eval_opts o;
	cf_eval_opts_default(&o);
	const char *out = NULL;
	int quiet = 0, v = 0;
	optind = 1;
	for (int c; (c = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1;) {
		int bad = 0;
		switch (c) {
		case 'o': out = optarg; break;
		case 'q': quiet = 1; break;
		case OPT_LABEL: bad = parse_label("evaluate", optarg, &o.label_mode); break;
		case OPT_LABEL_DIR: o.label_mode = CF_MODEL_LABEL_DIR; break;
		case OPT_BATCH: bad = parse_int("evaluate", "--batch", optarg, 1, 1 << 20, &o.batch); break;
		case OPT_THREADS: bad = parse_int("evaluate", "--threads", optarg, 0, 4096, &o.threads); break;
		case OPT_MAXFLOWS: bad = parse_int("evaluate", "--max-flows", optarg, 0, 2147483647, &v); o.max_flows = (uint64_t)v; break;
		case OPT_BACKEND: bad = parse_backend("evaluate", optarg, &o.backend); break;
		case 'h':
			printf("usage: cuflow evaluate MODEL_DIR DATA... -o DIR [options]\n\n"
			       "Scores a trained model on labelled flows: DIR/metrics.json (accuracy, majority-class\n"
			       "accuracy, per-class precision/recall/F1), DIR/confusion.csv and DIR/confusion.png.\n\n%s",
			       model_inputs_usage);
			return CLI_EXIT_OK;
		default: return CLI_EXIT_USAGE;
		}
		if (bad) return CLI_EXIT_USAGE;
	}
	if (!out || argc - optind < 2) {
		fprintf(stderr, "usage: cuflow evaluate MODEL_DIR DATA... -o DIR\n");
		return CLI_EXIT_USAGE;
	}
	const char *model = argv[optind];
	cf_run_inputs *in = NULL;
	int n = 0;
	const char **paths = expand("evaluate", argv + optind + 1, argc - optind - 1, &in, &n);
	if (!paths) { cf_run_inputs_free(in); return CLI_EXIT_USAGE; }
	progress pr = {"evaluate", {0, 0}, 0};
	clock_gettime(CLOCK_MONOTONIC, &pr.t0);
	if (!quiet) {
		o.on_message = on_message;
		if (isatty(2)) o.on_progress = on_progress;
		o.user = &pr;
	}
	char err[CF_ERRBUF_SIZE] = "";
	int rc = cf_model_evaluate(model, paths, n, out, &o, err);
	free(paths);
	cf_run_inputs_free(in);
	return model_exit("evaluate", rc, err);
}

int cmd_predict(int argc, char **argv)
{
	static const struct option lo[] = {
		{"output", required_argument, 0, 'o'}, {"format", required_argument, 0, OPT_FORMAT},
		{"batch", required_argument, 0, OPT_BATCH}, {"threads", required_argument, 0, OPT_THREADS},
		{"backend", required_argument, 0, OPT_BACKEND}, {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	cf_predict_opts o;
	cf_predict_opts_default(&o);
	const char *out = NULL;
	int quiet = 0;
	optind = 1;
	for (int c; (c = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1;) {
		int bad = 0;
		switch (c) {
		case 'o': out = optarg; break;
		case 'q': quiet = 1; break;
		case OPT_FORMAT: o.format = optarg; break;
		case OPT_BATCH: bad = parse_int("predict", "--batch", optarg, 1, 1 << 20, &o.batch); break;
		case OPT_THREADS: bad = parse_int("predict", "--threads", optarg, 0, 4096, &o.threads); break;
		case OPT_BACKEND: bad = parse_backend("predict", optarg, &o.backend); break;
		case 'h':
			printf("usage: cuflow predict MODEL_DIR INPUT... -o OUT [--format parquet|csv|jsonl|npy]\n\n"
			       "One row per flow: file, record, sa, sp, da, dp, pr, time_start, predicted, and p_<class>\n"
			       "for every class, streamed to OUT (format from --format or OUT's extension: .parquet,\n"
			       ".csv, .jsonl; anything else: an npy directory). Memory stays bounded by the batch.\n\n%s",
			       model_inputs_usage);
			return CLI_EXIT_OK;
		default: return CLI_EXIT_USAGE;
		}
		if (bad) return CLI_EXIT_USAGE;
	}
	if (!out || argc - optind < 2) {
		fprintf(stderr, "usage: cuflow predict MODEL_DIR INPUT... -o OUT\n");
		return CLI_EXIT_USAGE;
	}
	const char *model = argv[optind];
	cf_run_inputs *in = NULL;
	int n = 0;
	const char **paths = expand("predict", argv + optind + 1, argc - optind - 1, &in, &n);
	if (!paths) { cf_run_inputs_free(in); return CLI_EXIT_USAGE; }
	int tty = !quiet && isatty(2);
	progress pr = {"predict", {0, 0}, 0};
	clock_gettime(CLOCK_MONOTONIC, &pr.t0);
	if (tty) {
		o.on_progress = on_progress;
		o.user = &pr;
	}
	char err[CF_ERRBUF_SIZE] = "";
	uint64_t flows = 0;
	int rc = cf_model_predict(model, paths, n, out, &o, &flows, err);
	if (tty) fputc('\n', stderr);
	free(paths);
	cf_run_inputs_free(in);
	if (rc != CF_OK) return model_exit("predict", rc, err);
	if (!quiet) fprintf(stderr, "cuflow predict: %llu rows -> %s\n", (unsigned long long)flows, out);
	return CLI_EXIT_OK;
}
