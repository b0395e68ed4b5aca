#!/usr/bin/env python3
"""Compare cuflow's model layers and nested model (include/cuflow/nn.h, in
libcuflow.so) with the independent numpy reference nn_numpy_ref.py.

    nn_check_ctypes.py --lib BUILD/libcuflow.so [--seed N] [-v] [--skip-selfcheck]

Inputs, weights and lengths are drawn with a seeded numpy Generator. The
reference always computes in float64; for the _f32 functions it computes
from the very float32 values the C code got.

Agreement (tol = 1e-10 for _f64, 1e-5 for _f32), for every compared tensor
c (C) against r (numpy):
    norm-wise   ||c - r||_2 <= tol * ||r||_2
    per element |c - r|    <= tol * (|r| + max|r|)
(max|r| over the whole tensor: an element far smaller than the tensor's
largest is held to an absolute bound at the tensor's scale). An all-zero
reference must be matched exactly. Losses (scalars) are held to
|c - r| <= tol * max(|r|, 1).

Backward functions must ADD into weight gradients: they are pre-filled with
random values G0 of the reference's magnitude and compared with G0 + ref;
a second call (dx = NULL) must give G0 + 2 ref. dx / work arrays are
pre-filled with NaN (dx must be overwritten entirely, zeros at padded
steps; nothing may depend on the work array's prior contents), and every
output array has a guard tail that must stay untouched.

The numpy reference first checks its own gradients against central finite
differences (nn_numpy_ref.selfcheck; not with --skip-selfcheck, which the
gtest passes under sanitizers: numpy alone, it calls nothing in the library).
The criteria, guards, loader and command line are ctypes_check.py's.

Exit: 0 all agree; 1 some disagree; 3 the library or a symbol is missing.
"""
import ctypes as C
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctypes_check  # noqa: E402
import nn_numpy_ref as ref  # noqa: E402
from ctypes_check import CT, DT, P_F32, P_I32, TOL, buf, from_struct, i32, ptr  # noqa: E402


class Config(C.Structure):
	_fields_ = [(n, C.c_int) for n in ("pkt_hidden", "ttl_vocab", "ttl_dim", "id_hidden", "dense_units",
	                                   "dense_layers", "classes", "max_packets", "max_ids", "reference_compat")]


class Param(C.Structure):
	_fields_ = [("name", C.c_char * 48), ("ndim", C.c_int), ("dims", C.c_int64 * 2), ("offset", C.c_size_t),
	            ("count", C.c_size_t)]


class Batch(C.Structure):
	_fields_ = [("n", C.c_int), ("cap", C.c_int), ("t_pkt", C.c_int), ("t_ids", C.c_int), ("pkt", P_F32),
	            ("pkt_len", P_I32), ("ttl_out", P_I32), ("ttl_in", P_I32), ("id_out", P_F32), ("id_in", P_F32),
	            ("id_out_len", P_I32), ("id_in_len", P_I32), ("root", P_F32), ("label", P_I32)]


