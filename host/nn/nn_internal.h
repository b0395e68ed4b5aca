/* What the model engine's files share. */
#ifndef CUFLOW_NN_INTERNAL_H
#define CUFLOW_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cuflow/joy.h"
#include "cuflow/model.h"
#include "cuflow/nn.h"
#include "cuflow/nn_conv.h"
#include "cuflow/nn_flowpic.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hidden sizes above this are refused by the model configuration: the
 * layers keep one step's gates on the stack. */
#define CF_NN_MAX_HIDDEN 1024
#define CF_NESTED_MAX_DENSE 16

/* The LSTM forward pass on transposed weights (nn_layers_impl.h): what
 * cf_nn_lstm_forward_* runs; the nested step transposes once per chunk. */
void nn_lstm_transpose_f64(int I, int H, const double *w_ih, const double *w_hh, double *wt);
void nn_lstm_transpose_f32(int I, int H, const float *w_ih, const float *w_hh, float *wt);
void nn_lstm_forward_t_f64(int B, int T, int I, int H, const double *x, const int32_t *len, const double *wt_ih,
                           const double *wt_hh, const double *b_ih, const double *b_hh, double *h_last, double *cache);
void nn_lstm_forward_t_f32(int B, int T, int I, int H, const float *x, const int32_t *len, const float *wt_ih,
                           const float *wt_hh, const float *b_ih, const float *b_hh, float *h_last, float *cache);

/* Element offsets of each parameter tensor in the flat array. */
typedef struct nested_shape {
	int root_inputs;
	size_t pkt_wih, pkt_whh, pkt_bih, pkt_bhh;
	size_t emb;
	size_t id_wih, id_whh, id_bih, id_bhh;
	size_t dense_w[CF_NESTED_MAX_DENSE], dense_b[CF_NESTED_MAX_DENSE];
	size_t out_w, out_b;
	size_t total;
} nested_shape;

void nested_shape_of(const cf_nested_config *c, nested_shape *s);

/* Element offsets of one step's workspace. */
typedef struct nested_work {
	size_t pkt_x, out_x, in_x, pkt_cache, out_cache, in_cache, pkt_h, out_h, in_h, emb_out, emb_in;
	size_t concat, act, logits, probs, dlogits, dact_a, dact_b, dconcat, pkt_wt, id_wt, total;
} nested_work;

void nested_work_layout(const cf_nested_config *c, int n, nested_work *w);

/* Where the float32 nested step runs its LSTMs and dense layers: NULL is
 * the CPU reference inline; an nested_ops table sends them elsewhere (the
 * cuDNN/cuBLAS twins, nested_gpu.c) while embedding, concatenation, ReLU
 * and softmax stay in the step. Branches: 0 the packet LSTM, 1 and 2 the
 * shared IP-id LSTM on the outbound and inbound ids; layers 0..NL-1 the
 * hidden dense layers, NL the output layer. lstm_backward is the backward
 * of the same branch's last (training) forward: the weight gradients are
 * ADDED to, like dense_backward's dw and db (dx overwritten, may be NULL).
 * Each returns 0, or a cf_status with the message in errbuf. */
/* The dense layer's two operations, the same in both tables below. */
typedef int (*nn_dense_forward_op)(void *ctx, int layer, int B, int I, int O, const float *x, const float *w,
                                   const float *b, float *y);
typedef int (*nn_dense_backward_op)(void *ctx, int layer, int B, int I, int O, const float *x, const float *w,
                                    const float *dy, float *dx, float *dw, float *db);

/* One call through a step's ops table (the step's `ops`): a failure is kept
 * as the step's status and the step returns NAN. */
#define NN_OPS_CALL(call)                                                                                     \
	do {                                                                                                  \
		int rc_ = ops->call;                                                                          \
		if (rc_) {                                                                                    \
			if (!ops->status) ops->status = rc_;                                                  \
			return NAN;                                                                           \
		}                                                                                             \
	} while (0)

