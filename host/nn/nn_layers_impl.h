/*
 * The layers' math, written once for both precisions: nn_layers.c
 * includes this file twice, with NN_T = double / NN_S = f64 and NN_T =
 * float / NN_S = f32. Accumulation happens in NN_T, as PyTorch's CPU
 * kernels do, so the float32 path is a float32 computation rather than
 * a rounded float64 one.
 */
#define NN_CAT2(a, b) a##_##b
#define NN_CAT(a, b) NN_CAT2(a, b)
#define NN_FN(name) NN_CAT(name, NN_S)

static inline NN_T NN_FN(nn_sigmoid)(NN_T x) { return (NN_T)1 / ((NN_T)1 + NN_EXP(-x)); }

/* w_ih (4H x I) and w_hh (4H x H) into wt = [w_ih^T (I x 4H) | w_hh^T (H x 4H)]. */
void NN_FN(nn_lstm_transpose)(int I, int H, const NN_T *w_ih, const NN_T *w_hh, NN_T *wt)
{
	const int G = 4 * H;
	for (int r = 0; r < G; r++)
		for (int k = 0; k < I; k++) wt[(size_t)k * G + r] = w_ih[(size_t)r * I + k];
	NN_T *u = wt + (size_t)I * G;
	for (int r = 0; r < G; r++)
		for (int k = 0; k < H; k++) u[(size_t)k * G + r] = w_hh[(size_t)r * H + k];
}

/* The forward pass with the weights transposed (wt_ih I x 4H, wt_hh H x
 * 4H), so each step's gate sums run along contiguous rows the compiler
 * vectorizes. Every gate still adds its terms in the reference order
 * (b_ih + b_hh, then x's, then h's), so the results are those of the
 * row-by-row form. */
NN_CLONES void NN_FN(nn_lstm_forward_t)(int B, int T, int I, int H, const NN_T *x, const int32_t *len, const NN_T *wt_ih,
                              const NN_T *wt_hh, const NN_T *b_ih, const NN_T *b_hh, NN_T *h_last, NN_T *cache)
{
	const int G = 4 * H;
	NN_T a[4 * CF_NN_MAX_HIDDEN], tc[CF_NN_MAX_HIDDEN], hbuf[CF_NN_MAX_HIDDEN], cbuf[CF_NN_MAX_HIDDEN];
	for (int b = 0; b < B; b++) {
		int L = len ? len[b] : T;
		if (L > T) L = T;
		const NN_T *hp = NULL, *cp = NULL; /* NULL: the zero initial state */
		for (int t = 0; t < L; t++) {
			const NN_T *xt = x + ((size_t)b * T + t) * I;
			for (int r = 0; r < G; r++) a[r] = b_ih[r] + b_hh[r];
			for (int k = 0; k < I; k++) {
				const NN_T xk = xt[k], *w = wt_ih + (size_t)k * G;
				for (int r = 0; r < G; r++) a[r] += w[r] * xk;
			}
			if (hp)
				for (int k = 0; k < H; k++) {
					const NN_T hk = hp[k], *u = wt_hh + (size_t)k * G;
					for (int r = 0; r < G; r++) a[r] += u[r] * hk;
				}
			for (int j = 0; j < 2 * H; j++) a[j] = NN_FN(nn_sigmoid)(a[j]);
			for (int j = 2 * H; j < 3 * H; j++) a[j] = NN_TANH(a[j]);
			for (int j = 3 * H; j < G; j++) a[j] = NN_FN(nn_sigmoid)(a[j]);
			NN_T *st = cache ? cache + ((size_t)b * T + t) * 6 * H : NULL;
			NN_T *cn = st ? st + 4 * H : cbuf, *hn = st ? st + 5 * H : hbuf;
			/* cn may be cp (cbuf): each element is read before it is written */
			if (cp)
				for (int j = 0; j < H; j++) cn[j] = a[j] * a[2 * H + j] + a[H + j] * cp[j];
			else
				for (int j = 0; j < H; j++) cn[j] = a[j] * a[2 * H + j] + (NN_T)0;
			for (int j = 0; j < H; j++) tc[j] = NN_TANH(cn[j]);
			for (int j = 0; j < H; j++) hn[j] = a[3 * H + j] * tc[j];
			if (st) memcpy(st, a, sizeof(NN_T) * (size_t)G);
			hp = hn;
			cp = cn;
		}
		NN_T *ho = h_last + (size_t)b * H;
		for (int j = 0; j < H; j++) ho[j] = hp ? hp[j] : (NN_T)0;
	}
}