class Lib(ctypes_check.Lib):
	def declare(self):
		L = self.lib
		sz = C.c_size_t
		ci = C.c_int
		L.cf_nn_lstm_cache_elems.restype = sz
		L.cf_nn_lstm_cache_elems.argtypes = [ci, ci, ci]
		for s, ct in CT.items():
			P = C.POINTER(ct)
			self.fn("cf_nn_lstm_forward_" + s, None, [ci, ci, ci, ci, P, P_I32, P, P, P, P, P, P])
			self.fn("cf_nn_lstm_backward_" + s, None, [ci, ci, ci, ci, P, P_I32, P, P, P, P, P, P, P, P, P])
			self.fn("cf_nn_dense_forward_" + s, None, [ci, ci, ci, P, P, P, P])
			self.fn("cf_nn_dense_backward_" + s, None, [ci, ci, ci, P, P, P, P, P, P])
			self.fn("cf_nn_relu_forward_" + s, None, [sz, P, P])
			self.fn("cf_nn_relu_backward_" + s, None, [sz, P, P, P])
			self.fn("cf_nn_embedding_forward_" + s, None, [ci, ci, ci, P_I32, P, P])
			self.fn("cf_nn_embedding_backward_" + s, None, [ci, ci, ci, P_I32, P, P])
			self.fn("cf_nn_softmax_xent_" + s, C.c_double, [ci, ci, P, P_I32, C.c_double, P, P])
			self.fn("cf_nested_step_" + s, C.c_double,
			        [C.POINTER(Config), P, C.POINTER(Batch), ci, ci, C.c_double, P, P, P])
		self.fn("cf_nested_config_default", None, [C.POINTER(Config)])
		self.fn("cf_nested_root_inputs", ci, [C.POINTER(Config)])
		self.fn("cf_nested_params", ci, [C.POINTER(Config), C.POINTER(Param), ci])
		self.fn("cf_nested_param_count", sz, [C.POINTER(Config)])
		self.fn("cf_nested_batch_alloc", ci, [C.POINTER(Batch), C.POINTER(Config), ci])
		self.fn("cf_nested_batch_free", None, [C.POINTER(Batch)])
		self.fn("cf_nested_work_elems", sz, [C.POINTER(Config), ci])


# ---------------------------------------------------------------------- layers

