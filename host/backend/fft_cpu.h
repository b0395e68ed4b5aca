/* The CPU backend's FFT (FFTW): netml's np.real(np.fft.fft(v, n)) on
 * parts of the rows of a matrix, in place. Internal to host/backend. */
#ifndef CUFLOW_BACKEND_FFT_CPU_H
#define CUFLOW_BACKEND_FFT_CPU_H

#include <stdint.h>

/* For each of n_rows rows (stride doubles apart), replaces the n values
 * from column col0 by the real part of their DFT (no normalisation).
 * 0, or -1 when FFTW cannot plan or memory runs out. */
int cf_fft_real_part_rows(double *rows, uint64_t n_rows, uint32_t stride, uint32_t col0, uint32_t n);

#endif
