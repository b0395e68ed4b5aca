#!/usr/bin/env python3
"""An independent numpy reference for cuflow's FlowPic CNNs as whole models
(include/cuflow/nn_flowpic.h): the official FlowPic network
(../shared/specs/flowpic_joy_lstm.md §1.2) and the mini-FlowPic LeNet-5
(§1.5), forward, loss and every parameter gradient, in float64.

Written from the spec and the header, not from host/nn/*.c. The layers are
the self-checked numpy references of nn_conv_numpy_ref.py (conv2d with
explicit padding, max pooling with the first-maximum rule, dropout /
dropout2d, the splitmix64 mask generator) and nn_numpy_ref.py (dense, ReLU,
softmax cross-entropy); this file composes them:

  conv1 -> ReLU -> maxpool -> conv2 -> ReLU -> conv dropout -> maxpool ->
  flatten (c, y, x) -> fc1 ReLU [-> fc2 ReLU] -> fc dropout -> out -> softmax

The official model's conv dropout is element-wise (Keras Dropout), the
mini model's is per channel (nn.Dropout2d). Masks (training): sample s
(absolute index) with seed = seeds[s]: conv mask dropout_mask(seed, 1, per,
drop_conv), fc mask dropout_mask(seed ^ FC_SEED_XOR, 1, units, drop_fc).
The official model's input is the densified image (the sparse first
convolution equals the dense one; nn_conv_check_ctypes.py checks that bit
for bit).

Run as a script it checks itself: the whole-model gradients of both kinds
against central finite differences (exit 0 when all agree).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nn_conv_numpy_ref as cref  # noqa: E402
import nn_numpy_ref as dref  # noqa: E402

OFFICIAL, MINI = 0, 1
FC_SEED_XOR = 0xD1B54A32D192ED03
M64 = (1 << 64) - 1

FIELDS_INT = ("kind", "channels", "size", "classes", "conv1", "conv2", "kernel", "stride", "pool", "hidden1",
              "hidden2")


def default_config(kind):
	if kind == MINI:
		return dict(kind=MINI, channels=1, size=32, classes=5, conv1=6, conv2=16, kernel=5, stride=1, pool=2,
		            hidden1=120, hidden2=84, drop_conv=0.25, drop_fc=0.5, same_padding=0, pad_sym=-1)
	return dict(kind=OFFICIAL, channels=1, size=1500, classes=5, conv1=10, conv2=20, kernel=10, stride=5, pool=2,
	            hidden1=64, hidden2=0, drop_conv=0.25, drop_fc=0.5, same_padding=1, pad_sym=-1)


def _pads(cfg, n):
	if cfg["pad_sym"] >= 0:
		p = cfg["pad_sym"]
		return (p, p, p, p)
	if cfg["same_padding"]:
		a, b = cref.pad_same(n, cfg["kernel"], cfg["stride"])
		return (a, b, a, b)
	return (0, 0, 0, 0)


def shapes(cfg):
	"""Every intermediate shape of one sample: a dict."""
	k, s, pl = cfg["kernel"], cfg["stride"], cfg["pool"]
	S = cfg["size"]
	pad1 = _pads(cfg, S)
	c1 = cref.conv_out(S, S, k, k, s, s, pad1)
	p1 = (cref.pool_out(c1[0], pl, pl), cref.pool_out(c1[1], pl, pl))
	pad2 = _pads(cfg, p1[0])
	c2 = cref.conv_out(p1[0], p1[1], k, k, s, s, pad2)
	p2 = (cref.pool_out(c2[0], pl, pl), cref.pool_out(c2[1], pl, pl))
	return dict(pad1=pad1, c1=c1, p1=p1, pad2=pad2, c2=c2, p2=p2, flat=cfg["conv2"] * p2[0] * p2[1])


def last_hidden(cfg):
	return cfg["hidden2"] if cfg["hidden2"] > 0 else cfg["hidden1"]


def param_layout(cfg):
	"""[(name, shape, offset, count)] in the flat array's order."""
	sh = shapes(cfg)
	k = cfg["kernel"]
	t = [("conv1.weight", (cfg["conv1"], cfg["channels"], k, k)), ("conv1.bias", (cfg["conv1"],)),
	     ("conv2.weight", (cfg["conv2"], cfg["conv1"], k, k)), ("conv2.bias", (cfg["conv2"],)),
	     ("fc1.weight", (cfg["hidden1"], sh["flat"])), ("fc1.bias", (cfg["hidden1"],))]
	if cfg["hidden2"] > 0:
		t += [("fc2.weight", (cfg["hidden2"], cfg["hidden1"])), ("fc2.bias", (cfg["hidden2"],))]
	t += [("out.weight", (cfg["classes"], last_hidden(cfg))), ("out.bias", (cfg["classes"],))]
	out, o = [], 0
	for name, shape in t:
		n = int(np.prod(shape))
		out.append((name, shape, o, n))
		o += n
	return out


