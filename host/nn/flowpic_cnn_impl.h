/*
 * One step of a FlowPic CNN, written once for both precisions
 * (flowpic_cnn.c includes it with NN_T / NN_S as nested.c does). The
 * composition is include/cuflow/nn_flowpic.h's: conv1 (sparse for the
 * official model, dense for mini), ReLU, maxpool, conv2, ReLU, conv-stage
 * dropout (element-wise / 2-D), maxpool, flatten, fc1 ReLU, [fc2 ReLU,]
 * fc dropout, out, softmax cross-entropy; then the same layers backward.
 * NN_HAS_OPS / NN_OP(call) (flowpic_cnn.c) send the dense convolutions and
 * the dense layers through a flowpic_ops table (float32) instead.
 */
#define NN_CAT2(a, b) a##_##b
#define NN_CAT(a, b) NN_CAT2(a, b)
#define NN_FN(name) NN_CAT(name, NN_S)

double NN_FN(flowpic_step_ops)(const cf_flowpic_cnn_config *c, const NN_T *params, const cf_flowpic_batch *b, int lo,
                               int hi, double scale, int training, NN_T *probs, NN_T *grad, NN_T *work,
                               flowpic_ops *ops)
{
	(void)ops; /* the float64 instance has no ops */
	fp_layout L;
	if (fp_layout_of(c, &L) != 0 || b->kind != c->kind || b->channels != c->channels || b->size != c->size ||
	    lo < 0 || hi > b->n)
		return NAN;
	const int n = hi - lo;
	if (n <= 0)
		return 0;
	const int official = c->kind == CF_FLOWPIC_CNN_OFFICIAL;
	if (official ? !b->offsets : !b->dense)
		return NAN;
	if (official) /* a sample holds at most C x S x S pixels (the xin buffer) */
		for (int s = lo; s < hi; s++)
			if (b->offsets[s + 1] < b->offsets[s] ||
			    (uint64_t)(b->offsets[s + 1] - b->offsets[s]) > (uint64_t)c->channels * c->size * c->size)
				return NAN;
	const cf_flowpic_cnn_shape *sh = &L.sh;
	fp_work wl;
	fp_work_layout(c, &L, n, &wl);
	const int Cin = c->channels, S = c->size, O1 = c->conv1, O2 = c->conv2, K = c->classes;
	const int F = sh->flat, U1 = c->hidden1, U2 = c->hidden2, UL = L.last, pool = c->pool;
	const size_t img = (size_t)Cin * S * S;
	const size_t A1 = (size_t)O1 * sh->c1_h * sh->c1_w, A2 = (size_t)O2 * sh->c2_h * sh->c2_w;
	NN_T *W = work;
	NN_T *xin = W + wl.xin, *a1 = W + wl.a1, *p1 = W + wl.p1, *a2 = W + wl.a2, *r2 = W + wl.r2, *p2 = W + wl.p2;
	NN_T *h1 = W + wl.h1, *h2 = W + wl.h2, *hd = W + wl.hd, *logits = W + wl.logits;
	NN_T *pr = probs ? probs : W + wl.probs;
	uint8_t *mconv = NULL, *mfc = NULL;
	const NN_T *P = params;

	cf_nn_conv2d_dims d1, d2;
	conv_dims_of(&d1, n, Cin, S, O1, c, sh->pad1);
	conv_dims_of(&d2, n, O1, sh->p1_h, O2, c, sh->pad2);

	/* masks from each sample's seed (absolute index lo + s) */
	if (training) {
		mconv = (uint8_t *)(W + wl.masks);
		mfc = mconv + (size_t)n * wl.per_conv;
		for (int s = 0; s < n; s++) {
			const uint64_t seed = b->seed ? b->seed[lo + s] : (uint64_t)(lo + s);
			cf_nn_dropout_mask(seed, 1, wl.per_conv, c->drop_conv, mconv + (size_t)s * wl.per_conv);
			cf_nn_dropout_mask(seed ^ CF_FLOWPIC_FC_SEED_XOR, 1, (size_t)UL, c->drop_fc, mfc + (size_t)s * UL);
		}
	}

	/* conv1: official from the sparse pixels, one sample at a time (the
	 * batch holds float; the layer reads NN_T); mini from the dense images */
	cf_nn_conv2d_dims d1s = d1;
	d1s.B = 1;
	if (official) {
		for (int s = 0; s < n; s++) {
			const int64_t k0 = b->offsets[lo + s], k1 = b->offsets[lo + s + 1];
			for (int64_t k = k0; k < k1; k++)
				xin[k - k0] = (NN_T)b->pv[k];
			const int64_t offs[2] = {0, k1 - k0};
			NN_FN(cf_nn_sparse) xs = {offs, b->pc + k0, b->py + k0, b->px + k0, xin};
			NN_FN(cf_nn_conv2d_sparse_forward)(&d1s, &xs, P + L.c1w, P + L.c1b, a1 + (size_t)s * A1);
		}
	} else {
		for (size_t k = 0; k < (size_t)n * img; k++)
			xin[k] = (NN_T)b->dense[(size_t)lo * img + k];
		if (NN_HAS_OPS) NN_OP(conv_forward(ops->ctx, 0, &d1, xin, P + L.c1w, P + L.c1b, a1));
		else NN_FN(cf_nn_conv2d_forward)(&d1, xin, P + L.c1w, P + L.c1b, a1);
	}
	NN_FN(cf_nn_relu_forward)((size_t)n * A1, a1, a1);
	NN_FN(cf_nn_maxpool2d_forward)(n, O1, sh->c1_h, sh->c1_w, pool, pool, pool, pool, a1, p1);
	if (NN_HAS_OPS) NN_OP(conv_forward(ops->ctx, 1, &d2, p1, P + L.c2w, P + L.c2b, a2));
	else NN_FN(cf_nn_conv2d_forward)(&d2, p1, P + L.c2w, P + L.c2b, a2);
	NN_FN(cf_nn_relu_forward)((size_t)n * A2, a2, a2);
	const size_t plane2 = (size_t)sh->c2_h * sh->c2_w;
	if (official)
		NN_FN(cf_nn_dropout_forward)((size_t)n * A2, a2, mconv, c->drop_conv, r2);
	else
		NN_FN(cf_nn_dropout2d_forward)(n, O2, plane2, a2, mconv, c->drop_conv, r2);
	NN_FN(cf_nn_maxpool2d_forward)(n, O2, sh->c2_h, sh->c2_w, pool, pool, pool, pool, r2, p2);
	/* flatten: p2 is already n x F in (c, y, x) order */
	if (NN_HAS_OPS) NN_OP(dense_forward(ops->ctx, 0, n, F, U1, p2, P + L.f1w, P + L.f1b, h1));
	else NN_FN(cf_nn_dense_forward)(n, F, U1, p2, P + L.f1w, P + L.f1b, h1);
	NN_FN(cf_nn_relu_forward)((size_t)n * U1, h1, h1);
	NN_T *hl = h1;
	if (U2 > 0) {
		if (NN_HAS_OPS) NN_OP(dense_forward(ops->ctx, 1, n, U1, U2, h1, P + L.f2w, P + L.f2b, h2));
		else NN_FN(cf_nn_dense_forward)(n, U1, U2, h1, P + L.f2w, P + L.f2b, h2);
		NN_FN(cf_nn_relu_forward)((size_t)n * U2, h2, h2);
		hl = h2;
	}
	NN_FN(cf_nn_dropout_forward)((size_t)n * UL, hl, mfc, c->drop_fc, hd);
	if (NN_HAS_OPS) NN_OP(dense_forward(ops->ctx, 2, n, UL, K, hd, P + L.ow, P + L.ob, logits));
	else NN_FN(cf_nn_dense_forward)(n, UL, K, hd, P + L.ow, P + L.ob, logits);
	NN_T *dlog = grad ? W + wl.dlogits : NULL;
	double loss = NN_FN(cf_nn_softmax_xent)(n, K, logits, b->label + lo, scale, pr, dlog);
	if (!grad)
		return loss;

	/* backward */
	NN_T *G = grad, *dA = W + wl.dA, *dB = W + wl.dB, *dr2 = W + wl.dr2, *dp1 = W + wl.dp1, *da1 = W + wl.da1;
	if (NN_HAS_OPS) NN_OP(dense_backward(ops->ctx, 2, n, UL, K, hd, P + L.ow, dlog, dA, G + L.ow, G + L.ob));
	else NN_FN(cf_nn_dense_backward)(n, UL, K, hd, P + L.ow, dlog, dA, G + L.ow, G + L.ob);
	NN_FN(cf_nn_dropout_backward)((size_t)n * UL, dA, mfc, c->drop_fc, dA);
	NN_T *dflat;
	if (U2 > 0) {
		NN_FN(cf_nn_relu_backward)((size_t)n * U2, h2, dA, dA);
		if (NN_HAS_OPS) NN_OP(dense_backward(ops->ctx, 1, n, U1, U2, h1, P + L.f2w, dA, dB, G + L.f2w, G + L.f2b));
		else NN_FN(cf_nn_dense_backward)(n, U1, U2, h1, P + L.f2w, dA, dB, G + L.f2w, G + L.f2b);
		NN_FN(cf_nn_relu_backward)((size_t)n * U1, h1, dB, dB);
		if (NN_HAS_OPS) NN_OP(dense_backward(ops->ctx, 0, n, F, U1, p2, P + L.f1w, dB, dA, G + L.f1w, G + L.f1b));
		else NN_FN(cf_nn_dense_backward)(n, F, U1, p2, P + L.f1w, dB, dA, G + L.f1w, G + L.f1b);
		dflat = dA;
	} else {
		NN_FN(cf_nn_relu_backward)((size_t)n * U1, h1, dA, dA);
		if (NN_HAS_OPS) NN_OP(dense_backward(ops->ctx, 0, n, F, U1, p2, P + L.f1w, dA, dB, G + L.f1w, G + L.f1b));
		else NN_FN(cf_nn_dense_backward)(n, F, U1, p2, P + L.f1w, dA, dB, G + L.f1w, G + L.f1b);
		dflat = dB;
	}
	NN_FN(cf_nn_maxpool2d_backward)(n, O2, sh->c2_h, sh->c2_w, pool, pool, pool, pool, r2, dflat, dr2);
	if (official)
		NN_FN(cf_nn_dropout_backward)((size_t)n * A2, dr2, mconv, c->drop_conv, dr2);
	else
		NN_FN(cf_nn_dropout2d_backward)(n, O2, plane2, dr2, mconv, c->drop_conv, dr2);
	NN_FN(cf_nn_relu_backward)((size_t)n * A2, a2, dr2, dr2);
	if (NN_HAS_OPS) NN_OP(conv_backward(ops->ctx, 1, &d2, p1, P + L.c2w, dr2, dp1, G + L.c2w, G + L.c2b));
	else NN_FN(cf_nn_conv2d_backward)(&d2, p1, P + L.c2w, dr2, dp1, G + L.c2w, G + L.c2b);
	NN_FN(cf_nn_maxpool2d_backward)(n, O1, sh->c1_h, sh->c1_w, pool, pool, pool, pool, a1, dp1, da1);
	NN_FN(cf_nn_relu_backward)((size_t)n * A1, a1, da1, da1);
	if (official) {
		for (int s = 0; s < n; s++) {
			const int64_t k0 = b->offsets[lo + s], k1 = b->offsets[lo + s + 1];
			for (int64_t k = k0; k < k1; k++)
				xin[k - k0] = (NN_T)b->pv[k];
			const int64_t offs[2] = {0, k1 - k0};
			NN_FN(cf_nn_sparse) xs = {offs, b->pc + k0, b->py + k0, b->px + k0, xin};
			NN_FN(cf_nn_conv2d_sparse_backward)(&d1s, &xs, da1 + (size_t)s * A1, G + L.c1w, G + L.c1b);
		}
	} else {
		if (NN_HAS_OPS) NN_OP(conv_backward(ops->ctx, 0, &d1, xin, P + L.c1w, da1, NULL, G + L.c1w, G + L.c1b));
		else NN_FN(cf_nn_conv2d_backward)(&d1, xin, P + L.c1w, da1, NULL, G + L.c1w, G + L.c1b);
	}
	return loss;
}

#undef NN_FN
#undef NN_CAT
#undef NN_CAT2
