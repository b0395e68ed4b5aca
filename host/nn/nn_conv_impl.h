/*
 * The image layers' math (include/cuflow/nn_conv.h), written once for both
 * precisions: nn_conv.c includes this file twice, with NN_T = double /
 * NN_S = f64 and NN_T = float / NN_S = f32. Accumulation happens in NN_T.
 *
 * The orders of terms the header promises, and how the loops keep them:
 *   dense forward: each output's sum starts at the bias and meets its
 *     (c, ky, kx) terms in ascending order. Stride-1 rows run in blocks of
 *     NN_VW outputs (nn_conv_block): the sums sit in vector registers, one
 *     lane per output, so a lane's adds come in that order; lanes whose
 *     input column is in the padding keep their sum (the term is skipped).
 *     Strided layers run one output position at a time, a lane per output
 *     channel (nn_conv_chan_block; the weights transposed once per call),
 *     each lane's adds in that order; stride-1 layers too large for the
 *     stack copy take the plain loop (nn_conv_row_plain), which adds each
 *     term across a row.
 *   dense dw: each weight meets its terms in (b, oy, ox) order. Stride-1
 *     columns run NN_VW output channels at a time (nn_conv_dw_block), the
 *     KW weights of one (c, ky) in registers; the plain loop runs across
 *     kx inside the (b, o, c, ky, oy, ox) loops.
 *   dx (no order promised) is the plain loop's: per element o, ky, then kx
 *     descending; stride 1 both ways runs across input columns
 *     (nn_conv_dx_block) in that order.
 *   sparse: pixels in (c, y, x) order; for a fixed output, (c, y, x)
 *     ascending is (c, ky, kx) ascending (ky = y + pad_t - oy*sy grows with
 *     y); for a fixed weight, (y, x) ascending is (oy, ox) ascending.
 * Both clones (AVX2 and default) and both paths give the same bits:
 * vectors only ever hold separate sums, and there is no FMA
 * (-ffp-contract=off).
 */
#define NN_CAT2(a, b) a##_##b
#define NN_CAT(a, b) NN_CAT2(a, b)
#define NN_FN(name) NN_CAT(name, NN_S)

/* One output row's columns [cl, ch) of output channel o, the plain way:
 * the row starts at the bias, then every (c, ky, kx) term is added across
 * the columns whose input lies inside the image. */
static inline __attribute__((always_inline)) void NN_FN(nn_conv_row_plain)(const cf_nn_conv2d_dims *d, int OW, const NN_T *xb,
                                                                        const NN_T *w, NN_T bo, int o, int oy,
                                                                        NN_T *restrict yr, int cl, int ch)
{
	const int C = d->C, H = d->H, W = d->W, KH = d->KH, KW = d->KW, sx = d->sx, pl = d->pad_l;
	const int iy0 = oy * d->sy - d->pad_t;
	(void)OW;
	for (int ox = cl; ox < ch; ox++)
		yr[ox] = bo;
	for (int c = 0; c < C; c++)
		for (int ky = 0; ky < KH; ky++) {
			const int iy = iy0 + ky;
			if (iy < 0 || iy >= H)
				continue;
			const NN_T *restrict xr = xb + ((size_t)c * H + iy) * W;
			const NN_T *wr = w + (((size_t)o * C + c) * KH + ky) * KW;
			for (int kx = 0; kx < KW; kx++) {
				int lo, hi;
				nn_conv_inside(kx - pl, sx, W, ch, &lo, &hi);
				if (lo < cl)
					lo = cl;
				const NN_T wv = wr[kx];
				const ptrdiff_t off = (ptrdiff_t)kx - pl;
				for (int ox = lo; ox < hi; ox++)
					yr[ox] += wv * xr[(ptrdiff_t)ox * sx + off];
			}
		}
}

