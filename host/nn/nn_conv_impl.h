/*
 * The image layers' math (include/cuflow/nn_conv.h), written once for both
 * precisions: nn_conv.c includes this file twice, with NN_T = double /
 * NN_S = f64 and NN_T = float / NN_S = f32. Accumulation happens in NN_T.
 *
 * The orders of terms the header promises, and how the loops keep them:
 *   dense forward: each output row starts at the bias; then for c, ky, kx
 *     (ascending) the row gets w[o][c][ky][kx] * x[...] added at every
 *     output whose input column is inside the image. The innermost loop
 *     runs across outputs (ox), so each output's sum still meets its terms
 *     in (c, ky, kx) order.
 *   dense dw (and dx): for b, o, c, ky, oy, ox (ascending), the weight row
 *     w[o][c][ky][.] gets dy * x over the kx inside the image; the
 *     innermost loop runs across weights (kx), so each weight meets its
 *     terms in (b, oy, ox) order.
 *   sparse: pixels in (c, y, x) order; for a fixed output, (c, y, x)
 *     ascending is (c, ky, kx) ascending (ky = y + pad_t - oy*sy grows with
 *     y); for a fixed weight, (y, x) ascending is (oy, ox) ascending.
 */
#define NN_CAT2(a, b) a##_##b
#define NN_CAT(a, b) NN_CAT2(a, b)
#define NN_FN(name) NN_CAT(name, NN_S)

NN_CLONES void NN_FN(cf_nn_conv2d_forward)(const cf_nn_conv2d_dims *d, const NN_T *x, const NN_T *w,
                                           const NN_T *bias, NN_T *y)
{
	int OH, OW;
	if (cf_nn_conv2d_out(d, &OH, &OW) != 0)
		return;
	const int B = d->B, C = d->C, H = d->H, W = d->W, O = d->O, KH = d->KH, KW = d->KW;
	const int sy = d->sy, sx = d->sx, pt = d->pad_t, pl = d->pad_l;
	for (int b = 0; b < B; b++)
		for (int o = 0; o < O; o++)
			for (int oy = 0; oy < OH; oy++) {
				NN_T *restrict yr = y + (((size_t)b * O + o) * OH + oy) * OW;
				const NN_T bo = bias[o];
				for (int ox = 0; ox < OW; ox++)
					yr[ox] = bo;
				for (int c = 0; c < C; c++)
					for (int ky = 0; ky < KH; ky++) {
						const int iy = oy * sy + ky - pt;
						if (iy < 0 || iy >= H)
							continue;
						const NN_T *restrict xr = x + (((size_t)b * C + c) * H + iy) * W;
						const NN_T *wr = w + (((size_t)o * C + c) * KH + ky) * KW;
						for (int kx = 0; kx < KW; kx++) {
							int lo, hi;
							nn_conv_inside(kx - pl, sx, W, OW, &lo, &hi);
							const NN_T wv = wr[kx];
							const ptrdiff_t off = (ptrdiff_t)kx - pl;
							for (int ox = lo; ox < hi; ox++)
								yr[ox] += wv * xr[(ptrdiff_t)ox * sx + off];
						}
					}
			}
}

NN_CLONES void NN_FN(cf_nn_conv2d_backward)(const cf_nn_conv2d_dims *d, const NN_T *x, const NN_T *w,
                                            const NN_T *dy, NN_T *dx, NN_T *dw, NN_T *db)
{
	int OH, OW;
	if (cf_nn_conv2d_out(d, &OH, &OW) != 0)
		return;
	const int B = d->B, C = d->C, H = d->H, W = d->W, O = d->O, KH = d->KH, KW = d->KW;
	const int sy = d->sy, sx = d->sx, pt = d->pad_t, pl = d->pad_l;
	if (dx)
		memset(dx, 0, sizeof(NN_T) * (size_t)B * C * H * W);
	for (int b = 0; b < B; b++)
		for (int o = 0; o < O; o++) {
			const NN_T *dyo = dy + ((size_t)b * O + o) * OH * OW;
			NN_T acc = db[o];
			for (size_t k = 0; k < (size_t)OH * OW; k++)
				acc += dyo[k];
			db[o] = acc;
			for (int c = 0; c < C; c++)
				for (int ky = 0; ky < KH; ky++) {
					NN_T *restrict dwr = dw + (((size_t)o * C + c) * KH + ky) * KW;
					const NN_T *wr = w + (((size_t)o * C + c) * KH + ky) * KW;
					for (int oy = 0; oy < OH; oy++) {
						const int iy = oy * sy + ky - pt;
						if (iy < 0 || iy >= H)
							continue;
						const size_t row = (((size_t)b * C + c) * H + iy) * W;
						const NN_T *restrict xr = x + row;
						NN_T *restrict dxr = dx ? dx + row : NULL;
						for (int ox = 0; ox < OW; ox++) {
							const NN_T g = dyo[(size_t)oy * OW + ox];
							const int base = ox * sx - pl; /* input column of kx = 0 */
							const int klo = base < 0 ? -base : 0;
							const int khi = W - base < KW ? W - base : KW;
							for (int kx = klo; kx < khi; kx++)
								dwr[kx] += g * xr[base + kx];
							if (dxr)
								for (int kx = klo; kx < khi; kx++)
									dxr[base + kx] += wr[kx] * g;
						}
					}
				}
		}
}