def param_count(cfg):
	lay = param_layout(cfg)
	return lay[-1][2] + lay[-1][3]


def unflatten(cfg, flat):
	return {name: np.asarray(flat[o:o + n], np.float64).reshape(shape) for name, shape, o, n in param_layout(cfg)}


def flatten(cfg, d):
	return np.concatenate([np.asarray(d[name], np.float64).reshape(-1) for name, _, _, _ in param_layout(cfg)])


def masks(cfg, seeds, lo, hi):
	"""(conv mask (n, per), fc mask (n, units)) of samples [lo, hi)."""
	sh = shapes(cfg)
	per = cfg["conv2"] if cfg["kind"] == MINI else cfg["conv2"] * sh["c2"][0] * sh["c2"][1]
	U = last_hidden(cfg)
	mc = np.zeros((hi - lo, per), np.uint8)
	mf = np.zeros((hi - lo, U), np.uint8)
	for s in range(lo, hi):
		seed = int(seeds[s]) & M64
		mc[s - lo] = cref.dropout_mask(seed, 1, per, cfg["drop_conv"])[0]
		mf[s - lo] = cref.dropout_mask(seed ^ FC_SEED_XOR, 1, U, cfg["drop_fc"])[0]
	return mc, mf


def step(cfg, flat, x, label, seeds, lo, hi, scale, training, want_grad=True):
	"""x: (N, C, S, S) images (float64 values); returns (loss, probs, grad
	flat or None) over samples [lo, hi)."""
	p = unflatten(cfg, flat)
	sh = shapes(cfg)
	k, st, pl = cfg["kernel"], cfg["stride"], cfg["pool"]
	xs = np.asarray(x[lo:hi], np.float64)
	n = hi - lo
	mc, mf = masks(cfg, seeds, lo, hi) if training else (None, None)

	a1 = np.maximum(cref.conv2d_forward(xs, p["conv1.weight"], p["conv1.bias"], (st, st), sh["pad1"]), 0.0)
	p1 = cref.maxpool2d_forward(a1, pl, pl, pl, pl)
	a2 = np.maximum(cref.conv2d_forward(p1, p["conv2.weight"], p["conv2.bias"], (st, st), sh["pad2"]), 0.0)
	if mc is None:
		r2 = a2.copy()
	elif cfg["kind"] == MINI:
		r2 = cref.dropout2d_forward(a2, mc, cfg["drop_conv"])
	else:
		r2 = cref.dropout_forward(a2, mc.reshape(a2.shape), cfg["drop_conv"])
	p2 = cref.maxpool2d_forward(r2, pl, pl, pl, pl)
	f = p2.reshape(n, -1)
	h1 = np.maximum(dref.dense_forward(f, p["fc1.weight"], p["fc1.bias"]), 0.0)
	hl = h1
	if cfg["hidden2"] > 0:
		h2 = np.maximum(dref.dense_forward(h1, p["fc2.weight"], p["fc2.bias"]), 0.0)
		hl = h2
	hd = hl.copy() if mf is None else cref.dropout_forward(hl, mf, cfg["drop_fc"])
	logits = dref.dense_forward(hd, p["out.weight"], p["out.bias"])
	loss, probs, dlog = dref.softmax_xent(logits, np.asarray(label[lo:hi]), scale)
	if not want_grad:
		return loss, probs, None

	g = {}
	dhd, g["out.weight"], g["out.bias"] = dref.dense_backward(hd, p["out.weight"], dlog)
	dhl = dhd.copy() if mf is None else cref.dropout_forward(dhd, mf, cfg["drop_fc"])
	if cfg["hidden2"] > 0:
		dz2 = dref.relu_backward(h2, dhl)
		dh1, g["fc2.weight"], g["fc2.bias"] = dref.dense_backward(h1, p["fc2.weight"], dz2)
	else:
		dh1 = dhl
	dz1 = dref.relu_backward(h1, dh1)
	df, g["fc1.weight"], g["fc1.bias"] = dref.dense_backward(f, p["fc1.weight"], dz1)
	dr2 = cref.maxpool2d_backward(r2, df.reshape(p2.shape), pl, pl, pl, pl)
	if mc is None:
		da2 = dr2
	elif cfg["kind"] == MINI:
		da2 = cref.dropout2d_forward(dr2, mc, cfg["drop_conv"])
	else:
		da2 = cref.dropout_forward(dr2, mc.reshape(a2.shape), cfg["drop_conv"])
	dz2c = dref.relu_backward(a2, da2)
	dp1, g["conv2.weight"], g["conv2.bias"] = cref.conv2d_backward(p1, p["conv2.weight"], dz2c, (st, st),
	                                                                sh["pad2"])
	da1 = cref.maxpool2d_backward(a1, dp1, pl, pl, pl, pl)
	dz1c = dref.relu_backward(a1, da1)
	_, g["conv1.weight"], g["conv1.bias"] = cref.conv2d_backward(xs, p["conv1.weight"], dz1c, (st, st),
	                                                              sh["pad1"])
	return loss, probs, flatten(cfg, g)