/* NN_VW columns starting at ox (stride 1) of output channels o0 ..
 * o0+NB-1 of row oy, each sum held in a register while it meets its terms
 * in (c, ky, kx) order: one load of x serves NB channels, and the NB chains
 * of adds run side by side. xp is the sample's x with its columns shifted
 * by pad_l and zeros around (wp a row); vp marks (all ones) the columns
 * that are inside the image. At the edges (masked) a lane whose input
 * column is outside keeps its sum: the term is skipped, not added as a
 * zero, as the plain loop does. Only the first nst lanes are stored. */
#define NN_VW 8
typedef NN_T NN_FN(nn_vec) __attribute__((vector_size(NN_VW * sizeof(NN_T))));
typedef NN_IT NN_FN(nn_ivec) __attribute__((vector_size(NN_VW * sizeof(NN_T))));
static inline __attribute__((always_inline)) void NN_FN(nn_conv_block)(const cf_nn_conv2d_dims *d, int OH, int OW,
                                                                    const NN_T *xp, const NN_IT *vp, int wp,
                                                                    const NN_T *w, const NN_T *bias, NN_T *yb, int o0,
                                                                    const int NB, int oy, int ox, int masked, int nst)
{
	const int C = d->C, H = d->H, KH = d->KH, KW = d->KW;
	const int iy0 = oy * d->sy - d->pad_t;
	NN_FN(nn_vec) acc[4];
	for (int q = 0; q < NB; q++)
		acc[q] = (NN_FN(nn_vec)){0} + bias[o0 + q];
	const size_t wstride = (size_t)C * KH * KW;
	for (int c = 0; c < C; c++)
		for (int ky = 0; ky < KH; ky++) {
			const int iy = iy0 + ky;
			if (iy < 0 || iy >= H)
				continue;
			const NN_T *xr = xp + ((size_t)c * H + iy) * wp + ox;
			const NN_T *wr = w + ((size_t)o0 * C + c) * KH * KW + (size_t)ky * KW;
			for (int kx = 0; kx < KW; kx++) {
				NN_FN(nn_vec) xv;
				memcpy(&xv, xr + kx, sizeof xv);
				if (!masked) {
					for (int q = 0; q < NB; q++)
						acc[q] += xv * wr[q * wstride + kx];
				} else {
					NN_FN(nn_ivec) m;
					memcpy(&m, vp + ox + kx, sizeof m);
					for (int q = 0; q < NB; q++) {
						NN_FN(nn_vec) t = acc[q] + xv * wr[q * wstride + kx];
						acc[q] = (NN_FN(nn_vec))(((NN_FN(nn_ivec))t & m) | ((NN_FN(nn_ivec))acc[q] & ~m));
					}
				}
			}
		}
	for (int q = 0; q < NB; q++) {
		NN_T *yr = yb + ((size_t)(o0 + q) * OH + oy) * OW + ox;
		if (nst == NN_VW)
			memcpy(yr, &acc[q], sizeof acc[q]);
		else
			for (int j = 0; j < nst; j++)
				yr[j] = acc[q][j];
	}
}

/* The padded copy of a sample's x lives on the stack up to this many
 * elements; larger layers take the plain loop, strided ones the
 * channel blocks below. */
#define NN_XPAD_MAX 16384

/* Strided layers: one output position (oy, ox) of output channels o0 ..
 * o0 + NB * NN_VW - 1, one lane per channel: each lane's sum starts at its
 * bias and meets its (c, ky, kx) terms in ascending order, the plain
 * loop's order, and a term whose input lies in the padding is skipped for
 * every lane alike. wt is w transposed to (c, ky, kx, o), Op channels a
 * row (O rounded up to NN_VW, zeros past O): one x value serves NB * NN_VW
 * channels. */
