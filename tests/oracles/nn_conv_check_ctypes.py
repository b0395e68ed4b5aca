#!/usr/bin/env python3
"""Compare cuflow's image layers (include/cuflow/nn_conv.h, in libcuflow.so)
with the independent numpy reference nn_conv_numpy_ref.py.

    nn_conv_check_ctypes.py --lib BUILD/libcuflow.so [--seed N] [-v] [--skip-selfcheck]

Inputs and weights are drawn with a seeded numpy Generator. The reference
always computes in float64; for the _f32 functions it computes from the
very float32 values the C code got.

Agreement is nn_check_ctypes.py's (tol = 1e-10 for _f64, 1e-5 for _f32),
for every compared tensor c (C) against r (numpy):
    norm-wise   ||c - r||_2 <= tol * ||r||_2
    per element |c - r|    <= tol * (|r| + max|r|)
An all-zero reference must be matched exactly. Some results must be exact
and are compared bit for bit: max pooling's forward, the masks, the sparse
layout, and the sparse convolution against the C dense one (y, dw, db; in
both precisions).

Backward functions must ADD into weight gradients: they are pre-filled with
random values G0 of the reference's magnitude and compared with G0 + ref;
a second call (dx = NULL) must give G0 + 2 ref. dx arrays are pre-filled
with NaN (they must be overwritten entirely), and every output array has a
guard tail that must stay untouched.

The numpy reference first checks itself (nn_conv_numpy_ref.selfcheck:
finite differences and a six-loop convolution; not with --skip-selfcheck).
The criteria, guards, loader and command line are ctypes_check.py's.

Exit: 0 all agree; 1 some disagree; 3 the library or a symbol is missing.
"""
import ctypes as C
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctypes_check  # noqa: E402
import nn_conv_numpy_ref as ref  # noqa: E402
from ctypes_check import CT, DT, GUARD, P_I32, P_I64, P_U8, SENTINEL, TOL, buf, ptr  # noqa: E402


class Dims(C.Structure):
	_fields_ = [(n, C.c_int) for n in ("B", "C", "H", "W", "O", "KH", "KW", "sy", "sx", "pad_t", "pad_b", "pad_l",
	                                   "pad_r")]


def sparse_struct(ct):
	class Sparse(C.Structure):
		_fields_ = [("offsets", P_I64), ("c", P_I32), ("y", P_I32), ("x", P_I32), ("value", C.POINTER(ct))]
	return Sparse


SPARSE = {s: sparse_struct(ct) for s, ct in CT.items()}


class Lib(ctypes_check.Lib):
	def declare(self):
		ci, sz, pd = C.c_int, C.c_size_t, C.POINTER(Dims)
		self.fn("cf_nn_conv2d_out", ci, [pd, C.POINTER(ci), C.POINTER(ci)])
		self.fn("cf_nn_conv2d_out_elems", sz, [pd])
		self.fn("cf_nn_conv2d_pad_same", None, [ci, ci, ci, C.POINTER(ci), C.POINTER(ci)])
		self.fn("cf_nn_pool_out", ci, [ci, ci, ci])
		self.fn("cf_nn_dropout_mask", None, [C.c_uint64, ci, sz, C.c_double, P_U8])
		for s, ct in CT.items():
			P = C.POINTER(ct)
			PS = C.POINTER(SPARSE[s])
			self.fn("cf_nn_conv2d_forward_" + s, None, [pd, P, P, P, P])
			self.fn("cf_nn_conv2d_backward_" + s, None, [pd, P, P, P, P, P, P])
			self.fn("cf_nn_conv2d_sparse_forward_" + s, None, [pd, PS, P, P, P])
			self.fn("cf_nn_conv2d_sparse_backward_" + s, None, [pd, PS, P, P, P])
			self.fn("cf_nn_sparse_check_" + s, C.c_int64, [pd, PS])
			self.fn("cf_nn_sparse_from_dense_" + s, sz, [ci, ci, ci, ci, P, P_I64, P_I32, P_I32, P_I32, P, sz])
			for k in ("max", "avg"):
				self.fn("cf_nn_%spool2d_forward_%s" % (k, s), None, [ci] * 8 + [P, P])
			self.fn("cf_nn_maxpool2d_backward_" + s, None, [ci] * 8 + [P, P, P])
			self.fn("cf_nn_avgpool2d_backward_" + s, None, [ci] * 8 + [P, P])
			self.fn("cf_nn_dropout_forward_" + s, None, [sz, P, P_U8, C.c_double, P])
			self.fn("cf_nn_dropout_backward_" + s, None, [sz, P, P_U8, C.c_double, P])
			self.fn("cf_nn_dropout2d_forward_" + s, None, [ci, ci, sz, P, P_U8, C.c_double, P])
			self.fn("cf_nn_dropout2d_backward_" + s, None, [ci, ci, sz, P, P_U8, C.c_double, P])
			self.fn("cf_nn_tanh_forward_" + s, None, [sz, P, P])
			self.fn("cf_nn_tanh_backward_" + s, None, [sz, P, P, P])