void NN_FN(cf_nn_lstm_forward)(int B, int T, int I, int H, const NN_T *x, const int32_t *len,
                                const NN_T *w_ih, const NN_T *w_hh, const NN_T *b_ih, const NN_T *b_hh,
                                NN_T *h_last, NN_T *cache)
{
	/* the transposes of small layers on the stack; larger ones (none in the
	 * nested model) go row by row in the same order */
	enum { STACK = 8192 };
	const int G = 4 * H;
	if ((size_t)G * (I + H) <= STACK) {
		NN_T wt[STACK];
		NN_FN(nn_lstm_transpose)(I, H, w_ih, w_hh, wt);
		NN_FN(nn_lstm_forward_t)(B, T, I, H, x, len, wt, wt + (size_t)I * G, b_ih, b_hh, h_last, cache);
		return;
	}
	NN_T a[4 * CF_NN_MAX_HIDDEN], hbuf[CF_NN_MAX_HIDDEN], cbuf[CF_NN_MAX_HIDDEN];
	for (int b = 0; b < B; b++) {
		int L = len ? len[b] : T;
		if (L > T) L = T;
		const NN_T *hp = NULL, *cp = NULL;
		for (int t = 0; t < L; t++) {
			const NN_T *xt = x + ((size_t)b * T + t) * I;
			for (int r = 0; r < G; r++) {
				NN_T s = b_ih[r] + b_hh[r];
				const NN_T *wr = w_ih + (size_t)r * I;
				for (int k = 0; k < I; k++) s += wr[k] * xt[k];
				if (hp) {
					const NN_T *ur = w_hh + (size_t)r * H;
					for (int k = 0; k < H; k++) s += ur[k] * hp[k];
				}
				a[r] = s;
			}
			NN_T *st = cache ? cache + ((size_t)b * T + t) * 6 * H : NULL;
			NN_T *cn = st ? st + 4 * H : cbuf, *hn = st ? st + 5 * H : hbuf;
			for (int j = 0; j < H; j++) {
				NN_T ig = NN_FN(nn_sigmoid)(a[j]), fg = NN_FN(nn_sigmoid)(a[H + j]);
				NN_T gg = NN_TANH(a[2 * H + j]), og = NN_FN(nn_sigmoid)(a[3 * H + j]);
				NN_T c = ig * gg + (cp ? fg * cp[j] : (NN_T)0);
				if (st) { st[j] = ig; st[H + j] = fg; st[2 * H + j] = gg; st[3 * H + j] = og; }
				a[j] = c;
				a[H + j] = og * NN_TANH(c);
			}
			for (int j = 0; j < H; j++) { cn[j] = a[j]; hn[j] = a[H + j]; }
			hp = hn;
			cp = cn;
		}
		NN_T *ho = h_last + (size_t)b * H;
		for (int j = 0; j < H; j++) ho[j] = hp ? hp[j] : (NN_T)0;
	}
}