def check_lstm(lib, ck, rng, s, B, T, I, H, lens, gain=1.5):
	dt, ct, tol = DT[s], CT[s], TOL[s]
	tag = "lstm_%s B%d T%d I%d H%d len=%s" % (s, B, T, I, H, "NULL" if lens is None else list(lens))
	k = gain / np.sqrt(H)
	# steps past a sample's length hold random values: they must not matter
	x = rng.normal(0, 1, (B, T, I)).astype(dt)
	w_ih = rng.uniform(-k, k, (4 * H, I)).astype(dt)
	w_hh = rng.uniform(-k, k, (4 * H, H)).astype(dt)
	b_ih = rng.uniform(-k, k, 4 * H).astype(dt)
	b_hh = rng.uniform(-k, k, 4 * H).astype(dt)
	L = i32(lens)
	n_cache = lib.cf_nn_lstm_cache_elems(B, T, H)
	ck.note(tag + " cache_elems", n_cache == B * T * 6 * H, "%d vs B*T*6H %d" % (n_cache, B * T * 6 * H))
	n_cache = max(n_cache, B * T * 6 * H)

	h_ref, cache_ref = ref.lstm_forward(x, L, w_ih, w_hh, b_ih, b_hh)
	h = buf(B * H, dt, np.nan)
	cache = buf(n_cache, dt, np.nan)
	getattr(lib, "cf_nn_lstm_forward_" + s)(B, T, I, H, ptr(x, ct), ptr(L, C.c_int32), ptr(w_ih, ct), ptr(w_hh, ct),
	                                        ptr(b_ih, ct), ptr(b_hh, ct), ptr(h, ct), ptr(cache, ct))
	ck.close(tag + " h_last", h[:B * H].reshape(B, H), h_ref, tol)
	ck.guard(tag + " h_last", h, B * H)
	ck.guard(tag + " cache", cache, n_cache)
	cc = cache[:B * T * 6 * H].reshape(B, T, 6 * H)
	valid = np.ones((B, T), bool) if L is None else (np.arange(T)[None, :] < L[:, None])
	ck.close(tag + " cache[i,f,g,o,c,h] at t<len", cc[valid], cache_ref[valid], tol)
	# inference: cache NULL
	h2 = buf(B * H, dt, np.nan)
	getattr(lib, "cf_nn_lstm_forward_" + s)(B, T, I, H, ptr(x, ct), ptr(L, C.c_int32), ptr(w_ih, ct), ptr(w_hh, ct),
	                                        ptr(b_ih, ct), ptr(b_hh, ct), ptr(h2, ct), None)
	ck.close(tag + " h_last (cache NULL)", h2[:B * H].reshape(B, H), h_ref, tol)

	dh = rng.normal(0, 1, (B, H)).astype(dt)
	rdx, rdwi, rdwh, rdbi, rdbh = ref.lstm_backward(x, L, w_ih, w_hh, cache_ref, dh)
	bwd = getattr(lib, "cf_nn_lstm_backward_" + s)
	for which, use_cache in (("C cache", cache), ("ref cache", None)):
		if use_cache is None:
			# the documented cache layout, filled by the reference (rounded
			# to the precision): the backward must read it as documented
			use_cache = buf(n_cache, dt, 0.0)
			use_cache[:B * T * 6 * H] = cache_ref.reshape(-1).astype(dt)
			r = ref.lstm_backward(x, L, w_ih, w_hh, use_cache[:B * T * 6 * H].astype(np.float64).reshape(B, T, 6 * H),
			                      dh)
		else:
			r = (rdx, rdwi, rdwh, rdbi, rdbh)
		g0 = [(rng.normal(0, 1, a.shape) * max(np.abs(a).max(), 1e-3)).astype(dt) for a in r[1:]]
		gs = [buf(a.size, dt, a.reshape(-1)) for a in g0]
		dx = buf(B * T * I, dt, np.nan)
		bwd(B, T, I, H, ptr(x, ct), ptr(L, C.c_int32), ptr(w_ih, ct), ptr(w_hh, ct), ptr(use_cache, ct), ptr(dh, ct),
		    ptr(dx, ct), *(ptr(g, ct) for g in gs))
		t2 = "%s backward (%s)" % (tag, which)
		ck.close(t2 + " dx", dx[:B * T * I].reshape(B, T, I), r[0], tol)
		ck.guard(t2 + " dx", dx, B * T * I)
		names = ("dw_ih", "dw_hh", "db_ih", "db_hh")
		for nm, g, a0, a in zip(names, gs, g0, r[1:]):
			ck.close(t2 + " " + nm + " (added)", g[:a.size].reshape(a.shape), a0.astype(np.float64) + a, tol)
			ck.guard(t2 + " " + nm, g, a.size)
		if which == "C cache":  # again, dx NULL: the weight gradients add up twice
			bwd(B, T, I, H, ptr(x, ct), ptr(L, C.c_int32), ptr(w_ih, ct), ptr(w_hh, ct), ptr(use_cache, ct),
			    ptr(dh, ct), None, *(ptr(g, ct) for g in gs))
			for nm, g, a0, a in zip(names, gs, g0, r[1:]):
				ck.close(t2 + " " + nm + " (2nd call, dx NULL)", g[:a.size].reshape(a.shape),
				         a0.astype(np.float64) + 2 * a, tol)