def dims(B, Cn, H, W, O, KH, KW, st, pad):
	return Dims(B, Cn, H, W, O, KH, KW, st[0], st[1], *pad)


def exact(ck, name, c, r):
	c, r = np.asarray(c), np.asarray(r)
	ok = c.shape == r.shape and c.dtype == r.dtype and c.tobytes() == r.tobytes()
	if ok:
		msg = "bit for bit"
	elif c.shape != r.shape:
		msg = "shape %s vs %s" % (c.shape, r.shape)
	else:
		d = np.argwhere(c != r)
		msg = "%d elements differ, first at %s" % (len(d), d[0].tolist() if len(d) else "(bits only: -0/NaN)")
	ck.note(name, ok, msg)
	return ok


# ---------------------------------------------------------------- geometry

def check_geometry(lib, ck):
	ci = C.c_int
	for n, k, s in ((1500, 10, 5), (150, 10, 5), (105, 10, 5), (42, 10, 5), (32, 5, 1), (7, 3, 2), (5, 9, 2),
	                (1, 1, 1), (10, 10, 5)):
		a, b = ci(-1), ci(-1)
		lib.cf_nn_conv2d_pad_same(n, k, s, C.byref(a), C.byref(b))
		ck.note("pad_same(%d,%d,%d)" % (n, k, s), (a.value, b.value) == ref.pad_same(n, k, s),
		        "%s vs %s" % ((a.value, b.value), ref.pad_same(n, k, s)))
	for n, k, s in ((1500, 2, 2), (300, 2, 2), (15, 2, 2), (7, 3, 2), (3, 3, 1), (2, 3, 1), (28, 2, 2)):
		got = lib.cf_nn_pool_out(n, k, s)
		ck.note("pool_out(%d,%d,%d)" % (n, k, s), got == ref.pool_out(n, k, s), "%d" % got)
	good = ((1, 1, 1500, 1500, 10, 10, 10, (5, 5), (2, 3, 2, 3)), (1, 10, 150, 150, 20, 10, 10, (5, 5), (2, 3, 2, 3)),
	        (2, 1, 32, 32, 6, 5, 5, (1, 1), (0, 0, 0, 0)), (3, 2, 7, 9, 4, 3, 2, (2, 3), (0, 1, 4, 0)),
	        (1, 1, 2, 2, 1, 5, 5, (1, 1), (3, 0, 1, 2)))
	for g in good:
		d = dims(*g)
		oh, ow = ci(-1), ci(-1)
		rc = lib.cf_nn_conv2d_out(C.byref(d), C.byref(oh), C.byref(ow))
		want = ref.conv_out(g[2], g[3], g[5], g[6], g[7][0], g[7][1], g[8])
		ck.note("conv2d_out %s" % (g,), rc == 0 and (oh.value, ow.value) == want, "rc %d, %s vs %s" % (
		    rc, (oh.value, ow.value), want))
		ne = lib.cf_nn_conv2d_out_elems(C.byref(d))
		ck.note("conv2d_out_elems %s" % (g,), ne == g[4] * want[0] * want[1], "%d" % ne)
	bad = ((1, 1, 4, 4, 1, 5, 5, (1, 1), (0, 0, 0, 0)), (1, 1, 4, 4, 1, 3, 3, (0, 1), (0, 0, 0, 0)),
	       (0, 1, 4, 4, 1, 3, 3, (1, 1), (0, 0, 0, 0)), (1, 1, 4, 4, 1, 3, 3, (1, 1), (0, -1, 0, 0)),
	       (1, 1, 4, 4, 0, 3, 3, (1, 1), (0, 0, 0, 0)))
	for g in bad:
		d = dims(*g)
		rc = lib.cf_nn_conv2d_out(C.byref(d), None, None)
		ck.note("conv2d_out invalid %s" % (g,), rc == -1 and lib.cf_nn_conv2d_out_elems(C.byref(d)) == 0,
		        "rc %d" % rc)