typedef struct nested_ops {
	void *ctx;
	char *errbuf;
	int (*lstm_forward)(void *ctx, int branch, int B, int T, int I, int H, const float *x, const int32_t *len,
	                    const float *w_ih, const float *w_hh, const float *b_ih, const float *b_hh, float *h_last,
	                    int training);
	int (*lstm_backward)(void *ctx, int branch, const float *dh_last, float *dw_ih, float *dw_hh, float *db_ih,
	                     float *db_hh);
	nn_dense_forward_op dense_forward;
	nn_dense_backward_op dense_backward;
	void (*destroy)(void *ctx);
	int status; /* the first failure of a step (0 = none) */
} nested_ops;

/* cf_nested_step_* with its LSTMs and dense layers through ops (NULL:
 * the reference; float64 takes NULL only). Returns NAN with ops->status
 * set when an op failed. */
double nested_step_ops_f64(const cf_nested_config *c, const double *params, const cf_nested_batch *b, int lo, int hi,
                           double scale, double *probs, double *grad, double *work, nested_ops *ops);
double nested_step_ops_f32(const cf_nested_config *c, const float *params, const cf_nested_batch *b, int lo, int hi,
                           double scale, float *probs, float *grad, float *work, nested_ops *ops);

/* The ops table over the CPU reference (the twin the GPU ops are checked
 * against, and what the tests run the ops plumbing through), for batches
 * of up to max_batch samples. */
int nested_ops_cpu_create(const cf_nested_config *c, int max_batch, nested_ops **out);
/* The ops table on cuDNN and cuBLAS (nested_gpu.c): CF_ERR_UNSUPPORTED or
 * CF_ERR_DEVICE with the reason in errbuf where no device or library. */
int nested_ops_gpu_create(const cf_nested_config *c, int max_batch, nested_ops **out, char *errbuf);
void nested_ops_free(nested_ops *ops);
/* The CPU twins' dense layer (cf_nn_dense_*_f32), shared by both tables. */
int nn_ops_cpu_dense_forward(void *ctx, int layer, int B, int I, int O, const float *x, const float *w, const float *b,
                             float *y);
int nn_ops_cpu_dense_backward(void *ctx, int layer, int B, int I, int O, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db);

/* The FlowPic CNN step's dense convolutions (layer 0: conv1 of the mini
 * model; 1: conv2 of both; the official conv1 stays sparse, on the host)
 * and dense layers (0: fc1, 1: fc2, 2: out) through a table, float32, as
 * nested_ops does for the nested model: the CPU twin (the reference's own
 * layers, so the step gives its bits) or the GPU layers. Pooling, ReLU,
 * dropout and softmax stay in the step, on the host. Each returns 0 or a
 * cf_status with the message in errbuf. */
typedef struct flowpic_ops {
	void *ctx;
	char *errbuf;
	int (*conv_forward)(void *ctx, int layer, const cf_nn_conv2d_dims *d, const float *x, const float *w,
	                    const float *b, float *y);
	int (*conv_backward)(void *ctx, int layer, const cf_nn_conv2d_dims *d, const float *x, const float *w,
	                     const float *dy, float *dx, float *dw, float *db);
	nn_dense_forward_op dense_forward;
	nn_dense_backward_op dense_backward;
	void (*destroy)(void *ctx);
	int status; /* the first failure of a step (0 = none) */
} flowpic_ops;

/* cf_flowpic_cnn_step_* with the layers above through ops (NULL: the
 * reference; float64 takes NULL only). NAN with ops->status set when an op
 * failed. */
double flowpic_step_ops_f64(const cf_flowpic_cnn_config *c, const double *params, const cf_flowpic_batch *b, int lo,
                            int hi, double scale, int training, double *probs, double *grad, double *work,
                            flowpic_ops *ops);
double flowpic_step_ops_f32(const cf_flowpic_cnn_config *c, const float *params, const cf_flowpic_batch *b, int lo,
                            int hi, double scale, int training, float *probs, float *grad, float *work,
                            flowpic_ops *ops);
