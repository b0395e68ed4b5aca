#!/usr/bin/env python3
"""Reads what cuflow's "npy" and "jsonl" sinks wrote, with numpy and Python's
json module only, and prints it as text for tests/test_sink_npy_jsonl.cpp to
compare with the values it handed to the sink.

usage: read_npy_jsonl.py npy DIR
       read_npy_jsonl.py jsonl FILE [--f32 NAME,NAME...]

Output, one record per line, fields separated by tabs:
  npy DIR:
    npy FILE DESCR SHAPE         (np.load; SHAPE comma-separated)
    txt FILE LINES               (a .txt file, unescaped: \\n \\r \\\\)
    schema NAME DTYPE WIDTH NULLABLE SHAPE   (schema.json, json.load)
    schema_newline 0|1
    other FILE
    v FILE TOKEN TOKEN ...       (the values, flattened in C order)
  jsonl FILE:
    keys ROW NAME,NAME,...       (the keys of each row, in file order)
    r ROW NAME TOKEN ...         (a vector: [ TOKEN ... ])
    lines N
Value tokens: 0/1 bool (npy), T/F bool (json), decimal integers, i<decimal>
json integers, f<8 hex> float32 bits, d<16 hex> float64 bits, s<hex> UTF-8
bytes, N null. Problems print a line starting with BAD.
"""
import json
import os
import struct
import sys

import numpy as np


def unescape(line):
    out = bytearray()
    i = 0
    while i < len(line):
        c = line[i]
        if c == 0x5C:  # backslash
            nxt = line[i + 1:i + 2]
            if nxt == b"n":
                out += b"\n"
            elif nxt == b"r":
                out += b"\r"
            elif nxt == b"\\":
                out += b"\\"
            else:
                raise ValueError("bad escape in %r" % line)
            i += 2
        else:
            out.append(c)
            i += 1
    return bytes(out)


def npy_tokens(a):
    flat = a.reshape(-1)
    if a.dtype == np.bool_:
        return ["1" if x else "0" for x in flat]
    if a.dtype == np.float32:
        return ["f%08x" % x for x in flat.view(np.uint32)]
    if a.dtype == np.float64:
        return ["d%016x" % x for x in flat.view(np.uint64)]
    return [str(int(x)) for x in flat]


def read_dir(d):
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if name.endswith(".npy"):
            a = np.load(p, allow_pickle=False)
            m = np.load(p, mmap_mode="r")  # memory-mappable too
            if m.shape != a.shape:
                print("BAD mmap shape", name)
            print("npy\t%s\t%s\t%s" % (name, a.dtype.str, ",".join(str(x) for x in a.shape)))
            print("v\t%s\t%s" % (name, " ".join(npy_tokens(a))))
        elif name.endswith(".txt"):
            raw = open(p, "rb").read()
            if raw and not raw.endswith(b"\n"):
                print("BAD no final newline", name)
            lines = raw.split(b"\n")[:-1] if raw else []
            vals = [unescape(x) for x in lines]
            for v in vals:
                v.decode("utf-8")  # must be UTF-8
            print("txt\t%s\t%d" % (name, len(vals)))
            print("v\t%s\t%s" % (name, " ".join("s" + v.hex() for v in vals)))
        elif name == "schema.json":
            raw = open(p, "rb").read()
            print("schema_newline\t%d" % (1 if raw.endswith(b"\n") and raw.count(b"\n") == 1 else 0))
            for c in json.loads(raw)["columns"]:
                print("schema\t%s\t%s\t%d\t%d\t%s" % (c["name"], c["dtype"], c["width"], c["nullable"],
                                                     ",".join(str(x) for x in c.get("shape", []))))
        else:
            print("other\t%s" % name)


def sig_digits(text):
    """Significant digits of a decimal number's text."""
    m = text.lstrip("-").lower().split("e")[0].replace(".", "").lstrip("0").rstrip("0")
    return max(len(m), 1)


class RawFloat(str):
    """A JSON number with a fraction or exponent, kept as its text."""


def json_tokens(x, name, f32):
    if x is None:
        return ["N"]
    if isinstance(x, list):
        out = ["["]
        for e in x:
            out += json_tokens(e, name, f32)
        return out + ["]"]
    if isinstance(x, bool):
        return ["T" if x else "F"]
    if isinstance(x, int):
        return ["i%d" % x]
    if isinstance(x, RawFloat):
        text = str(x)
        d = float(text)
        if name in f32:
            via_double = np.float32(d)
            direct = np.float32(text)
            if via_double.view(np.uint32) != direct.view(np.uint32):
                print("BAD float32 %s reads differently through a double" % text)
            shortest = np.format_float_scientific(via_double, unique=True)
            tok = "f%08x" % via_double.view(np.uint32)
        else:
            shortest = repr(d)
            tok = "d%016x" % struct.unpack("<Q", struct.pack("<d", d))[0]
        if sig_digits(text) > sig_digits(shortest):
            print("BAD not shortest: %s %s (shortest %s)" % (name, text, shortest))
        return [tok]
    if isinstance(x, str):
        return ["s" + x.encode("utf-8").hex()]
    print("BAD value type %r" % (x,))
    return ["?"]


def reject_constant(c):
    raise ValueError("non-standard JSON constant " + c)


def read_jsonl(path, f32):
    raw = open(path, "rb").read()
    if raw and not raw.endswith(b"\n"):
        print("BAD no final newline")
    lines = raw.split(b"\n")[:-1] if raw else []
    for r, line in enumerate(lines):
        # floats kept as their text so the digits can be checked
        obj = json.loads(line.decode("utf-8"), parse_float=RawFloat,
                         parse_constant=reject_constant)
        if not isinstance(obj, dict):
            print("BAD row %d is not an object" % r)
            continue
        print("keys\t%d\t%s" % (r, ",".join(obj.keys())))
        for k, v in obj.items():
            print("r\t%d\t%s\t%s" % (r, k, " ".join(json_tokens(v, k, f32))))
    print("lines\t%d" % len(lines))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "npy":
        read_dir(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "jsonl":
        f32 = set()
        if len(sys.argv) >= 5 and sys.argv[3] == "--f32":
            f32 = set(sys.argv[4].split(","))
        read_jsonl(sys.argv[2], f32)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