# -------------------------------------------------------------------- conv2d

def make_sparse(s, sp):
	"""A cf_nn_sparse_<s> over the arrays of sp (kept alive on the struct)."""
	offs, c, y, x, v = sp
	keep = [np.ascontiguousarray(offs, np.int64), np.ascontiguousarray(c, np.int32), np.ascontiguousarray(y, np.int32),
	        np.ascontiguousarray(x, np.int32), np.ascontiguousarray(v, DT[s])]
	st = SPARSE[s](keep[0].ctypes.data_as(P_I64), keep[1].ctypes.data_as(P_I32), keep[2].ctypes.data_as(P_I32),
	               keep[3].ctypes.data_as(P_I32), keep[4].ctypes.data_as(C.POINTER(CT[s])))
	st._keep = keep
	return st


def sparse_input(rng, shape, density, dt, integer=False):
	"""A random image batch with about `density` nonzero pixels, every border
	pixel of sample 0 set, and the last sample empty (when B > 1)."""
	B, Cn, H, W = shape
	v = rng.integers(1, 6, shape).astype(np.float64) if integer else rng.normal(0, 1, shape)
	x = np.where(rng.random(shape) < density, v, 0.0)
	x[0, :, 0, :] = v[0, :, 0, :]
	x[0, :, H - 1, :] = v[0, :, H - 1, :]
	x[0, :, :, 0] = v[0, :, :, 0]
	x[0, :, :, W - 1] = v[0, :, :, W - 1]
	if B > 1:
		x[B - 1] = 0.0
	return x.astype(dt)


