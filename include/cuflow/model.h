/*
 * Models over flows: train, evaluate and predict with the nested
 * LSTM/dense model of include/cuflow/nn.h (docs/models.md).
 *
 * Data are flow records: Joy's JSON lines (Joy's own files, plain or
 * gzip, and cuflow's `flows --format jsonl` / `--joy-compat`), or captures,
 * whose flows are tracked on the fly as Joy 4.5.0 tracks them. Labels come
 * from each record's "label" key, from the file's directory, or from the
 * file's name.
 *
 * A model directory holds model.safetensors (weights named and laid out as
 * the equivalent PyTorch module's state_dict), config.json (sizes, input
 * mode, class names), and after training metrics.csv and
 * learning_curves.png.
 */
#ifndef CUFLOW_MODEL_H
#define CUFLOW_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cuflow/nn.h"
#include "cuflow/nn_flowpic.h"

#ifdef __cplusplus
extern "C" {
#endif

enum cf_model_label {
	CF_MODEL_LABEL_FIELD = 0, /* the record's "label" key (records without one are skipped, counted) */
	CF_MODEL_LABEL_DIR,       /* the name of the directory holding the file */
	CF_MODEL_LABEL_FILE       /* the file's name up to its first '.' */
};

typedef struct cf_model cf_model;

/* A new model with PyTorch's default initialisation drawn from seed. */
int cf_model_create(const cf_nested_config *c, uint64_t seed, const char *const *class_names, cf_model **out,
                    char *errbuf);
/* A FlowPic CNN (official or mini, include/cuflow/nn_flowpic.h), PyTorch's
 * default initialisation drawn from seed. */
int cf_model_create_flowpic(const cf_flowpic_cnn_config *c, uint64_t seed, const char *const *class_names,
                            cf_model **out, char *errbuf);
/* "nested", "flowpic" or "flowpic-mini". */
const char *cf_model_kind(const cf_model *m);
/* The FlowPic CNN's configuration; NULL for a nested model. */
const cf_flowpic_cnn_config *cf_model_flowpic_config(const cf_model *m);
/* Reads DIR/config.json and DIR/model.safetensors. */
int cf_model_load(const char *dir, cf_model **out, char *errbuf);
/* Writes DIR/config.json and DIR/model.safetensors (DIR is created). */
int cf_model_save(const cf_model *m, const char *dir, char *errbuf);
void cf_model_free(cf_model *m);
/* The nested model's configuration; NULL for a FlowPic CNN. */
const cf_nested_config *cf_model_config(const cf_model *m);
/* The flat float32 parameters (cf_nested_params / cf_flowpic_cnn_params
 * give names and offsets). */
float *cf_model_params(cf_model *m);
const char *cf_model_class_name(const cf_model *m, int k);

/* Where the model computes (enum cf_backend_kind, cuflow/backend.h):
 * CF_BACKEND_CPU, the reference, is the default; CF_BACKEND_CUDA runs a
 * nested model's LSTMs on cuDNN and its dense layers on cuBLAS, a whole
 * batch of up to max_batch flows per call (embedding, concatenation, ReLU
 * and softmax stay on the host). CF_ERR_DEVICE or CF_ERR_UNSUPPORTED with
 * the reason where there is no device, no cuDNN/cuBLAS, or the model is a
 * FlowPic CNN. CF_BACKEND_AUTO keeps the CPU: the CUDA path has not yet
 * run on a device (docs/gpu.md). */
int cf_model_set_backend(cf_model *m, int kind, int max_batch, char *errbuf);
/* "cpu" or "cuda". */
const char *cf_model_backend_name(const cf_model *m);

/* Class probabilities of b's samples (b->n x classes), threads across the
 * batch (0 = every core). Results do not depend on the thread count. */
int cf_model_forward(cf_model *m, const cf_nested_batch *b, int threads, float *probs, char *errbuf);

/* The same for a FlowPic CNN's batch (cf_flowpic_batch_alloc with the
 * model's configuration); dropout off. */
int cf_model_forward_flowpic(cf_model *m, const cf_flowpic_batch *b, int threads, float *probs, char *errbuf);

/* Per-epoch numbers handed to the caller while training. */
typedef struct cf_epoch_metrics {
	int epoch;                  /* from 1 */
	double loss, accuracy;      /* training set (running over the epoch) */
	double val_loss, val_accuracy; /* NaN without a validation set */
	double lr;
	double seconds;             /* wall time of the epoch */
	double train_flows_per_s;
	int best;                   /* 1 when this epoch's weights are the ones kept */
} cf_epoch_metrics;

enum cf_model_kind_id { CF_MODEL_NESTED = 0, CF_MODEL_FLOWPIC, CF_MODEL_FLOWPIC_MINI };

typedef struct cf_train_opts {
	int kind;                   /* enum cf_model_kind_id */
	cf_nested_config model;     /* nested: sizes and input mode; classes come from the data */
	cf_flowpic_cnn_config cnn;  /* FlowPic CNNs: sizes (channels, size and classes come from the data) */
	int label_mode;             /* enum cf_model_label */
	int epochs;                 /* 10 */
	int batch;                  /* 128 */
	int threads;                /* 0 = every core */
	int backend;                /* enum cf_backend_kind: CPU (default; AUTO = CPU) or CUDA (nested) */
	double lr;                  /* Adam, 1e-3 (betas 0.9/0.999, eps 1e-8: PyTorch's) */
	double val_fraction;        /* 0.2: drawn from the data with the seed (ignored with val_inputs) */
	const char *const *val_inputs; /* a validation set of its own (labelled the same way), or NULL */
	int n_val_inputs;
	double test_fraction;       /* 0: held out, evaluated once at the end into DIR/test/ */
	const char *const *test_inputs; /* a held-out test set of its own (labelled the same way), or
	                                   NULL; excludes test_fraction. E.g. other sessions than the
	                                   training data's, so that no session feeds both */
	int n_test_inputs;
	uint64_t seed;              /* 1: splits, initialisation, shuffling */
	int early_stop;             /* epochs without a better validation loss before stopping; 0 = off */
	double lr_factor;           /* ReduceLROnPlateau on the validation loss: 0.2 */
	int lr_patience;            /* 5 */
	double min_lr;              /* 1e-5 */
	uint64_t max_flows;         /* 0 = all */
	const char *export_dir;     /* when set: the featurized splits as .npy (for the PyTorch judge) */
	void (*on_progress)(void *user, uint64_t files_done, uint64_t files_total, uint64_t flows);
	void (*on_epoch)(void *user, const cf_epoch_metrics *m);
	void (*on_message)(void *user, const char *line);
	void *user;
} cf_train_opts;

void cf_train_opts_default(cf_train_opts *o);

/* 1 when path is a `cuflow extract` dataset directory (npy layout), which
 * train and evaluate read as one input, row by row (docs/models.md). */
int cf_model_input_is_dataset(const char *path);

/* Trains on the records of inputs and writes the model directory out_dir
 * (the weights of the epoch with the best validation loss, or the last
 * epoch without validation), metrics.csv, learning_curves.png and, with
 * test_fraction or test_inputs, test/metrics.json and the confusion matrix. */
int cf_model_train(const char *const *inputs, int n_inputs, const char *out_dir, const cf_train_opts *o,
                   char *errbuf);

typedef struct cf_eval_opts {
	int label_mode;
	int batch, threads;
	int backend;                /* as cf_train_opts.backend */
	uint64_t max_flows;
	void (*on_progress)(void *user, uint64_t files_done, uint64_t files_total, uint64_t flows);
	void (*on_message)(void *user, const char *line);
	void *user;
} cf_eval_opts;

void cf_eval_opts_default(cf_eval_opts *o);

/* metrics.json (accuracy, majority-class accuracy, per-class precision,
 * recall, F1, support), confusion.csv and confusion.png in out_dir.
 * Records whose label the model does not know are counted, not scored. */
int cf_model_evaluate(const char *model_dir, const char *const *inputs, int n_inputs, const char *out_dir,
                      const cf_eval_opts *o, char *errbuf);

typedef struct cf_predict_opts {
	int batch, threads;
	int backend;                /* as cf_train_opts.backend */
	const char *format;         /* sink name: "parquet", "csv", "jsonl", "npy"; NULL = from out's extension */
	void (*on_progress)(void *user, uint64_t files_done, uint64_t files_total, uint64_t flows);
	void *user;
} cf_predict_opts;

void cf_predict_opts_default(cf_predict_opts *o);

/* One row per flow (file, record, 5-tuple, start time, predicted class,
 * one probability column per class), streamed through a sink with bounded
 * memory. flows_out (may be NULL) receives the row count. */
int cf_model_predict(const char *model_dir, const char *const *inputs, int n_inputs, const char *out,
                     const cf_predict_opts *o, uint64_t *flows_out, char *errbuf);

#ifdef __cplusplus
}
#endif

#endif