NN_CLONES void NN_FN(cf_nn_lstm_backward)(int B, int T, int I, int H, const NN_T *x, const int32_t *len,
                                 const NN_T *w_ih, const NN_T *w_hh, const NN_T *cache, const NN_T *dh_last,
                                 NN_T *dx, NN_T *dw_ih, NN_T *dw_hh, NN_T *db_ih, NN_T *db_hh)
{
	/* loops ordered so the inner ones run along contiguous rows (vectorized);
	 * each sum keeps the reference's order of terms */
	const int G = 4 * H;
	NN_T da[4 * CF_NN_MAX_HIDDEN], dh[CF_NN_MAX_HIDDEN], dc[CF_NN_MAX_HIDDEN], tc[CF_NN_MAX_HIDDEN];
	if (dx) memset(dx, 0, sizeof(NN_T) * (size_t)B * T * I);
	for (int b = 0; b < B; b++) {
		int L = len ? len[b] : T;
		if (L > T) L = T;
		for (int j = 0; j < H; j++) { dh[j] = dh_last[(size_t)b * H + j]; dc[j] = 0; }
		for (int t = L - 1; t >= 0; t--) {
			const NN_T *st = cache + ((size_t)b * T + t) * 6 * H;
			const NN_T *prev = t > 0 ? st - 6 * H : NULL;
			const NN_T *hprev = prev ? prev + 5 * H : NULL;
			const NN_T *xt = x + ((size_t)b * T + t) * I;
			for (int j = 0; j < H; j++) tc[j] = NN_TANH(st[4 * H + j]);
			for (int j = 0; j < H; j++) {
				NN_T ig = st[j], fg = st[H + j], gg = st[2 * H + j], og = st[3 * H + j];
				NN_T dcj = dc[j] + dh[j] * og * ((NN_T)1 - tc[j] * tc[j]);
				NN_T cp = prev ? prev[4 * H + j] : (NN_T)0;
				da[j] = dcj * gg * ig * ((NN_T)1 - ig);
				da[H + j] = dcj * cp * fg * ((NN_T)1 - fg);
				da[2 * H + j] = dcj * ig * ((NN_T)1 - gg * gg);
				da[3 * H + j] = dh[j] * tc[j] * og * ((NN_T)1 - og);
				dc[j] = dcj * fg;
			}
			for (int r = 0; r < G; r++) db_ih[r] += da[r];
			for (int r = 0; r < G; r++) db_hh[r] += da[r];
			for (int r = 0; r < G; r++) {
				const NN_T d = da[r];
				NN_T *wr = dw_ih + (size_t)r * I;
				for (int k = 0; k < I; k++) wr[k] += d * xt[k];
			}
			if (hprev)
				for (int r = 0; r < G; r++) {
					const NN_T d = da[r];
					NN_T *ur = dw_hh + (size_t)r * H;
					for (int k = 0; k < H; k++) ur[k] += d * hprev[k];
				}
			if (dx) {
				NN_T *dxt = dx + ((size_t)b * T + t) * I;
				for (int r = 0; r < G; r++) {
					const NN_T d = da[r], *w = w_ih + (size_t)r * I;
					for (int k = 0; k < I; k++) dxt[k] += w[k] * d;
				}
			}
			for (int k = 0; k < H; k++) dh[k] = 0;
			for (int r = 0; r < G; r++) {
				const NN_T d = da[r], *u = w_hh + (size_t)r * H;
				for (int k = 0; k < H; k++) dh[k] += u[k] * d;
			}
		}
	}
}

/* Dense forward, NN_DVW samples at a time: their inputs transposed into
 * xt (a tile of NN_DKT features), each output's sum in a register lane
 * while it meets its terms in ascending k from the bias on (between tiles
 * it rests in y), NB outputs side by side sharing each load of x. */
#define NN_DVW 8
#define NN_DKT 256
typedef NN_T NN_FN(nn_dvec) __attribute__((vector_size(NN_DVW * sizeof(NN_T))));
static inline __attribute__((always_inline)) void NN_FN(nn_dense_block)(int I, int O, const NN_T *xt, int kt, int k0,
                                                                     const NN_T *w, const NN_T *b, NN_T *y, int s0,
                                                                     int ns, int o0, const int NB)
{
	NN_FN(nn_dvec) acc[8];
	for (int q = 0; q < NB; q++) {
		acc[q] = (NN_FN(nn_dvec)){0};
		for (int j = 0; j < ns; j++)
			acc[q][j] = k0 == 0 ? b[o0 + q] : y[(size_t)(s0 + j) * O + o0 + q];
	}
	const NN_T *w0 = w + (size_t)o0 * I + k0;
	for (int kk = 0; kk < kt; kk++) {
		NN_FN(nn_dvec) xv;
		memcpy(&xv, xt + (size_t)kk * NN_DVW, sizeof xv);
		for (int q = 0; q < NB; q++)
			acc[q] += w0[(size_t)q * I + kk] * xv;
	}
	for (int q = 0; q < NB; q++)
		for (int j = 0; j < ns; j++)
			y[(size_t)(s0 + j) * O + o0 + q] = acc[q][j];
}