def check_conv(lib, ck, rng, s, B, Cn, H, W, O, KH, KW, st, pad, density=None, integer=False, tag=""):
	dt, ct, tol = DT[s], CT[s], TOL[s]
	d = dims(B, Cn, H, W, O, KH, KW, st, pad)
	OH, OW = ref.conv_out(H, W, KH, KW, st[0], st[1], pad)
	tag = "conv2d_%s %s x(%d,%d,%d,%d) w(%d,%d,%d,%d) s%s pad%s" % (s, tag, B, Cn, H, W, O, Cn, KH, KW, st, pad)
	if density is None:
		x = rng.normal(0, 1, (B, Cn, H, W)).astype(dt)
	else:
		x = sparse_input(rng, (B, Cn, H, W), density, dt, integer=integer)
	fan = Cn * KH * KW
	w = rng.uniform(-1, 1, (O, Cn, KH, KW)).astype(dt) / np.sqrt(fan).astype(dt)
	bias = rng.uniform(-1, 1, O).astype(dt)
	ny, nx = B * O * OH * OW, B * Cn * H * W
	y = buf(ny, dt, np.nan)
	getattr(lib, "cf_nn_conv2d_forward_" + s)(C.byref(d), ptr(x, ct), ptr(w, ct), ptr(bias, ct), ptr(y, ct))
	ry = ref.conv2d_forward(x, w, bias, st, pad)
	ck.close(tag + " y", y[:ny].reshape(ry.shape), ry, tol)
	ck.guard(tag + " y", y, ny)

	dy = rng.normal(0, 1, ry.shape).astype(dt)
	rdx, rdw, rdb = ref.conv2d_backward(x, w, dy, st, pad)
	g0w = (rng.normal(0, 1, rdw.shape) * np.abs(rdw).max()).astype(dt)
	g0b = (rng.normal(0, 1, rdb.shape) * np.abs(rdb).max()).astype(dt)
	dw, db = buf(rdw.size, dt, g0w.reshape(-1)), buf(O, dt, g0b)
	dx = buf(nx, dt, np.nan)
	f = getattr(lib, "cf_nn_conv2d_backward_" + s)
	f(C.byref(d), ptr(x, ct), ptr(w, ct), ptr(dy, ct), ptr(dx, ct), ptr(dw, ct), ptr(db, ct))
	ck.close(tag + " dx", dx[:nx].reshape(rdx.shape), rdx, tol)
	ck.close(tag + " dw (added)", dw[:rdw.size].reshape(rdw.shape), g0w + rdw, tol)
	ck.close(tag + " db (added)", db[:O], g0b + rdb, tol)
	for nm, a, n in (("dx", dx, nx), ("dw", dw, rdw.size), ("db", db, O)):
		ck.guard(tag + " " + nm, a, n)
	f(C.byref(d), ptr(x, ct), ptr(w, ct), ptr(dy, ct), None, ptr(dw, ct), ptr(db, ct))
	ck.close(tag + " dw (2nd call, dx NULL)", dw[:rdw.size].reshape(rdw.shape), g0w + 2 * rdw, tol)
	ck.close(tag + " db (2nd call, dx NULL)", db[:O], g0b + 2 * rdb, tol)
	if density is None:
		return

	# the sparse first convolution: the reference's tolerance, and the C
	# dense results bit for bit (y, and dw / db from a zero start)
	sp = ref.sparse_from_dense(x)
	xs = make_sparse(s, sp)
	rc = getattr(lib, "cf_nn_sparse_check_" + s)(C.byref(d), C.byref(xs))
	ck.note(tag + " sparse_check", rc == -1, "returns %d (%d pixels)" % (rc, len(sp[1])))
	ys = buf(ny, dt, np.nan)
	getattr(lib, "cf_nn_conv2d_sparse_forward_" + s)(C.byref(d), C.byref(xs), ptr(w, ct), ptr(bias, ct), ptr(ys, ct))
	ck.close(tag + " sparse y", ys[:ny].reshape(ry.shape), ry, tol)
	exact(ck, tag + " sparse y == dense y", ys[:ny], y[:ny])
	ck.guard(tag + " sparse y", ys, ny)
	dwd, dbd = buf(rdw.size, dt, 0.0), buf(O, dt, 0.0)
	f(C.byref(d), ptr(x, ct), ptr(w, ct), ptr(dy, ct), None, ptr(dwd, ct), ptr(dbd, ct))
	dws, dbs = buf(rdw.size, dt, 0.0), buf(O, dt, 0.0)
	sb = getattr(lib, "cf_nn_conv2d_sparse_backward_" + s)
	sb(C.byref(d), C.byref(xs), ptr(dy, ct), ptr(dws, ct), ptr(dbs, ct))
	ck.close(tag + " sparse dw", dws[:rdw.size].reshape(rdw.shape), rdw, tol)
	exact(ck, tag + " sparse dw == dense dw", dws[:rdw.size], dwd[:rdw.size])
	exact(ck, tag + " sparse db == dense db", dbs[:O], dbd[:O])
	ck.guard(tag + " sparse dw", dws, rdw.size)
	# adds, and db may be NULL
	sb(C.byref(d), C.byref(xs), ptr(dy, ct), ptr(dws, ct), None)
	ck.close(tag + " sparse dw (2nd call, db NULL)", dws[:rdw.size].reshape(rdw.shape), 2 * rdw, tol)
	ck.note(tag + " sparse db NULL untouched", np.array_equal(dbs[:O], dbd[:O]), "")
	# a chunk [1, B) through offsets + 1
	if B > 1:
		d1 = dims(B - 1, Cn, H, W, O, KH, KW, st, pad)
		xs1 = SPARSE[s](C.cast(C.c_void_p(xs._keep[0].ctypes.data + 8), P_I64), xs.c, xs.y, xs.x, xs.value)
		y1 = buf(ny - O * OH * OW, dt, np.nan)
		getattr(lib, "cf_nn_conv2d_sparse_forward_" + s)(C.byref(d1), C.byref(xs1), ptr(w, ct), ptr(bias, ct),
		                                                 ptr(y1, ct))
		exact(ck, tag + " sparse chunk [1,B) via offsets+1", y1[:ny - O * OH * OW], y[O * OH * OW:ny])


