#!/usr/bin/env python3
"""Compare cuflow's FlowPic CNN steps (include/cuflow/nn_flowpic.h, in
libcuflow.so) with the independent numpy reference flowpic_cnn_numpy_ref.py.

    flowpic_cnn_check_ctypes.py --lib BUILD/libcuflow.so [--seed N] [-v] [--skip-selfcheck]

Configurations: the official geometry (kernel 10, stride 5, Keras "same"
2/3 or tcbench's symmetric 3, maxpool 2) at sizes 155 and 300 with fewer
filters, 1 and 2 channels, sparse integer-count images; the mini LeNet-5 at
its full size (32 x 32, 6 / 16 filters, 120 / 84 units) with 1 and 2
channels. Each with training = 0 and 1 (the reference draws the masks with
the same splitmix64 rule from each sample's seed), _f64 and _f32, on a
chunk [lo, hi) of a batch with an unlabelled sample and (official) an empty
image. Batches are built by cf_flowpic_batch_alloc / _add_sparse (pixel
lists shuffled, some listed twice) and the C layout is compared with the
reference's.

Agreement is nn_check_ctypes.py's (tol = 1e-10 for _f64, 1e-5 for _f32;
the reference computes in float64 from the very float32 values the C code
got), for the loss, the probabilities and every parameter's gradient.
Gradients must be ADDED (pre-filled with random G0); work is pre-filled with
NaN; every output has a guard tail. A forward-only call (probs NULL, grad
NULL) gives the same loss; two chunks [lo, mid) + [mid, hi) give the same
loss, probabilities and summed gradient.

The numpy reference first checks itself (flowpic_cnn_numpy_ref.selfcheck:
finite differences of both whole models, the spec's shapes and counts;
not with --skip-selfcheck). The criteria, guards, loader and command line
are ctypes_check.py's.

Exit: 0 all agree; 1 some disagree; 3 the library or a symbol is missing.
"""
import ctypes as C
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctypes_check  # noqa: E402
import flowpic_cnn_numpy_ref as ref  # noqa: E402
import nn_conv_numpy_ref as cref  # noqa: E402
from ctypes_check import CT, DT, P_F32, P_I32, P_I64, P_U64, TOL, buf, from_struct, ptr  # noqa: E402


class Config(C.Structure):
	_fields_ = [(n, C.c_int) for n in ref.FIELDS_INT] + [("drop_conv", C.c_double), ("drop_fc", C.c_double),
	                                                     ("same_padding", C.c_int), ("pad_sym", C.c_int)]


class Shape(C.Structure):
	_fields_ = [("pad1", C.c_int * 4), ("pad2", C.c_int * 4)] + [
	    (n, C.c_int) for n in ("c1_h", "c1_w", "p1_h", "p1_w", "c2_h", "c2_w", "p2_h", "p2_w", "flat")]


class Param(C.Structure):
	_fields_ = [("name", C.c_char * 48), ("ndim", C.c_int), ("dims", C.c_int64 * 4), ("offset", C.c_size_t),
	            ("count", C.c_size_t)]


class Batch(C.Structure):
	_fields_ = [("n", C.c_int), ("cap", C.c_int), ("dense", P_F32), ("offsets", P_I64), ("pc", P_I32),
	            ("py", P_I32), ("px", P_I32), ("pv", P_F32), ("nnz", C.c_size_t), ("nnz_cap", C.c_size_t),
	            ("label", P_I32), ("seed", P_U64), ("kind", C.c_int), ("channels", C.c_int), ("size", C.c_int)]


class Lib(ctypes_check.Lib):
	def declare(self):
		pc, pb = C.POINTER(Config), C.POINTER(Batch)
		self.fn("cf_flowpic_cnn_config_default", None, [pc, C.c_int])
		self.fn("cf_flowpic_cnn_shapes", C.c_int, [pc, C.POINTER(Shape)])
		self.fn("cf_flowpic_cnn_params", C.c_int, [pc, C.POINTER(Param), C.c_int])
		self.fn("cf_flowpic_cnn_param_count", C.c_size_t, [pc])
		self.fn("cf_flowpic_cnn_work_elems", C.c_size_t, [pc, C.c_int])
		self.fn("cf_flowpic_batch_alloc", C.c_int, [pb, pc, C.c_int, C.c_size_t])
		self.fn("cf_flowpic_batch_free", None, [pb])
		self.fn("cf_flowpic_batch_clear", None, [pb])
		self.fn("cf_flowpic_batch_add_sparse", C.c_int,
		        [pb, C.c_size_t, P_I32, P_I32, P_I32, P_F32, C.c_int32, C.c_uint64])
		self.fn("cf_flowpic_batch_add_dense", C.c_int, [pb, P_F32, C.c_int32, C.c_uint64])
		for s, ct in CT.items():
			P = C.POINTER(ct)
			self.fn("cf_flowpic_cnn_step_" + s, C.c_double,
			        [pc, P, pb, C.c_int, C.c_int, C.c_double, C.c_int, P, P, P])


