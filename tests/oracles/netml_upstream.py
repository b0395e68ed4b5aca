#!/usr/bin/env python3
"""Runs the REAL upstream netml 0.7.1 PParser on one capture and writes every
feature matrix it produces, for tests/test_netml_upstream.cpp to compare with
`cuflow netml` (spec: ../shared/specs/netml.md).

    netml_upstream.py CAPTURE OUTDIR [--labels CICIDS.csv] [--scapy-len]
                      [--types IAT,SIZE,...]

Calls, as netml's own pipeline does:
    p = PCAP(CAPTURE, flow_ptks_thres=2)
    p.pcap2flows(q_interval=0.9)
    p.label_flows(label_file=CSV)                  # only with --labels
    p.flow2features(T, fft=F, header=H)            # every T, F in {0,1}, H in {0,1}
The flows are built once; the 24 feature runs reuse them (flow2features does
not modify p.flows).

Writes into OUTDIR:
    <T>_fft<F>_hdr<H>.csv   one row per subflow, values as repr(float)
    <T>_fft<F>_hdr<H>.error the exception upstream raised for that combination
                            (header=True on IPv6/raw-IP flows, SAMP with a zero
                            sampling width, ...); the other combinations go on
    meta.json               interval, dim_base, samp_rate_q0.3 (also as
                            samp_rate), n_flows_after_timeout, n_subflows (before
                            labelling), n_labelled_subflows and labels (with
                            --labels), per-output shape/self_dim, timings
    subflows.tsv            idx src dst sport dport proto n_pkts t_first t_last
                            (the subflows features are computed on, i.e. after
                            labelling); the IPv6 pseudo-flow is '' '' -1 -1 -1
    labels.csv              one integer per line (with --labels)
    error.txt               when PCAP/pcap2flows/label_flows raised; then the
                            script stops, exit status 0 (upstream crashes are
                            data, not test-harness failures)

Packet size: upstream uses len(pkt), the length of scapy's re-serialisation,
which differs from the captured length for some LDAP/CLDAP/Kerberos packets
(netml.md section 2). By default a module-level `len` is injected into
netml.pparser.parser so that len(<scapy Packet>) returns len(pkt.original):
the record bytes PcapReader handed to the dissector, which scapy has already
cut to MTU=65535, i.e. min(caplen, 65535). Every other len() call in the
module (lists of packets, lists of sizes) is builtins.len. --scapy-len turns
the patch off and reproduces unmodified upstream.
"""
import argparse
import builtins
import json
import os
import sys
import time
import traceback