static inline __attribute__((always_inline)) void NN_FN(nn_conv_chan_block)(const cf_nn_conv2d_dims *d, int OH, int OW,
                                                                         const NN_T *xb, const NN_T *wt, int Op,
                                                                         const NN_T *bias, NN_T *yb, int o0,
                                                                         const int NB, int oy, int ox)
{
	const int C = d->C, H = d->H, W = d->W, O = d->O, KH = d->KH, KW = d->KW;
	const int iy0 = oy * d->sy - d->pad_t, ix0 = ox * d->sx - d->pad_l;
	const int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = W - ix0 < KW ? W - ix0 : KW;
	NN_FN(nn_vec) acc[4];
	for (int q = 0; q < NB; q++) {
		NN_T bv[NN_VW];
		for (int j = 0; j < NN_VW; j++) {
			const int o = o0 + q * NN_VW + j;
			bv[j] = o < O ? bias[o] : (NN_T)0;
		}
		memcpy(&acc[q], bv, sizeof bv);
	}
	for (int c = 0; c < C; c++)
		for (int ky = 0; ky < KH; ky++) {
			const int iy = iy0 + ky;
			if (iy < 0 || iy >= H)
				continue;
			const NN_T *xr = xb + ((size_t)c * H + iy) * W + ix0;
			const NN_T *wr = wt + (((size_t)c * KH + ky) * KW) * Op + o0;
			for (int kx = kx0; kx < kx1; kx++) {
				const NN_T xv = xr[kx];
				for (int q = 0; q < NB; q++) {
					NN_FN(nn_vec) wv;
					memcpy(&wv, wr + (size_t)kx * Op + q * NN_VW, sizeof wv);
					acc[q] += wv * xv;
				}
			}
		}
	for (int q = 0; q < NB; q++)
		for (int j = 0; j < NN_VW; j++) {
			const int o = o0 + q * NN_VW + j;
			if (o < O)
				yb[((size_t)o * OH + oy) * OW + ox] = acc[q][j];
		}
}

/* The strided forward by channel blocks (inlined into each clone of the
 * caller); 0, or -1 when the transposed weights cannot be allocated (the
 * caller takes the plain loop). */
static inline __attribute__((always_inline)) int NN_FN(nn_conv_forward_strided)(const cf_nn_conv2d_dims *d, int OH,
                                                                               int OW, const NN_T *x, const NN_T *w,
                                                                               const NN_T *bias, NN_T *y)
{
	const int B = d->B, C = d->C, H = d->H, W = d->W, O = d->O;
	const size_t K = (size_t)C * d->KH * d->KW;
	const int Op = (O + NN_VW - 1) / NN_VW * NN_VW;
	NN_T *wt = calloc(K * (size_t)Op, sizeof *wt);
	if (!wt)
		return -1;
	for (int o = 0; o < O; o++)
		for (size_t k = 0; k < K; k++)
			wt[k * Op + o] = w[(size_t)o * K + k];
	for (int b = 0; b < B; b++) {
		const NN_T *xb = x + (size_t)b * C * H * W;
		NN_T *yb = y + (size_t)b * O * OH * OW;
		for (int o0 = 0; o0 < Op;) {
			const int nv = (Op - o0) / NN_VW, nb = nv >= 4 ? 4 : nv;
			for (int oy = 0; oy < OH; oy++)
				for (int ox = 0; ox < OW; ox++) {
					if (nb == 4)
						NN_FN(nn_conv_chan_block)(d, OH, OW, xb, wt, Op, bias, yb, o0, 4, oy, ox);
					else if (nb == 3)
						NN_FN(nn_conv_chan_block)(d, OH, OW, xb, wt, Op, bias, yb, o0, 3, oy, ox);
					else if (nb == 2)
						NN_FN(nn_conv_chan_block)(d, OH, OW, xb, wt, Op, bias, yb, o0, 2, oy, ox);
					else
						NN_FN(nn_conv_chan_block)(d, OH, OW, xb, wt, Op, bias, yb, o0, 1, oy, ox);
				}
			o0 += nb * NN_VW;
		}
	}
	free(wt);
	return 0;
}

