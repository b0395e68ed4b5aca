#!/usr/bin/env python3
"""An independent numpy reference for cuflow's image layers
(include/cuflow/nn_conv.h): conv2d with four paddings, the sparse first
convolution, max and average pooling, dropout and 2-D dropout with the
seeded mask generator, tanh; forward and backward, in float64.

Written from the definitions (the header's comment; the FlowPic networks of
../shared/specs/flowpic_joy_lstm.md §1.2 and §1.5), not from host/nn/*.c:

  * conv2d: the input is zero-padded explicitly (np.pad with (top, bottom)
    and (left, right)), then y = bias + sum over (ky, kx) of an einsum of
    the strided slice xp[:, :, ky : ky + sy*OH : sy, kx : kx + sx*OW : sx]
    with w[:, :, ky, kx]; OH = (H + top + bottom - KH) // sy + 1. Backward:
    dw and dx by the same slices (dx of the padded input, then cropped).
  * the sparse convolution is the dense one of the densified image (the
    sparse layout is checked separately; bit equality is the C tests').
  * max pooling ("valid"): the kh*kw window elements stacked in row-major
    order, np.argmax (the FIRST maximum: PyTorch's tie rule) picks the
    element that gets the gradient (np.add.at: overlapping windows add).
  * average pooling: the window mean; backward spreads dy / (kh*kw).
  * dropout: y = x * mask / (1 - p) (Keras and PyTorch, inverted); 2-D
    dropout: the mask per (sample, channel), broadcast over the plane.
  * the mask generator: splitmix64 seeded with seed + sample, 53-bit
    uniforms u = (z >> 11) / 2^53, kept iff u >= p, in pure Python integers.
  * tanh: np.tanh; backward dy * (1 - y^2).

Gradients are returned fresh (the C functions ADD into weight gradients).
Run as a script it checks itself: its gradients against central finite
differences, and its conv against a naive six-loop convolution (exit 0 when
all agree).
"""
import numpy as np

M64 = (1 << 64) - 1


# ---------------------------------------------------------------- geometry

def conv_out(H, W, KH, KW, sy, sx, pad):
	"""pad = (top, bottom, left, right)."""
	t, b, l, r = pad
	return (H + t + b - KH) // sy + 1, (W + l + r - KW) // sx + 1


def pad_same(n, k, s):
	"""TensorFlow's "same" padding along one axis: (before, after)."""
	out = -(-n // s)
	total = max((out - 1) * s + k - n, 0)
	return total // 2, total - total // 2


def pool_out(n, k, s):
	return (n - k) // s + 1 if n >= k else 0


# -------------------------------------------------------------------- conv2d

def _padded(x, pad):
	t, b, l, r = pad
	return np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (t, b), (l, r)))


def conv2d_forward(x, w, bias, stride, pad):
	"""x (B,C,H,W), w (O,C,KH,KW), bias (O,), stride (sy,sx), pad (t,b,l,r)."""
	B, C, H, W = x.shape
	O, _, KH, KW = w.shape
	sy, sx = stride
	OH, OW = conv_out(H, W, KH, KW, sy, sx, pad)
	xp = _padded(x, pad)
	w = np.asarray(w, np.float64)
	y = np.zeros((B, O, OH, OW)) + np.asarray(bias, np.float64)[None, :, None, None]
	for ky in range(KH):
		for kx in range(KW):
			sl = xp[:, :, ky:ky + sy * (OH - 1) + 1:sy, kx:kx + sx * (OW - 1) + 1:sx]
			y += np.einsum("bchw,oc->bohw", sl, w[:, :, ky, kx])
	return y