def random_params(rng, cfg):
	"""PyTorch-like: uniform +-1/sqrt(fan_in) for weights and biases."""
	d = {}
	for name, shape, _, _ in param_layout(cfg):
		wshape = dict((nm, sp) for nm, sp, _, _ in param_layout(cfg))[name.replace(".bias", ".weight")]
		fan = int(np.prod(wshape[1:]))
		d[name] = rng.uniform(-1, 1, shape) / np.sqrt(fan)
	return flatten(cfg, d)


def random_images(rng, cfg, n, density, integer, empty_last=False):
	"""(n, C, S, S) float32 images, `density` of the pixels nonzero; integer
	counts 1..5 (FlowPic) or uniform (0, 1] values (mini, /255 scaled)."""
	shape = (n, cfg["channels"], cfg["size"], cfg["size"])
	v = rng.integers(1, 6, shape).astype(np.float64) if integer else rng.uniform(0.004, 1.0, shape)
	x = np.where(rng.random(shape) < density, v, 0.0)
	if empty_last and n > 1:
		x[-1] = 0.0
	return x.astype(np.float32)


# ---------------------------------------------------------------- self-check

def _fd(f, x, idx, h=1e-6):
	g = np.zeros(len(idx))
	for j, i in enumerate(idx):
		v = x[i]
		x[i] = v + h
		fp = f()
		x[i] = v - h
		fm = f()
		x[i] = v
		g[j] = (fp - fm) / (2 * h)
	return g


def selfcheck(seed=3):
	rng = np.random.default_rng(seed)
	ok = True
	# the spec's tables
	off = default_config(OFFICIAL)
	sh = shapes(off)
	good = (sh["pad1"] == (2, 3, 2, 3) and sh["c1"] == (300, 300) and sh["p1"] == (150, 150) and
	        sh["pad2"] == (2, 3, 2, 3) and sh["c2"] == (30, 30) and sh["p2"] == (15, 15) and sh["flat"] == 4500 and
	        param_count(off) == 309419)
	print("%-50s %s" % ("official shapes, 309,419 parameters", "ok" if good else "FAILED"))
	ok &= good
	mini = default_config(MINI)
	sh = shapes(mini)
	good = sh["c1"] == (28, 28) and sh["p1"] == (14, 14) and sh["c2"] == (10, 10) and sh["p2"] == (5, 5) and \
	    sh["flat"] == 400 and [n for _, _, _, n in param_layout(mini)] == [150, 6, 2400, 16, 48000, 120, 10080, 84,
	                                                                        420, 5]
	print("%-50s %s" % ("mini shapes and parameters", "ok" if good else "FAILED"))
	ok &= good
	cfgs = (("official tiny (size 60)", dict(off, size=60, conv1=2, conv2=3, hidden1=4, classes=3), 0.1, True),
	        ("official tiny pad 3, 2 channels", dict(off, size=90, channels=2, conv1=2, conv2=2, hidden1=3, classes=2,
	                                                 pad_sym=3), 0.1, True),
	        ("mini tiny, 2 channels", dict(mini, channels=2, conv1=2, conv2=3, hidden1=5, hidden2=4, classes=3), 1.0,
	         False))
	for name, cfg, dens, integer in cfgs:
		n = 3
		x = random_images(rng, cfg, n, dens, integer).astype(np.float64)
		if not integer:
			x = rng.normal(0, 1, x.shape)
		label = np.array([0, cfg["classes"] - 1, -1][:n])
		seeds = rng.integers(0, 2 ** 63, n, dtype=np.uint64)
		flat = random_params(rng, cfg)
		for training in (0, 1):
			_, _, g = step(cfg, flat, x, label, seeds, 0, n, 0.5, training)
			f = lambda: step(cfg, flat, x, label, seeds, 0, n, 0.5, training, want_grad=False)[0]
			idx = rng.choice(len(flat), size=min(len(flat), 120), replace=False)
			num = _fd(f, flat, idx)
			err = np.abs(g[idx] - num)
			lim = 1e-6 * (np.abs(num) + np.abs(num).max()) + 1e-9
			good = bool(np.all(err <= lim))
			print("%-50s %s (worst %.2e of allowed)" % ("%s training %d fd" % (name, training),
			                                           "ok" if good else "FAILED", float((err / lim).max())))
			ok &= good
	print("selfcheck:", "ok" if ok else "FAILED")
	return bool(ok)


if __name__ == "__main__":
	sys.exit(0 if selfcheck() else 1)
