/*
 * CF_HD marks small pure functions that both gcc (host code, CPU tests) and
 * nvcc (kernels) compile, so the CPU reference and the CUDA backend share
 * per-element math bit for bit. Headers using it must be valid C11 and C++17:
 * fixed-width types, no VLAs, no compound literals, no implicit void* casts.
 */
#ifndef CUFLOW_HD_H
#define CUFLOW_HD_H

#if defined(__CUDACC__)
#define CF_HD __host__ __device__
#else
#define CF_HD
#endif

#ifdef __cplusplus
#define CF_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define CF_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

#endif