/* The step's convolution layer (0 or 1) for a batch of B (flowpic_cnn.c). */
void flowpic_conv_dims(const cf_flowpic_cnn_config *c, const cf_flowpic_cnn_shape *sh, int layer, int B,
                       cf_nn_conv2d_dims *d);
/* The CPU twin (flowpic_cnn.c) and the GPU ops (flowpic_gpu.c: one
 * cf_nn_gpu_conv2d / cf_nn_gpu_dense per layer, sized for max_batch). */
int flowpic_ops_cpu_create(flowpic_ops **out);
int flowpic_ops_gpu_create(const cf_flowpic_cnn_config *c, int max_batch, flowpic_ops **out, char *errbuf);
void flowpic_ops_free(flowpic_ops *ops);

/* One packet of a record as Joy lists it. */
typedef struct nn_pkt {
	uint32_t b, ipt;
	int8_t dir; /* 1 ">" (sa to da), 0 "<" */
} nn_pkt;

/* Flow records held for training or evaluation, raw (featurized per batch
 * by the model's input mode). */
typedef struct nn_dataset {
	size_t n, cap;
	uint64_t *pkt_off, *out_off, *in_off; /* n + 1 */
	nn_pkt *pkts;
	uint16_t *ids;                        /* out and in lists, both indexed by their offsets */
	size_t pkts_cap, ids_cap, n_pkts, n_ids;
	int16_t *ttl_out, *ttl_in;            /* -1 absent */
	double *root;                         /* n x 5 raw: bytes_in, bytes_out, pkts_in, pkts_out, seconds */
	int32_t *label;
	char **classes;                       /* class names in index order (sorted when the data named them) */
	int n_classes;
	uint64_t skipped_unlabelled, skipped_unknown;
} nn_dataset;

void nn_dataset_free(nn_dataset *d);
/* Appends one record under class index label; CF_OK or CF_ERR_NOMEM. */
int nn_dataset_add(nn_dataset *d, const cf_joy_flow *f, int32_t label);
/* The label text of a record under a label mode (NULL: none); buf holds it. */
const char *nn_record_label(int mode, const char *path, const cf_joy_flow *f, char *buf, size_t cap);
/* Reads every input, labels by mode; with fixed_classes the labels map onto
 * them (others are counted in skipped_unknown), else the classes are the
 * sorted distinct labels. */
int nn_dataset_load(nn_dataset *d, const char *const *inputs, int n_inputs, int mode, char *const *fixed_classes,
                    int n_fixed, uint64_t max_flows,
                    void (*progress)(void *, uint64_t, uint64_t, uint64_t), void *user, char *errbuf);

/* FlowPic images (nn_images.c): sparse pixel lists, (c, y, x) order. */
typedef struct nn_images {
	size_t n, n_cap;
	int channels, size;
	uint64_t *off;                 /* n + 1 into the pixel arrays */
	int32_t *pc, *py, *px;
	float *pv;
	size_t nnz, cap;
	int32_t *label;
	char **classes;                /* sorted names, or the fixed ones */
	int n_classes;
	uint64_t skipped_unlabelled;   /* no label, or one outside the classes */
	char *preset, *options;        /* meta.json's preset and options (text) when every
	                                  directory has the same; else NULL */
} nn_images;

void nn_images_free(nn_images *d);
/* `cuflow flowpic` directories (flowpic.npy or flowpic-NNNNN.npy shards,
 * labels, meta.json's class names); with fixed the labels map onto those
 * classes by name. */
int nn_images_load(nn_images *d, const char *const *dirs, int n_dirs, char *const *fixed, int n_fixed, uint64_t max,
                   void (*progress)(void *, uint64_t, uint64_t, uint64_t), void *user, char *errbuf);

/* The flowpic directories of inputs (a file stands for its directory;
 * each once, in order); free each and the array. */
char **nn_images_dirs(const char *const *in, int n, int *count);
/* Every image of one flowpic directory (labels not needed; label 0). */
int nn_images_load_all(nn_images *d, const char *dir, char *errbuf);