NN_CLONES void NN_FN(cf_nn_conv2d_forward)(const cf_nn_conv2d_dims *d, const NN_T *x, const NN_T *w,
                                           const NN_T *bias, NN_T *y)
{
	int OH, OW;
	if (cf_nn_conv2d_out(d, &OH, &OW) != 0)
		return;
	const int B = d->B, C = d->C, H = d->H, W = d->W, O = d->O, KW = d->KW, pl = d->pad_l;
	if (d->sx != 1 && NN_FN(nn_conv_forward_strided)(d, OH, OW, x, w, bias, y) == 0)
		return;
	/* padded columns: block loads reach ox + kx < round_up(OW) + KW - 1 */
	const int wp = (OW + NN_VW - 1) / NN_VW * NN_VW + KW - 1;
	const int fast = d->sx == 1 && (size_t)C * H * wp <= NN_XPAD_MAX;
	NN_T xp[fast ? (size_t)C * H * wp : 1];
	NN_IT vp[fast ? wp : 1];
	/* the blocks whose every lane and kx read inside the image */
	const int ilo = pl, ihi = W - KW + 1 + pl;
	if (fast)
		for (int j = 0; j < wp; j++)
			vp[j] = j - pl >= 0 && j - pl < W ? (NN_IT)-1 : 0;
	for (int b = 0; b < B; b++) {
		const NN_T *xb = x + (size_t)b * C * H * W;
		NN_T *yb = y + (size_t)b * O * OH * OW;
		if (fast)
			for (size_t r = 0; r < (size_t)C * H; r++)
				for (int j = 0; j < wp; j++)
					xp[r * wp + j] = vp[j] ? xb[r * W + j - pl] : (NN_T)0;
		for (int o0 = 0; o0 < O;) {
			const int nb = O - o0 >= 4 ? 4 : O - o0 >= 2 ? 2 : 1;
			for (int oy = 0; oy < OH; oy++) {
				if (!fast) {
					for (int o = o0; o < o0 + nb; o++)
						NN_FN(nn_conv_row_plain)(d, OW, xb, w, bias[o], o, oy, yb + ((size_t)o * OH + oy) * OW, 0,
						                         OW);
					continue;
				}
				for (int ox = 0; ox < OW; ox += NN_VW) {
					const int masked = !(ox >= ilo && ox + NN_VW <= ihi);
					const int nst = OW - ox < NN_VW ? OW - ox : NN_VW;
					if (nb == 4)
						NN_FN(nn_conv_block)(d, OH, OW, xp, vp, wp, w, bias, yb, o0, 4, oy, ox, masked, nst);
					else if (nb == 2)
						NN_FN(nn_conv_block)(d, OH, OW, xp, vp, wp, w, bias, yb, o0, 2, oy, ox, masked, nst);
					else
						NN_FN(nn_conv_block)(d, OH, OW, xp, vp, wp, w, bias, yb, o0, 1, oy, ox, masked, nst);
				}
			}
			o0 += nb;
		}
	}
}

/* dw for stride-1 columns, NN_VW output channels at a time: dyt is the
 * sample's dy transposed to [oy][ox][o] (op lanes a row, zeros past O).
 * For one (c, ky) and one block of channels, the KW weights' sums sit in
 * registers, loaded from dw and stored back once, and meet their terms in
 * (oy, ox) order, as the plain loop gives them. */