void NN_FN(cf_nn_conv2d_sparse_forward)(const cf_nn_conv2d_dims *d, const NN_FN(cf_nn_sparse) * xs, const NN_T *w,
                                        const NN_T *bias, NN_T *y)
{
	int OH, OW;
	if (cf_nn_conv2d_out(d, &OH, &OW) != 0)
		return;
	const int B = d->B, C = d->C, O = d->O, KH = d->KH, KW = d->KW;
	const int sy = d->sy, sx = d->sx, pt = d->pad_t, pl = d->pad_l;
	const size_t plane = (size_t)OH * OW;
	for (int b = 0; b < B; b++) {
		NN_T *yb = y + (size_t)b * O * plane;
		for (int o = 0; o < O; o++) {
			const NN_T bo = bias[o];
			NN_T *yo = yb + (size_t)o * plane;
			for (size_t k = 0; k < plane; k++)
				yo[k] = bo;
		}
		for (int64_t k = xs->offsets[b]; k < xs->offsets[b + 1]; k++) {
			const int c = xs->c[k], iy = xs->y[k], ix = xs->x[k];
			const NN_T v = xs->value[k];
			int oylo, oyhi, oxlo, oxhi;
			nn_conv_covering(iy + pt, KH, sy, OH, &oylo, &oyhi);
			nn_conv_covering(ix + pl, KW, sx, OW, &oxlo, &oxhi);
			for (int o = 0; o < O; o++) {
				const NN_T *wc = w + ((size_t)o * C + c) * KH * KW;
				NN_T *yo = yb + (size_t)o * plane;
				for (int oy = oylo; oy < oyhi; oy++) {
					const NN_T *wr = wc + (size_t)(iy + pt - oy * sy) * KW;
					NN_T *yr = yo + (size_t)oy * OW;
					int kx = ix + pl - oxlo * sx;
					for (int ox = oxlo; ox < oxhi; ox++, kx -= sx)
						yr[ox] += wr[kx] * v;
				}
			}
		}
	}
}

void NN_FN(cf_nn_conv2d_sparse_backward)(const cf_nn_conv2d_dims *d, const NN_FN(cf_nn_sparse) * xs, const NN_T *dy,
                                         NN_T *dw, NN_T *db)
{
	int OH, OW;
	if (cf_nn_conv2d_out(d, &OH, &OW) != 0)
		return;
	const int B = d->B, C = d->C, O = d->O, KH = d->KH, KW = d->KW;
	const int sy = d->sy, sx = d->sx, pt = d->pad_t, pl = d->pad_l;
	const size_t plane = (size_t)OH * OW;
	for (int b = 0; b < B; b++) {
		const NN_T *dyb = dy + (size_t)b * O * plane;
		if (db)
			for (int o = 0; o < O; o++) {
				const NN_T *dyo = dyb + (size_t)o * plane;
				NN_T acc = db[o];
				for (size_t k = 0; k < plane; k++)
					acc += dyo[k];
				db[o] = acc;
			}
		for (int64_t k = xs->offsets[b]; k < xs->offsets[b + 1]; k++) {
			const int c = xs->c[k], iy = xs->y[k], ix = xs->x[k];
			const NN_T v = xs->value[k];
			int oylo, oyhi, oxlo, oxhi;
			nn_conv_covering(iy + pt, KH, sy, OH, &oylo, &oyhi);
			nn_conv_covering(ix + pl, KW, sx, OW, &oxlo, &oxhi);
			for (int o = 0; o < O; o++) {
				NN_T *dwc = dw + ((size_t)o * C + c) * KH * KW;
				const NN_T *dyo = dyb + (size_t)o * plane;
				for (int oy = oylo; oy < oyhi; oy++) {
					NN_T *dwr = dwc + (size_t)(iy + pt - oy * sy) * KW;
					const NN_T *dyr = dyo + (size_t)oy * OW;
					int kx = ix + pl - oxlo * sx;
					for (int ox = oxlo; ox < oxhi; ox++, kx -= sx)
						dwr[kx] += dyr[ox] * v;
				}
			}
		}
	}
}

