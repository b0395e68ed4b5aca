/*
 * The GPU LSTM, dense and conv2d layers (host/private/cuflow/nn_gpu.h): the
 * LSTM on cuDNN 9's RNN API (cudnnRNNForward, cudnnRNNBackwardData_v8,
 * cudnnRNNBackwardWeights_v8), the dense layer on cuBLAS sgemm, the
 * convolution on cuDNN's convolution API (cudnnConvolutionForward,
 * BackwardData, BackwardFilter: deprecated in cuDNN 9 but exported, and
 * the shortest road to a checked layer; the graph API is the successor),
 * all checked against the CPU reference (cuflow/nn.h, nn_conv.h) by
 * tests/gpu/test_nn_cuda.cpp.
 * This is the only file that calls cuDNN.
 *
 * cuDNN and cuBLAS are loaded at run time with dlopen, as netml loads
 * cuFFT (netml_features.cu): they are large and optional, so a CUDA build
 * still starts and runs everything else on a machine without them, and
 * cf_nn_gpu_available says what is missing. Only their headers are needed
 * at build time; without them (CMake defines CUFLOW_NN_GPU_STUB) this file
 * compiles to stubs that fail with CF_ERR_UNSUPPORTED. The function
 * pointers take their types from the headers (decltype), so a signature
 * cannot drift from the declaration.
 *
 * Weight layout: cuDNN keeps all parameters in one opaque weight space;
 * cudnnGetRNNWeightParams(pseudoLayer 0, linLayerID) gives each block's
 * address. IDs 0..3 are the input matrices W_i, W_f, W_g, W_o (H x I,
 * row-major) with their biases bW (H), IDs 4..7 the recurrent R_i..R_o
 * (H x H) with bR, the same gate order as PyTorch, so PyTorch's
 * weight_ih_l0 row block q (rows qH..qH+H-1) is linLayerID q, weight_hh_l0's
 * is 4+q, bias_ih_l0[qH..] is ID q's bias and bias_hh_l0[qH..] ID 4+q's.
 * The addresses are asked for once (for the weight space and for the
 * gradient space, which has the same layout) and the block shapes checked.
 *
 * Gradients: the gradient space is zeroed and cudnnRNNBackwardWeights_v8
 * runs with CUDNN_WGRAD_MODE_ADD, which gives exactly what MODE_SET would.
 * NVIDIA's API reference has said that only ADD is supported by this call
 * (recalled, not checked on cuDNN 9.19), and TensorFlow's and NVIDIA's own
 * RNN sample do zero + ADD, so this is the form known to run. Then the
 * blocks are read back per gate into PyTorch layout and ADDED into the
 * caller's arrays on the host.
 */
#include <dlfcn.h>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include <cuda_runtime.h>

#include "cuda_api.h"
#include "cuflow/nn_conv.h"
#include "cuflow/nn_gpu.h"

#if !defined(CUFLOW_NN_GPU_STUB) && defined(__has_include)
#if __has_include(<cudnn.h>) && __has_include(<cublas_v2.h>)
#define CF_NN_GPU_REAL 1
#endif
#endif

namespace {

__attribute__((format(printf, 2, 3))) void seterr(char *errbuf, const char *fmt, ...)
{
	if (!errbuf)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, CF_ERRBUF_SIZE, fmt, ap);
	va_end(ap);
}

} // namespace

#ifdef CF_NN_GPU_REAL

#include <cublas_v2.h>
#include <cudnn.h>