TYPES = ['IAT', 'SIZE', 'IAT_SIZE', 'STATS', 'SAMP_NUM', 'SAMP_SIZE']


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def _fid_cols(fid):
    return [str(fid[0]), str(fid[1]), str(int(fid[2])), str(int(fid[3])), str(int(fid[4]))]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('capture')
    ap.add_argument('outdir')
    ap.add_argument('--labels', help='CICIDS-2017 style label CSV for label_flows()')
    ap.add_argument('--scapy-len', action='store_true',
                    help="size = scapy's len(pkt) (unpatched upstream) instead of the captured length")
    ap.add_argument('--types', default=','.join(TYPES), help='comma-separated feature types')
    ap.add_argument('--q-interval', type=float, default=0.9)
    a = ap.parse_args(argv[1:])
    os.makedirs(a.outdir, exist_ok=True)

    import numpy as np
    import scapy
    from scapy.packet import Packet
    import netml
    import netml.pparser.parser as parser_mod
    from netml.pparser.parser import PCAP

    if not a.scapy_len:
        def _caplen_len(obj):
            if isinstance(obj, Packet):
                orig = getattr(obj, 'original', None)
                if orig is not None:
                    return builtins.len(orig)
                raise RuntimeError('scapy packet without .original: cannot take the captured length')
            return builtins.len(obj)
        # parser.py does `from scapy.all import *`, which does not export a `len`,
        # so its len() calls resolve to builtins unless the module defines one.
        parser_mod.len = _caplen_len

    meta = {
        'pcap': os.path.basename(a.capture),
        'label_file': os.path.basename(a.labels) if a.labels else None,
        'q_interval': a.q_interval,
        'size': 'scapy_len' if a.scapy_len else 'caplen',
        'versions': {'netml': getattr(netml, '__version__', '?'), 'numpy': np.__version__,
                     'scapy': scapy.VERSION, 'python': sys.version.split()[0]},
        'outputs': {},
        'errors': {},
        'timings_s': {},
    }

    def dump_meta():
        _write(os.path.join(a.outdir, 'meta.json'), json.dumps(meta, indent=1) + '\n')

    t0 = time.time()
    p = PCAP(a.capture, flow_ptks_thres=2)
    try:
        p.pcap2flows(q_interval=a.q_interval)
    except Exception as e:  # no surviving flow (quantile of []), zero interval, parse error...
        meta['timings_s']['pcap2flows'] = time.time() - t0
        meta['error'] = f'pcap2flows: {type(e).__name__}: {e}'
        _write(os.path.join(a.outdir, 'error.txt'),
               f'pcap2flows: {type(e).__name__}: {e}\n' + traceback.format_exc())
        dump_meta()
        return 0
    meta['timings_s']['pcap2flows'] = time.time() - t0
    meta['interval'] = float(p.interval)
    meta['n_subflows'] = len(p.flows)
    # pcap2flows keeps the idle-timeout flows only as flow_durations (q_interval path)
    meta['n_flows_after_timeout'] = len(getattr(p, 'flow_durations', []))
    meta['n_packets_in_subflows'] = sum(len(pk) for _, pk in p.flows)

    if a.labels:
        t1 = time.time()
        try:
            p.label_flows(label_file=a.labels)
        except Exception as e:
            meta['error'] = f'label_flows: {type(e).__name__}: {e}'
            _write(os.path.join(a.outdir, 'error.txt'),
                   f'label_flows: {type(e).__name__}: {e}\n' + traceback.format_exc())
            dump_meta()
            return 0
        meta['timings_s']['label_flows'] = time.time() - t1
        labels = [int(v) for v in p.labels]
        meta['n_labelled_subflows'] = len(p.flows)
        meta['labels'] = labels
        _write(os.path.join(a.outdir, 'labels.csv'), ''.join(f'{v}\n' for v in labels))

    # dim_base and the SAMP width, as flow2features computes them (on p.flows, after labelling)
    try:
        num_pkts = [len(pk) for _, pk in p.flows]
        meta['dim_base'] = int(np.floor(np.quantile(num_pkts, p.q_interval)))
        durs = [parser_mod._get_flow_duration(pk) for _, pk in p.flows]
        samp = float(parser_mod._get_split_interval(durs, q_interval=0.3))
        meta['samp_rate_q0.3'] = samp
        meta['samp_rate'] = samp
    except Exception as e:  # e.g. every subflow dropped by label_flows
        meta['dim_base_error'] = f'{type(e).__name__}: {e}'

    rows = []
    for i, (fid, pkts) in enumerate(p.flows):
        ts = [float(pk.time) for pk in pkts]  # pkts are time-sorted by _flows2subflows
        rows.append('\t'.join([str(i)] + _fid_cols(fid) + [str(len(pkts)), repr(ts[0]), repr(ts[-1])]))
    _write(os.path.join(a.outdir, 'subflows.tsv'),
           'idx\tsrc\tdst\tsport\tdport\tproto\tn_pkts\tt_first\tt_last\n' + ''.join(r + '\n' for r in rows))

    for T in [t for t in a.types.split(',') if t]:
        for fft in (0, 1):
            for hdr in (0, 1):
                name = f'{T}_fft{fft}_hdr{hdr}'
                t1 = time.time()
                try:
                    p.flow2features(T, fft=bool(fft), header=bool(hdr))
                    feats = np.asarray(p.features, dtype=float)
                    text = ''.join(','.join(repr(float(v)) for v in row) + '\n' for row in feats)
                    _write(os.path.join(a.outdir, name + '.csv'), text)
                    shape = list(feats.shape)
                    if len(shape) == 1:  # zero subflows gives shape (0,)
                        shape = [shape[0], 0]
                    meta['outputs'][name + '.csv'] = {'shape': shape, 'self_dim': int(p.dim)}
                except Exception as e:
                    msg = f'{type(e).__name__}: {e}'
                    _write(os.path.join(a.outdir, name + '.error'), msg + '\n' + traceback.format_exc())
                    meta['errors'][name] = msg
                meta['timings_s'][name] = time.time() - t1
    meta['timings_s']['total'] = time.time() - t0
    dump_meta()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
