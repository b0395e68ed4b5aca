#!/usr/bin/env python3
"""An independent numpy reference for cuflow's model layers (include/cuflow/nn.h)
and the nested model, forward and backward, in float64.

Written from the math (nn.h's comment; ../shared/specs/flowpic_joy_lstm.md
§3.4 for the model, §4.3 for the LSTM equations), not from host/nn/*.c.
Where the header leaves a point open this follows PyTorch:

  * LSTM with true lengths = nn.LSTM over a packed sequence: the state stops
    after step len[b]-1, steps at or past len[b] neither change it nor get a
    gradient (dx = 0 there); len=None means every sample runs T steps.
  * Dense = nn.Linear, Embedding = nn.Embedding (repeated indices accumulate
    in the weight gradient).
  * Softmax + cross-entropy = CrossEntropyLoss(reduction='sum') * scale with
    ignore_index = any negative label: such a row adds nothing to the loss and
    gets dlogits = 0 (its probabilities are still computed).

Layouts are the header's: batch-major, row-major, PyTorch's weight shapes.
Gradients are returned fresh (the C functions ADD into theirs; the checker
pre-fills and subtracts).

Run as a script it checks itself against central finite differences
(exit 0 when every gradient agrees).
"""
import numpy as np

PKT_FEATURES = 3
ROOT_FEATURES = 5


# ----------------------------------------------------------------- activations

def sigmoid(z):
	z = np.asarray(z, dtype=np.float64)
	out = np.empty_like(z)
	pos = z >= 0
	out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
	e = np.exp(z[~pos])
	out[~pos] = e / (1.0 + e)
	return out


# ------------------------------------------------------------------------ LSTM

def lstm_forward(x, lens, w_ih, w_hh, b_ih, b_hh):
	"""x (B,T,I); lens (B,) ints in [1,T] or None; w_ih (4H,I); w_hh (4H,H);
	b_ih, b_hh (4H,). Returns h_last (B,H) and cache (B,T,6H) holding, per
	step, [i, f, g, o, c, h] (zeros at steps t >= len[b])."""
	x = np.asarray(x, dtype=np.float64)
	B, T, _ = x.shape
	H = w_hh.shape[1]
	if lens is None:
		lens = np.full(B, T, dtype=np.int64)
	lens = np.asarray(lens)
	assert lens.shape == (B,) and np.all(lens >= 1) and np.all(lens <= T)
	h = np.zeros((B, H))
	c = np.zeros((B, H))
	cache = np.zeros((B, T, 6 * H))
	for t in range(T):
		a = x[:, t, :] @ w_ih.T + b_ih + h @ w_hh.T + b_hh  # (B,4H)
		i = sigmoid(a[:, 0:H])
		f = sigmoid(a[:, H:2 * H])
		g = np.tanh(a[:, 2 * H:3 * H])
		o = sigmoid(a[:, 3 * H:4 * H])
		c_new = f * c + i * g
		h_new = o * np.tanh(c_new)
		m = (t < lens)[:, None]
		c = np.where(m, c_new, c)
		h = np.where(m, h_new, h)
		step = np.concatenate([i, f, g, o, c_new, h_new], axis=1)
		cache[:, t, :] = np.where(m, step, 0.0)
	return h, cache