def check_sparse_layout(lib, ck, rng, s):
	dt, ct = DT[s], CT[s]
	shape = (3, 2, 6, 5)
	x = sparse_input(rng, shape, 0.2, dt)
	roffs, rc_, ry_, rx_, rv = ref.sparse_from_dense(x)
	n = len(rc_)
	f = getattr(lib, "cf_nn_sparse_from_dense_" + s)
	got = f(*shape, ptr(x, ct), None, None, None, None, None, 0)
	ck.note("sparse_from_dense_%s count (cap 0)" % s, got == n, "%d vs %d" % (got, n))
	offs = np.full(shape[0] + 1 + GUARD, -7, np.int64)
	cc, yy, xx = (np.full(n + GUARD, -7, np.int32) for _ in range(3))
	vv = buf(n, dt, np.nan)
	got = f(*shape, ptr(x, ct), ptr(offs, C.c_int64), ptr(cc, C.c_int32), ptr(yy, C.c_int32), ptr(xx, C.c_int32),
	        ptr(vv, ct), n)
	ok = (got == n and np.array_equal(offs[:shape[0] + 1], roffs) and np.array_equal(cc[:n], rc_) and
	      np.array_equal(yy[:n], ry_) and np.array_equal(xx[:n], rx_) and np.array_equal(vv[:n], rv.astype(dt)) and
	      np.all(cc[n:] == -7) and np.all(offs[shape[0] + 1:] == -7) and np.all(vv[n:] == SENTINEL))
	ck.note("sparse_from_dense_%s layout" % s, ok, "%d pixels, last sample empty" % n)
	d = dims(shape[0], shape[1], shape[2], shape[3], 1, 2, 2, (1, 1), (0, 0, 0, 0))
	chk = getattr(lib, "cf_nn_sparse_check_" + s)

	def bad(name, want, mutate):
		arrs = [a.copy() for a in (roffs, rc_, ry_, rx_, rv)]
		mutate(arrs)
		got = chk(C.byref(d), C.byref(make_sparse(s, arrs)))
		ck.note("sparse_check_%s %s" % (s, name), got == want, "returns %d, want %d" % (got, want))

	bad("valid", -1, lambda a: None)
	bad("channel out of range", 3, lambda a: a[1].__setitem__(3, 2))
	bad("row out of range", 4, lambda a: a[2].__setitem__(4, 6))
	bad("column negative", 5, lambda a: a[3].__setitem__(5, -1))
	bad("duplicate pixel", 7, lambda a: (a[1].__setitem__(7, a[1][6]), a[2].__setitem__(7, a[2][6]),
	                                     a[3].__setitem__(7, a[3][6])))
	bad("offsets descend", -2, lambda a: a[0].__setitem__(1, a[0][2] + 1))
	k = int(roffs[1]) + 1  # out of (c, y, x) order within sample 1

	def swap(a):
		for arr in a[1:]:
			arr[k - 1], arr[k] = arr[k].copy(), arr[k - 1].copy()
	bad("unsorted", k, swap)


# ------------------------------------------------------------------ pooling