int64_t NN_FN(cf_nn_sparse_check)(const cf_nn_conv2d_dims *d, const NN_FN(cf_nn_sparse) * xs)
{
	for (int b = 0; b < d->B; b++)
		if (xs->offsets[b + 1] < xs->offsets[b])
			return -2;
	for (int b = 0; b < d->B; b++) {
		int64_t prev = -1;
		for (int64_t k = xs->offsets[b]; k < xs->offsets[b + 1]; k++) {
			const int32_t c = xs->c[k], yy = xs->y[k], xx = xs->x[k];
			if (c < 0 || c >= d->C || yy < 0 || yy >= d->H || xx < 0 || xx >= d->W)
				return k;
			const int64_t key = ((int64_t)c * d->H + yy) * d->W + xx;
			if (key <= prev)
				return k;
			prev = key;
		}
	}
	return -1;
}

size_t NN_FN(cf_nn_sparse_from_dense)(int B, int C, int H, int W, const NN_T *x, int64_t *offsets, int32_t *c,
                                      int32_t *y, int32_t *xc, NN_T *value, size_t cap)
{
	size_t n = 0;
	for (int b = 0; b < B; b++) {
		if (offsets && n <= cap)
			offsets[b] = (int64_t)n;
		const NN_T *xb = x + (size_t)b * C * H * W;
		for (int ch = 0; ch < C; ch++)
			for (int r = 0; r < H; r++) {
				const NN_T *xr = xb + ((size_t)ch * H + r) * W;
				for (int col = 0; col < W; col++) {
					if (xr[col] == 0)
						continue;
					if (n < cap) {
						c[n] = ch;
						y[n] = r;
						xc[n] = col;
						value[n] = xr[col];
					}
					n++;
				}
			}
	}
	if (offsets && n <= cap)
		offsets[B] = (int64_t)n;
	return n;
}

void NN_FN(cf_nn_maxpool2d_forward)(int B, int C, int H, int W, int kh, int kw, int sy, int sx, const NN_T *x,
                                    NN_T *y)
{
	const int OH = cf_nn_pool_out(H, kh, sy), OW = cf_nn_pool_out(W, kw, sx);
	for (size_t p = 0; p < (size_t)B * C; p++) {
		const NN_T *xp = x + p * H * W;
		NN_T *yp = y + p * OH * OW;
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++) {
				const NN_T *win = xp + (size_t)oy * sy * W + (size_t)ox * sx;
				NN_T m = win[0];
				for (int ky = 0; ky < kh; ky++)
					for (int kx = 0; kx < kw; kx++) {
						const NN_T v = win[(size_t)ky * W + kx];
						if (v > m || v != v)
							m = v;
					}
				yp[(size_t)oy * OW + ox] = m;
			}
	}
}

void NN_FN(cf_nn_maxpool2d_backward)(int B, int C, int H, int W, int kh, int kw, int sy, int sx, const NN_T *x,
                                     const NN_T *dy, NN_T *dx)
{
	const int OH = cf_nn_pool_out(H, kh, sy), OW = cf_nn_pool_out(W, kw, sx);
	memset(dx, 0, sizeof(NN_T) * (size_t)B * C * H * W);
	for (size_t p = 0; p < (size_t)B * C; p++) {
		const NN_T *xp = x + p * H * W;
		NN_T *dxp = dx + p * H * W;
		const NN_T *dyp = dy + p * OH * OW;
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++) {
				size_t at = (size_t)oy * sy * W + (size_t)ox * sx;
				const size_t first = at;
				NN_T m = xp[at];
				for (int ky = 0; ky < kh; ky++)
					for (int kx = 0; kx < kw; kx++) {
						const size_t i = first + (size_t)ky * W + kx;
						const NN_T v = xp[i];
						if (v > m || v != v) {
							m = v;
							at = i;
						}
					}
				dxp[at] += dyp[(size_t)oy * OW + ox];
			}
	}
}