/* Fills batch slot k from a record: scaled and truncated (default) or raw
 * (reference_compat); nn_batch_finish sets the padded lengths. */
void nn_batch_put(const cf_nested_config *c, cf_nested_batch *b, int k, const nn_pkt *pk, size_t npk,
                  const uint16_t *io, size_t nio, const uint16_t *ii, size_t nii, int ttl_out, int ttl_in,
                  const double root[5], int32_t label);
void nn_batch_put_index(const cf_nested_config *c, cf_nested_batch *b, int k, const nn_dataset *d, size_t i);
void nn_batch_finish(const cf_nested_config *c, cf_nested_batch *b);
void nn_record_root(const cf_joy_flow *f, double root[5]);

/* A `cuflow extract` dataset directory (npy layout) read as flow records
 * (nn_extract.c): 1 when path is a directory whose schema.json has
 * features and sequences. next() gives CF_OK, CF_EOF, or an error with
 * the message in nn_extract_error; the record's arrays and label are the
 * reader's until the next call. */
typedef struct nn_extract nn_extract;
int nn_extract_is_dataset(const char *path);
int nn_extract_open(const char *dir, nn_extract **out, char *errbuf);
int nn_extract_next(nn_extract *x, cf_joy_flow *f);
const char *nn_extract_error(const nn_extract *x);
void nn_extract_close(nn_extract *x);

/* predict for a FlowPic CNN on captures (nn_predict_captures.c): the
 * images made with the model's recorded preset, one row per image (the
 * FlowPic index row, the file, the prediction), through the sink `format`. */
int nn_predict_captures(cf_model *m, const char *const *inputs, int n_inputs, const char *out, const char *format,
                        const cf_predict_opts *o, uint64_t *rows_out, char *errbuf);

/* A fixed set of worker threads for the batch (the caller works too).
 * run() calls fn(arg, job, worker) for job = 0 .. jobs-1, each once,
 * worker in [0, nn_pool_workers) naming the caller's scratch slot. */
typedef struct nn_pool nn_pool;
int nn_pool_create(int threads, nn_pool **out);
int nn_pool_workers(const nn_pool *p);
void nn_pool_run(nn_pool *p, void (*fn)(void *arg, int job, int worker), void *arg, int jobs);
void nn_pool_free(nn_pool *p);
int nn_cpu_count(void);

/* Samples per chunk: the unit of work and of gradient accumulation, so
 * sums happen in the same order whatever the thread count. The official
 * FlowPic CNN takes NN_CHUNK_OFFICIAL: its batches are small (16) and a
 * sample's activations large (10 x 300 x 300 after conv1), so chunks of 4
 * let the threads share a batch and keep each worker's scratch at a
 * quarter. */
#define NN_CHUNK 16
#define NN_CHUNK_OFFICIAL 4

struct cf_model {
	int arch;               /* NN_ARCH_* */
	int n_classes;
	cf_nested_config cfg;   /* NN_ARCH_NESTED */
	cf_flowpic_cnn_config fcfg; /* NN_ARCH_FLOWPIC */
	float *params;
	size_t n_params;
	char **classes;
	/* scratch, allocated on first use */
	nn_pool *pool;
	int pool_threads;
	float *work;            /* workers x work_elems */
	size_t work_elems;
	float *chunk_grads;     /* chunks x n_params */
	int chunk_cap;
	double *chunk_loss;
	/* cf_model_set_backend(CUDA): whole batches through the GPU ops */
	nested_ops *ops;
	flowpic_ops *fops;      /* the FlowPic CNN's, instead (CUDA backend) */
	int ops_batch;
	float *ops_work;        /* the step's workspace for ops_batch samples */
	char err[CF_ERRBUF_SIZE]; /* why the last nn_model_run_batch failed */
	/* FlowPic CNNs: how the training images were made (meta.json's preset
	 * and options object), so predict can make them from captures; NULL
	 * when unknown or mixed */
	char *fp_preset, *fp_options;
};