def conv2d_backward(x, w, dy, stride, pad):
	"""Gradients of sum(dy * y): dx (B,C,H,W), dw (O,C,KH,KW), db (O,)."""
	B, C, H, W = x.shape
	O, _, KH, KW = w.shape
	sy, sx = stride
	OH, OW = conv_out(H, W, KH, KW, sy, sx, pad)
	t, _, l, _ = pad
	xp = _padded(x, pad)
	dy = np.asarray(dy, np.float64)
	w = np.asarray(w, np.float64)
	dxp = np.zeros_like(xp)
	dw = np.zeros((O, C, KH, KW))
	for ky in range(KH):
		for kx in range(KW):
			ys = slice(ky, ky + sy * (OH - 1) + 1, sy)
			xs = slice(kx, kx + sx * (OW - 1) + 1, sx)
			dw[:, :, ky, kx] = np.einsum("bohw,bchw->oc", dy, xp[:, :, ys, xs])
			dxp[:, :, ys, xs] += np.einsum("bohw,oc->bchw", dy, w[:, :, ky, kx])
	dx = dxp[:, :, t:t + H, l:l + W]
	return dx, dw, dy.sum(axis=(0, 2, 3))


def conv2d_naive(x, w, bias, stride, pad):
	"""The definition as six loops (self-check of conv2d_forward)."""
	B, C, H, W = x.shape
	O, _, KH, KW = w.shape
	sy, sx = stride
	t, _, l, _ = pad
	OH, OW = conv_out(H, W, KH, KW, sy, sx, pad)
	y = np.zeros((B, O, OH, OW))
	for b in range(B):
		for o in range(O):
			for oy in range(OH):
				for ox in range(OW):
					s = bias[o]
					for c in range(C):
						for ky in range(KH):
							for kx in range(KW):
								iy, ix = oy * sy + ky - t, ox * sx + kx - l
								if 0 <= iy < H and 0 <= ix < W:
									s += w[o, c, ky, kx] * x[b, c, iy, ix]
					y[b, o, oy, ox] = s
	return y


# ------------------------------------------------------------------- sparse

def sparse_from_dense(x):
	"""The CSR layout of nn_conv.h: offsets (B+1,), c, y, x, value, entries
	of each sample sorted by (c, y, x) (np.nonzero's C order)."""
	B = x.shape[0]
	offs = [0]
	cs, ys, xs, vs = [], [], [], []
	for b in range(B):
		c, yy, xx = np.nonzero(x[b])
		cs.append(c)
		ys.append(yy)
		xs.append(xx)
		vs.append(x[b][c, yy, xx])
		offs.append(offs[-1] + len(c))
	cat = lambda a, dt: np.concatenate(a).astype(dt) if a else np.zeros(0, dt)
	return (np.array(offs, np.int64), cat(cs, np.int32), cat(ys, np.int32), cat(xs, np.int32),
	        np.concatenate(vs) if vs else np.zeros(0))


def sparse_to_dense(shape, offsets, c, y, x, value):
	B, C, H, W = shape
	d = np.zeros(shape)
	for b in range(B):
		k = slice(offsets[b], offsets[b + 1])
		d[b, c[k], y[k], x[k]] = value[k]
	return d


# ------------------------------------------------------------------ pooling

def _windows(x, kh, kw, sy, sx):
	"""(B,C,OH,OW,kh*kw): each window's elements in row-major order, and the
	flat input index of each."""
	B, C, H, W = x.shape
	OH, OW = pool_out(H, kh, sy), pool_out(W, kw, sx)
	oy = np.arange(OH)[:, None, None, None] * sy + np.arange(kh)[None, None, :, None]
	ox = np.arange(OW)[None, :, None, None] * sx + np.arange(kw)[None, None, None, :]
	idx = (oy * W + ox).reshape(OH, OW, kh * kw)
	flat = np.asarray(x, np.float64).reshape(B, C, H * W)
	return flat[:, :, idx], idx


def maxpool2d_forward(x, kh, kw, sy, sx):
	win, _ = _windows(x, kh, kw, sy, sx)
	return win.max(axis=-1)


def maxpool2d_backward(x, dy, kh, kw, sy, sx):
	"""The gradient to the first maximum of each window (np.argmax)."""
	B, C, H, W = x.shape
	win, idx = _windows(x, kh, kw, sy, sx)
	arg = np.argmax(win, axis=-1)  # (B,C,OH,OW): first maximum
	at = np.take_along_axis(np.broadcast_to(idx, win.shape), arg[..., None], axis=-1)[..., 0]
	dx = np.zeros((B, C, H * W))
	bb, cc = np.meshgrid(np.arange(B), np.arange(C), indexing="ij")
	np.add.at(dx, (bb[:, :, None, None], cc[:, :, None, None], at), np.asarray(dy, np.float64))
	return dx.reshape(B, C, H, W)