def to_config(d):
	return ctypes_check.to_struct(Config, d)


def check_defaults(lib, ck):
	for kind in (ref.OFFICIAL, ref.MINI):
		c = Config()
		lib.cf_flowpic_cnn_config_default(C.byref(c), kind)
		got, want = from_struct(c), ref.default_config(kind)
		ck.note("config_default(%d)" % kind, got == want, "%s vs %s" % (got, want))


def check_layout(lib, ck, cfgd, tag):
	cfg = to_config(cfgd)
	sh = Shape()
	rc = lib.cf_flowpic_cnn_shapes(C.byref(cfg), C.byref(sh))
	r = ref.shapes(cfgd)
	got = dict(pad1=tuple(sh.pad1), c1=(sh.c1_h, sh.c1_w), p1=(sh.p1_h, sh.p1_w), pad2=tuple(sh.pad2),
	           c2=(sh.c2_h, sh.c2_w), p2=(sh.p2_h, sh.p2_w), flat=sh.flat)
	ck.note(tag + " shapes", rc == 0 and got == r, "rc %d, %s vs %s" % (rc, got, r))
	lay = ref.param_layout(cfgd)
	n = lib.cf_flowpic_cnn_param_count(C.byref(cfg))
	ck.note(tag + " param_count", n == ref.param_count(cfgd), "%d vs %d" % (n, ref.param_count(cfgd)))
	arr = (Param * (len(lay) + 3))()
	got = lib.cf_flowpic_cnn_params(C.byref(cfg), arr, len(arr))
	ck.note(tag + " params()", got == len(lay), "%d vs %d" % (got, len(lay)))
	for k, (name, shape, off, cnt) in enumerate(lay[:got]):
		p = arr[k]
		cd = tuple(p.dims[j] for j in range(p.ndim)) if 0 < p.ndim <= 4 else ("ndim", p.ndim)
		ok = p.name.decode() == name and cd == tuple(shape) and p.offset == off and p.count == cnt
		ck.note("%s param %s" % (tag, name), ok, "C (%s %s off %d n %d)" % (p.name.decode(), cd, p.offset, p.count))
	small = (Param * 3)()
	small[2].ndim = -77
	got2 = lib.cf_flowpic_cnn_params(C.byref(cfg), small, 2)
	ck.note(tag + " params(cap 2)", got2 == len(lay) and small[2].ndim == -77, "returns %d" % got2)