def lstm_backward(x, lens, w_ih, w_hh, cache, dh_last):
	"""Gradients of sum(dh_last * h_last): dx (B,T,I), dw_ih, dw_hh, db_ih, db_hh."""
	x = np.asarray(x, dtype=np.float64)
	B, T, I = x.shape
	H = w_hh.shape[1]
	if lens is None:
		lens = np.full(B, T, dtype=np.int64)
	lens = np.asarray(lens)
	dx = np.zeros((B, T, I))
	dw_ih = np.zeros((4 * H, I))
	dw_hh = np.zeros((4 * H, H))
	db = np.zeros(4 * H)
	dh = np.array(dh_last, dtype=np.float64).reshape(B, H)
	dc = np.zeros((B, H))
	for t in range(T - 1, -1, -1):
		m = (t < lens)[:, None]
		i = cache[:, t, 0:H]
		f = cache[:, t, H:2 * H]
		g = cache[:, t, 2 * H:3 * H]
		o = cache[:, t, 3 * H:4 * H]
		ct = cache[:, t, 4 * H:5 * H]
		if t > 0:
			c_prev = cache[:, t - 1, 4 * H:5 * H]
			h_prev = cache[:, t - 1, 5 * H:6 * H]
		else:
			c_prev = np.zeros((B, H))
			h_prev = np.zeros((B, H))
		tc = np.tanh(ct)
		do = dh * tc
		dct = dc + dh * o * (1.0 - tc * tc)
		di = dct * g
		dg = dct * i
		df = dct * c_prev
		da = np.concatenate([di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g * g), do * o * (1.0 - o)],
		                    axis=1)
		da = np.where(m, da, 0.0)  # inactive steps: no gradient anywhere
		dw_ih += da.T @ x[:, t, :]
		dw_hh += da.T @ h_prev
		db += da.sum(axis=0)
		dx[:, t, :] = da @ w_ih
		# active samples: gradient flows to step t-1's state; inactive ones
		# (t >= len) carry the final state's gradient back unchanged
		dh = np.where(m, da @ w_hh, dh)
		dc = np.where(m, dct * f, dc)
	return dx, dw_ih, dw_hh, db, db.copy()


# ---------------------------------------------------------- dense, relu, embed

def dense_forward(x, w, b):
	return np.asarray(x, np.float64) @ w.T + b


def dense_backward(x, w, dy):
	"""dx (B,I), dw (O,I), db (O,)."""
	return dy @ w, dy.T @ np.asarray(x, np.float64), dy.sum(axis=0)


def relu_forward(x):
	return np.maximum(x, 0.0)


def relu_backward(y, dy):
	return np.where(y > 0, dy, 0.0)


def embedding_forward(idx, w):
	return np.asarray(w, np.float64)[np.asarray(idx)]


def embedding_backward(idx, V, dy):
	dw = np.zeros((V, dy.shape[1]))
	np.add.at(dw, np.asarray(idx), dy)
	return dw


def softmax_xent(logits, label, scale):
	"""Returns (loss, probs, dlogits); rows with label < 0 are ignored."""
	z = np.asarray(logits, np.float64)
	z = z - z.max(axis=1, keepdims=True)
	e = np.exp(z)
	probs = e / e.sum(axis=1, keepdims=True)
	logp = z - np.log(e.sum(axis=1, keepdims=True))
	label = np.asarray(label)
	use = label >= 0
	rows = np.nonzero(use)[0]
	loss = -scale * logp[rows, label[rows]].sum()
	d = probs.copy()
	d[rows, label[rows]] -= 1.0
	d[~use] = 0.0
	return float(loss), probs, d * scale


# ------------------------------------------------------------ the nested model

def default_config():
	return dict(pkt_hidden=16, ttl_vocab=256, ttl_dim=8, id_hidden=8, dense_units=10, dense_layers=3,
	            classes=3, max_packets=100, max_ids=50, reference_compat=0)


def root_inputs(cfg):
	return cfg["pkt_hidden"] + 2 * cfg["ttl_dim"] + 2 * cfg["id_hidden"] + ROOT_FEATURES