def check_dense(lib, ck, rng, s, B, I, O):
	dt, ct, tol = DT[s], CT[s], TOL[s]
	tag = "dense_%s B%d I%d O%d" % (s, B, I, O)
	x = rng.normal(0, 1, (B, I)).astype(dt)
	w = rng.normal(0, 1 / np.sqrt(I), (O, I)).astype(dt)
	b = rng.normal(0, 1, O).astype(dt)
	y = buf(B * O, dt, np.nan)
	getattr(lib, "cf_nn_dense_forward_" + s)(B, I, O, ptr(x, ct), ptr(w, ct), ptr(b, ct), ptr(y, ct))
	ck.close(tag + " y", y[:B * O].reshape(B, O), ref.dense_forward(x, w, b), tol)
	ck.guard(tag + " y", y, B * O)
	dy = rng.normal(0, 1, (B, O)).astype(dt)
	rdx, rdw, rdb = ref.dense_backward(x, w, dy.astype(np.float64))
	g0w = (rng.normal(0, 1, rdw.shape) * np.abs(rdw).max()).astype(dt)
	g0b = (rng.normal(0, 1, rdb.shape) * np.abs(rdb).max()).astype(dt)
	dw, db = buf(rdw.size, dt, g0w.reshape(-1)), buf(rdb.size, dt, g0b)
	dx = buf(B * I, dt, np.nan)
	f = getattr(lib, "cf_nn_dense_backward_" + s)
	f(B, I, O, ptr(x, ct), ptr(w, ct), ptr(dy, ct), ptr(dx, ct), ptr(dw, ct), ptr(db, ct))
	ck.close(tag + " dx", dx[:B * I].reshape(B, I), rdx, tol)
	ck.close(tag + " dw (added)", dw[:rdw.size].reshape(rdw.shape), g0w + rdw, tol)
	ck.close(tag + " db (added)", db[:O], g0b + rdb, tol)
	for nm, a, n in (("dx", dx, B * I), ("dw", dw, rdw.size), ("db", db, O)):
		ck.guard(tag + " " + nm, a, n)
	f(B, I, O, ptr(x, ct), ptr(w, ct), ptr(dy, ct), None, ptr(dw, ct), ptr(db, ct))
	ck.close(tag + " dw (2nd call, dx NULL)", dw[:rdw.size].reshape(rdw.shape), g0w + 2 * rdw, tol)
	ck.close(tag + " db (2nd call, dx NULL)", db[:O], g0b + 2 * rdb, tol)


def check_relu(lib, ck, rng, s, n):
	dt, ct, tol = DT[s], CT[s], TOL[s]
	tag = "relu_%s n%d" % (s, n)
	x = rng.normal(0, 1, n).astype(dt)
	x[::7] = 0.0
	x[1::11] = -0.0
	y = buf(n, dt, np.nan)
	getattr(lib, "cf_nn_relu_forward_" + s)(n, ptr(x, ct), ptr(y, ct))
	ry = ref.relu_forward(x.astype(np.float64))
	ck.close(tag + " y", y[:n], ry, tol)
	ck.note(tag + " y exact", np.array_equal(y[:n], ry.astype(dt)), "max(x,0) must be exact")
	ck.guard(tag + " y", y, n)
	dy = rng.normal(0, 1, n).astype(dt)
	dx = buf(n, dt, np.nan)
	getattr(lib, "cf_nn_relu_backward_" + s)(n, ptr(y, ct), ptr(dy, ct), ptr(dx, ct))
	rdx = ref.relu_backward(ry, dy.astype(np.float64))
	ck.note(tag + " dx exact", np.array_equal(dx[:n], rdx.astype(dt)), "dy where y > 0, else 0")
	ck.guard(tag + " dx", dx, n)


def check_embedding(lib, ck, rng, s, B, V, D):
	dt, ct, tol = DT[s], CT[s], TOL[s]
	tag = "embedding_%s B%d V%d D%d" % (s, B, V, D)
	idx = rng.integers(0, V, B).astype(np.int32)
	idx[0] = 0
	if B > 1:
		idx[1] = V - 1
	if B > 3:
		idx[3] = idx[2]
	w = rng.normal(0, 1, (V, D)).astype(dt)
	y = buf(B * D, dt, np.nan)
	getattr(lib, "cf_nn_embedding_forward_" + s)(B, V, D, ptr(idx, C.c_int32), ptr(w, ct), ptr(y, ct))
	ck.note(tag + " y exact", np.array_equal(y[:B * D].reshape(B, D), w[idx]), "rows of w")
	ck.guard(tag + " y", y, B * D)
	dy = rng.normal(0, 1, (B, D)).astype(dt)
	rdw = ref.embedding_backward(idx, V, dy.astype(np.float64))
	g0 = rng.normal(0, 1, (V, D)).astype(dt)
	dw = buf(V * D, dt, g0.reshape(-1))
	getattr(lib, "cf_nn_embedding_backward_" + s)(B, V, D, ptr(idx, C.c_int32), ptr(dy, ct), ptr(dw, ct))
	ck.close(tag + " dw (added)", dw[:V * D].reshape(V, D), g0 + rdw, tol)
	ck.guard(tag + " dw", dw, V * D)