def avgpool2d_forward(x, kh, kw, sy, sx):
	win, _ = _windows(x, kh, kw, sy, sx)
	return win.mean(axis=-1)


def avgpool2d_backward(shape, dy, kh, kw, sy, sx):
	B, C, H, W = shape
	OH, OW = pool_out(H, kh, sy), pool_out(W, kw, sx)
	dx = np.zeros(shape)
	g = np.asarray(dy, np.float64) / (kh * kw)
	for ky in range(kh):
		for kx in range(kw):
			dx[:, :, ky:ky + sy * (OH - 1) + 1:sy, kx:kx + sx * (OW - 1) + 1:sx] += g
	return dx


# ------------------------------------------------------------------ dropout

def dropout_forward(x, mask, p):
	if mask is None:
		return np.asarray(x, np.float64).copy()
	if p >= 1:
		return np.zeros(np.shape(x))
	return np.asarray(x, np.float64) * (np.asarray(mask) != 0) / (1.0 - max(p, 0.0))


def dropout2d_forward(x, mask, p):
	"""x (B,C,...), mask (B,C)."""
	if mask is None:
		return np.asarray(x, np.float64).copy()
	m = np.asarray(mask).reshape(mask.shape + (1,) * (np.ndim(x) - 2))
	return dropout_forward(x, np.broadcast_to(m, np.shape(x)), p)


def splitmix64_stream(seed, n):
	s = seed & M64
	out = []
	for _ in range(n):
		s = (s + 0x9E3779B97F4A7C15) & M64
		z = s
		z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
		z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
		out.append(z ^ (z >> 31))
	return out


def dropout_mask(seed, B, per_sample, p):
	m = np.zeros((B, per_sample), np.uint8)
	for b in range(B):
		if p <= 0:
			m[b] = 1
			continue
		if p >= 1:
			continue
		for k, z in enumerate(splitmix64_stream(seed + b, per_sample)):
			m[b, k] = 1 if (z >> 11) / float(1 << 53) >= p else 0
	return m


# --------------------------------------------------------------------- tanh

def tanh_forward(x):
	return np.tanh(np.asarray(x, np.float64))


def tanh_backward(y, dy):
	return np.asarray(dy, np.float64) * (1.0 - np.asarray(y, np.float64) ** 2)


# ---------------------------------------------------------------- self-check

def _fd(f, x, h=1e-6):
	g = np.zeros_like(x)
	it = np.nditer(x, flags=["multi_index"])
	for _ in it:
		i = it.multi_index
		v = x[i]
		x[i] = v + h
		fp = f()
		x[i] = v - h
		fm = f()
		x[i] = v
		g[i] = (fp - fm) / (2 * h)
	return g


def _close(name, a, n, tol=1e-6):
	err = np.abs(a - n)
	lim = tol * (np.abs(n) + np.abs(n).max(initial=0.0)) + 1e-9
	ok = bool(np.all(err <= lim))
	print("%-44s %s (worst %.2e of allowed)" % (name, "ok" if ok else "FAILED",
	                                          float((err / lim).max(initial=0.0))))
	return ok


def _check(name, cond):
	print("%-44s %s" % (name, "ok" if cond else "FAILED"))
	return bool(cond)