def param_layout(cfg):
	"""[(name, shape)] in the header's order."""
	P, Q, D, V = cfg["pkt_hidden"], cfg["id_hidden"], cfg["ttl_dim"], cfg["ttl_vocab"]
	U, L, C = cfg["dense_units"], cfg["dense_layers"], cfg["classes"]
	out = [("pkt_lstm.weight_ih_l0", (4 * P, PKT_FEATURES)), ("pkt_lstm.weight_hh_l0", (4 * P, P)),
	       ("pkt_lstm.bias_ih_l0", (4 * P,)), ("pkt_lstm.bias_hh_l0", (4 * P,)),
	       ("ttl_embedding.weight", (V, D)),
	       ("id_lstm.weight_ih_l0", (4 * Q, 1)), ("id_lstm.weight_hh_l0", (4 * Q, Q)),
	       ("id_lstm.bias_ih_l0", (4 * Q,)), ("id_lstm.bias_hh_l0", (4 * Q,))]
	width = root_inputs(cfg)
	for k in range(L):
		out += [("dense.%d.weight" % k, (U, width)), ("dense.%d.bias" % k, (U,))]
		width = U
	out += [("out.weight", (C, width)), ("out.bias", (C,))]
	return out


def param_offsets(cfg):
	"""[(name, shape, offset, count)]."""
	res, off = [], 0
	for name, shape in param_layout(cfg):
		n = int(np.prod(shape))
		res.append((name, shape, off, n))
		off += n
	return res


def param_count(cfg):
	return sum(n for _, _, _, n in param_offsets(cfg))


def unflatten(cfg, flat):
	return {name: flat[off:off + n].reshape(shape) for name, shape, off, n in param_offsets(cfg)}


def flatten(cfg, d):
	return np.concatenate([np.asarray(d[name], np.float64).reshape(-1) for name, _, _, _ in param_offsets(cfg)])


def nested_step(cfg, flat, batch, lo, hi, scale, want_grad=True):
	"""The model over samples [lo, hi) of `batch` (a dict of numpy arrays laid
	out as cf_nested_batch: pkt (cap, max_packets, 3), pkt_len (cap,),
	ttl_out, ttl_in (cap,), id_out, id_in (cap, max_ids), id_out_len,
	id_in_len (cap,), root (cap, 5), label (cap,), t_pkt, t_ids).
	Returns (loss, probs (hi-lo, C), grad flat or None)."""
	p = unflatten(cfg, np.asarray(flat, np.float64))
	sl = slice(lo, hi)
	tp, ti = batch["t_pkt"], batch["t_ids"]
	pkt = np.asarray(batch["pkt"][sl, :tp, :], np.float64)
	ido = np.asarray(batch["id_out"][sl, :ti], np.float64)[:, :, None]
	idi = np.asarray(batch["id_in"][sl, :ti], np.float64)[:, :, None]
	plen = np.asarray(batch["pkt_len"][sl])
	olen = np.asarray(batch["id_out_len"][sl])
	ilen = np.asarray(batch["id_in_len"][sl])
	tto = np.asarray(batch["ttl_out"][sl])
	tti = np.asarray(batch["ttl_in"][sl])
	root = np.asarray(batch["root"][sl], np.float64)
	label = np.asarray(batch["label"][sl])

	pl = ("pkt_lstm.weight_ih_l0", "pkt_lstm.weight_hh_l0", "pkt_lstm.bias_ih_l0", "pkt_lstm.bias_hh_l0")
	il = ("id_lstm.weight_ih_l0", "id_lstm.weight_hh_l0", "id_lstm.bias_ih_l0", "id_lstm.bias_hh_l0")
	h_pkt, c_pkt = lstm_forward(pkt, plen, *(p[n] for n in pl))
	h_ido, c_ido = lstm_forward(ido, olen, *(p[n] for n in il))
	h_idi, c_idi = lstm_forward(idi, ilen, *(p[n] for n in il))
	emb = p["ttl_embedding.weight"]
	e_o = embedding_forward(tto, emb)
	e_i = embedding_forward(tti, emb)
	parts = [h_pkt, e_o, h_ido, e_i, h_idi, root]
	act = [np.concatenate(parts, axis=1)]
	for k in range(cfg["dense_layers"]):
		act.append(relu_forward(dense_forward(act[-1], p["dense.%d.weight" % k], p["dense.%d.bias" % k])))
	logits = dense_forward(act[-1], p["out.weight"], p["out.bias"])
	loss, probs, dlog = softmax_xent(logits, label, scale)
	if not want_grad:
		return loss, probs, None

	g = {name: np.zeros(shape) for name, shape in param_layout(cfg)}
	dx, g["out.weight"], g["out.bias"] = dense_backward(act[-1], p["out.weight"], dlog)
	for k in range(cfg["dense_layers"] - 1, -1, -1):
		dz = relu_backward(act[k + 1], dx)
		dx, g["dense.%d.weight" % k], g["dense.%d.bias" % k] = dense_backward(act[k], p["dense.%d.weight" % k], dz)
	widths = [x.shape[1] for x in parts]
	cuts = np.cumsum(widths)[:-1]
	d_pkt, d_eo, d_ido, d_ei, d_idi, _ = np.split(dx, cuts, axis=1)
	V = cfg["ttl_vocab"]
	g["ttl_embedding.weight"] = embedding_backward(tto, V, d_eo) + embedding_backward(tti, V, d_ei)
	_, a, b, c, d = lstm_backward(pkt, plen, p[pl[0]], p[pl[1]], c_pkt, d_pkt)
	for n, v in zip(pl, (a, b, c, d)):
		g[n] = v
	for xs, ls, cache, dh in ((ido, olen, c_ido, d_ido), (idi, ilen, c_idi, d_idi)):
		_, a, b, c, d = lstm_backward(xs, ls, p[il[0]], p[il[1]], cache, dh)
		for n, v in zip(il, (a, b, c, d)):
			g[n] += v
	return loss, probs, flatten(cfg, g)