void NN_FN(cf_nn_avgpool2d_forward)(int B, int C, int H, int W, int kh, int kw, int sy, int sx, const NN_T *x,
                                    NN_T *y)
{
	const int OH = cf_nn_pool_out(H, kh, sy), OW = cf_nn_pool_out(W, kw, sx);
	const NN_T n = (NN_T)kh * (NN_T)kw;
	for (size_t p = 0; p < (size_t)B * C; p++) {
		const NN_T *xp = x + p * H * W;
		NN_T *yp = y + p * OH * OW;
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++) {
				const NN_T *win = xp + (size_t)oy * sy * W + (size_t)ox * sx;
				NN_T s = 0;
				for (int ky = 0; ky < kh; ky++)
					for (int kx = 0; kx < kw; kx++)
						s += win[(size_t)ky * W + kx];
				yp[(size_t)oy * OW + ox] = s / n;
			}
	}
}

void NN_FN(cf_nn_avgpool2d_backward)(int B, int C, int H, int W, int kh, int kw, int sy, int sx, const NN_T *dy,
                                     NN_T *dx)
{
	const int OH = cf_nn_pool_out(H, kh, sy), OW = cf_nn_pool_out(W, kw, sx);
	const NN_T n = (NN_T)kh * (NN_T)kw;
	memset(dx, 0, sizeof(NN_T) * (size_t)B * C * H * W);
	for (size_t p = 0; p < (size_t)B * C; p++) {
		NN_T *dxp = dx + p * H * W;
		const NN_T *dyp = dy + p * OH * OW;
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++) {
				const NN_T g = dyp[(size_t)oy * OW + ox] / n;
				NN_T *win = dxp + (size_t)oy * sy * W + (size_t)ox * sx;
				for (int ky = 0; ky < kh; ky++)
					for (int kx = 0; kx < kw; kx++)
						win[(size_t)ky * W + kx] += g;
			}
	}
}

/* The inverted-dropout scale: 1 / (1 - p) in double, rounded to NN_T. */
static inline NN_T NN_FN(nn_dropout_scale)(double p)
{
	if (!(p > 0))
		return (NN_T)1;
	if (p >= 1)
		return (NN_T)0;
	return (NN_T)(1.0 / (1.0 - p));
}

void NN_FN(cf_nn_dropout_forward)(size_t n, const NN_T *x, const uint8_t *mask, double p, NN_T *y)
{
	if (!mask) {
		if (y != x)
			memmove(y, x, sizeof(NN_T) * n);
		return;
	}
	const NN_T s = NN_FN(nn_dropout_scale)(p);
	const int all = p >= 1;
	for (size_t i = 0; i < n; i++)
		y[i] = mask[i] && !all ? x[i] * s : (NN_T)0;
}

void NN_FN(cf_nn_dropout_backward)(size_t n, const NN_T *dy, const uint8_t *mask, double p, NN_T *dx)
{
	NN_FN(cf_nn_dropout_forward)(n, dy, mask, p, dx);
}

void NN_FN(cf_nn_dropout2d_forward)(int B, int C, size_t HW, const NN_T *x, const uint8_t *mask, double p, NN_T *y)
{
	if (!mask) {
		if (y != x)
			memmove(y, x, sizeof(NN_T) * (size_t)B * C * HW);
		return;
	}
	const NN_T s = NN_FN(nn_dropout_scale)(p);
	const int all = p >= 1;
	for (size_t q = 0; q < (size_t)B * C; q++) {
		const NN_T *xq = x + q * HW;
		NN_T *yq = y + q * HW;
		if (mask[q] && !all)
			for (size_t i = 0; i < HW; i++)
				yq[i] = xq[i] * s;
		else
			for (size_t i = 0; i < HW; i++)
				yq[i] = 0;
	}
}

void NN_FN(cf_nn_dropout2d_backward)(int B, int C, size_t HW, const NN_T *dy, const uint8_t *mask, double p,
                                     NN_T *dx)
{
	NN_FN(cf_nn_dropout2d_forward)(B, C, HW, dy, mask, p, dx);
}

void NN_FN(cf_nn_tanh_forward)(size_t n, const NN_T *x, NN_T *y)
{
	for (size_t i = 0; i < n; i++)
		y[i] = NN_TANH(x[i]);
}

void NN_FN(cf_nn_tanh_backward)(size_t n, const NN_T *y, const NN_T *dy, NN_T *dx)
{
	for (size_t i = 0; i < n; i++)
		dx[i] = dy[i] * ((NN_T)1 - y[i] * y[i]);
}

#undef NN_FN
#undef NN_CAT
#undef NN_CAT2