NN_CLONES void NN_FN(cf_nn_dense_forward)(int B, int I, int O, const NN_T *x, const NN_T *w, const NN_T *b, NN_T *y)
{
	NN_T xt[NN_DKT * NN_DVW];
	for (int s0 = 0; s0 < B; s0 += NN_DVW) {
		const int ns = B - s0 < NN_DVW ? B - s0 : NN_DVW;
		if (I == 0)
			for (int j = 0; j < ns; j++)
				for (int o = 0; o < O; o++) y[(size_t)(s0 + j) * O + o] = b[o];
		for (int k0 = 0; k0 < I; k0 += NN_DKT) {
			const int kt = I - k0 < NN_DKT ? I - k0 : NN_DKT;
			for (int kk = 0; kk < kt; kk++)
				for (int j = 0; j < NN_DVW; j++)
					xt[(size_t)kk * NN_DVW + j] = j < ns ? x[(size_t)(s0 + j) * I + k0 + kk] : (NN_T)0;
			int o0 = 0;
			for (; o0 + 8 <= O; o0 += 8) NN_FN(nn_dense_block)(I, O, xt, kt, k0, w, b, y, s0, ns, o0, 8);
			for (; o0 + 4 <= O; o0 += 4) NN_FN(nn_dense_block)(I, O, xt, kt, k0, w, b, y, s0, ns, o0, 4);
			for (; o0 < O; o0++) NN_FN(nn_dense_block)(I, O, xt, kt, k0, w, b, y, s0, ns, o0, 1);
		}
	}
}

/* dw and db get each sample's terms in sample order; dx[k] its terms in
 * ascending o, the loops running across k. */
NN_CLONES void NN_FN(cf_nn_dense_backward)(int B, int I, int O, const NN_T *x, const NN_T *w, const NN_T *dy,
                                            NN_T *dx, NN_T *dw, NN_T *db)
{
	for (int s = 0; s < B; s++) {
		const NN_T *xs = x + (size_t)s * I, *dys = dy + (size_t)s * O;
		for (int o = 0; o < O; o++) {
			NN_T d = dys[o];
			NN_T *dwo = dw + (size_t)o * I;
			db[o] += d;
			for (int k = 0; k < I; k++) dwo[k] += d * xs[k];
		}
		if (dx) {
			NN_T *restrict dxs = dx + (size_t)s * I;
			for (int k = 0; k < I; k++) dxs[k] = 0;
			for (int o = 0; o < O; o++) {
				const NN_T *restrict wo = w + (size_t)o * I;
				const NN_T g = dys[o];
				for (int k = 0; k < I; k++) dxs[k] += wo[k] * g;
			}
		}
	}
}

#undef NN_DVW
#undef NN_DKT

NN_CLONES void NN_FN(cf_nn_relu_forward)(size_t n, const NN_T *x, NN_T *y)
{
	for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : (NN_T)0;
}

NN_CLONES void NN_FN(cf_nn_relu_backward)(size_t n, const NN_T *y, const NN_T *dy, NN_T *dx)
{
	for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : (NN_T)0;
}

void NN_FN(cf_nn_embedding_forward)(int B, int V, int D, const int32_t *idx, const NN_T *w, NN_T *y)
{
	(void)V;
	for (int s = 0; s < B; s++) memcpy(y + (size_t)s * D, w + (size_t)idx[s] * D, sizeof(NN_T) * (size_t)D);
}

void NN_FN(cf_nn_embedding_backward)(int B, int V, int D, const int32_t *idx, const NN_T *dy, NN_T *dw)
{
	(void)V;
	for (int s = 0; s < B; s++) {
		NN_T *row = dw + (size_t)idx[s] * D;
		for (int k = 0; k < D; k++) row[k] += dy[(size_t)s * D + k];
	}
}

double NN_FN(cf_nn_softmax_xent)(int B, int C, const NN_T *logits, const int32_t *label, double scale, NN_T *probs,
                                  NN_T *dlogits)
{
	double loss = 0;
	for (int s = 0; s < B; s++) {
		const NN_T *l = logits + (size_t)s * C;
		NN_T *p = probs + (size_t)s * C;
		NN_T m = l[0];
		for (int k = 1; k < C; k++) if (l[k] > m) m = l[k];
		NN_T sum = 0;
		for (int k = 0; k < C; k++) { p[k] = NN_EXP(l[k] - m); sum += p[k]; }
		for (int k = 0; k < C; k++) p[k] /= sum;
		int y = label ? label[s] : -1;
		if (y >= 0 && y < C) loss += -((double)(l[y] - m) - log((double)sum));
		if (dlogits) {
			NN_T *d = dlogits + (size_t)s * C;
			for (int k = 0; k < C; k++)
				d[k] = (y >= 0 && y < C) ? (NN_T)((p[k] - (k == y ? (NN_T)1 : (NN_T)0)) * scale) : (NN_T)0;
		}
	}
	return loss * scale;
}

#undef NN_FN
#undef NN_CAT
#undef NN_CAT2