def random_batch(rng, cfg, n, t_pkt, t_ids, compat=False, garbage=0.0, label_none=0.25, scaled=True):
	"""A batch as cf_nested_batch holds it (float32 sequences, int32 ints).
	Lengths are drawn in [1, t] (always including 1 and t when n >= 2) unless
	compat (all lengths = the padded length). Steps at or past a sample's
	length are zero up to t_pkt / t_ids; past t_pkt / t_ids (up to
	max_packets / max_ids, which the model must not read) hold `garbage`."""
	mp, mi = cfg["max_packets"], cfg["max_ids"]

	def lens(t):
		if compat:
			return np.full(n, t, np.int32)
		v = rng.integers(1, t + 1, size=n).astype(np.int32)
		if n >= 2:
			v[0], v[1] = 1, t
		return v

	pkt = np.full((n, mp, 3), garbage, np.float32)
	plen = lens(t_pkt)
	id_out = np.full((n, mi), garbage, np.float32)
	id_in = np.full((n, mi), garbage, np.float32)
	olen, ilen = lens(t_ids), lens(t_ids)
	if not compat and n >= 3:
		olen[2], ilen[2] = t_ids, 1
	for s in range(n):
		pkt[s, :t_pkt] = 0
		id_out[s, :t_ids] = 0
		id_in[s, :t_ids] = 0
		L = plen[s]
		if scaled:
			pkt[s, :L, 0] = rng.uniform(0, 1.5, L)        # size / 1000
			pkt[s, :L, 1] = rng.integers(0, 2, L)         # direction
			pkt[s, :L, 2] = rng.exponential(0.5, L)       # log1p(ipt)
			id_out[s, :olen[s]] = rng.uniform(0, 1, olen[s])
			id_in[s, :ilen[s]] = rng.uniform(0, 1, ilen[s])
		else:  # the seed's raw scales (saturating, as the reference does)
			pkt[s, :L, 0] = rng.integers(40, 1500, L)
			pkt[s, :L, 1] = rng.integers(0, 2, L)
			pkt[s, :L, 2] = rng.integers(0, 300, L)
			id_out[s, :olen[s]] = rng.integers(0, 65536, olen[s])
			id_in[s, :ilen[s]] = rng.integers(0, 65536, ilen[s])
	V = cfg["ttl_vocab"]
	tto = rng.integers(0, V, n).astype(np.int32)
	tti = rng.integers(0, V, n).astype(np.int32)
	if n >= 2:
		tti[1] = tto[1]  # one sample uses the same row twice
	root = (rng.normal(0, 1, (n, 5)) if scaled else rng.integers(0, 100000, (n, 5))).astype(np.float32)
	label = rng.integers(0, cfg["classes"], n).astype(np.int32)
	label[rng.random(n) < label_none] = -1
	if n >= 2:
		label[0] = 0
	return dict(t_pkt=int(t_pkt), t_ids=int(t_ids), pkt=pkt, pkt_len=plen, ttl_out=tto, ttl_in=tti,
	            id_out=id_out, id_in=id_in, id_out_len=olen, id_in_len=ilen, root=root, label=label)