namespace {

// ------------------------------------------------------------------ loading

#define CF_DNN_FUNCS(X)                                                                                       \
	X(cudnnGetVersion)                                                                                        \
	X(cudnnGetErrorString)                                                                                    \
	X(cudnnCreate)                                                                                            \
	X(cudnnDestroy)                                                                                           \
	X(cudnnSetStream)                                                                                         \
	X(cudnnCreateTensorDescriptor)                                                                            \
	X(cudnnDestroyTensorDescriptor)                                                                           \
	X(cudnnSetTensorNdDescriptor)                                                                             \
	X(cudnnGetTensorNdDescriptor)                                                                             \
	X(cudnnCreateDropoutDescriptor)                                                                           \
	X(cudnnDestroyDropoutDescriptor)                                                                          \
	X(cudnnDropoutGetStatesSize)                                                                              \
	X(cudnnSetDropoutDescriptor)                                                                              \
	X(cudnnCreateRNNDescriptor)                                                                               \
	X(cudnnDestroyRNNDescriptor)                                                                              \
	X(cudnnSetRNNDescriptor_v8)                                                                               \
	X(cudnnGetRNNWeightSpaceSize)                                                                             \
	X(cudnnGetRNNWeightParams)                                                                                \
	X(cudnnGetRNNTempSpaceSizes)                                                                              \
	X(cudnnCreateRNNDataDescriptor)                                                                           \
	X(cudnnDestroyRNNDataDescriptor)                                                                          \
	X(cudnnSetRNNDataDescriptor)                                                                              \
	X(cudnnRNNForward)                                                                                        \
	X(cudnnRNNBackwardData_v8)                                                                                \
	X(cudnnRNNBackwardWeights_v8)                                                                             \
	X(cudnnSetTensor4dDescriptor)                                                                             \
	X(cudnnCreateFilterDescriptor)                                                                            \
	X(cudnnDestroyFilterDescriptor)                                                                           \
	X(cudnnSetFilter4dDescriptor)                                                                             \
	X(cudnnCreateConvolutionDescriptor)                                                                       \
	X(cudnnDestroyConvolutionDescriptor)                                                                      \
	X(cudnnSetConvolution2dDescriptor)                                                                        \
	X(cudnnSetConvolutionMathType)                                                                            \
	X(cudnnGetConvolution2dForwardOutputDim)                                                                  \
	X(cudnnGetConvolutionForwardAlgorithm_v7)                                                                 \
	X(cudnnGetConvolutionBackwardDataAlgorithm_v7)                                                            \
	X(cudnnGetConvolutionBackwardFilterAlgorithm_v7)                                                          \
	X(cudnnConvolutionForward)                                                                                \
	X(cudnnConvolutionBackwardData)                                                                           \
	X(cudnnConvolutionBackwardFilter)

#define CF_BLAS_FUNCS(X)                                                                                      \
	X(cublasCreate_v2)                                                                                        \
	X(cublasDestroy_v2)                                                                                       \
	X(cublasSetStream_v2)                                                                                     \
	X(cublasSetMathMode)                                                                                      \
	X(cublasSgemm_v2)

#define CF_DECLARE_PTR(f) decltype(&::f) f;

struct dnn_api {
	int ok;
	char why[256];
	CF_DNN_FUNCS(CF_DECLARE_PTR)
	decltype(&::cudnnGetLastErrorString) last_error; // optional
};

struct blas_api {
	int ok;
	char why[256];
	CF_BLAS_FUNCS(CF_DECLARE_PTR)
	decltype(&::cublasGetStatusString) status_string; // optional
};

void *open_first(const char *const *names, size_t n, char *why, size_t whyn, const char *what)
{
	const char *err = nullptr;
	for (size_t i = 0; i < n; i++) {
		if (!names[i] || !*names[i])
			continue;
		void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (h)
			return h;
		err = dlerror();
	}
	snprintf(why, whyn, "%s not loaded (%s)", what, err ? err : "no library name");
	return nullptr;
}

dnn_api load_dnn()
{
	dnn_api a;
	memset(&a, 0, sizeof a);
	// CUFLOW_CUDNN_LIB names the library where it is not on the loader's
	// path (e.g. pip's nvidia-cudnn-cu12 wheel)
	const char *names[] = {getenv("CUFLOW_CUDNN_LIB"), "libcudnn.so.9", "libcudnn.so"};
	void *h = open_first(names, sizeof names / sizeof *names, a.why, sizeof a.why,
	                     "cuDNN (libcudnn.so.9; set CUFLOW_CUDNN_LIB)");
	if (!h)
		return a;
	const char *missing = nullptr;
#define CF_LOAD(f)                                                                                            \
	if (!(a.f = (decltype(a.f))dlsym(h, #f)) && !missing)                                                     \
		missing = #f;
	CF_DNN_FUNCS(CF_LOAD)
#undef CF_LOAD
	a.last_error = (decltype(a.last_error))dlsym(h, "cudnnGetLastErrorString");
	if (missing) {
		snprintf(a.why, sizeof a.why, "cuDNN loaded, but it has no %s (cuDNN 9 needed)", missing);
		return a;
	}
	size_t v = a.cudnnGetVersion();
	if (v < 90000) {
		snprintf(a.why, sizeof a.why, "cuDNN version %zu loaded; cuDNN 9 is needed", v);
		return a;
	}
	a.ok = 1;
	return a;
}

blas_api load_blas()
{
	blas_api a;
	memset(&a, 0, sizeof a);
	const char *names[] = {getenv("CUFLOW_CUBLAS_LIB"), "libcublas.so.13", "libcublas.so.12", "libcublas.so.11",
	                       "libcublas.so"};
	void *h = open_first(names, sizeof names / sizeof *names, a.why, sizeof a.why,
	                     "cuBLAS (libcublas.so.13/.12/.11; set CUFLOW_CUBLAS_LIB)");
	if (!h)
		return a;
	const char *missing = nullptr;
#define CF_LOAD(f)                                                                                            \
	if (!(a.f = (decltype(a.f))dlsym(h, #f)) && !missing)                                                     \
		missing = #f;
	CF_BLAS_FUNCS(CF_LOAD)
#undef CF_LOAD
	a.status_string = (decltype(a.status_string))dlsym(h, "cublasGetStatusString");
	if (missing) {
		snprintf(a.why, sizeof a.why, "cuBLAS loaded, but it has no %s", missing);
		return a;
	}
	a.ok = 1;
	return a;
}

// Loaded once (thread-safe static initialisation); never unloaded.
const dnn_api &dnn()
{
	static const dnn_api a = load_dnn();
	return a;
}
const blas_api &blas()
{
	static const blas_api a = load_blas();
	return a;
}

// ------------------------------------------------------------------ errors

int cuda_fail(char *errbuf, const char *expr, cudaError_t e, int line)
{
	seterr(errbuf, "%s failed: %s (nn_cudnn.cu:%d)", expr, cudaGetErrorString(e), line);
	cudaGetLastError(); // clear the sticky error of the failure
	return CF_ERR_DEVICE;
}

int dnn_fail(char *errbuf, const char *fn, cudnnStatus_t s, int line)
{
	char detail[256] = "";
	if (dnn().last_error)
		dnn().last_error(detail, sizeof detail);
	seterr(errbuf, "%s failed: %s (%d)%s%s (nn_cudnn.cu:%d)", fn, dnn().cudnnGetErrorString(s), (int)s,
	       detail[0] ? ": " : "", detail, line);
	cudaGetLastError();
	return CF_ERR_DEVICE;
}

int blas_fail(char *errbuf, const char *fn, cublasStatus_t s, int line)
{
	seterr(errbuf, "%s failed: %s (%d) (nn_cudnn.cu:%d)", fn,
	       blas().status_string ? blas().status_string(s) : "cuBLAS error", (int)s, line);
	cudaGetLastError();
	return CF_ERR_DEVICE;
}

#define CUDA_TRY(expr)                                                                                        \
	do {                                                                                                      \
		cudaError_t e_ = (expr);                                                                              \
		if (e_ != cudaSuccess)                                                                                \
			return cuda_fail(errbuf, #expr, e_, __LINE__);                                                    \
	} while (0)

#define DNN_TRY(fn, ...)                                                                                      \
	do {                                                                                                      \
		cudnnStatus_t s_ = dnn().fn(__VA_ARGS__);                                                             \
		if (s_ != CUDNN_STATUS_SUCCESS)                                                                       \
			return dnn_fail(errbuf, #fn, s_, __LINE__);                                                       \
	} while (0)

#define BLAS_TRY(fn, ...)                                                                                     \
	do {                                                                                                      \
		cublasStatus_t s_ = blas().fn(__VA_ARGS__);                                                           \
		if (s_ != CUBLAS_STATUS_SUCCESS)                                                                      \
			return blas_fail(errbuf, #fn, s_, __LINE__);                                                      \
	} while (0)

template <class T> cudaError_t dalloc(T **p, size_t n)
{
	*p = nullptr;
	return cudaMalloc((void **)p, (n ? n : 1) * sizeof(T));
}
template <class T> cudaError_t h2d(T *dst, const T *src, size_t n, cudaStream_t s)
{
	return n ? cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyHostToDevice, s) : cudaSuccess;
}
template <class T> cudaError_t d2h(T *dst, const T *src, size_t n, cudaStream_t s)
{
	return n ? cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost, s) : cudaSuccess;
}

// A device that runs this build's kernels (cf_cuda_probe); with need_dnn
// / need_blas the libraries too. 1 or 0 with the reason.
int ready(char *errbuf, int need_dnn, int need_blas)
{
	const char *why = nullptr;
	if (cf_cuda_probe(&why) <= 0) {
		seterr(errbuf, "no usable CUDA device: %s", why ? why : "unknown reason");
		return 0;
	}
	if (need_dnn && !dnn().ok) {
		seterr(errbuf, "%s", dnn().why);
		return 0;
	}
	if (need_blas && !blas().ok) {
		seterr(errbuf, "%s", blas().why);
		return 0;
	}
	return 1;
}

// On an error the copies already queued may still be in flight: drain the
// stream before the caller sees the status (and may free its arrays).
int finish(cudaStream_t s, int st)
{
	if (st != CF_OK && s) {
		cudaStreamSynchronize(s);
		cudaGetLastError();
	}
	return st;
}

// ------------------------------------------------------------------ kernels

__global__ void add_bias_kernel(float *y, const float *b, int B, int O)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < (size_t)B * O)
		y[i] += b[i % O];
}

// db[o] = sum over b of dy[b][o], in order of b (deterministic).
__global__ void col_sum_kernel(const float *dy, float *db, int B, int O)
{
	int o = blockIdx.x * blockDim.x + threadIdx.x;
	if (o < O) {
		float s = 0;
		for (int b = 0; b < B; b++)
			s += dy[(size_t)b * O + o];
		db[o] = s;
	}
}

unsigned blocks_for(size_t n, unsigned threads)
{
	return (unsigned)((n + threads - 1) / threads);
}

} // namespace

// ================================================================== LSTM

struct cf_nn_gpu_lstm {
	int I, H, max_batch, max_steps;
	cudaStream_t stream;
	cudnnHandle_t dnn;
	cudnnRNNDescriptor_t rnn;
	cudnnDropoutDescriptor_t drop;
	cudnnRNNDataDescriptor_t xdesc, ydesc;
	cudnnTensorDescriptor_t hdesc, mdesc, bdesc;
	void *drop_states;
	size_t drop_bytes;
	size_t wbytes;
	void *wspace, *gspace;    // weights, and their gradients (same layout)
	float *wmat[8], *wbias[8]; // blocks of linLayerID 0..7 in wspace
	float *gmat[8], *gbias[8]; // ... and in gspace
	size_t work_bytes, reserve_bytes; // allocated
	void *work, *reserve;
	size_t cur_work, cur_reserve; // what the last forward's shape needs
	float *x, *y, *dx, *dy, *hy, *dhy; // device; dy stays 0
	int32_t *dlen;
	int *hlen;        // host lengths of the last forward
	float *host_grad; // 4H*I + 4H*H + 8H: the gradients read back, PyTorch layout
	int B, T;         // the last forward's shape
	int have_weights, trained;
};

namespace {

// Addresses of linLayerID id's matrix and bias in space, with the block
// shapes checked: H x cols floats, packed; bias H floats.
int weight_block(cf_nn_gpu_lstm *g, void *space, int id, float **mat, float **bias, char *errbuf)
{
	void *m = nullptr, *b = nullptr;
	DNN_TRY(cudnnGetRNNWeightParams, g->dnn, g->rnn, 0, g->wbytes, space, id, g->mdesc, &m, g->bdesc, &b);
	const size_t cols = id < 4 ? (size_t)g->I : (size_t)g->H;
	struct {
		cudnnTensorDescriptor_t d;
		void *p;
		size_t want;
		const char *what;
	} blk[2] = {{g->mdesc, m, (size_t)g->H * cols, "matrix"}, {g->bdesc, b, (size_t)g->H, "bias"}};
	for (auto &k : blk) {
		cudnnDataType_t dt;
		int nb = 0, dims[8] = {0}, strides[8] = {0};
		DNN_TRY(cudnnGetTensorNdDescriptor, k.d, 8, &dt, &nb, dims, strides);
		size_t count = 1;
		for (int i = 0; i < nb && i < 8; i++)
			count *= (size_t)dims[i];
		const bool packed = nb >= 1 && nb <= 8 && strides[nb - 1] == 1;
		if (!k.p || dt != CUDNN_DATA_FLOAT || count != k.want || !packed) {
			seterr(errbuf,
			       "cudnnGetRNNWeightParams: linLayerID %d %s is %s, type %d, %d dims [%d %d %d], inner stride %d; "
			       "expected %zu packed floats (H %d, cols %zu)",
			       id, k.what, k.p ? "present" : "absent", (int)dt, nb, dims[0], dims[1], dims[2],
			       nb >= 1 && nb <= 8 ? strides[nb - 1] : 0, k.want, g->H, cols);
			return CF_ERR_DEVICE;
		}
		const char *base = (const char *)space, *p = (const char *)k.p;
		if (p < base || p + k.want * sizeof(float) > base + g->wbytes) {
			seterr(errbuf, "cudnnGetRNNWeightParams: linLayerID %d %s lies outside the weight space", id, k.what);
			return CF_ERR_DEVICE;
		}
	}
	*mat = (float *)m;
	*bias = (float *)b;
	return CF_OK;
}

// Sets the x/y data descriptors and h descriptor for B samples of T steps
// with g->hlen, and sizes the temp spaces for mode (grown if ever needed).
int shape(cf_nn_gpu_lstm *g, int B, int T, cudnnForwardMode_t mode, char *errbuf)
{
	float fill = 0.0f;
	DNN_TRY(cudnnSetRNNDataDescriptor, g->xdesc, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, T, B,
	        g->I, g->hlen, &fill);
	DNN_TRY(cudnnSetRNNDataDescriptor, g->ydesc, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, T, B,
	        g->H, g->hlen, &fill);
	const int dims[3] = {1, B, g->H}, strides[3] = {B * g->H, g->H, 1};
	DNN_TRY(cudnnSetTensorNdDescriptor, g->hdesc, CUDNN_DATA_FLOAT, 3, dims, strides);
	size_t ws = 0, rs = 0;
	DNN_TRY(cudnnGetRNNTempSpaceSizes, g->dnn, g->rnn, mode, g->xdesc, &ws, &rs);
	if (ws > g->work_bytes || rs > g->reserve_bytes) {
		// create sized these for max_batch x max_steps; a smaller shape
		// should never need more, but if it does, grow rather than fail
		CUDA_TRY(cudaStreamSynchronize(g->stream));
		if (ws > g->work_bytes) {
			CUDA_TRY(cudaFree(g->work));
			g->work = nullptr;
			g->work_bytes = 0;
			CUDA_TRY(cudaMalloc(&g->work, ws));
			g->work_bytes = ws;
		}
		if (rs > g->reserve_bytes) {
			CUDA_TRY(cudaFree(g->reserve));
			g->reserve = nullptr;
			g->reserve_bytes = 0;
			CUDA_TRY(cudaMalloc(&g->reserve, rs));
			g->reserve_bytes = rs;
		}
	}
	g->cur_work = ws;
	g->cur_reserve = mode == CUDNN_FWD_MODE_TRAINING ? rs : 0;
	return CF_OK;
}

int lstm_create(cf_nn_gpu_lstm *g, char *errbuf)
{
	const size_t I = g->I, H = g->H, MB = g->max_batch, MT = g->max_steps;
	CUDA_TRY(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
	DNN_TRY(cudnnCreate, &g->dnn);
	DNN_TRY(cudnnSetStream, g->dnn, g->stream);
	DNN_TRY(cudnnCreateRNNDescriptor, &g->rnn);
	DNN_TRY(cudnnCreateDropoutDescriptor, &g->drop);
	DNN_TRY(cudnnCreateRNNDataDescriptor, &g->xdesc);
	DNN_TRY(cudnnCreateRNNDataDescriptor, &g->ydesc);
	DNN_TRY(cudnnCreateTensorDescriptor, &g->hdesc);
	DNN_TRY(cudnnCreateTensorDescriptor, &g->mdesc);
	DNN_TRY(cudnnCreateTensorDescriptor, &g->bdesc);

	// Dropout p = 0 (one layer: cuDNN applies dropout between layers only).
	DNN_TRY(cudnnDropoutGetStatesSize, g->dnn, &g->drop_bytes);
	CUDA_TRY(cudaMalloc(&g->drop_states, g->drop_bytes ? g->drop_bytes : 1));
	DNN_TRY(cudnnSetDropoutDescriptor, g->drop, g->dnn, 0.0f, g->drop_states, g->drop_bytes, 0ULL);

	DNN_TRY(cudnnSetRNNDescriptor_v8, g->rnn, CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
	        CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH, g->I, g->H,
	        g->H /* projSize = hidden: no projection */, 1, g->drop, CUDNN_RNN_PADDED_IO_ENABLED);

	DNN_TRY(cudnnGetRNNWeightSpaceSize, g->dnn, g->rnn, &g->wbytes);
	CUDA_TRY(cudaMalloc(&g->wspace, g->wbytes));
	CUDA_TRY(cudaMalloc(&g->gspace, g->wbytes));
	CUDA_TRY(cudaMemsetAsync(g->wspace, 0, g->wbytes, g->stream));
	CUDA_TRY(cudaMemsetAsync(g->gspace, 0, g->wbytes, g->stream));
	for (int id = 0; id < 8; id++) {
		int st = weight_block(g, g->wspace, id, &g->wmat[id], &g->wbias[id], errbuf);
		if (st == CF_OK)
			st = weight_block(g, g->gspace, id, &g->gmat[id], &g->gbias[id], errbuf);
		if (st != CF_OK)
			return st;
	}

	g->hlen = (int *)malloc(MB * sizeof(int));
	g->host_grad = (float *)malloc((4 * H * I + 4 * H * H + 8 * H) * sizeof(float));
	if (!g->hlen || !g->host_grad) {
		seterr(errbuf, "cf_nn_gpu_lstm_create: out of host memory");
		return CF_ERR_NOMEM;
	}

	// Temp spaces for the largest shape, both modes.
	for (size_t b = 0; b < MB; b++)
		g->hlen[b] = (int)MT;
	int st = shape(g, (int)MB, (int)MT, CUDNN_FWD_MODE_INFERENCE, errbuf);
	if (st == CF_OK)
		st = shape(g, (int)MB, (int)MT, CUDNN_FWD_MODE_TRAINING, errbuf);
	if (st != CF_OK)
		return st;

	CUDA_TRY(dalloc(&g->x, MB * MT * I));
	CUDA_TRY(dalloc(&g->dx, MB * MT * I));
	CUDA_TRY(dalloc(&g->y, MB * MT * H));
	CUDA_TRY(dalloc(&g->dy, MB * MT * H));
	CUDA_TRY(dalloc(&g->hy, MB * H));
	CUDA_TRY(dalloc(&g->dhy, MB * H));
	CUDA_TRY(dalloc(&g->dlen, MB));
	CUDA_TRY(cudaMemsetAsync(g->dy, 0, MB * MT * H * sizeof(float), g->stream));
	CUDA_TRY(cudaStreamSynchronize(g->stream));
	return CF_OK;
}

int lstm_set_weights(cf_nn_gpu_lstm *g, const float *w_ih, const float *w_hh, const float *b_ih, const float *b_hh,
                     char *errbuf)
{
	const size_t I = g->I, H = g->H;
	g->trained = 0; // a pending backward would mix two sets of weights
	g->have_weights = 0;
	for (size_t q = 0; q < 4; q++) {
		CUDA_TRY(h2d(g->wmat[q], w_ih + q * H * I, H * I, g->stream));
		CUDA_TRY(h2d(g->wmat[4 + q], w_hh + q * H * H, H * H, g->stream));
		CUDA_TRY(h2d(g->wbias[q], b_ih + q * H, H, g->stream));
		CUDA_TRY(h2d(g->wbias[4 + q], b_hh + q * H, H, g->stream));
	}
	CUDA_TRY(cudaStreamSynchronize(g->stream));
	g->have_weights = 1;
	return CF_OK;
}

int lstm_forward(cf_nn_gpu_lstm *g, int B, int T, const float *x, const int32_t *len, float *h_last, int training,
                 char *errbuf)
{
	g->trained = 0;
	if (!g->have_weights) {
		seterr(errbuf, "cf_nn_gpu_lstm_forward: no weights (call cf_nn_gpu_lstm_set_weights first)");
		return CF_ERR_ARG;
	}
	if (B < 1 || B > g->max_batch || T < 1 || T > g->max_steps || !x || !h_last) {
		seterr(errbuf, "cf_nn_gpu_lstm_forward: B %d (1..%d), T %d (1..%d), x %p, h_last %p", B, g->max_batch, T,
		       g->max_steps, (const void *)x, (void *)h_last);
		return CF_ERR_ARG;
	}
	for (int b = 0; b < B; b++) {
		const int L = len ? len[b] : T;
		if (L < 1 || L > T) {
			seterr(errbuf,
			       "cf_nn_gpu_lstm_forward: len[%d] = %d, outside 1..T (%d) (cuDNN runs no empty sequence)", b,
			       L, T);
			return CF_ERR_ARG;
		}
		g->hlen[b] = L;
	}
	const cudnnForwardMode_t mode = training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE;
	int st = shape(g, B, T, mode, errbuf);
	if (st != CF_OK)
		return st;
	const size_t I = g->I, H = g->H;
	CUDA_TRY(h2d(g->x, x, (size_t)B * T * I, g->stream));
	CUDA_TRY(h2d(g->dlen, (const int32_t *)g->hlen, (size_t)B, g->stream));
	// hx = cx = NULL: zero initial state; cy not wanted; hy = each
	// sample's state after its own last step.
	DNN_TRY(cudnnRNNForward, g->dnn, g->rnn, mode, g->dlen, g->xdesc, g->x, g->ydesc, g->y, g->hdesc, nullptr, g->hy,
	        g->hdesc, nullptr, nullptr, g->wbytes, g->wspace, g->cur_work, g->work, g->cur_reserve,
	        training ? g->reserve : nullptr);
	CUDA_TRY(d2h(h_last, g->hy, (size_t)B * H, g->stream));
	CUDA_TRY(cudaStreamSynchronize(g->stream));
	g->B = B;
	g->T = T;
	g->trained = training ? 1 : 0;
	return CF_OK;
}

int lstm_backward(cf_nn_gpu_lstm *g, const float *dh_last, float *dx, float *dw_ih, float *dw_hh, float *db_ih,
                  float *db_hh, char *errbuf)
{
	if (!g->trained) {
		seterr(errbuf, "cf_nn_gpu_lstm_backward: needs a training forward (training = 1) just before, and "
		               "runs once per forward");
		return CF_ERR_ARG;
	}
	if (!dh_last || !dw_ih || !dw_hh || !db_ih || !db_hh) {
		seterr(errbuf, "cf_nn_gpu_lstm_backward: NULL dh_last or weight gradient");
		return CF_ERR_ARG;
	}
	g->trained = 0; // BackwardData uses (and may change) the reserve space
	const int B = g->B, T = g->T;
	const size_t I = g->I, H = g->H;
	CUDA_TRY(h2d(g->dhy, dh_last, (size_t)B * H, g->stream));
	// The loss reads only h_last: dy = 0 at every step, the gradient in
	// dhy; no dcy (NULL = 0), no dhx/dcx wanted, hx = cx = NULL as forward.
	DNN_TRY(cudnnRNNBackwardData_v8, g->dnn, g->rnn, g->dlen, g->ydesc, g->y, g->dy, g->xdesc, g->dx, g->hdesc,
	        nullptr, g->dhy, nullptr, g->hdesc, nullptr, nullptr, nullptr, g->wbytes, g->wspace, g->cur_work, g->work,
	        g->cur_reserve, g->reserve);
	// Zero + ADD = SET (see the top of the file).
	CUDA_TRY(cudaMemsetAsync(g->gspace, 0, g->wbytes, g->stream));
	DNN_TRY(cudnnRNNBackwardWeights_v8, g->dnn, g->rnn, CUDNN_WGRAD_MODE_ADD, g->dlen, g->xdesc, g->x, g->hdesc,
	        nullptr, g->ydesc, g->y, g->wbytes, g->gspace, g->cur_work, g->work, g->cur_reserve, g->reserve);
	float *gw_ih = g->host_grad, *gw_hh = gw_ih + 4 * H * I, *gb_ih = gw_hh + 4 * H * H, *gb_hh = gb_ih + 4 * H;
	for (size_t q = 0; q < 4; q++) {
		CUDA_TRY(d2h(gw_ih + q * H * I, g->gmat[q], H * I, g->stream));
		CUDA_TRY(d2h(gw_hh + q * H * H, g->gmat[4 + q], H * H, g->stream));
		CUDA_TRY(d2h(gb_ih + q * H, g->gbias[q], H, g->stream));
		CUDA_TRY(d2h(gb_hh + q * H, g->gbias[4 + q], H, g->stream));
	}
	if (dx)
		CUDA_TRY(d2h(dx, g->dx, (size_t)B * T * I, g->stream));
	CUDA_TRY(cudaStreamSynchronize(g->stream));
	for (size_t i = 0; i < 4 * H * I; i++)
		dw_ih[i] += gw_ih[i];
	for (size_t i = 0; i < 4 * H * H; i++)
		dw_hh[i] += gw_hh[i];
	for (size_t i = 0; i < 4 * H; i++) {
		db_ih[i] += gb_ih[i];
		db_hh[i] += gb_hh[i];
	}
	if (dx) // the steps past a sample's length do not reach h_last
		for (int b = 0; b < B; b++)
			memset(dx + ((size_t)b * T + g->hlen[b]) * I, 0, (size_t)(T - g->hlen[b]) * I * sizeof(float));
	return CF_OK;
}

} // namespace

extern "C" int cf_nn_gpu_available(char *errbuf)
{
	return ready(errbuf, 1, 1);
}

extern "C" void cf_nn_gpu_lstm_destroy(cf_nn_gpu_lstm *g)
{
	if (!g)
		return;
	if (g->stream)
		cudaStreamSynchronize(g->stream);
	if (g->dnn) { // the descriptors exist only once cuDNN is loaded
		const dnn_api &D = dnn();
		if (g->xdesc)
			D.cudnnDestroyRNNDataDescriptor(g->xdesc);
		if (g->ydesc)
			D.cudnnDestroyRNNDataDescriptor(g->ydesc);
		if (g->hdesc)
			D.cudnnDestroyTensorDescriptor(g->hdesc);
		if (g->mdesc)
			D.cudnnDestroyTensorDescriptor(g->mdesc);
		if (g->bdesc)
			D.cudnnDestroyTensorDescriptor(g->bdesc);
		if (g->rnn)
			D.cudnnDestroyRNNDescriptor(g->rnn);
		if (g->drop)
			D.cudnnDestroyDropoutDescriptor(g->drop);
		D.cudnnDestroy(g->dnn);
	}
	void *dev[] = {g->drop_states, g->wspace, g->gspace, g->work, g->reserve, g->x,
	               g->y,           g->dx,     g->dy,     g->hy,   g->dhy,     g->dlen};
	for (void *p : dev)
		if (p)
			cudaFree(p);
	if (g->stream)
		cudaStreamDestroy(g->stream);
	cudaGetLastError();
	free(g->hlen);
	free(g->host_grad);
	free(g);
}

extern "C" int cf_nn_gpu_lstm_create(int input, int hidden, int max_batch, int max_steps, cf_nn_gpu_lstm **out,
                                     char *errbuf)
{
	if (!out) {
		seterr(errbuf, "cf_nn_gpu_lstm_create: NULL out");
		return CF_ERR_ARG;
	}
	*out = nullptr;
	// cuDNN takes int sizes; keep every buffer's element count well inside them
	const double biggest = (double)max_batch * max_steps * (input > hidden ? input : hidden);
	if (input < 1 || hidden < 1 || max_batch < 1 || max_steps < 1 || biggest > 2147483647.0 ||
	    (double)hidden * 4 * (input > hidden ? input : hidden) > 2147483647.0) {
		seterr(errbuf, "cf_nn_gpu_lstm_create: input %d, hidden %d, max_batch %d, max_steps %d (each >= 1, "
		               "batch x steps x width < 2^31)",
		       input, hidden, max_batch, max_steps);
		return CF_ERR_ARG;
	}
	if (!ready(errbuf, 1, 0))
		return CF_ERR_DEVICE;
	cf_nn_gpu_lstm *g = (cf_nn_gpu_lstm *)calloc(1, sizeof *g);
	if (!g) {
		seterr(errbuf, "cf_nn_gpu_lstm_create: out of host memory");
		return CF_ERR_NOMEM;
	}
	g->I = input;
	g->H = hidden;
	g->max_batch = max_batch;
	g->max_steps = max_steps;
	int st = lstm_create(g, errbuf);
	if (st != CF_OK) {
		cf_nn_gpu_lstm_destroy(g);
		return st;
	}
	*out = g;
	return CF_OK;
}

extern "C" int cf_nn_gpu_lstm_set_weights(cf_nn_gpu_lstm *g, const float *w_ih, const float *w_hh, const float *b_ih,
                                          const float *b_hh, char *errbuf)
{
	if (!g || !w_ih || !w_hh || !b_ih || !b_hh) {
		seterr(errbuf, "cf_nn_gpu_lstm_set_weights: NULL argument");
		return CF_ERR_ARG;
	}
	return finish(g->stream, lstm_set_weights(g, w_ih, w_hh, b_ih, b_hh, errbuf));
}

extern "C" int cf_nn_gpu_lstm_forward(cf_nn_gpu_lstm *g, int B, int T, const float *x, const int32_t *len,
                                      float *h_last, int training, char *errbuf)
{
	if (!g) {
		seterr(errbuf, "cf_nn_gpu_lstm_forward: NULL handle");
		return CF_ERR_ARG;
	}
	return finish(g->stream, lstm_forward(g, B, T, x, len, h_last, training, errbuf));
}

extern "C" int cf_nn_gpu_lstm_backward(cf_nn_gpu_lstm *g, const float *dh_last, float *dx, float *dw_ih,
                                       float *dw_hh, float *db_ih, float *db_hh, char *errbuf)
{
	if (!g) {
		seterr(errbuf, "cf_nn_gpu_lstm_backward: NULL handle");
		return CF_ERR_ARG;
	}
	return finish(g->stream, lstm_backward(g, dh_last, dx, dw_ih, dw_hh, db_ih, db_hh, errbuf));
}

// ================================================================== dense

struct cf_nn_gpu_dense {
	int I, O, max_batch;
	cudaStream_t stream;
	cublasHandle_t blas;
	float *x, *w, *b, *y, *dy, *dx, *dw, *db; // device
	float *host_grad;                          // O*I + O
};

namespace {

int dense_create(cf_nn_gpu_dense *d, char *errbuf)
{
	const size_t I = d->I, O = d->O, MB = d->max_batch;
	CUDA_TRY(cudaStreamCreateWithFlags(&d->stream, cudaStreamNonBlocking));
	BLAS_TRY(cublasCreate_v2, &d->blas);
	BLAS_TRY(cublasSetStream_v2, d->blas, d->stream);
	// Plain FP32 (no TF32 tensor-op math), like the LSTM's FMA math.
	BLAS_TRY(cublasSetMathMode, d->blas, CUBLAS_DEFAULT_MATH);
	CUDA_TRY(dalloc(&d->x, MB * I));
	CUDA_TRY(dalloc(&d->dx, MB * I));
	CUDA_TRY(dalloc(&d->w, O * I));
	CUDA_TRY(dalloc(&d->dw, O * I));
	CUDA_TRY(dalloc(&d->b, O));
	CUDA_TRY(dalloc(&d->db, O));
	CUDA_TRY(dalloc(&d->y, MB * O));
	CUDA_TRY(dalloc(&d->dy, MB * O));
	d->host_grad = (float *)malloc((O * I + O) * sizeof(float));
	if (!d->host_grad) {
		seterr(errbuf, "cf_nn_gpu_dense_create: out of host memory");
		return CF_ERR_NOMEM;
	}
	return CF_OK;
}

// Row-major arrays seen by column-major cuBLAS: a row-major R x C array is
// the column-major C x R array (its transpose) with leading dimension C.
int dense_forward(cf_nn_gpu_dense *d, int B, const float *x, const float *w, const float *b, float *y, char *errbuf)
{
	const int I = d->I, O = d->O;
	CUDA_TRY(h2d(d->x, x, (size_t)B * I, d->stream));
	CUDA_TRY(h2d(d->w, w, (size_t)O * I, d->stream));
	CUDA_TRY(h2d(d->b, b, (size_t)O, d->stream));
	const float one = 1.0f, zero = 0.0f;
	// y^T (O x B) = w (O x I; stored as w^T, I x O, ld I; so op T) . x^T (I x B, ld I)
	BLAS_TRY(cublasSgemm_v2, d->blas, CUBLAS_OP_T, CUBLAS_OP_N, O, B, I, &one, d->w, I, d->x, I, &zero, d->y, O);
	const size_t n = (size_t)B * O;
	add_bias_kernel<<<blocks_for(n, 256), 256, 0, d->stream>>>(d->y, d->b, B, O);
	CUDA_TRY(cudaGetLastError());
	CUDA_TRY(d2h(y, d->y, n, d->stream));
	CUDA_TRY(cudaStreamSynchronize(d->stream));
	return CF_OK;
}

int dense_backward(cf_nn_gpu_dense *d, int B, const float *x, const float *w, const float *dy, float *dx, float *dw,
                   float *db, char *errbuf)
{
	const int I = d->I, O = d->O;
	const float one = 1.0f, zero = 0.0f;
	CUDA_TRY(h2d(d->x, x, (size_t)B * I, d->stream));
	CUDA_TRY(h2d(d->dy, dy, (size_t)B * O, d->stream));
	if (dx) {
		CUDA_TRY(h2d(d->w, w, (size_t)O * I, d->stream));
		// dx = dy w: dx^T (I x B, ld I) = w^T (I x O, ld I) . dy^T (O x B, ld O)
		BLAS_TRY(cublasSgemm_v2, d->blas, CUBLAS_OP_N, CUBLAS_OP_N, I, B, O, &one, d->w, I, d->dy, O, &zero, d->dx,
		         I);
	}
	// dw = dy^T x: dw^T (I x O, ld I) = x^T (I x B, ld I) . dy (B x O; stored as dy^T, O x B, ld O; op T)
	BLAS_TRY(cublasSgemm_v2, d->blas, CUBLAS_OP_N, CUBLAS_OP_T, I, O, B, &one, d->x, I, d->dy, O, &zero, d->dw, I);
	col_sum_kernel<<<blocks_for((size_t)O, 128), 128, 0, d->stream>>>(d->dy, d->db, B, O);
	CUDA_TRY(cudaGetLastError());
	float *gw = d->host_grad, *gb = gw + (size_t)O * I;
	CUDA_TRY(d2h(gw, d->dw, (size_t)O * I, d->stream));
	CUDA_TRY(d2h(gb, d->db, (size_t)O, d->stream));
	if (dx)
		CUDA_TRY(d2h(dx, d->dx, (size_t)B * I, d->stream));
	CUDA_TRY(cudaStreamSynchronize(d->stream));
	for (size_t i = 0; i < (size_t)O * I; i++)
		dw[i] += gw[i];
	for (int o = 0; o < O; o++)
		db[o] += gb[o];
	return CF_OK;
}

} // namespace

extern "C" void cf_nn_gpu_dense_destroy(cf_nn_gpu_dense *d)
{
	if (!d)
		return;
	if (d->stream)
		cudaStreamSynchronize(d->stream);
	if (d->blas)
		blas().cublasDestroy_v2(d->blas);
	float *dev[] = {d->x, d->w, d->b, d->y, d->dy, d->dx, d->dw, d->db};
	for (float *p : dev)
		if (p)
			cudaFree(p);
	if (d->stream)
		cudaStreamDestroy(d->stream);
	cudaGetLastError();
	free(d->host_grad);
	free(d);
}

extern "C" int cf_nn_gpu_dense_create(int input, int output, int max_batch, cf_nn_gpu_dense **out, char *errbuf)
{
	if (!out) {
		seterr(errbuf, "cf_nn_gpu_dense_create: NULL out");
		return CF_ERR_ARG;
	}
	*out = nullptr;
	const int wider = input > output ? input : output;
	if (input < 1 || output < 1 || max_batch < 1 || (double)max_batch * wider > 2147483647.0 ||
	    (double)input * output > 2147483647.0) {
		seterr(errbuf, "cf_nn_gpu_dense_create: input %d, output %d, max_batch %d (each >= 1, products < 2^31)",
		       input, output, max_batch);
		return CF_ERR_ARG;
	}
	if (!ready(errbuf, 0, 1))
		return CF_ERR_DEVICE;
	cf_nn_gpu_dense *d = (cf_nn_gpu_dense *)calloc(1, sizeof *d);
	if (!d) {
		seterr(errbuf, "cf_nn_gpu_dense_create: out of host memory");
		return CF_ERR_NOMEM;
	}
	d->I = input;
	d->O = output;
	d->max_batch = max_batch;
	int st = dense_create(d, errbuf);
	if (st != CF_OK) {
		cf_nn_gpu_dense_destroy(d);
		return st;
	}
	*out = d;
	return CF_OK;
}

extern "C" int cf_nn_gpu_dense_forward(cf_nn_gpu_dense *d, int B, const float *x, const float *w, const float *b,
                                       float *y, char *errbuf)
{
	if (!d || B < 1 || B > (d ? d->max_batch : 0) || !x || !w || !b || !y) {
		seterr(errbuf, "cf_nn_gpu_dense_forward: NULL argument or B %d outside 1..max_batch (%d)", B,
		       d ? d->max_batch : 0);
		return CF_ERR_ARG;
	}
	return finish(d->stream, dense_forward(d, B, x, w, b, y, errbuf));
}

extern "C" int cf_nn_gpu_dense_backward(cf_nn_gpu_dense *d, int B, const float *x, const float *w, const float *dy,
                                        float *dx, float *dw, float *db, char *errbuf)
{
	if (!d || B < 1 || B > (d ? d->max_batch : 0) || !x || !dy || !dw || !db || (dx && !w)) {
		seterr(errbuf, "cf_nn_gpu_dense_backward: NULL argument or B %d outside 1..max_batch (%d)", B,
		       d ? d->max_batch : 0);
		return CF_ERR_ARG;
	}
	return finish(d->stream, dense_backward(d, B, x, w, dy, dx, dw, db, errbuf));
}

// ================================================================== conv2d

// The largest workspace an algorithm may ask for (the start-up check).
const size_t kConvWorkspaceLimit = (size_t)256 << 20;

struct cf_nn_gpu_conv2d {
	cf_nn_conv2d_dims d; // B = max batch
	int OH, OW, Hp, Wp;  // output, and the input with its padding
	cudaStream_t stream;
	cudnnHandle_t dnn;
	cudnnTensorDescriptor_t xdesc, ydesc;
	cudnnFilterDescriptor_t wdesc;
	cudnnConvolutionDescriptor_t conv;
	cudnnConvolutionFwdAlgo_t fwd;
	cudnnConvolutionBwdDataAlgo_t bwd_data;
	cudnnConvolutionBwdFilterAlgo_t bwd_filter;
	size_t work_bytes;
	void *work;
	float *xp, *dxp, *w, *dw, *b, *db, *y, *dy; // device
	float *host_grad;                            // dw and db read back
	int desc_batch;                              // the batch the tensor descriptors hold
};

namespace {

// x (B x C x H x W) into its padded copy (B x C x Hp x Wp), zeros around.
__global__ void pad_kernel(const float *x, float *xp, int B, int C, int H, int W, int Hp, int Wp, int pt, int pl)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (size_t)B * C * Hp * Wp)
		return;
	const int px = (int)(i % Wp), py = (int)(i / Wp % Hp);
	const size_t plane = i / ((size_t)Wp * Hp);
	const int iy = py - pt, ix = px - pl;
	xp[i] = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[(plane * H + iy) * W + ix] : 0.0f;
}

// dx = the inner H x W of the padded gradient (the padding's share is dropped).
__global__ void unpad_kernel(const float *dxp, float *dx, int B, int C, int H, int W, int Hp, int Wp, int pt, int pl)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (size_t)B * C * H * W)
		return;
	const int ix = (int)(i % W), iy = (int)(i / W % H);
	const size_t plane = i / ((size_t)W * H);
	dx[i] = dxp[(plane * Hp + iy + pt) * Wp + ix + pl];
}

// y[b][o][.] += bias[o]
__global__ void conv_bias_kernel(float *y, const float *b, int B, int O, int plane)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < (size_t)B * O * plane)
		y[i] += b[i / plane % O];
}

// db[o] = the sum of dy[b][o][.] over (b, oy, ox) in order, one thread per
// channel: deterministic, and the CPU's order.
__global__ void conv_bias_grad_kernel(const float *dy, float *db, int B, int O, int plane)
{
	int o = blockIdx.x * blockDim.x + threadIdx.x;
	if (o >= O)
		return;
	float s = 0;
	for (int b = 0; b < B; b++) {
		const float *p = dy + ((size_t)b * O + o) * plane;
		for (int k = 0; k < plane; k++)
			s += p[k];
	}
	db[o] = s;
}

int conv_set_batch(cf_nn_gpu_conv2d *g, int B, char *errbuf)
{
	if (g->desc_batch == B)
		return CF_OK;
	const cf_nn_conv2d_dims &d = g->d;
	DNN_TRY(cudnnSetTensor4dDescriptor, g->xdesc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, B, d.C, g->Hp, g->Wp);
	DNN_TRY(cudnnSetTensor4dDescriptor, g->ydesc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, B, d.O, g->OH, g->OW);
	g->desc_batch = B;
	return CF_OK;
}

// The start-up check: for the largest batch, the first algorithm of each
// direction (cuDNN's heuristic order) that succeeds, fits the workspace
// limit and, for the two backward ones, is deterministic (the same
// gradients every run, as on the CPU).
int conv_choose(cf_nn_gpu_conv2d *g, char *errbuf)
{
	const int n = 16;
	int got = 0;
	size_t work = 0;
	{
		cudnnConvolutionFwdAlgoPerf_t perf[16];
		DNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7, g->dnn, g->xdesc, g->wdesc, g->conv, g->ydesc, n, &got, perf);
		int k = 0;
		while (k < got && (perf[k].status != CUDNN_STATUS_SUCCESS || perf[k].memory > kConvWorkspaceLimit))
			k++;
		if (k == got) {
			seterr(errbuf, "cf_nn_gpu_conv2d_create: no forward convolution algorithm fits %zu MB of workspace",
			       kConvWorkspaceLimit >> 20);
			return CF_ERR_DEVICE;
		}
		g->fwd = perf[k].algo;
		work = perf[k].memory;
	}
	{
		cudnnConvolutionBwdDataAlgoPerf_t perf[16];
		DNN_TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7, g->dnn, g->wdesc, g->ydesc, g->conv, g->xdesc, n, &got,
		        perf);
		int k = 0;
		while (k < got && (perf[k].status != CUDNN_STATUS_SUCCESS || perf[k].memory > kConvWorkspaceLimit ||
		                   perf[k].determinism != CUDNN_DETERMINISTIC))
			k++;
		if (k == got) {
			seterr(errbuf, "cf_nn_gpu_conv2d_create: no deterministic backward-data algorithm fits %zu MB",
			       kConvWorkspaceLimit >> 20);
			return CF_ERR_DEVICE;
		}
		g->bwd_data = perf[k].algo;
		work = perf[k].memory > work ? perf[k].memory : work;
	}
	{
		cudnnConvolutionBwdFilterAlgoPerf_t perf[16];
		DNN_TRY(cudnnGetConvolutionBackwardFilterAlgorithm_v7, g->dnn, g->xdesc, g->ydesc, g->conv, g->wdesc, n,
		        &got, perf);
		int k = 0;
		while (k < got && (perf[k].status != CUDNN_STATUS_SUCCESS || perf[k].memory > kConvWorkspaceLimit ||
		                   perf[k].determinism != CUDNN_DETERMINISTIC))
			k++;
		if (k == got) {
			seterr(errbuf, "cf_nn_gpu_conv2d_create: no deterministic backward-filter algorithm fits %zu MB",
			       kConvWorkspaceLimit >> 20);
			return CF_ERR_DEVICE;
		}
		g->bwd_filter = perf[k].algo;
		work = perf[k].memory > work ? perf[k].memory : work;
	}
	g->work_bytes = work;
	CUDA_TRY(cudaMalloc(&g->work, work ? work : 1));
	return CF_OK;
}