def check_pool(lib, ck, rng, s, B, Cn, H, W, kh, kw, sy, sx, kind="normal"):
	dt, ct, tol = DT[s], CT[s], TOL[s]
	tag = "%s x(%d,%d,%d,%d) k%dx%d s%dx%d %s" % (s, B, Cn, H, W, kh, kw, sy, sx, kind)
	if kind == "normal":
		x = rng.normal(0, 1, (B, Cn, H, W))
	elif kind == "relu":  # post-ReLU: many tied zeros
		x = np.maximum(rng.normal(0, 1, (B, Cn, H, W)), 0.0)
	else:  # small integers: ties everywhere
		x = rng.integers(0, 3, (B, Cn, H, W)).astype(np.float64)
	x = x.astype(dt)
	OH, OW = ref.pool_out(H, kh, sy), ref.pool_out(W, kw, sx)
	ny, nx = B * Cn * OH * OW, B * Cn * H * W
	args = (B, Cn, H, W, kh, kw, sy, sx)
	y = buf(ny, dt, np.nan)
	getattr(lib, "cf_nn_maxpool2d_forward_" + s)(*args, ptr(x, ct), ptr(y, ct))
	ry = ref.maxpool2d_forward(x, kh, kw, sy, sx)
	exact(ck, "maxpool2d " + tag + " y", y[:ny].reshape(ry.shape), ry.astype(dt))
	ck.guard("maxpool2d " + tag + " y", y, ny)
	dy = rng.normal(0, 1, ry.shape).astype(dt)
	dx = buf(nx, dt, np.nan)
	getattr(lib, "cf_nn_maxpool2d_backward_" + s)(*args, ptr(x, ct), ptr(dy, ct), ptr(dx, ct))
	rdx = ref.maxpool2d_backward(x, dy, kh, kw, sy, sx)
	ck.close("maxpool2d " + tag + " dx (first max wins)", dx[:nx].reshape(rdx.shape), rdx, tol)
	if sy >= kh and sx >= kw:  # no overlap: each dx is one dy or 0
		exact(ck, "maxpool2d " + tag + " dx exact", dx[:nx].reshape(rdx.shape), rdx.astype(dt))
	ck.guard("maxpool2d " + tag + " dx", dx, nx)

	y = buf(ny, dt, np.nan)
	getattr(lib, "cf_nn_avgpool2d_forward_" + s)(*args, ptr(x, ct), ptr(y, ct))
	ck.close("avgpool2d " + tag + " y", y[:ny].reshape(ry.shape), ref.avgpool2d_forward(x, kh, kw, sy, sx), tol)
	ck.guard("avgpool2d " + tag + " y", y, ny)
	dx = buf(nx, dt, np.nan)
	getattr(lib, "cf_nn_avgpool2d_backward_" + s)(*args, ptr(dy, ct), ptr(dx, ct))
	ck.close("avgpool2d " + tag + " dx", dx[:nx].reshape(x.shape), ref.avgpool2d_backward(x.shape, dy, kh, kw, sy, sx),
	         tol)
	ck.guard("avgpool2d " + tag + " dx", dx, nx)


# ------------------------------------------------------------- dropout, tanh

def c_mask(lib, seed, B, per, p):
	m = np.full(B * per + GUARD, 77, np.uint8)
	lib.cf_nn_dropout_mask(seed, B, per, p, m.ctypes.data_as(P_U8))
	return m


def check_masks(lib, ck):
	for seed, B, per, p in ((1, 4, 1000, 0.25), (2 ** 64 - 2, 3, 257, 0.5), (12345, 128, 20, 0.25), (9, 2, 64, 0.0),
	                        (9, 2, 64, 1.0), (9, 2, 64, -0.5), (5, 1, 4500, 0.5), (0, 1, 0, 0.5)):
		m = c_mask(lib, seed, B, per, p)
		rm = ref.dropout_mask(seed, B, per, p)
		tag = "dropout_mask seed %d B%d per %d p %g" % (seed, B, per, p)
		exact(ck, tag, m[:B * per].reshape(B, per), rm)
		ck.note(tag + " guard", np.all(m[B * per:] == 77), "")
		if B > 1 and per:  # a chunk drawn with seed + lo is those samples' masks
			exact(ck, tag + " chunk [1,B) with seed+1", c_mask(lib, (seed + 1) % 2 ** 64, B - 1, per, p)[:(B - 1) * per],
			      m[per:B * per])
	m = c_mask(lib, 77, 100, 1000, 0.3)[:100000]
	ck.note("dropout_mask keep rate", abs(m.mean() - 0.7) < 0.01, "%.4f (1 - p = 0.7)" % m.mean())