def random_params(rng, cfg, gain=1.0):
	"""PyTorch-style U(-1/sqrt(fan), 1/sqrt(fan)) times gain; embedding N(0,1)."""
	d = {}
	for name, shape in param_layout(cfg):
		if name.startswith("ttl_embedding"):
			d[name] = rng.normal(0, 1, shape)
			continue
		if "lstm" in name:
			fan = shape[0] // 4
		elif name.endswith("bias"):
			fan = d[name[:-4] + "weight"].shape[1]
		else:
			fan = shape[1]
		k = gain / np.sqrt(fan)
		d[name] = rng.uniform(-k, k, shape)
	return flatten(cfg, d)


# ------------------------------------------------------------------ self-check

def _fd(f, x, h=1e-6, idx=None):
	"""Central differences of scalar f() with respect to the array x (in place)."""
	g = np.zeros_like(x)
	flat = x.reshape(-1)
	gflat = g.reshape(-1)
	for k in (range(flat.size) if idx is None else idx):
		v = flat[k]
		flat[k] = v + h
		fp = f()
		flat[k] = v - h
		fm = f()
		flat[k] = v
		gflat[k] = (fp - fm) / (2 * h)
	return g


def _close(name, a, n, tol=1e-6):
	a = np.asarray(a, np.float64)
	n = np.asarray(n, np.float64)
	scale = max(np.abs(n).max(initial=0.0), 1e-300)
	err = np.abs(a - n).max(initial=0.0) / scale
	ok = err <= tol
	print("%-44s max|fd|=%.3e  max err/max|fd|=%.2e  %s" % (name, scale, err, "ok" if ok else "FAIL"))
	return ok


