/*
 * Whether a CUDA build's kernel images can run on a device, from the
 * architecture list it was compiled for (CMAKE_CUDA_ARCHITECTURES with
 * ',' for ';') and the device's compute capability. Pure, so it is tested
 * on machines without a GPU; the probe also asks the driver
 * (cudaFuncGetAttributes), which has the last word.
 */
#ifndef CUFLOW_BACKEND_CUDA_ARCH_H
#define CUFLOW_BACKEND_CUDA_ARCH_H

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when some image in `archs` runs on compute capability major.minor:
 *   "NN-real"    machine code: runs on the same major, minor >= N's;
 *   "NN-virtual" PTX: JIT-compiled on any capability >= NN;
 *   "NN"         both;
 *   "NNa"        (arch-specific, e.g. 90a) only on exactly N.N;
 *   "NNf"        (family, e.g. 100f) the same major, minor >= N's.
 * 0 when none fits. -1 when the list says nothing checkable ("native",
 * "all", "all-major", empty): the driver's answer decides. */
int cf_cuda_arch_runs(const char *archs, int major, int minor);

#ifdef __cplusplus
}
#endif

#endif