enum { NN_ARCH_NESTED = 0, NN_ARCH_FLOWPIC };

/* The model's parameter table (either architecture), up to cap entries;
 * returns the count. */
int nn_model_params(const cf_model *m, cf_nn_param *out, int cap);
/* A FlowPic CNN with PyTorch's default initialisation. */
int nn_model_create_flowpic(const cf_flowpic_cnn_config *c, uint64_t seed, const char *const *class_names,
                            cf_model **out, char *errbuf);

/* Parallel forward (grad NULL) or forward + backward over the first n
 * samples of an architecture's batch (training: dropout on): the loss sum
 * scaled by `scale`, probs (n x classes), gradients summed chunk by chunk
 * in order into grad (overwritten). */
int nn_model_run_batch(cf_model *m, const void *batch, int n, int threads, double scale, int training,
                       float *probs, float *grad, double *loss);
/* Copies why the model's last run failed into errbuf when errbuf is still
 * empty ("out of memory" when the model gave no reason). */
void nn_model_error(const cf_model *m, int rc, char *errbuf);

/* How the training loop reaches a model's samples: puts sample i of
 * `data` into slot k of `batch` (seed: the sample's dropout seed). */
typedef struct nn_feed {
	const void *data;
	void *batch;
	void (*clear)(void *batch);
	void (*put)(const cf_model *m, const void *data, void *batch, int k, size_t i, uint64_t seed);
	void (*finish)(const cf_model *m, const void *data, void *batch);
	const int32_t *(*labels)(const void *batch);
} nn_feed;

void nn_nested_feed(nn_feed *f, const nn_dataset *d, cf_nested_batch *b);

/* Sample indices of the splits (into one seeded permutation). */
typedef struct nn_splits {
	size_t *train, *val, *test;
	size_t n_train, n_val, n_test;
} nn_splits;

/* The seeded permutation of n samples and its splits (test first, then
 * validation unless own_val); rs continues as the epochs' shuffle state. */
int nn_split(size_t n, const cf_train_opts *o, int own_val, uint64_t *rs, size_t **perm, nn_splits *sp, char *errbuf);
/* With a validation or test set of its own (own_val / test_inputs), that
 * split's indices are 0..n-1 of its own data: *idx (free it) and n. */
int nn_own_split(size_t n, size_t **idx);
/* The training loop (Adam, plateau, early stop, best weights, metrics.csv,
 * curves, the test split's evaluation) over a created model; vf and xf feed
 * the validation and test splits (the training data's feed, or their own
 * sets'); `what` names the samples ("flows", "images"). */
int nn_fit(cf_model *m, const nn_feed *tf, const nn_feed *vf, const nn_feed *xf, const nn_splits *sp, size_t n_data,
           uint64_t *rs, const cf_train_opts *o, const char *out_dir, const char *what, char *errbuf);

/* Parallel forward (grad NULL) or forward + backward over b: the loss sum
 * scaled by `scale`, probs (b->n x classes), gradients summed chunk by
 * chunk in order into grad (overwritten). */
int nn_model_run(cf_model *m, const cf_nested_batch *b, int threads, double scale, float *probs, float *grad,
                 double *loss);

/* A whole file, NUL-terminated (NULL with the reason in errbuf). */
char *nn_slurp(const char *path, size_t *len, char *errbuf);
/* The value after the first "key": in js (NULL when absent). */
const char *nn_json_value(const char *js, const char *key);
/* The JSON string at p into out (cap bytes, escapes decoded); the position
 * after its closing quote, or NULL. */
const char *nn_json_string(const char *p, char *out, size_t cap);
/* The JSON array of strings at p (at '['): malloc'd strings, *count of
 * them (NULL, 0 when p is not such an array). */
char **nn_json_strings(const char *p, int *count);

uint64_t nn_rng_next(uint64_t *s);
double nn_rng_uniform(uint64_t *s); /* [0, 1) */
int nn_mkdir_p(const char *dir, char *errbuf);

#ifdef __cplusplus
}
#endif

#endif