int conv_create(cf_nn_gpu_conv2d *g, char *errbuf)
{
	const cf_nn_conv2d_dims &d = g->d;
	const size_t MB = d.B;
	CUDA_TRY(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
	DNN_TRY(cudnnCreate, &g->dnn);
	DNN_TRY(cudnnSetStream, g->dnn, g->stream);
	DNN_TRY(cudnnCreateTensorDescriptor, &g->xdesc);
	DNN_TRY(cudnnCreateTensorDescriptor, &g->ydesc);
	DNN_TRY(cudnnCreateFilterDescriptor, &g->wdesc);
	DNN_TRY(cudnnCreateConvolutionDescriptor, &g->conv);
	DNN_TRY(cudnnSetFilter4dDescriptor, g->wdesc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, d.O, d.C, d.KH, d.KW);
	// Padding is done by pad_kernel (cuDNN's is symmetric; Keras "same" is not).
	DNN_TRY(cudnnSetConvolution2dDescriptor, g->conv, 0, 0, d.sy, d.sx, 1, 1, CUDNN_CROSS_CORRELATION,
	        CUDNN_DATA_FLOAT);
	// FP32 with FMA kernels only: no TF32 tensor-core math, as for the LSTM.
	DNN_TRY(cudnnSetConvolutionMathType, g->conv, CUDNN_FMA_MATH);
	int st = conv_set_batch(g, d.B, errbuf);
	if (st != CF_OK)
		return st;
	int n, c, h, w;
	DNN_TRY(cudnnGetConvolution2dForwardOutputDim, g->conv, g->xdesc, g->wdesc, &n, &c, &h, &w);
	if (n != d.B || c != d.O || h != g->OH || w != g->OW) {
		seterr(errbuf, "cf_nn_gpu_conv2d_create: cuDNN's output %d x %d x %d x %d, not cf_nn_conv2d_out's %d x %d x %d x %d",
		       n, c, h, w, d.B, d.O, g->OH, g->OW);
		return CF_ERR_DEVICE;
	}
	if ((st = conv_choose(g, errbuf)) != CF_OK)
		return st;
	const size_t xn = MB * d.C * g->Hp * g->Wp, wn = (size_t)d.O * d.C * d.KH * d.KW, yn = MB * d.O * g->OH * g->OW;
	CUDA_TRY(dalloc(&g->xp, xn));
	CUDA_TRY(dalloc(&g->dxp, xn));
	CUDA_TRY(dalloc(&g->w, wn));
	CUDA_TRY(dalloc(&g->dw, wn));
	CUDA_TRY(dalloc(&g->b, (size_t)d.O));
	CUDA_TRY(dalloc(&g->db, (size_t)d.O));
	CUDA_TRY(dalloc(&g->y, yn));
	CUDA_TRY(dalloc(&g->dy, yn));
	g->host_grad = (float *)malloc((wn + d.O) * sizeof(float));
	if (!g->host_grad) {
		seterr(errbuf, "cf_nn_gpu_conv2d_create: out of host memory");
		return CF_ERR_NOMEM;
	}
	return CF_OK;
}

int conv_upload_x(cf_nn_gpu_conv2d *g, int B, const float *x, char *errbuf)
{
	const cf_nn_conv2d_dims &d = g->d;
	const size_t xn = (size_t)B * d.C * d.H * d.W, pn = (size_t)B * d.C * g->Hp * g->Wp;
	// the unpadded x goes to the front of dxp (free until a backward needs it), then is padded into xp
	CUDA_TRY(h2d(g->dxp, x, xn, g->stream));
	pad_kernel<<<blocks_for(pn, 256), 256, 0, g->stream>>>(g->dxp, g->xp, B, d.C, d.H, d.W, g->Hp, g->Wp, d.pad_t,
	                                                       d.pad_l);
	CUDA_TRY(cudaGetLastError());
	return CF_OK;
}

int conv_forward(cf_nn_gpu_conv2d *g, int B, const float *x, const float *w, const float *b, float *y, char *errbuf)
{
	const cf_nn_conv2d_dims &d = g->d;
	int st;
	if ((st = conv_set_batch(g, B, errbuf)) != CF_OK || (st = conv_upload_x(g, B, x, errbuf)) != CF_OK)
		return st;
	CUDA_TRY(h2d(g->w, w, (size_t)d.O * d.C * d.KH * d.KW, g->stream));
	CUDA_TRY(h2d(g->b, b, (size_t)d.O, g->stream));
	const float one = 1.0f, zero = 0.0f;
	DNN_TRY(cudnnConvolutionForward, g->dnn, &one, g->xdesc, g->xp, g->wdesc, g->w, g->conv, g->fwd, g->work,
	        g->work_bytes, &zero, g->ydesc, g->y);
	const size_t yn = (size_t)B * d.O * g->OH * g->OW;
	conv_bias_kernel<<<blocks_for(yn, 256), 256, 0, g->stream>>>(g->y, g->b, B, d.O, g->OH * g->OW);
	CUDA_TRY(cudaGetLastError());
	CUDA_TRY(d2h(y, g->y, yn, g->stream));
	CUDA_TRY(cudaStreamSynchronize(g->stream));
	return CF_OK;
}

int conv_backward(cf_nn_gpu_conv2d *g, int B, const float *x, const float *w, const float *dy, float *dx, float *dw,
                  float *db, char *errbuf)
{
	const cf_nn_conv2d_dims &d = g->d;
	const size_t wn = (size_t)d.O * d.C * d.KH * d.KW, yn = (size_t)B * d.O * g->OH * g->OW;
	int st;
	if ((st = conv_set_batch(g, B, errbuf)) != CF_OK || (st = conv_upload_x(g, B, x, errbuf)) != CF_OK)
		return st;
	CUDA_TRY(h2d(g->dy, dy, yn, g->stream));
	const float one = 1.0f, zero = 0.0f;
	DNN_TRY(cudnnConvolutionBackwardFilter, g->dnn, &one, g->xdesc, g->xp, g->ydesc, g->dy, g->conv, g->bwd_filter,
	        g->work, g->work_bytes, &zero, g->wdesc, g->dw);
	conv_bias_grad_kernel<<<blocks_for((size_t)d.O, 64), 64, 0, g->stream>>>(g->dy, g->db, B, d.O, g->OH * g->OW);
	CUDA_TRY(cudaGetLastError());
	if (dx) {
		CUDA_TRY(h2d(g->w, w, wn, g->stream));
		DNN_TRY(cudnnConvolutionBackwardData, g->dnn, &one, g->wdesc, g->w, g->ydesc, g->dy, g->conv, g->bwd_data,
		        g->work, g->work_bytes, &zero, g->xdesc, g->dxp);
		// dx cut out of the padded gradient into xp, whose padded x the filter gradient has used (stream order)
		const size_t xn = (size_t)B * d.C * d.H * d.W;
		unpad_kernel<<<blocks_for(xn, 256), 256, 0, g->stream>>>(g->dxp, g->xp, B, d.C, d.H, d.W, g->Hp, g->Wp,
		                                                         d.pad_t, d.pad_l);
		CUDA_TRY(cudaGetLastError());
		CUDA_TRY(d2h(dx, g->xp, xn, g->stream));
	}
	float *gw = g->host_grad, *gb = gw + wn;
	CUDA_TRY(d2h(gw, g->dw, wn, g->stream));
	CUDA_TRY(d2h(gb, g->db, (size_t)d.O, g->stream));
	CUDA_TRY(cudaStreamSynchronize(g->stream));
	for (size_t i = 0; i < wn; i++)
		dw[i] += gw[i];
	for (int o = 0; o < d.O; o++)
		db[o] += gb[o];
	return CF_OK;
}

} // namespace