def selfcheck(seed=1):
	rng = np.random.default_rng(seed)
	ok = True
	for (B, C, H, W, O, KH, KW, st, pad) in ((2, 2, 7, 6, 3, 3, 2, (2, 1), (1, 2, 0, 1)),
	                                          (1, 1, 12, 12, 2, 4, 4, (3, 3), (2, 3, 2, 3)),
	                                          (1, 3, 5, 5, 2, 5, 5, (1, 1), (0, 0, 0, 0)),
	                                          (2, 1, 4, 9, 1, 2, 3, (1, 2), (3, 3, 3, 3))):
		x = rng.normal(0, 1, (B, C, H, W))
		w = rng.normal(0, 1, (O, C, KH, KW))
		b = rng.normal(0, 1, O)
		y = conv2d_forward(x, w, b, st, pad)
		r = rng.normal(0, 1, y.shape)
		tag = "conv x%s w%s s%s p%s" % (x.shape, w.shape, st, pad)
		ok &= _check(tag + " y = six loops", np.abs(y - conv2d_naive(x, w, b, st, pad)).max() <= 1e-12)
		f = lambda: float((conv2d_forward(x, w, b, st, pad) * r).sum())
		dx, dw, db = conv2d_backward(x, w, r, st, pad)
		ok &= _close(tag + " dx", dx, _fd(f, x))
		ok &= _close(tag + " dw", dw, _fd(f, w))
		ok &= _close(tag + " db", db, _fd(f, b))
		xs = np.where(rng.random(x.shape) < 0.2, x, 0.0)
		sp = sparse_from_dense(xs)
		ok &= _check(tag + " sparse round trip", np.array_equal(sparse_to_dense(x.shape, *sp), xs))
	# keras "same" for the official FlowPic layers
	ok &= _check("keras same 1500/150, k10 s5: 2/3 -> 300, 30",
	             pad_same(1500, 10, 5) == (2, 3) and pad_same(150, 10, 5) == (2, 3) and
	             conv_out(1500, 1500, 10, 10, 5, 5, (2, 3, 2, 3)) == (300, 300) and
	             conv_out(150, 150, 10, 10, 5, 5, (2, 3, 2, 3)) == (30, 30))

	x = rng.normal(0, 1, (2, 3, 7, 8))
	for (kh, kw, sy, sx) in ((2, 2, 2, 2), (3, 2, 2, 1), (2, 3, 1, 3)):
		y = maxpool2d_forward(x, kh, kw, sy, sx)
		r = rng.normal(0, 1, y.shape)
		f = lambda: float((maxpool2d_forward(x, kh, kw, sy, sx) * r).sum())
		ok &= _close("maxpool k%dx%d s%dx%d dx" % (kh, kw, sy, sx), maxpool2d_backward(x, r, kh, kw, sy, sx),
		             _fd(f, x))
		y = avgpool2d_forward(x, kh, kw, sy, sx)
		f = lambda: float((avgpool2d_forward(x, kh, kw, sy, sx) * r).sum())
		ok &= _close("avgpool k%dx%d s%dx%d dx" % (kh, kw, sy, sx), avgpool2d_backward(x.shape, r, kh, kw, sy, sx),
		             _fd(f, x))
	# ties: the first maximum gets the gradient
	t = np.array([[[[1.0, 3.0], [3.0, 3.0]]]])
	g = maxpool2d_backward(t, np.array([[[[5.0]]]]), 2, 2, 2, 2)
	ok &= _check("maxpool tie: the first maximum", np.array_equal(g, [[[[0.0, 5.0], [0.0, 0.0]]]]))

	# splitmix64: the published first outputs for seed 1234567
	# (Vigna's splitmix64.c test vector)
	ok &= _check("splitmix64 test vector",
	             splitmix64_stream(1234567, 3) == [6457827717110365317, 3203168211198807973, 9817491932198370423])
	m = dropout_mask(7, 3, 4000, 0.25)
	ok &= _check("dropout mask: rate, seed + sample",
	             abs(m.mean() - 0.75) < 0.02 and np.array_equal(m[1:], dropout_mask(8, 2, 4000, 0.25)))

	x = rng.normal(0, 1, 30)
	r = rng.normal(0, 1, 30)
	f = lambda: float((tanh_forward(x) * r).sum())
	ok &= _close("tanh dx", tanh_backward(tanh_forward(x), r), _fd(f, x))
	print("selfcheck:", "ok" if ok else "FAILED")
	return bool(ok)


if __name__ == "__main__":
	import sys
	sys.exit(0 if selfcheck() else 1)