def check_dropout(lib, ck, rng, s, shape, p):
	dt, ct, tol = DT[s], CT[s], TOL[s]
	B, Cn = shape[0], shape[1]
	n = int(np.prod(shape))
	HW = n // (B * Cn)
	x = rng.normal(0, 1, shape).astype(dt)
	for kind in ("dropout", "dropout2d"):
		per = n // B if kind == "dropout" else Cn
		mask = c_mask(lib, 4242, B, per, p)[:B * per]
		mask[::5] *= 3  # any nonzero byte keeps
		tag = "%s_%s %s p %g" % (kind, s, shape, p)
		if kind == "dropout":
			r = ref.dropout_forward(x, mask.reshape(shape), p)
			call = lambda fn, a, m, out: getattr(lib, "cf_nn_dropout_%s_%s" % (fn, s))(n, ptr(a, ct), m, p,
			                                                                            ptr(out, ct))
		else:
			r = ref.dropout2d_forward(x, mask.reshape(B, Cn), p)
			call = lambda fn, a, m, out: getattr(lib, "cf_nn_dropout2d_%s_%s" % (fn, s))(B, Cn, HW, ptr(a, ct), m, p,
			                                                                              ptr(out, ct))
		m = mask.ctypes.data_as(P_U8)
		y = buf(n, dt, np.nan)
		call("forward", x, m, y)
		ck.close(tag + " y", y[:n].reshape(shape), r, tol)
		ck.guard(tag + " y", y, n)
		dropped = (r == 0) & (x != 0)
		ck.note(tag + " dropped are +0", np.all(y[:n].reshape(shape)[dropped] == 0) and
		        not np.any(np.signbit(y[:n].reshape(shape)[dropped])), "%d dropped" % dropped.sum())
		dy = rng.normal(0, 1, shape).astype(dt)
		dx = buf(n, dt, np.nan)
		call("backward", dy, m, dx)
		rd = ref.dropout2d_forward(dy, mask.reshape(B, Cn), p) if kind == "dropout2d" else \
		    ref.dropout_forward(dy, mask.reshape(shape), p)
		ck.close(tag + " dx", dx[:n].reshape(shape), rd, tol)
		ck.guard(tag + " dx", dx, n)
		z = x.copy()  # in place
		call("forward", z, m, z)
		exact(ck, tag + " in place", z, y[:n].reshape(shape))
		y2 = buf(n, dt, np.nan)  # NULL mask: inference
		call("forward", x, None, y2)
		exact(ck, tag + " mask NULL = identity", y2[:n].reshape(shape), x)


def check_tanh(lib, ck, rng, s, n):
	dt, ct, tol = DT[s], CT[s], TOL[s]
	tag = "tanh_%s n%d" % (s, n)
	x = rng.normal(0, 2, n).astype(dt)
	x[::9] = 0.0
	if n > 4:
		x[1], x[2], x[3] = 25.0, -40.0, 1e-9
	y = buf(n, dt, np.nan)
	getattr(lib, "cf_nn_tanh_forward_" + s)(n, ptr(x, ct), ptr(y, ct))
	ry = ref.tanh_forward(x)
	ck.close(tag + " y", y[:n], ry, tol)
	ck.guard(tag + " y", y, n)
	dy = rng.normal(0, 1, n).astype(dt)
	dx = buf(n, dt, np.nan)
	getattr(lib, "cf_nn_tanh_backward_" + s)(n, ptr(y, ct), ptr(dy, ct), ptr(dx, ct))
	ck.close(tag + " dx", dx[:n], ref.tanh_backward(y[:n].astype(np.float64), dy), tol)
	ck.close(tag + " dx (from the exact y)", dx[:n], ref.tanh_backward(ry, dy), tol)
	ck.guard(tag + " dx", dx, n)