def selfcheck(seed=1):
	rng = np.random.default_rng(seed)
	ok = True
	for (B, T, I, H, lens) in ((3, 5, 2, 4, [1, 5, 3]), (1, 4, 3, 2, None), (2, 1, 1, 3, [1, 1]),
	                           (4, 6, 1, 3, [6, 6, 6, 6])):
		x = rng.normal(0, 1, (B, T, I))
		w_ih = rng.normal(0, 0.7, (4 * H, I))
		w_hh = rng.normal(0, 0.7, (4 * H, H))
		b_ih = rng.normal(0, 0.5, 4 * H)
		b_hh = rng.normal(0, 0.5, 4 * H)
		r = rng.normal(0, 1, (B, H))
		L = None if lens is None else np.array(lens)
		f = lambda: float((lstm_forward(x, L, w_ih, w_hh, b_ih, b_hh)[0] * r).sum())
		h, cache = lstm_forward(x, L, w_ih, w_hh, b_ih, b_hh)
		dx, dwi, dwh, dbi, dbh = lstm_backward(x, L, w_ih, w_hh, cache, r)
		tag = "lstm B%d T%d I%d H%d len=%s" % (B, T, I, H, lens)
		ok &= _close(tag + " dx", dx, _fd(f, x))
		ok &= _close(tag + " dw_ih", dwi, _fd(f, w_ih))
		ok &= _close(tag + " dw_hh", dwh, _fd(f, w_hh))
		ok &= _close(tag + " db_ih", dbi, _fd(f, b_ih))
		ok &= _close(tag + " db_hh", dbh, _fd(f, b_hh))
		if L is not None:
			for b in range(B):
				pad = dx[b, L[b]:]
				if pad.size and np.any(pad != 0):
					print("FAIL: dx nonzero past len")
					ok = False
		# an independent naive per-sample loop for the forward values
		for b in range(B):
			hh = np.zeros(H)
			cc = np.zeros(H)
			for t in range(T if L is None else L[b]):
				a = w_ih @ x[b, t] + b_ih + w_hh @ hh + b_hh
				ig, fg, gg, og = (1 / (1 + np.exp(-a[:H])), 1 / (1 + np.exp(-a[H:2 * H])), np.tanh(a[2 * H:3 * H]),
				                  1 / (1 + np.exp(-a[3 * H:])))
				cc = fg * cc + ig * gg
				hh = og * np.tanh(cc)
			if np.abs(hh - h[b]).max() > 1e-14:
				print("FAIL: lstm forward vs naive loop")
				ok = False

	B, I, O = 4, 3, 5
	x = rng.normal(0, 1, (B, I))
	w = rng.normal(0, 1, (O, I))
	b = rng.normal(0, 1, O)
	r = rng.normal(0, 1, (B, O))
	f = lambda: float((dense_forward(x, w, b) * r).sum())
	dx, dw, db = dense_backward(x, w, r)
	ok &= _close("dense dx", dx, _fd(f, x))
	ok &= _close("dense dw", dw, _fd(f, w))
	ok &= _close("dense db", db, _fd(f, b))

	x = rng.normal(0, 1, 20)
	x[np.abs(x) < 1e-3] = 0.5
	r = rng.normal(0, 1, 20)
	f = lambda: float((relu_forward(x) * r).sum())
	ok &= _close("relu dx", relu_backward(relu_forward(x), r), _fd(f, x))

	V, D = 6, 3
	idx = np.array([0, 5, 2, 2, 5, 5])
	w = rng.normal(0, 1, (V, D))
	r = rng.normal(0, 1, (len(idx), D))
	f = lambda: float((embedding_forward(idx, w) * r).sum())
	ok &= _close("embedding dw", embedding_backward(idx, V, r), _fd(f, w))

	z = rng.normal(0, 2, (5, 4))
	lab = np.array([0, 3, -1, 1, 3])
	f = lambda: softmax_xent(z, lab, 0.3)[0]
	ok &= _close("softmax_xent dlogits", softmax_xent(z, lab, 0.3)[2], _fd(f, z))
	p = softmax_xent(z, lab, 1.0)[1]
	ok &= _close("softmax probs", p, np.exp(z) / np.exp(z).sum(1, keepdims=True), 1e-15)

	for cfg in (dict(default_config(), pkt_hidden=5, id_hidden=3, ttl_vocab=7, ttl_dim=2, dense_units=4,
	                 dense_layers=2, classes=3, max_packets=9, max_ids=6),
	            dict(default_config(), pkt_hidden=3, id_hidden=2, ttl_vocab=4, ttl_dim=2, dense_units=3,
	                 dense_layers=0, classes=2, max_packets=4, max_ids=3)):
		batch = random_batch(rng, cfg, 5, cfg["max_packets"] - 2, cfg["max_ids"] - 1, garbage=3.0)
		flat = random_params(rng, cfg, gain=2.0)
		loss, probs, grad = nested_step(cfg, flat, batch, 1, 5, 0.25)
		f = lambda: nested_step(cfg, flat, batch, 1, 5, 0.25, want_grad=False)[0]
		fd = _fd(f, flat)
		for name, shape, off, n in param_offsets(cfg):
			ok &= _close("nested L%d %s" % (cfg["dense_layers"], name), grad[off:off + n], fd[off:off + n])
	print("selfcheck:", "ok" if ok else "FAILED")
	return ok


if __name__ == "__main__":
	import sys
	sys.exit(0 if selfcheck() else 1)