extern "C" void cf_nn_gpu_conv2d_destroy(cf_nn_gpu_conv2d *g)
{
	if (!g)
		return;
	if (g->stream)
		cudaStreamSynchronize(g->stream);
	if (g->conv)
		dnn().cudnnDestroyConvolutionDescriptor(g->conv);
	if (g->wdesc)
		dnn().cudnnDestroyFilterDescriptor(g->wdesc);
	if (g->xdesc)
		dnn().cudnnDestroyTensorDescriptor(g->xdesc);
	if (g->ydesc)
		dnn().cudnnDestroyTensorDescriptor(g->ydesc);
	if (g->dnn)
		dnn().cudnnDestroy(g->dnn);
	float *dev[] = {g->xp, g->dxp, g->w, g->dw, g->b, g->db, g->y, g->dy};
	for (float *p : dev)
		if (p)
			cudaFree(p);
	if (g->work)
		cudaFree(g->work);
	if (g->stream)
		cudaStreamDestroy(g->stream);
	cudaGetLastError();
	free(g->host_grad);
	free(g);
}

extern "C" int cf_nn_gpu_conv2d_create(const cf_nn_conv2d_dims *dims, cf_nn_gpu_conv2d **out, char *errbuf)
{
	if (!out) {
		seterr(errbuf, "cf_nn_gpu_conv2d_create: NULL out");
		return CF_ERR_ARG;
	}
	*out = nullptr;
	int OH = 0, OW = 0;
	if (!dims || cf_nn_conv2d_out(dims, &OH, &OW) != 0) {
		seterr(errbuf, "cf_nn_gpu_conv2d_create: invalid dimensions (cf_nn_conv2d_out refuses them)");
		return CF_ERR_ARG;
	}
	const double Hp = (double)dims->H + dims->pad_t + dims->pad_b, Wp = (double)dims->W + dims->pad_l + dims->pad_r;
	if ((double)dims->B * dims->C * Hp * Wp > 2147483647.0 || (double)dims->B * dims->O * OH * OW > 2147483647.0) {
		seterr(errbuf, "cf_nn_gpu_conv2d_create: a batch of %d is 2^31 elements or more", dims->B);
		return CF_ERR_ARG;
	}
	if (!ready(errbuf, 1, 0))
		return CF_ERR_DEVICE;
	cf_nn_gpu_conv2d *g = (cf_nn_gpu_conv2d *)calloc(1, sizeof *g);
	if (!g) {
		seterr(errbuf, "cf_nn_gpu_conv2d_create: out of host memory");
		return CF_ERR_NOMEM;
	}
	g->d = *dims;
	g->OH = OH;
	g->OW = OW;
	g->Hp = (int)Hp;
	g->Wp = (int)Wp;
	int st = conv_create(g, errbuf);
	if (st != CF_OK) {
		cf_nn_gpu_conv2d_destroy(g);
		return st;
	}
	*out = g;
	return CF_OK;
}