def check_softmax(lib, ck, rng, s, B, Cn, label, scale, spread=2.0):
	dt, ct, tol = DT[s], CT[s], TOL[s]
	tag = "softmax_xent_%s B%d C%d scale %.3g labels %s" % (s, B, Cn, scale, list(label))
	z = rng.normal(0, spread, (B, Cn)).astype(dt)
	if B > 2:
		z[2] += 60  # large logits must not overflow
	lab = i32(label)
	probs = buf(B * Cn, dt, np.nan)
	dl = buf(B * Cn, dt, np.nan)
	loss = getattr(lib, "cf_nn_softmax_xent_" + s)(B, Cn, ptr(z, ct), ptr(lab, C.c_int32), scale, ptr(probs, ct),
	                                               ptr(dl, ct))
	rl, rp, rd = ref.softmax_xent(z.astype(np.float64), lab, scale)
	ck.scalar(tag + " loss", loss, rl, tol)
	ck.close(tag + " probs", probs[:B * Cn].reshape(B, Cn), rp, tol)
	ck.close(tag + " dlogits", dl[:B * Cn].reshape(B, Cn), rd, tol)
	ck.guard(tag + " probs", probs, B * Cn)
	ck.guard(tag + " dlogits", dl, B * Cn)


# ---------------------------------------------------------------- nested model

def to_config(d):
	return ctypes_check.to_struct(Config, d)


def make_batch(bd, n):
	"""A cf_nested_batch pointing into the numpy arrays of bd (kept alive in bd)."""
	arrs = {}
	for k in ("pkt", "id_out", "id_in", "root"):
		arrs[k] = np.ascontiguousarray(bd[k], np.float32)
	for k in ("pkt_len", "ttl_out", "ttl_in", "id_out_len", "id_in_len", "label"):
		arrs[k] = np.ascontiguousarray(bd[k], np.int32)
	b = Batch()
	b.n = b.cap = n
	b.t_pkt, b.t_ids = bd["t_pkt"], bd["t_ids"]
	for k, a in arrs.items():
		setattr(b, k, a.ctypes.data_as(P_F32 if a.dtype == np.float32 else P_I32))
	b._keep = arrs
	return b


def check_layout(lib, ck, cfgd):
	cfg = to_config(cfgd)
	tag = "nested layout %s" % ({k: cfgd[k] for k in ("pkt_hidden", "id_hidden", "ttl_vocab", "ttl_dim",
	                                                   "dense_units", "dense_layers", "classes")})
	ri = lib.cf_nested_root_inputs(C.byref(cfg))
	ck.note(tag + " root_inputs", ri == ref.root_inputs(cfgd), "%d vs %d" % (ri, ref.root_inputs(cfgd)))
	lay = ref.param_offsets(cfgd)
	n = lib.cf_nested_param_count(C.byref(cfg))
	ck.note(tag + " param_count", n == ref.param_count(cfgd), "%d vs %d" % (n, ref.param_count(cfgd)))
	arr = (Param * (len(lay) + 4))()
	got = lib.cf_nested_params(C.byref(cfg), arr, len(arr))
	ck.note(tag + " params()", got == len(lay), "%d vs %d" % (got, len(lay)))
	for k, (name, shape, off, cnt) in enumerate(lay[:got]):
		p = arr[k]
		cdims = tuple(p.dims[j] for j in range(p.ndim)) if 0 < p.ndim <= 2 else ("ndim", p.ndim)
		ok = (p.name.decode() == name and cdims == tuple(shape) and p.offset == off and p.count == cnt)
		ck.note("%s param %d" % (tag, k), ok,
		        "C (%s %s off %d n %d) vs ref (%s %s off %d n %d)" % (p.name.decode(), cdims, p.offset, p.count, name,
		                                                              tuple(shape), off, cnt))
	small = (Param * 3)()
	small[2].ndim = -77
	got2 = lib.cf_nested_params(C.byref(cfg), small, 2)
	ck.note(tag + " params(cap 2)", got2 == len(lay) and small[2].ndim == -77,
	        "returns %d (want %d), entry 2 %s" % (got2, len(lay), "untouched" if small[2].ndim == -77 else "written"))