def c_batch(lib, ck, rng, cfgd, x, label, seeds, tag):
	"""A batch built through cf_flowpic_batch_add_sparse from each image's
	pixel list, shuffled, with some pixels split into two entries."""
	cfg = to_config(cfgd)
	b = Batch()
	n = x.shape[0]
	rc = lib.cf_flowpic_batch_alloc(C.byref(b), C.byref(cfg), n, 4)
	ck.note(tag + " batch_alloc", rc == 0 and b.cap >= n and b.n == 0, "rc %d" % rc)
	for s in range(n):
		c, yy, xx = np.nonzero(x[s])
		v = x[s][c, yy, xx].astype(np.float64)
		# split some pixels: v = a + (v - a), both exact in float32 for counts
		if cfgd["kind"] == ref.OFFICIAL and len(v):
			sp = rng.random(len(v)) < 0.3
			sp &= v >= 2
			extra = np.nonzero(sp)[0]
			v2 = v.copy()
			v2[extra] = 1.0
			c, yy, xx, v = (np.concatenate([c, c[extra]]), np.concatenate([yy, yy[extra]]),
			                np.concatenate([xx, xx[extra]]), np.concatenate([v2, v[extra] - 1.0]))
		perm = rng.permutation(len(v))
		arrs = [np.ascontiguousarray(a[perm], np.int32) for a in (c, yy, xx)]
		vv = np.ascontiguousarray(v[perm], np.float32)
		rc = lib.cf_flowpic_batch_add_sparse(C.byref(b), len(vv), *(a.ctypes.data_as(P_I32) for a in arrs),
		                                     vv.ctypes.data_as(P_F32), int(label[s]), int(seeds[s]))
		if rc != 0:
			ck.note(tag + " add_sparse", False, "rc %d" % rc)
	if cfgd["kind"] == ref.OFFICIAL:
		offs, cc, yy, xx, vv = cref.sparse_from_dense(x.astype(np.float64))
		nz = int(b.nnz)
		view = lambda p, k: np.ctypeslib.as_array(p, shape=(k,)) if k else np.zeros(0)
		ok = (b.n == n and nz == len(cc) and np.array_equal(view(b.offsets, n + 1), offs) and
		      np.array_equal(view(b.pc, nz), cc) and np.array_equal(view(b.py, nz), yy) and
		      np.array_equal(view(b.px, nz), xx) and np.array_equal(view(b.pv, nz), vv.astype(np.float32)))
		ck.note(tag + " sparse layout (sorted, duplicates summed)", ok, "%d pixels" % nz)
	else:
		d = np.ctypeslib.as_array(b.dense, shape=x.shape)
		ck.note(tag + " dense layout", b.n == n and np.array_equal(d, x), "")
	lab = np.ctypeslib.as_array(b.label, shape=(n,))
	sd = np.ctypeslib.as_array(b.seed, shape=(n,))
	ck.note(tag + " labels and seeds", np.array_equal(lab, label) and np.array_equal(sd, seeds), "")
	return b


def run_step(lib, s, cfgd, flat, b, lo, hi, scale, training, grad0=None, want_probs=True, fill_work=np.nan):
	dt, ct = DT[s], CT[s]
	cfg = to_config(cfgd)
	P = ref.param_count(cfgd)
	nw = lib.cf_flowpic_cnn_work_elems(C.byref(cfg), hi - lo)
	work = buf(nw, dt, fill_work)
	params = np.ascontiguousarray(flat, dt)
	probs = buf((hi - lo) * cfgd["classes"], dt, np.nan) if want_probs else None
	grad = None if grad0 is None else buf(P, dt, grad0)
	loss = getattr(lib, "cf_flowpic_cnn_step_" + s)(C.byref(cfg), ptr(params, ct), C.byref(b), lo, hi, scale,
	                                                training, ptr(probs, ct), ptr(grad, ct), ptr(work, ct))
	return loss, probs, grad, work, nw


def check_step(lib, ck, rng, cfgd, n, lo, hi, density, tag):
	integer = cfgd["kind"] == ref.OFFICIAL
	x = ref.random_images(rng, cfgd, n, density, integer, empty_last=integer)
	label = rng.integers(0, cfgd["classes"], n).astype(np.int32)
	label[lo + 1 if hi - lo > 2 else lo] = -1
	seeds = rng.integers(0, 2 ** 64 - 1, n, dtype=np.uint64, endpoint=True)
	b = c_batch(lib, ck, rng, cfgd, x, label, seeds, tag)
	P = ref.param_count(cfgd)
	Cn = cfgd["classes"]
	scale = 1.0 / max(1, int((label[lo:hi] >= 0).sum()))
	flat64 = ref.random_params(rng, cfgd)
	for s in ("f64", "f32"):
		dt, tol = DT[s], TOL[s]
		flat = flat64.astype(dt)
		for training in (0, 1):
			t = "%s %s training %d [%d,%d)" % (tag, s, training, lo, hi)
			rl, rp, rg = ref.step(cfgd, flat.astype(np.float64), x.astype(np.float64), label, seeds, lo, hi, scale,
			                      training)
			g0 = (rng.normal(0, 1, P) * np.abs(rg).max()).astype(dt)
			loss, probs, grad, work, nw = run_step(lib, s, cfgd, flat, b, lo, hi, scale, training, grad0=g0)
			ck.scalar(t + " loss", loss, rl, tol)
			ck.close(t + " probs", probs[:(hi - lo) * Cn].reshape(hi - lo, Cn), rp, tol)
			for nm, a, k in (("probs", probs, (hi - lo) * Cn), ("work", work, nw), ("grad", grad, P)):
				ck.guard(t + " " + nm, a, k)
			for name, shape, off, cnt in ref.param_layout(cfgd):
				ck.close(t + " grad " + name + " (added)", grad[off:off + cnt].reshape(shape),
				         (g0[off:off + cnt].astype(np.float64) + rg[off:off + cnt]).reshape(shape), tol)
			loss2, _, _, _, _ = run_step(lib, s, cfgd, flat, b, lo, hi, scale, training, want_probs=False,
			                             fill_work=0.0)
			ck.scalar(t + " loss (forward only)", loss2, rl, tol)
			if hi - lo >= 2:
				mid = (lo + hi) // 2
				acc = np.zeros(P, dt)
				tot = 0.0
				for a, e in ((lo, mid), (mid, hi)):
					l_, p_, g_, _, _ = run_step(lib, s, cfgd, flat, b, a, e, scale, training, grad0=acc)
					acc = g_[:P].copy()
					tot += l_
					ck.close("%s probs chunk [%d,%d)" % (t, a, e), p_[:(e - a) * Cn].reshape(e - a, Cn),
					         rp[a - lo:e - lo], tol)
				ck.scalar(t + " loss (two chunks)", tot, rl, tol)
				ck.close(t + " grad (two chunks)", acc, rg, tol)
	lib.cf_flowpic_batch_free(C.byref(b))