extern "C" int cf_nn_gpu_conv2d_forward(cf_nn_gpu_conv2d *g, int B, const float *x, const float *w, const float *bias,
                                        float *y, char *errbuf)
{
	if (!g || B < 1 || B > (g ? g->d.B : 0) || !x || !w || !bias || !y) {
		seterr(errbuf, "cf_nn_gpu_conv2d_forward: NULL argument or B %d outside 1..max batch (%d)", B,
		       g ? g->d.B : 0);
		return CF_ERR_ARG;
	}
	return finish(g->stream, conv_forward(g, B, x, w, bias, y, errbuf));
}

extern "C" int cf_nn_gpu_conv2d_backward(cf_nn_gpu_conv2d *g, int B, const float *x, const float *w, const float *dy,
                                         float *dx, float *dw, float *db, char *errbuf)
{
	if (!g || B < 1 || B > (g ? g->d.B : 0) || !x || !dy || !dw || !db || (dx && !w)) {
		seterr(errbuf, "cf_nn_gpu_conv2d_backward: NULL argument or B %d outside 1..max batch (%d)", B,
		       g ? g->d.B : 0);
		return CF_ERR_ARG;
	}
	return finish(g->stream, conv_backward(g, B, x, w, dy, dx, dw, db, errbuf));
}