#define NN_KW_MAX 16
static inline __attribute__((always_inline)) void NN_FN(nn_conv_dw_block)(const cf_nn_conv2d_dims *d, int OH, int OW,
                                                                       const NN_T *xb, const NN_T *dyt, int op,
                                                                       NN_T *dw, int c, int ky, int o0, const int KW)
{
	const int C = d->C, H = d->H, W = d->W, O = d->O, KH = d->KH, pl = d->pad_l;
	const int nl = O - o0 < NN_VW ? O - o0 : NN_VW;
	NN_FN(nn_vec) acc[NN_KW_MAX];
	NN_T *dw0 = dw + ((size_t)o0 * C + c) * KH * KW + (size_t)ky * KW;
	const size_t wstride = (size_t)C * KH * KW;
	for (int kx = 0; kx < KW; kx++) {
		acc[kx] = (NN_FN(nn_vec)){0};
		for (int q = 0; q < nl; q++)
			acc[kx][q] = dw0[q * wstride + kx];
	}
	/* the columns whose every kx reads inside the image */
	int ilo = pl, ihi = W - KW + 1 + pl;
	if (ihi > OW)
		ihi = OW;
	if (ilo > ihi)
		ilo = ihi;
	for (int oy = 0; oy < OH; oy++) {
		const int iy = oy * d->sy + ky - d->pad_t;
		if (iy < 0 || iy >= H)
			continue;
		const NN_T *xr = xb + ((size_t)c * H + iy) * W;
		const NN_T *g = dyt + (size_t)oy * OW * op + o0;
		for (int ox = 0; ox < OW; ox++) {
			NN_FN(nn_vec) gv;
			memcpy(&gv, g + (size_t)ox * op, sizeof gv);
			const int base = ox - pl;
			if (ox >= ilo && ox < ihi) {
				for (int kx = 0; kx < KW; kx++)
					acc[kx] += gv * xr[base + kx];
			} else {
				const int klo = base < 0 ? -base : 0;
				const int khi = W - base < KW ? W - base : KW;
				for (int kx = klo; kx < khi; kx++)
					acc[kx] += gv * xr[base + kx];
			}
		}
	}
	for (int kx = 0; kx < KW; kx++)
		for (int q = 0; q < nl; q++)
			dw0[q * wstride + kx] = acc[kx][q];
}

/* dx for stride 1 both ways: NN_VW input columns from ix of input
 * channels c0 .. c0+NB-1 of row iy. dyp is the sample's dy with each row
 * shifted right by KW - 1 and zeros around (wq a row), so that the output
 * column of (ix, kx), ix + pad_l - kx, always has a slot. Every element
 * gets its terms in the plain loop's order: o, then ky, then kx descending
 * (ox ascending); the padding's terms are zeros added to a sum that
 * started at +0, which leaves its bits alone. */
static inline __attribute__((always_inline)) void NN_FN(nn_conv_dx_block)(const cf_nn_conv2d_dims *d, int OH,
                                                                       const NN_T *dyp, int wq, const NN_T *w,
                                                                       NN_T *dxb, int c0, const int NB, int iy, int ix,
                                                                       int nst)
{
	const int C = d->C, H = d->H, W = d->W, O = d->O, KH = d->KH, KW = d->KW;
	NN_FN(nn_vec) acc[4];
	for (int q = 0; q < NB; q++)
		acc[q] = (NN_FN(nn_vec)){0};
	const size_t wstride = (size_t)KH * KW;
	for (int o = 0; o < O; o++)
		for (int ky = 0; ky < KH; ky++) {
			const int oy = iy + d->pad_t - ky;
			if (oy < 0 || oy >= OH)
				continue;
			const NN_T *gr = dyp + ((size_t)o * OH + oy) * wq + ix + d->pad_l + KW - 1;
			const NN_T *wr = w + ((size_t)o * C + c0) * KH * KW + (size_t)ky * KW;
			for (int kx = KW - 1; kx >= 0; kx--) {
				NN_FN(nn_vec) gv;
				memcpy(&gv, gr - kx, sizeof gv);
				for (int q = 0; q < NB; q++)
					acc[q] += wr[q * wstride + kx] * gv;
			}
		}
	for (int q = 0; q < NB; q++) {
		NN_T *r = dxb + ((size_t)(c0 + q) * H + iy) * W + ix;
		if (nst == NN_VW)
			memcpy(r, &acc[q], sizeof acc[q]);
		else
			for (int j = 0; j < nst; j++)
				r[j] = acc[q][j];
	}
}

/* The transposed dy of the register path lives on the stack up to this
 * many elements; larger layers take the plain loop. */
#define NN_DYT_MAX 12288