def check_invalid(lib, ck):
	base = ref.default_config(ref.OFFICIAL)
	for name, d in (("size 40 (no output)", dict(base, size=40)), ("kind 7", dict(base, kind=7)),
	                ("drop 1.5", dict(base, drop_fc=1.5)), ("hidden1 0", dict(base, hidden1=0)),
	                ("channels 0", dict(base, channels=0))):
		cfg = to_config(d)
		rc = lib.cf_flowpic_cnn_shapes(C.byref(cfg), None)
		ck.note("invalid config " + name, rc == -1 and lib.cf_flowpic_cnn_param_count(C.byref(cfg)) == 0 and
		        lib.cf_flowpic_cnn_work_elems(C.byref(cfg), 4) == 0, "rc %d" % rc)


def checks(lib, ck, rng):
	check_defaults(lib, ck)
	check_invalid(lib, ck)
	off = ref.default_config(ref.OFFICIAL)
	mini = ref.default_config(ref.MINI)
	o155 = dict(off, size=155, conv1=4, conv2=5, hidden1=8, classes=4)
	o155c2 = dict(o155, channels=2, classes=3)
	o300 = dict(off, size=300, conv1=3, conv2=4, hidden1=6, classes=5)
	o155p3 = dict(o155, pad_sym=3, hidden1=7)
	m1 = dict(mini)
	m2 = dict(mini, channels=2, classes=4)
	mnoh2 = dict(mini, hidden2=0, hidden1=30, classes=3)
	for name, d in (("official", off), ("official C=2 pad 3", dict(off, channels=2, pad_sym=3)), ("mini", mini),
	                ("mini 2 channels", m2), ("o155", o155), ("o300", o300), ("mini no fc2", mnoh2)):
		check_layout(lib, ck, d, "layout " + name)
	check_step(lib, ck, rng, o155, 5, 1, 5, 0.02, "official size 155")
	check_step(lib, ck, rng, o155c2, 4, 0, 4, 0.02, "official size 155, 2 channels")
	check_step(lib, ck, rng, o300, 3, 0, 3, 0.005, "official size 300")
	check_step(lib, ck, rng, o155p3, 4, 0, 4, 0.02, "official size 155, tcbench padding 3")
	check_step(lib, ck, rng, m1, 6, 1, 6, 0.3, "mini 32x32")
	check_step(lib, ck, rng, m2, 5, 0, 5, 0.3, "mini 32x32, 2 channels")
	check_step(lib, ck, rng, mnoh2, 3, 0, 3, 0.5, "mini without fc2")


if __name__ == "__main__":
	sys.exit(ctypes_check.main("flowpic_cnn_check_ctypes", __doc__, 20242, Lib, ref.selfcheck,
	                           "flowpic_cnn_numpy_ref selfcheck", checks))