def run_step(lib, s, cfgd, flat, batch, lo, hi, scale, grad0=None, want_probs=True, fill_work=np.nan):
	dt, ct = DT[s], CT[s]
	cfg = to_config(cfgd)
	P = ref.param_count(cfgd)
	nw = lib.cf_nested_work_elems(C.byref(cfg), hi - lo)
	work = buf(nw, dt, fill_work)
	params = np.ascontiguousarray(flat, dt)
	probs = buf((hi - lo) * cfgd["classes"], dt, np.nan) if want_probs else None
	grad = None if grad0 is None else buf(P, dt, grad0)
	loss = getattr(lib, "cf_nested_step_" + s)(C.byref(cfg), ptr(params, ct), C.byref(batch), lo, hi, scale,
	                                           ptr(probs, ct), ptr(grad, ct), ptr(work, ct))
	return loss, probs, grad, work, nw


def check_nested(lib, ck, rng, s, cfgd, n, t_pkt, t_ids, lo, hi, compat=False, scaled=True, gain=1.5, tag=""):
	dt, tol = DT[s], TOL[s]
	Cn = cfgd["classes"]
	P = ref.param_count(cfgd)
	tag = "nested_step_%s %s n%d t_pkt %d t_ids %d [%d,%d)%s%s" % (
	    s, tag, n, t_pkt, t_ids, lo, hi, " compat" if compat else "", "" if scaled else " raw")
	bd = ref.random_batch(rng, cfgd, n, t_pkt, t_ids, compat=compat, garbage=0.0 if compat else 7.0, scaled=scaled)
	batch = make_batch(bd, n)
	flat = ref.random_params(rng, cfgd, gain=gain).astype(dt)
	scale = 1.0 / max(1, int((bd["label"][lo:hi] >= 0).sum()))
	rl, rp, rg = ref.nested_step(cfgd, flat.astype(np.float64), bd, lo, hi, scale)
	g0 = (rng.normal(0, 1, P) * np.abs(rg).max()).astype(dt)
	loss, probs, grad, work, nw = run_step(lib, s, cfgd, flat, batch, lo, hi, scale, grad0=g0)
	ck.scalar(tag + " loss", loss, rl, tol)
	ck.close(tag + " probs", probs[:(hi - lo) * Cn].reshape(hi - lo, Cn), rp, tol)
	ck.guard(tag + " probs", probs, (hi - lo) * Cn)
	ck.guard(tag + " work", work, nw)
	ck.guard(tag + " grad", grad, P)
	for name, shape, off, cnt in ref.param_offsets(cfgd):
		ck.close(tag + " grad " + name + " (added)", grad[off:off + cnt].reshape(shape),
		         (g0[off:off + cnt].astype(np.float64) + rg[off:off + cnt]).reshape(shape), tol)
	# forward only: probs NULL, grad NULL, a zero-filled work array
	loss2, _, _, _, _ = run_step(lib, s, cfgd, flat, batch, lo, hi, scale, want_probs=False, fill_work=0.0)
	ck.scalar(tag + " loss (forward only)", loss2, rl, tol)
	# chunks add up: [lo, mid) then [mid, hi) into one gradient
	if hi - lo >= 2:
		mid = (lo + hi) // 2
		acc = np.zeros(P, dt)
		tot = 0.0
		for a, b in ((lo, mid), (mid, hi)):
			l_, p_, g_, _, _ = run_step(lib, s, cfgd, flat, batch, a, b, scale, grad0=acc)
			acc = g_[:P].copy()
			tot += l_
			ck.close("%s probs chunk [%d,%d)" % (tag, a, b), p_[:(b - a) * Cn].reshape(b - a, Cn),
			         rp[a - lo:b - lo], tol)
		ck.scalar(tag + " loss (two chunks)", tot, rl, tol)
		ck.close(tag + " grad (two chunks)", acc, rg, tol)


