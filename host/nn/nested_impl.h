/*
 * One step of the nested model, written once for both precisions
 * (nested.c includes it with NN_T/NN_S as nn_layers.c does). The
 * composition is the specification's §3.4: three LSTM/embedding branches,
 * concatenated with the flow totals, then dense ReLU layers and softmax.
 * NN_HAS_OPS / NN_OP(call) (nested.c) send the LSTMs and dense layers
 * through a nested_ops table in float32; in float64 they are 0 / nothing.
 */
#define NN_CAT2(a, b) a##_##b
#define NN_CAT(a, b) NN_CAT2(a, b)
#define NN_FN(name) NN_CAT(name, NN_S)

double NN_FN(nested_step_ops)(const cf_nested_config *c, const NN_T *params, const cf_nested_batch *b, int lo,
                              int hi, double scale, NN_T *probs, NN_T *grad, NN_T *work, nested_ops *ops)
{
	(void)ops;
	const int n = hi - lo;
	if (n <= 0) return 0;
	nested_shape sh;
	nested_shape_of(c, &sh);
	const int Tp = c->max_packets, Ti = c->max_ids, Hp = c->pkt_hidden, Hi = c->id_hidden, D = c->ttl_dim;
	const int R = sh.root_inputs, U = c->dense_units, C = c->classes, NL = c->dense_layers;
	nested_work wl;
	nested_work_layout(c, n, &wl);
	NN_T *W = work;
	NN_T *px = W + wl.pkt_x, *ox = W + wl.out_x, *ix = W + wl.in_x;
	NN_T *pc = W + wl.pkt_cache, *oc = W + wl.out_cache, *ic = W + wl.in_cache;
	NN_T *ph = W + wl.pkt_h, *oh = W + wl.out_h, *ih = W + wl.in_h;
	NN_T *eo = W + wl.emb_out, *ei = W + wl.emb_in, *cat = W + wl.concat;
	NN_T *act = W + wl.act, *logits = W + wl.logits;
	NN_T *pr = probs ? probs : W + wl.probs;
	const NN_T *P = params;

	/* the batch holds float; the layers read NN_T */
	for (size_t k = 0; k < (size_t)n * Tp * 3; k++) px[k] = (NN_T)b->pkt[(size_t)lo * Tp * 3 + k];
	for (size_t k = 0; k < (size_t)n * Ti; k++) {
		ox[k] = (NN_T)b->id_out[(size_t)lo * Ti + k];
		ix[k] = (NN_T)b->id_in[(size_t)lo * Ti + k];
	}
	int need_cache = grad != NULL;
	if (NN_HAS_OPS) {
		NN_OP(lstm_forward(ops->ctx, 0, n, Tp, 3, Hp, px, b->pkt_len + lo, P + sh.pkt_wih, P + sh.pkt_whh,
		                   P + sh.pkt_bih, P + sh.pkt_bhh, ph, need_cache));
		NN_OP(lstm_forward(ops->ctx, 1, n, Ti, 1, Hi, ox, b->id_out_len + lo, P + sh.id_wih, P + sh.id_whh,
		                   P + sh.id_bih, P + sh.id_bhh, oh, need_cache));
		NN_OP(lstm_forward(ops->ctx, 2, n, Ti, 1, Hi, ix, b->id_in_len + lo, P + sh.id_wih, P + sh.id_whh,
		                   P + sh.id_bih, P + sh.id_bhh, ih, need_cache));
	} else {
		/* each LSTM's weights transposed once for the chunk */
		NN_T *pwt = W + wl.pkt_wt, *iwt = W + wl.id_wt;
		NN_FN(nn_lstm_transpose)(3, Hp, P + sh.pkt_wih, P + sh.pkt_whh, pwt);
		NN_FN(nn_lstm_transpose)(1, Hi, P + sh.id_wih, P + sh.id_whh, iwt);
		NN_FN(nn_lstm_forward_t)(n, Tp, 3, Hp, px, b->pkt_len + lo, pwt, pwt + (size_t)3 * 4 * Hp, P + sh.pkt_bih,
		                         P + sh.pkt_bhh, ph, need_cache ? pc : NULL);
		NN_FN(nn_lstm_forward_t)(n, Ti, 1, Hi, ox, b->id_out_len + lo, iwt, iwt + (size_t)4 * Hi, P + sh.id_bih,
		                         P + sh.id_bhh, oh, need_cache ? oc : NULL);
		NN_FN(nn_lstm_forward_t)(n, Ti, 1, Hi, ix, b->id_in_len + lo, iwt, iwt + (size_t)4 * Hi, P + sh.id_bih,
		                         P + sh.id_bhh, ih, need_cache ? ic : NULL);
	}
	NN_FN(cf_nn_embedding_forward)(n, c->ttl_vocab, D, b->ttl_out + lo, P + sh.emb, eo);
	NN_FN(cf_nn_embedding_forward)(n, c->ttl_vocab, D, b->ttl_in + lo, P + sh.emb, ei);
	for (int s = 0; s < n; s++) {
		NN_T *row = cat + (size_t)s * R;
		int o = 0;
		for (int k = 0; k < Hp; k++) row[o++] = ph[(size_t)s * Hp + k];
		for (int k = 0; k < D; k++) row[o++] = eo[(size_t)s * D + k];
		for (int k = 0; k < Hi; k++) row[o++] = oh[(size_t)s * Hi + k];
		for (int k = 0; k < D; k++) row[o++] = ei[(size_t)s * D + k];
		for (int k = 0; k < Hi; k++) row[o++] = ih[(size_t)s * Hi + k];
		for (int k = 0; k < CF_NESTED_ROOT_FEATURES; k++)
			row[o++] = (NN_T)b->root[(size_t)(lo + s) * CF_NESTED_ROOT_FEATURES + k];
	}
	/* act holds each dense layer's output after ReLU: layer k at act + k*n*U */
	const NN_T *in = cat;
	int in_w = R;
	for (int l = 0; l < NL; l++) {
		NN_T *y = act + (size_t)l * n * U;
		if (NN_HAS_OPS) NN_OP(dense_forward(ops->ctx, l, n, in_w, U, in, P + sh.dense_w[l], P + sh.dense_b[l], y));
		else NN_FN(cf_nn_dense_forward)(n, in_w, U, in, P + sh.dense_w[l], P + sh.dense_b[l], y);
		NN_FN(cf_nn_relu_forward)((size_t)n * U, y, y);
		in = y;
		in_w = U;
	}
	if (NN_HAS_OPS) NN_OP(dense_forward(ops->ctx, NL, n, in_w, C, in, P + sh.out_w, P + sh.out_b, logits));
	else NN_FN(cf_nn_dense_forward)(n, in_w, C, in, P + sh.out_w, P + sh.out_b, logits);
	NN_T *dlog = grad ? W + wl.dlogits : NULL;
	double loss = NN_FN(cf_nn_softmax_xent)(n, C, logits, b->label + lo, scale, pr, dlog);
	if (!grad) return loss;

	/* backward, from the softmax to each branch */
	NN_T *G = grad, *da = W + wl.dact_a, *db2 = W + wl.dact_b, *dcat = W + wl.dconcat;
	const NN_T *last_in = NL > 0 ? act + (size_t)(NL - 1) * n * U : cat;
	NN_T *dcur = NL > 0 ? da : dcat;
	if (NN_HAS_OPS)
		NN_OP(dense_backward(ops->ctx, NL, n, NL > 0 ? U : R, C, last_in, P + sh.out_w, dlog, dcur, G + sh.out_w,
		                     G + sh.out_b));
	else
		NN_FN(cf_nn_dense_backward)(n, NL > 0 ? U : R, C, last_in, P + sh.out_w, dlog, dcur, G + sh.out_w,
		                            G + sh.out_b);
	for (int l = NL - 1; l >= 0; l--) {
		NN_T *y = act + (size_t)l * n * U;
		NN_FN(cf_nn_relu_backward)((size_t)n * U, y, dcur, dcur);
		const NN_T *x_in = l > 0 ? act + (size_t)(l - 1) * n * U : cat;
		NN_T *dnext = l > 0 ? (dcur == da ? db2 : da) : dcat;
		if (NN_HAS_OPS)
			NN_OP(dense_backward(ops->ctx, l, n, l > 0 ? U : R, U, x_in, P + sh.dense_w[l], dcur, dnext,
			                     G + sh.dense_w[l], G + sh.dense_b[l]));
		else
			NN_FN(cf_nn_dense_backward)(n, l > 0 ? U : R, U, x_in, P + sh.dense_w[l], dcur, dnext,
			                            G + sh.dense_w[l], G + sh.dense_b[l]);
		dcur = dnext;
	}
	/* split the concatenation's gradient back into the branches */
	for (int s = 0; s < n; s++) {
		const NN_T *row = dcat + (size_t)s * R;
		int o = 0;
		for (int k = 0; k < Hp; k++) ph[(size_t)s * Hp + k] = row[o++];
		for (int k = 0; k < D; k++) eo[(size_t)s * D + k] = row[o++];
		for (int k = 0; k < Hi; k++) oh[(size_t)s * Hi + k] = row[o++];
		for (int k = 0; k < D; k++) ei[(size_t)s * D + k] = row[o++];
		for (int k = 0; k < Hi; k++) ih[(size_t)s * Hi + k] = row[o++];
	}
	if (NN_HAS_OPS) {
		NN_OP(lstm_backward(ops->ctx, 0, ph, G + sh.pkt_wih, G + sh.pkt_whh, G + sh.pkt_bih, G + sh.pkt_bhh));
		NN_OP(lstm_backward(ops->ctx, 1, oh, G + sh.id_wih, G + sh.id_whh, G + sh.id_bih, G + sh.id_bhh));
		NN_OP(lstm_backward(ops->ctx, 2, ih, G + sh.id_wih, G + sh.id_whh, G + sh.id_bih, G + sh.id_bhh));
	} else {
		NN_FN(cf_nn_lstm_backward)(n, Tp, 3, Hp, px, b->pkt_len + lo, P + sh.pkt_wih, P + sh.pkt_whh, pc, ph, NULL,
		                           G + sh.pkt_wih, G + sh.pkt_whh, G + sh.pkt_bih, G + sh.pkt_bhh);
		NN_FN(cf_nn_lstm_backward)(n, Ti, 1, Hi, ox, b->id_out_len + lo, P + sh.id_wih, P + sh.id_whh, oc, oh, NULL,
		                           G + sh.id_wih, G + sh.id_whh, G + sh.id_bih, G + sh.id_bhh);
		NN_FN(cf_nn_lstm_backward)(n, Ti, 1, Hi, ix, b->id_in_len + lo, P + sh.id_wih, P + sh.id_whh, ic, ih, NULL,
		                           G + sh.id_wih, G + sh.id_whh, G + sh.id_bih, G + sh.id_bhh);
	}
	NN_FN(cf_nn_embedding_backward)(n, c->ttl_vocab, D, b->ttl_out + lo, eo, G + sh.emb);
	NN_FN(cf_nn_embedding_backward)(n, c->ttl_vocab, D, b->ttl_in + lo, ei, G + sh.emb);
	return loss;
}

#undef NN_FN
#undef NN_CAT
#undef NN_CAT2