def checks(lib, ck, rng):
	check_geometry(lib, ck)
	check_masks(lib, ck)
	same = ref.pad_same(105, 10, 5) + ref.pad_same(105, 10, 5)
	same2 = ref.pad_same(42, 10, 5) + ref.pad_same(42, 10, 5)
	for s in ("f64", "f32"):
		# the official FlowPic network's layers at reduced size (Keras "same":
		# 2 before, 3 after), tcbench's symmetric padding=3, LeNet-5
		check_conv(lib, ck, rng, s, 1, 1, 105, 105, 10, 10, 10, (5, 5), same, density=0.03, integer=True,
		           tag="flowpic conv1 (counts)")
		check_conv(lib, ck, rng, s, 3, 1, 105, 105, 10, 10, 10, (5, 5), same, density=0.05, tag="flowpic conv1 B3")
		check_conv(lib, ck, rng, s, 2, 1, 105, 105, 10, 10, 10, (5, 5), (3, 3, 3, 3), density=0.03,
		           tag="tcbench padding=3")
		check_conv(lib, ck, rng, s, 2, 10, 42, 42, 20, 10, 10, (5, 5), same2, tag="flowpic conv2")
		check_conv(lib, ck, rng, s, 2, 1, 32, 32, 6, 5, 5, (1, 1), (0, 0, 0, 0), density=0.1, tag="lenet conv1")
		check_conv(lib, ck, rng, s, 3, 6, 14, 14, 16, 5, 5, (1, 1), (0, 0, 0, 0), tag="lenet conv2")
		check_conv(lib, ck, rng, s, 2, 16, 5, 5, 12, 5, 5, (1, 1), (0, 0, 0, 0), tag="lenet conv3 (1x1 out)")
		# random geometries: asymmetric paddings and strides, padding wider
		# than the kernel, kernels larger than the image
		for _ in range(6):
			KH, KW = rng.integers(1, 6, 2)
			sy, sx = rng.integers(1, 4, 2)
			pad = tuple(int(v) for v in rng.integers(0, 5, 4))
			H = int(rng.integers(max(1, KH - pad[0] - pad[1]), 13))
			W = int(rng.integers(max(1, KW - pad[2] - pad[3]), 13))
			check_conv(lib, ck, rng, s, int(rng.integers(1, 4)), int(rng.integers(1, 4)), H, W,
			           int(rng.integers(1, 5)), int(KH), int(KW), (int(sy), int(sx)), pad, density=0.3, tag="random")
		check_conv(lib, ck, rng, s, 2, 1, 2, 3, 2, 5, 5, (1, 2), (3, 0, 1, 2), density=0.5, tag="kernel > image")
		check_sparse_layout(lib, ck, rng, s)
		for (B, Cn, H, W, kh, kw, sy, sx) in ((2, 10, 60, 60, 2, 2, 2, 2), (2, 20, 12, 12, 2, 2, 2, 2),
		                                      (3, 6, 28, 28, 2, 2, 2, 2), (1, 2, 7, 9, 3, 2, 2, 1),
		                                      (2, 1, 5, 5, 3, 3, 1, 1), (1, 3, 9, 8, 2, 3, 3, 2)):
			for kind in ("normal", "relu", "ties"):
				check_pool(lib, ck, rng, s, B, Cn, H, W, kh, kw, sy, sx, kind)
		for shape, p in (((4, 20, 6, 6), 0.25), ((3, 64, 1, 1), 0.5), ((2, 6, 5, 5), 0.0), ((2, 3, 4, 4), 1.0),
		                 ((1, 16, 5, 5), 0.25)):
			check_dropout(lib, ck, rng, s, shape, p)
		check_tanh(lib, ck, rng, s, 1000)
		check_tanh(lib, ck, rng, s, 1)


if __name__ == "__main__":
	sys.exit(ctypes_check.main("nn_conv_check_ctypes", __doc__, 20241, Lib, ref.selfcheck, "nn_conv_numpy_ref selfcheck",
	                           checks))