def check_batch_alloc(lib, ck, rng, cfgd):
	"""cf_nested_batch_alloc's struct read through the ctypes mirror, filled
	through its pointers: the same results as a batch over numpy arrays."""
	cfg = to_config(cfgd)
	n = 4
	b = Batch()
	rc = lib.cf_nested_batch_alloc(C.byref(b), C.byref(cfg), n)
	ok = rc >= 0 and b.cap >= n and b.n == 0 and all(bool(getattr(b, k)) for k in
	                                                   ("pkt", "pkt_len", "ttl_out", "ttl_in", "id_out", "id_in",
	                                                    "id_out_len", "id_in_len", "root", "label"))
	ck.note("batch_alloc", ok, "rc %d, n %d, cap %d" % (rc, b.n, b.cap))
	if not ok:
		return
	bd = ref.random_batch(rng, cfgd, n, cfgd["max_packets"] - 1, cfgd["max_ids"], garbage=0.0)
	mp, mi = cfgd["max_packets"], cfgd["max_ids"]
	view = lambda p, shape: np.ctypeslib.as_array(p, shape=shape)
	view(b.pkt, (b.cap, mp, 3))[:n] = bd["pkt"]
	view(b.id_out, (b.cap, mi))[:n] = bd["id_out"]
	view(b.id_in, (b.cap, mi))[:n] = bd["id_in"]
	view(b.root, (b.cap, 5))[:n] = bd["root"]
	for k in ("pkt_len", "ttl_out", "ttl_in", "id_out_len", "id_in_len", "label"):
		view(getattr(b, k), (b.cap,))[:n] = bd[k]
	b.n, b.t_pkt, b.t_ids = n, bd["t_pkt"], bd["t_ids"]
	flat = ref.random_params(rng, cfgd)
	P = ref.param_count(cfgd)
	l1, p1, g1, _, _ = run_step(lib, "f64", cfgd, flat, b, 0, n, 0.5, grad0=np.zeros(P))
	mine = make_batch(bd, n)
	l2, p2, g2, _, _ = run_step(lib, "f64", cfgd, flat, mine, 0, n, 0.5, grad0=np.zeros(P))
	ck.note("batch_alloc step == numpy-array batch step", l1 == l2 and np.array_equal(p1, p2) and
	        np.array_equal(g1, g2), "loss %.17g vs %.17g" % (l1, l2))
	lib.cf_nested_batch_free(C.byref(b))


