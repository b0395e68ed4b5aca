/* Real part of the DFT of row segments with FFTW (see fft_cpu.h). One
 * r2c plan per call for the whole block of rows; the Hermitian half
 * gives the other half of the real parts: Re X[n-k] = Re X[k]. */
#include <fftw3.h>
#include <pthread.h>
#include <stdlib.h>

#include "fft_cpu.h"

int cf_fft_real_part_rows(double *rows, uint64_t n_rows, uint32_t stride, uint32_t col0, uint32_t n)
{
	if (!n_rows || !n)
		return 0;
	if (n_rows > 0x7fffffff || n > 0x7fffffff)
		return -1;
	int len = (int)n, half = (int)(n / 2 + 1);
	fftw_complex *spec = fftw_malloc(sizeof(fftw_complex) * (size_t)half * n_rows);
	if (!spec)
		return -1;
	/* FFTW_ESTIMATE plans without touching the arrays; r2c keeps its input.
	 * FFTW_UNALIGNED: no codelet chosen by the arrays' alignment, so the
	 * bits do not depend on where a block happened to be allocated (the
	 * run driver's workers must give the same bytes). The planner is not
	 * thread-safe (workers plan at the same time): planning and destroying
	 * hold one lock; executing does not need it. */
	static pthread_mutex_t planner = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&planner);
	fftw_plan p = fftw_plan_many_dft_r2c(1, &len, (int)n_rows, rows + col0, NULL, 1, (int)stride, spec, NULL, 1,
	                                     half, FFTW_ESTIMATE | FFTW_UNALIGNED);
	pthread_mutex_unlock(&planner);
	if (!p) {
		fftw_free(spec);
		return -1;
	}
	fftw_execute(p);
	pthread_mutex_lock(&planner);
	fftw_destroy_plan(p);
	pthread_mutex_unlock(&planner);
	for (uint64_t r = 0; r < n_rows; r++) {
		double *o = rows + r * stride + col0;
		const fftw_complex *x = spec + r * (uint64_t)half;
		for (uint32_t k = 0; k < n; k++)
			o[k] = x[k < (uint32_t)half ? k : n - k][0];
	}
	fftw_free(spec);
	return 0;
}