#else // ---------------------------------------------------------- no cuDNN headers at build time

namespace {
int unsupported(char *errbuf)
{
	seterr(errbuf, "this cuflow was built without the cuDNN/cuBLAS headers: no GPU LSTM/dense layers "
	               "(reconfigure where cudnn.h and cublas_v2.h are found)");
	return CF_ERR_UNSUPPORTED;
}
} // namespace

struct cf_nn_gpu_lstm {
	int unused;
};
struct cf_nn_gpu_dense {
	int unused;
};
struct cf_nn_gpu_conv2d {
	int unused;
};

extern "C" int cf_nn_gpu_available(char *errbuf)
{
	unsupported(errbuf);
	return 0;
}
extern "C" int cf_nn_gpu_lstm_create(int, int, int, int, cf_nn_gpu_lstm **out, char *errbuf)
{
	if (out)
		*out = nullptr;
	return unsupported(errbuf);
}
extern "C" int cf_nn_gpu_lstm_set_weights(cf_nn_gpu_lstm *, const float *, const float *, const float *,
                                          const float *, char *errbuf)
{
	return unsupported(errbuf);
}
extern "C" int cf_nn_gpu_lstm_forward(cf_nn_gpu_lstm *, int, int, const float *, const int32_t *, float *, int,
                                      char *errbuf)
{
	return unsupported(errbuf);
}
extern "C" int cf_nn_gpu_lstm_backward(cf_nn_gpu_lstm *, const float *, float *, float *, float *, float *, float *,
                                       char *errbuf)
{
	return unsupported(errbuf);
}
extern "C" void cf_nn_gpu_lstm_destroy(cf_nn_gpu_lstm *)
{
}
extern "C" int cf_nn_gpu_dense_create(int, int, int, cf_nn_gpu_dense **out, char *errbuf)
{
	if (out)
		*out = nullptr;
	return unsupported(errbuf);
}
extern "C" int cf_nn_gpu_dense_forward(cf_nn_gpu_dense *, int, const float *, const float *, const float *, float *,
                                       char *errbuf)
{
	return unsupported(errbuf);
}
extern "C" int cf_nn_gpu_dense_backward(cf_nn_gpu_dense *, int, const float *, const float *, const float *, float *,
                                        float *, float *, char *errbuf)
{
	return unsupported(errbuf);
}
extern "C" void cf_nn_gpu_dense_destroy(cf_nn_gpu_dense *)
{
}

extern "C" int cf_nn_gpu_conv2d_create(const cf_nn_conv2d_dims *, cf_nn_gpu_conv2d **out, char *errbuf)
{
	if (out)
		*out = nullptr;
	return unsupported(errbuf);
}
extern "C" int cf_nn_gpu_conv2d_forward(cf_nn_gpu_conv2d *, int, const float *, const float *, const float *, float *,
                                        char *errbuf)
{
	return unsupported(errbuf);
}
extern "C" int cf_nn_gpu_conv2d_backward(cf_nn_gpu_conv2d *, int, const float *, const float *, const float *,
                                         float *, float *, float *, char *errbuf)
{
	return unsupported(errbuf);
}
extern "C" void cf_nn_gpu_conv2d_destroy(cf_nn_gpu_conv2d *)
{
}

#endif