def checks(lib, ck, rng):
	for s in ("f64", "f32"):
		for (B, T, I, H, lens) in ((4, 7, 3, 5, [1, 7, 3, 5]), (1, 6, 2, 4, [6]), (1, 6, 2, 4, [3]),
		                           (1, 5, 1, 3, None), (3, 1, 2, 3, [1, 1, 1]), (3, 1, 2, 3, None),
		                           (5, 12, 1, 8, None), (6, 20, 3, 16, [1, 20, 20, 9, 2, 13]),
		                           (8, 100, 3, 16, None)):
			check_lstm(lib, ck, rng, s, B, T, I, H, lens)
		lens = rng.integers(1, 101, 16)
		lens[:2] = (1, 100)
		check_lstm(lib, ck, rng, s, 16, 100, 3, 16, lens)
		lens = rng.integers(1, 51, 7)
		lens[0] = 50
		check_lstm(lib, ck, rng, s, 7, 50, 1, 8, lens)
		for (B, I, O) in ((5, 7, 3), (1, 53, 10), (4, 1, 1), (128, 10, 10)):
			check_dense(lib, ck, rng, s, B, I, O)
		check_relu(lib, ck, rng, s, 1000)
		check_relu(lib, ck, rng, s, 1)
		check_embedding(lib, ck, rng, s, 9, 7, 4)
		check_embedding(lib, ck, rng, s, 1, 256, 8)
		check_embedding(lib, ck, rng, s, 64, 256, 8)
		check_softmax(lib, ck, rng, s, 6, 3, [0, 2, 1, 1, 0, 2], 1 / 6)
		check_softmax(lib, ck, rng, s, 1, 5, [4], 1.0)
		check_softmax(lib, ck, rng, s, 5, 4, [3, -1, 0, -1, 2], 0.37)
		check_softmax(lib, ck, rng, s, 4, 1, [0, 0, 0, 0], 0.25)

	dc = Config()
	lib.cf_nested_config_default(C.byref(dc))
	dflt = from_struct(dc)
	want = ref.default_config()
	for k in want:
		if k == "classes":
			continue  # "from the labels": no fixed default
		ck.note("config_default." + k, dflt[k] == want[k], "%d vs %d" % (dflt[k], want[k]))
	dflt["classes"] = 3
	small = dict(dflt, pkt_hidden=5, id_hidden=3, ttl_vocab=7, ttl_dim=2, dense_units=4, dense_layers=2, classes=3,
	             max_packets=12, max_ids=6)
	nodense = dict(small, dense_layers=0, classes=2)
	wide = dict(small, dense_layers=1, dense_units=6, classes=5, ttl_dim=3)
	for cfgd in (dflt, small, nodense, wide):
		check_layout(lib, ck, cfgd)
	check_batch_alloc(lib, ck, rng, small)

	for s in ("f64", "f32"):
		check_nested(lib, ck, rng, s, dflt, 6, 100, 50, 0, 6, tag="default")
		check_nested(lib, ck, rng, s, dflt, 7, 37, 13, 2, 7, tag="default")
		check_nested(lib, ck, rng, s, dflt, 5, 100, 50, 0, 5, compat=True, tag="default")
		check_nested(lib, ck, rng, s, dict(dflt, reference_compat=1), 5, 64, 50, 1, 5, compat=True,
		             tag="reference_compat=1")
		check_nested(lib, ck, rng, s, small, 6, 12, 6, 0, 6, tag="small")
		check_nested(lib, ck, rng, s, small, 5, 9, 4, 1, 4, tag="small")
		check_nested(lib, ck, rng, s, small, 1, 12, 6, 0, 1, tag="small batch1")
		check_nested(lib, ck, rng, s, small, 3, 1, 1, 0, 3, tag="small T=1")
		check_nested(lib, ck, rng, s, dict(small, reference_compat=1), 4, 8, 5, 0, 4, compat=True,
		             tag="small reference_compat=1")
		check_nested(lib, ck, rng, s, nodense, 4, 10, 5, 0, 4, tag="no dense layer")
		check_nested(lib, ck, rng, s, wide, 8, 12, 6, 0, 8, tag="1 dense layer, 5 classes")
	# the seed's raw, saturating scales (float64 only: float32 cannot resolve
	# the saturated gates' derivatives to 1e-5 of the tensor)
	check_nested(lib, ck, rng, "f64", dict(dflt, reference_compat=1), 4, 100, 50, 0, 4, compat=True, scaled=False,
	             gain=1.0, tag="reference_compat=1")


if __name__ == "__main__":
	sys.exit(ctypes_check.main("nn_check_ctypes", __doc__, 20240, Lib, ref.selfcheck,
	                           "nn_numpy_ref selfcheck (finite differences)", checks))
