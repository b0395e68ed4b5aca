"""What the ctypes checkers of the model engine share: nn_check_ctypes.py,
nn_conv_check_ctypes.py and flowpic_cnn_check_ctypes.py compare functions of
libcuflow.so with an independent numpy reference, and take from here

  * the agreement criteria (Checker; TOL = 1e-10 for _f64, 1e-5 for _f32),
    for every compared tensor c (C) against r (numpy):
        norm-wise   ||c - r||_2 <= tol * ||r||_2
        per element |c - r|    <= tol * (|r| + max|r|)
    (max|r| over the whole tensor: an element far smaller than the tensor's
    largest is held to an absolute bound at the tensor's scale). An all-zero
    reference must be matched exactly. Losses (scalars) are held to
    |c - r| <= tol * max(|r|, 1);
  * output arrays with a guard tail (buf) that must stay untouched (guard);
  * the library loader (Lib: a subclass declares its functions' types);
  * ctypes structs to and from dicts (the references' configurations);
  * the command line and the run (main): --lib, --seed, -v,
    --skip-selfcheck; the reference's own selfcheck first; one summary line
    "<name>: N checks, M failed; ..." that the gtests print; exit 0 all
    agree, 1 some disagree, 3 the library or a symbol is missing.

The checkers put their own directory first on sys.path, so this module is
found wherever they are run from.
"""
import argparse
import contextlib
import ctypes as C
import io
import sys

import numpy as np

TOL = {"f64": 1e-10, "f32": 1e-5}
DT = {"f64": np.float64, "f32": np.float32}
CT = {"f64": C.c_double, "f32": C.c_float}
GUARD = 16
SENTINEL = 12345.0

P_I32 = C.POINTER(C.c_int32)
P_I64 = C.POINTER(C.c_int64)
P_U64 = C.POINTER(C.c_uint64)
P_U8 = C.POINTER(C.c_uint8)
P_F32 = C.POINTER(C.c_float)


class Checker:
	def __init__(self, verbose):
		self.verbose = verbose
		self.failures = []
		self.count = 0
		self.worst = {}

	def note(self, name, ok, msg):
		self.count += 1
		if not ok:
			self.failures.append(name + ": " + msg)
			print("FAIL  %s: %s" % (name, msg))
		elif self.verbose:
			print("ok    %s: %s" % (name, msg))

	def close(self, name, c, r, tol):
		c = np.asarray(c, np.float64)
		r = np.asarray(r, np.float64)
		if c.shape != r.shape:
			self.note(name, False, "shape %s vs reference %s" % (c.shape, r.shape))
			return False
		if not np.all(np.isfinite(c)):
			bad = np.argwhere(~np.isfinite(c))[:3].tolist()
			self.note(name, False, "non-finite values at %s" % bad)
			return False
		rmax = np.abs(r).max(initial=0.0)
		rn = np.linalg.norm(r)
		d = np.abs(c - r)
		if rmax == 0.0:
			ok = d.max(initial=0.0) == 0.0
			self.note(name, ok, "reference all zero; max|c|=%.3e" % d.max(initial=0.0))
			return ok
		norm_err = np.linalg.norm(c - r) / rn
		elem = d / (np.abs(r) + rmax)
		k = int(np.argmax(elem))
		elem_err = float(elem.reshape(-1)[k])
		ok = norm_err <= tol and elem_err <= tol
		key = "f32" if tol > 1e-8 else "f64"
		self.worst[key] = max(self.worst.get(key, 0.0), norm_err, elem_err)
		msg = "norm rel %.2e, worst elem %.2e at %s (C %.17g, ref %.17g), max|ref| %.3e" % (
		    norm_err, elem_err, np.unravel_index(k, r.shape) if r.ndim else (), c.reshape(-1)[k], r.reshape(-1)[k],
		    rmax)
		self.note(name, ok, msg)
		return ok

	def scalar(self, name, c, r, tol):
		err = abs(c - r) / max(abs(r), 1.0)
		ok = np.isfinite(c) and err <= tol
		self.note(name, ok, "C %.17g ref %.17g rel %.2e" % (c, r, err))

	def guard(self, name, buf, n):
		ok = np.all(buf[n:] == SENTINEL)
		self.note(name + " guard", ok, "writes past the end" if not ok else "untouched")


def buf(n, dtype, fill):
	"""A flat array of n elements plus a guard tail of SENTINEL."""
	a = np.full(n + GUARD, SENTINEL, dtype)
	a[:n] = fill
	return a


def ptr(a, ct):
	return None if a is None else a.ctypes.data_as(C.POINTER(ct))


def i32(a):
	return None if a is None else np.ascontiguousarray(a, np.int32)


class Lib:
	"""libcuflow.so; a subclass declares the types of the functions it
	calls in declare() (a missing symbol raises AttributeError)."""

	def __init__(self, path):
		self.lib = C.CDLL(path)
		self.declare()

	def declare(self):
		pass

	def fn(self, name, restype, argtypes):
		f = getattr(self.lib, name)
		f.restype = restype
		f.argtypes = argtypes

	def __getattr__(self, name):
		return getattr(self.lib, name)


def _is_int_field(ct):
	return getattr(ct, "_type_", "") in tuple("bBhHiIlLqQ")


def to_struct(cls, d):
	"""A cls with every field taken from the dict d (integer fields through
	int(), so numpy integers do too)."""
	s = cls()
	for k, ct in cls._fields_:
		setattr(s, k, int(d[k]) if _is_int_field(ct) else d[k])
	return s


def from_struct(s):
	"""The fields of a ctypes struct as a dict."""
	return {k: getattr(s, k) for k, _ in type(s)._fields_}


def main(name, doc, default_seed, lib_class, selfcheck, selfcheck_name, body):
	"""The checkers' command line and run: loads the library (exit 3 when it
	or a symbol is missing), runs the reference's selfcheck (its output shown
	when it fails or with -v), then body(lib, ck, rng); prints the summary
	line "<name>: ..."; exit 1 when any check failed."""
	ap = argparse.ArgumentParser(description=doc.split("\n")[0])
	ap.add_argument("--lib", required=True, help="path of libcuflow.so")
	ap.add_argument("--seed", type=int, default=default_seed)
	ap.add_argument("-v", "--verbose", action="store_true")
	ap.add_argument("--skip-selfcheck", action="store_true",
	                help="skip the numpy reference's check of itself: it is numpy alone and calls nothing in the "
	                "library (the gtests skip it under sanitizers; the normal build runs it)")
	a = ap.parse_args()
	try:
		lib = lib_class(a.lib)
	except (OSError, AttributeError) as e:
		print("cannot use %s: %s" % (a.lib, e), file=sys.stderr)
		return 3
	ck = Checker(a.verbose)
	rng = np.random.default_rng(a.seed)
	# the oracle first: its own gradients against finite differences
	if not a.skip_selfcheck:
		out = io.StringIO()
		with contextlib.redirect_stdout(out):
			ok = selfcheck()
		if not ok or a.verbose:
			print(out.getvalue(), end="")
		ck.note(selfcheck_name, ok, "ok" if ok else "the numpy reference is wrong")

	body(lib, ck, rng)

	print("%s: %d checks, %d failed; worst relative error f64 %.2e (tol %.0e), f32 %.2e (tol %.0e)%s" %
	      (name, ck.count, len(ck.failures), ck.worst.get("f64", 0), TOL["f64"], ck.worst.get("f32", 0), TOL["f32"],
	       "; reference selfcheck skipped" if a.skip_selfcheck else ""))
	return 1 if ck.failures else 0