NN_CLONES void NN_FN(cf_nn_conv2d_backward)(const cf_nn_conv2d_dims *d, const NN_T *x, const NN_T *w,
                                            const NN_T *dy, NN_T *dx, NN_T *dw, NN_T *db)
{
	int OH, OW;
	if (cf_nn_conv2d_out(d, &OH, &OW) != 0)
		return;
	const int B = d->B, C = d->C, H = d->H, W = d->W, O = d->O, KH = d->KH, KW = d->KW;
	const int sy = d->sy, sx = d->sx, pt = d->pad_t, pl = d->pad_l;
	const int op = (O + NN_VW - 1) / NN_VW * NN_VW;
	const int fast = sx == 1 && KW <= NN_KW_MAX && (size_t)op * OH * OW <= NN_DYT_MAX;
	NN_T dyt[fast ? (size_t)op * OH * OW : 1];
	/* dx's padded dy: columns ox + KW - 1, reaching ix + pad_l + KW - 1 + NN_VW - 1 */
	const int wq = (W + NN_VW - 1) / NN_VW * NN_VW + pl + KW - 1 + 1;
	const int fast_dx = dx && sx == 1 && sy == 1 && (size_t)O * OH * wq <= NN_XPAD_MAX;
	NN_T dyp[fast_dx ? (size_t)O * OH * wq : 1];
	if (dx)
		memset(dx, 0, sizeof(NN_T) * (size_t)B * C * H * W);
	for (int b = 0; b < B; b++) {
		const NN_T *dyb = dy + (size_t)b * O * OH * OW;
		for (int o = 0; o < O; o++) {
			const NN_T *dyo = dyb + (size_t)o * OH * OW;
			NN_T acc = db[o];
			for (size_t k = 0; k < (size_t)OH * OW; k++)
				acc += dyo[k];
			db[o] = acc;
		}
		if (fast) {
			const NN_T *xb = x + (size_t)b * C * H * W;
			for (size_t k = 0; k < (size_t)OH * OW; k++) {
				for (int o = 0; o < O; o++)
					dyt[k * op + o] = dyb[(size_t)o * OH * OW + k];
				for (int o = O; o < op; o++)
					dyt[k * op + o] = 0;
			}
			for (int c = 0; c < C; c++)
				for (int ky = 0; ky < KH; ky++)
					for (int o0 = 0; o0 < O; o0 += NN_VW) {
						if (KW == 5)
							NN_FN(nn_conv_dw_block)(d, OH, OW, xb, dyt, op, dw, c, ky, o0, 5);
						else
							NN_FN(nn_conv_dw_block)(d, OH, OW, xb, dyt, op, dw, c, ky, o0, KW);
					}
		}
		if (fast_dx) {
			for (int o = 0; o < O; o++)
				for (int oy = 0; oy < OH; oy++) {
					NN_T *r = dyp + ((size_t)o * OH + oy) * wq;
					const NN_T *g = dyb + ((size_t)o * OH + oy) * OW;
					for (int j = 0; j < wq; j++)
						r[j] = j - (KW - 1) >= 0 && j - (KW - 1) < OW ? g[j - (KW - 1)] : (NN_T)0;
				}
			NN_T *dxb = dx + (size_t)b * C * H * W;
			for (int c0 = 0; c0 < C;) {
				const int nb = C - c0 >= 4 ? 4 : C - c0 >= 2 ? 2 : 1;
				for (int iy = 0; iy < H; iy++)
					for (int ix = 0; ix < W; ix += NN_VW) {
						const int nst = W - ix < NN_VW ? W - ix : NN_VW;
						if (nb == 4)
							NN_FN(nn_conv_dx_block)(d, OH, dyp, wq, w, dxb, c0, 4, iy, ix, nst);
						else if (nb == 2)
							NN_FN(nn_conv_dx_block)(d, OH, dyp, wq, w, dxb, c0, 2, iy, ix, nst);
						else
							NN_FN(nn_conv_dx_block)(d, OH, dyp, wq, w, dxb, c0, 1, iy, ix, nst);
					}
				c0 += nb;
			}
		}
		if (fast && (!dx || fast_dx))
			continue;
		for (int o = 0; o < O; o++) {
			const NN_T *dyo = dyb + (size_t)o * OH * OW;
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
						NN_T *restrict dxr = dx && !fast_dx ? dx + row : NULL;
						for (int ox = 0; ox < OW; ox++) {
							const NN_T g = dyo[(size_t)oy * OW + ox];
							const int base = ox * sx - pl; /* input column of kx = 0 */
							const int klo = base < 0 ? -base : 0;
							const int khi = W - base < KW ? W - base : KW;
							if (!fast)
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

NN_CLONES void NN_FN(cf_nn_maxpool2d_forward)(int B, int C, int H, int W, int kh, int kw, int sy, int sx,
                                              const NN_T *x, NN_T *y)
{
	const int OH = cf_nn_pool_out(H, kh, sy), OW = cf_nn_pool_out(W, kw, sx);
	if (kh == 2 && kw == 2 && sy == 2 && sx == 2) {
		/* both FlowPic CNNs' pooling, the same scan written out so that it
		 * runs across outputs */
		for (size_t p = 0; p < (size_t)B * C; p++)
			for (int oy = 0; oy < OH; oy++) {
				const NN_T *restrict r0 = x + (p * H + (size_t)oy * 2) * W, *restrict r1 = r0 + W;
				NN_T *restrict yr = y + (p * OH + oy) * OW;
				for (int ox = 0; ox < OW; ox++) {
					NN_T m = r0[2 * ox], v = r0[2 * ox + 1];
					m = v > m || v != v ? v : m;
					v = r1[2 * ox];
					m = v > m || v != v ? v : m;
					v = r1[2 * ox + 1];
					yr[ox] = v > m || v != v ? v : m;
				}
			}
		return;
	}
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

NN_CLONES void NN_FN(cf_nn_maxpool2d_backward)(int B, int C, int H, int W, int kh, int kw, int sy, int sx,
                                               const NN_T *x, const NN_T *dy, NN_T *dx)
{
	const int OH = cf_nn_pool_out(H, kh, sy), OW = cf_nn_pool_out(W, kw, sx);
	memset(dx, 0, sizeof(NN_T) * (size_t)B * C * H * W);
	if (kh == 2 && kw == 2 && sy == 2 && sx == 2) {
		/* the windows do not overlap: each dy goes to its window's argmax */
		for (size_t p = 0; p < (size_t)B * C; p++)
			for (int oy = 0; oy < OH; oy++) {
				const size_t r0 = (p * H + (size_t)oy * 2) * W;
				const NN_T *restrict a = x + r0, *restrict c = a + W;
				NN_T *restrict da = dx + r0, *restrict dc = da + W;
				const NN_T *restrict g = dy + (p * OH + oy) * OW;
				for (int ox = 0; ox < OW; ox++) {
					const int i = 2 * ox;
					NN_T m = a[i], v = a[i + 1];
					int at = 0;
					if (v > m || v != v) { m = v; at = 1; }
					v = c[i];
					if (v > m || v != v) { m = v; at = 2; }
					v = c[i + 1];
					if (v > m || v != v) at = 3;
					const NN_T d = (NN_T)0 + g[ox]; /* what += on the zeroed dx gives (-0 -> +0) */
					da[i] = at == 0 ? d : (NN_T)0;
					da[i + 1] = at == 1 ? d : (NN_T)0;
					dc[i] = at == 2 ? d : (NN_T)0;
					dc[i + 1] = at == 3 ? d : (NN_T)0;
				}
			}
		return;
	}
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

#undef NN_VW
#undef NN_XPAD_MAX
#undef NN_KW_MAX
#undef NN_DYT_MAX
#undef NN_FN
#undef NN_CAT
#undef NN_CAT2
