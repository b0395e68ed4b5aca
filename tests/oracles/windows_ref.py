#!/usr/bin/env python3
"""Independent reference (python3 + pandas) for cuflow's windowed traffic aggregates.

Semantics: ../shared/specs/windows.md; the feature computation is the seed notebook's cell
In [31] (seeds/001_78dbf77c8e667e8f.txt), written here again with pandas exactly as the
notebook writes it (pd.DataFrame per batch, unique(), groupby(...)[col].count(), max, mean,
quantile(.25), median(), quantile(.75), quantile(.9)), so cuflow is judged against real
pandas semantics. Notes and decisions: windows_notes.md.

    windows_ref.py gen --seed N --rows R [--span-s S] [--start-s X] [--ips K] [--ports P]
                       [--slot-s L] [--shuffle-within] [--iso] [--no-bytes] [--extra-col]
                       -o ENTRIES.csv
    windows_ref.py compute --entries E.csv --window T [--step S] [--batching tumbling|seed]
                       [--distinct] [--empty] -o OUT.csv
    windows_ref.py check   --entries E.csv --window T [--step S] [--batching tumbling|seed]
                       [--distinct] [--empty] --actual CUFLOW.csv
    windows_ref.py selftest

Exit status: 0 ok; 1 check found mismatches (or selftest failed); 2 bad input / usage.
"""

import argparse
import csv
import datetime
import math
import random
import re
import struct
import sys
import time
from collections import defaultdict

import pandas as pd

NS = 10 ** 9
STATES = ['closed', 'established', 'reset', 'new', 'closing', 'connecting']
DIST_KEYS = ['max', 'mean', 'perc25', 'perc50', 'perc75', 'perc90']
# (A, G-name) pairs of the default distribution columns, in output order (after conn/flow)
PER_GROUP = [('dst_port', 'dst_ip'), ('src_ip', 'dst_ip'),
             ('dst_port', 'src_ip'), ('dst_ip', 'src_ip'),
             ('dst_ip', 'dst_port'), ('src_ip', 'dst_port')]
ENTRY_COLUMNS = ['ts', 'src_ip', 'src_port', 'dst_ip', 'dst_port', 'ip_protocol', 'state',
                 'bytes_up', 'bytes_down']
DF_COLUMNS = ['ts_ns', 'src_ip', 'src_port', 'dst_ip', 'dst_port', 'ip_protocol', 'state',
              'bytes_up', 'bytes_down', 'dst_tx']


class InputError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# exact parsing of times (never through float)

_DEC_RE = re.compile(r'^([+-]?)(\d*)(?:\.(\d*))?$')
_ISO_RE = re.compile(r'^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?'
                     r'(?:([Zz])|([+-])(\d{2}):?(\d{2}))$')
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def parse_decimal_seconds_ns(text):
    """'1700000003.5' -> 1700000003500000000 (exact). Up to 9 fractional digits."""
    m = _DEC_RE.match(text)
    if not m or (m.group(2) == '' and not m.group(3)):
        raise InputError('not a decimal number of seconds: %r' % text)
    sign, ipart, frac = m.group(1), m.group(2), m.group(3) or ''
    if len(frac) > 9:
        raise InputError('more than 9 fractional digits: %r' % text)
    value = int(ipart or '0') * NS + int(frac.ljust(9, '0'))
    return -value if sign == '-' else value


def parse_iso_ns(text):
    """'2023-11-14T22:13:20.5+00:00' -> ns since the epoch (exact). An offset is required."""
    m = _ISO_RE.match(text)
    if not m:
        raise InputError('not ISO-8601 with an offset: %r' % text)
    year, month, day, hh, mi, ss = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7) or ''
    if len(frac) > 9:
        raise InputError('more than 9 fractional digits: %r' % text)
    if hh > 23 or mi > 59 or ss > 59:
        raise InputError('bad time of day: %r' % text)
    try:
        days = datetime.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise InputError('bad date: %r' % text)
    offset_s = 0
    if m.group(9):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise InputError('bad UTC offset: %r' % text)
        offset_s = (oh * 3600 + om * 60) * (1 if m.group(9) == '+' else -1)
    seconds = days * 86400 + hh * 3600 + mi * 60 + ss - offset_s
    return seconds * NS + int(frac.ljust(9, '0'))


def parse_ts_ns(text):
    text = text.strip()
    if 'T' in text or 't' in text or (len(text) > 10 and text[4:5] == '-'):
        return parse_iso_ns(text)
    return parse_decimal_seconds_ns(text)


def parse_duration_ns(text, what):
    ns = parse_decimal_seconds_ns(text.strip())
    if ns <= 0:
        raise InputError('%s must be > 0 seconds: %r' % (what, text))
    return ns


def format_ns_as_seconds(ns, digits):
    """ns -> epoch seconds text with `digits` fractional digits (truncated toward zero)."""
    sign = '-' if ns < 0 else ''
    a = abs(ns)
    whole, frac = divmod(a, NS)
    if digits == 0:
        return sign + str(whole)
    return sign + str(whole) + '.' + ('%09d' % frac)[:digits]


# ---------------------------------------------------------------------------------------------
# reading the entries CSV

_UINT_RE = re.compile(r'^\d+$')


def _uint(text, what, limit):
    text = text.strip()
    if not _UINT_RE.match(text):
        raise InputError('%s is not a non-negative integer: %r' % (what, text))
    v = int(text)
    if v > limit:
        raise InputError('%s out of range: %r' % (what, text))
    return v


def read_entries(path):
    """List of tuples in DF_COLUMNS order, in file order. A bad row raises InputError."""
    entries = []
    try:
        f = open(path, newline='')
    except OSError as e:
        raise InputError('%s: %s' % (path, e))
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError('%s: empty file (no header)' % path)
        except csv.Error as e:
            raise InputError('%s:1: %s' % (path, e))
        header = [h.strip() for h in header]
        col = {}
        for i, h in enumerate(header):
            if h in ENTRY_COLUMNS and h not in col:
                col[h] = i
        for need in ENTRY_COLUMNS[:7]:
            if need not in col:
                raise InputError('%s:1: missing column %r' % (path, need))
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                raise InputError('%s:%d: %s' % (path, reader.line_num, e))
            if not row:           # a blank line: csv gives []
                continue
            try:
                if len(row) != len(header):
                    raise InputError('%d fields, header has %d' % (len(row), len(header)))
                state = row[col['state']].strip()
                if state not in STATES:
                    raise InputError('unknown state %r' % state)
                proto = row[col['ip_protocol']].strip()
                if proto == '':
                    raise InputError('empty ip_protocol')
                bu = _uint(row[col['bytes_up']], 'bytes_up', 2 ** 62) if 'bytes_up' in col else 0
                bd = (_uint(row[col['bytes_down']], 'bytes_down', 2 ** 62)
                      if 'bytes_down' in col else 0)
                entries.append((
                    parse_ts_ns(row[col['ts']]),
                    row[col['src_ip']].strip(),
                    _uint(row[col['src_port']], 'src_port', 65535),
                    row[col['dst_ip']].strip(),
                    _uint(row[col['dst_port']], 'dst_port', 65535),
                    proto,
                    state,
                    bu,
                    bd,
                    1,   # dst_tx: never null, stands for the notebook's df['dst_tx']
                ))
            except InputError as e:
                raise InputError('%s:%d: %s' % (path, reader.line_num, e))
    return entries


# ---------------------------------------------------------------------------------------------
# batching

def batches_tumbling(entries, t_ns, empty):
    """[(window_start_ns, [entry, ...]), ...] in window order, k = floor(ts / T)."""
    by_k = defaultdict(list)
    for e in entries:
        by_k[e[0] // t_ns].append(e)       # Python // is floor, also for negative ts
    if not by_k:
        return []
    if empty:
        ks = range(min(by_k), max(by_k) + 1)
    else:
        ks = sorted(by_k)
    return [(k * t_ns, by_k.get(k, [])) for k in ks]


def batches_sliding(entries, t_ns, s_ns, empty):
    """Window j covers [j*S, j*S + T); an entry is in every j with j*S <= ts < j*S + T."""
    by_j = defaultdict(list)
    for e in entries:
        ts = e[0]
        j_last = ts // s_ns                     # largest j with j*S <= ts
        j_first = (ts - t_ns) // s_ns + 1       # smallest j with ts < j*S + T
        for j in range(j_first, j_last + 1):
            by_j[j].append(e)
    if not by_j:
        return []
    if empty:
        js = range(min(by_j), max(by_j) + 1)
    else:
        js = sorted(by_j)
    return [(j * s_ns, by_j.get(j, [])) for j in js]


def batches_seed(entries, t_ns):
    """The notebook's In [4]: close the batch after an entry whose floor(ts_s) % T == 0."""
    if t_ns % NS != 0:
        raise InputError('--batching seed needs a whole number of seconds for --window')
    T = t_ns // NS
    DATA = []
    FLOW_LIST = []
    for e in entries:
        FLOW_LIST.append(e)
        if (e[0] // NS) % T == 0:
            DATA.append(FLOW_LIST)
            FLOW_LIST = []
    return [(None, fl) for fl in DATA]     # entries after the last close are discarded


# ---------------------------------------------------------------------------------------------
# features: the notebook's cell In [26] + In [31]

def describe_distribution(num_param1_dist_by_param2):
    description = {}
    description["max"] = num_param1_dist_by_param2.max()
    description["mean"] = num_param1_dist_by_param2.mean()
    description["perc25"] = num_param1_dist_by_param2.quantile(.25)
    description["perc50"] = num_param1_dist_by_param2.median()
    description["perc75"] = num_param1_dist_by_param2.quantile(.75)
    description["perc90"] = num_param1_dist_by_param2.quantile(.9)
    return description


def batch_stats(flow_list, distinct):
    """One row for a non-empty batch, computed as cell In [31] does (plus bytes, distinct)."""
    df = pd.DataFrame(flow_list, columns=DF_COLUMNS)
    stats = {}
    # VOLUMETRIC FEATURES
    stats['num_entries'] = len(df)
    stats['count_dst_port'] = len(df['dst_port'].unique())
    stats['count_src_port'] = len(df['src_port'].unique())
    stats['count_dst_ip'] = len(df['dst_ip'].unique())
    stats['count_src_ip'] = len(df['src_ip'].unique())
    df_state_count = df.groupby('state')['dst_tx'].count()
    for state in STATES:
        if state in df_state_count:
            stats['num_state_' + state] = df_state_count[state]
        else:
            stats['num_state_' + state] = 0

    # DISTRIBUTION FEATURES
    # (2) by conn => unique (dst_ip, src_ip)
    gp1 = df.groupby(['dst_ip', 'src_ip'])
    stats['count_conns'] = len(gp1)
    _dist = gp1['dst_port'].count()
    for k, v in describe_distribution(_dist).items():
        stats['dst_port_per_conn_' + k] = v

    # (3) by flow => (dst_ip, dst_port, src_ip, src_port, protocol)
    gp2 = df.groupby(['dst_ip', 'dst_port', 'src_ip', 'src_port', 'ip_protocol'])
    stats['count_flows'] = len(gp2)
    stats['num_flows_per_conn_mean'] = stats['count_flows'] / stats['count_conns']

    # (4) by dst_ip
    gp3 = df.groupby(['dst_ip'])
    _dist = gp3['dst_port'].count()
    for k, v in describe_distribution(_dist).items():
        stats['dst_port_per_dst_ip_' + k] = v
    _dist = gp3['src_ip'].count()
    for k, v in describe_distribution(_dist).items():
        stats['src_ip_per_dst_ip_' + k] = v

    # (5) by src_ip
    gp4 = df.groupby(['src_ip'])
    _dist = gp4['dst_port'].count()
    for k, v in describe_distribution(_dist).items():
        stats['dst_port_per_src_ip_' + k] = v
    _dist = gp4['dst_ip'].count()
    for k, v in describe_distribution(_dist).items():
        stats['dst_ip_per_src_ip_' + k] = v

    # (6) by dst_port
    gp5 = df.groupby(['dst_port'])
    _dist = gp5['dst_ip'].count()
    for k, v in describe_distribution(_dist).items():
        stats['dst_ip_per_dst_port_' + k] = v
    _dist = gp5['src_ip'].count()
    for k, v in describe_distribution(_dist).items():
        stats['src_ip_per_dst_port_' + k] = v

    # not in the notebook: byte sums (spec section 4)
    stats['bytes_up'] = df['bytes_up'].sum()
    stats['bytes_down'] = df['bytes_down'].sum()

    # --distinct: the same groupings with nunique() instead of count()
    if distinct:
        for name, gp, col in [('distinct_dst_port_per_conn_', gp1, 'dst_port'),
                              ('distinct_dst_port_per_dst_ip_', gp3, 'dst_port'),
                              ('distinct_src_ip_per_dst_ip_', gp3, 'src_ip'),
                              ('distinct_dst_port_per_src_ip_', gp4, 'dst_port'),
                              ('distinct_dst_ip_per_src_ip_', gp4, 'dst_ip'),
                              ('distinct_dst_ip_per_dst_port_', gp5, 'dst_ip'),
                              ('distinct_src_ip_per_dst_port_', gp5, 'src_ip')]:
            _dist = gp[col].nunique()
            for k, v in describe_distribution(_dist).items():
                stats[name + k] = v
    return stats


def output_columns(with_start, distinct):
    cols = ['flow_batch']
    if with_start:
        cols.append('window_start_ns')
    cols += ['num_entries', 'count_dst_port', 'count_src_port', 'count_dst_ip', 'count_src_ip']
    cols += ['num_state_' + s for s in STATES]
    cols += ['count_conns'] + ['dst_port_per_conn_' + k for k in DIST_KEYS]
    cols += ['count_flows', 'num_flows_per_conn_mean']
    for a, g in PER_GROUP:
        cols += ['%s_per_%s_%s' % (a, g, k) for k in DIST_KEYS]
    cols += ['bytes_up', 'bytes_down']
    if distinct:
        cols += ['distinct_dst_port_per_conn_' + k for k in DIST_KEYS]
        for a, g in PER_GROUP:
            cols += ['distinct_%s_per_%s_%s' % (a, g, k) for k in DIST_KEYS]
    return cols


def column_kind(name):
    """'int' (exact integer, may be null for max of an empty window) or 'float'."""
    if name.endswith(('_mean', '_perc25', '_perc50', '_perc75', '_perc90')):
        return 'float'
    return 'int'


def empty_stats(cols):
    """Row of an empty window (--empty): zeros, max null, mean/percentiles NaN."""
    stats = {}
    for c in cols:
        if c in ('flow_batch', 'window_start_ns'):
            continue
        if c.endswith('_max'):
            stats[c] = None
        elif column_kind(c) == 'float':
            stats[c] = math.nan
        else:
            stats[c] = 0
    return stats


def normalise(value, kind):
    """numpy scalar -> Python int / float / None."""
    if value is None:
        return None
    if kind == 'int':
        if isinstance(value, float) and math.isnan(value):
            return None
        return int(value)
    return float(value)


def compute_rows(args):
    """(columns, rows); rows are lists of Python int / float / None."""
    t_ns = parse_duration_ns(args.window, '--window')
    entries = read_entries(args.entries)
    if args.batching == 'seed':
        if args.step is not None:
            raise InputError('--step cannot be used with --batching seed')
        batches = batches_seed(entries, t_ns)   # never empty, so --empty changes nothing
        with_start = False
    elif args.step is not None:
        s_ns = parse_duration_ns(args.step, '--step')
        batches = batches_sliding(entries, t_ns, s_ns, args.empty)
        with_start = True
    else:
        batches = batches_tumbling(entries, t_ns, args.empty)
        with_start = True
    cols = output_columns(with_start, args.distinct)
    kinds = [column_kind(c) for c in cols]
    rows = []
    flow_batch = 0
    for start, flow_list in batches:
        if flow_list:
            stats = batch_stats(flow_list, args.distinct)
        else:
            stats = empty_stats(cols)
        row_stats = {'flow_batch': flow_batch}
        if with_start:
            row_stats['window_start_ns'] = start
        row_stats.update(stats)
        flow_batch += 1
        if list(row_stats) != cols:
            raise AssertionError('column order differs from the spec: %r' % list(row_stats))
        rows.append([normalise(row_stats[c], k) for c, k in zip(cols, kinds)])
    return cols, rows


def format_value(v):
    if v is None:
        return ''
    if isinstance(v, float):
        return repr(v)          # 'nan', 'inf', shortest round-trip otherwise
    return str(v)


def write_rows(path, cols, rows):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(cols)
        for r in rows:
            w.writerow([format_value(v) for v in r])


# ---------------------------------------------------------------------------------------------
# check

_INT_RE = re.compile(r'^[+-]?\d+$')


def _float_bits(x):
    if math.isnan(x):
        return 'nan'
    return struct.pack('<d', x)


def compare_cell(expected, text, kind):
    """True if the actual text equals the expected value (ints exact, floats bitwise)."""
    text = text.strip()
    if kind == 'int':
        if expected is None:
            return text == ''
        return bool(_INT_RE.match(text)) and int(text) == expected
    if text == '':
        return False
    try:
        actual = float(text)
    except ValueError:
        return False
    return _float_bits(actual) == _float_bits(expected)


def read_actual(path):
    try:
        f = open(path, newline='')
    except OSError as e:
        raise InputError('%s: %s' % (path, e))
    with f:
        try:
            rows = list(csv.reader(f))
        except csv.Error as e:
            raise InputError('%s: %s' % (path, e))
    rows = [r for r in rows if r]
    if not rows:
        raise InputError('%s: empty file (no header)' % path)
    header = [h.strip() for h in rows[0]]
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise InputError('%s: record %d has %d fields, header has %d'
                             % (path, i, len(r), len(header)))
    return header, rows[1:]


def check(cols, rows, header, actual_rows, out=sys.stdout, limit=20):
    """Number of mismatches; prints the first `limit` and a summary line."""
    mismatches = 0

    def report(msg):
        nonlocal mismatches
        mismatches += 1
        if mismatches <= limit:
            print(msg, file=out)

    if header != cols:
        for i in range(max(len(header), len(cols))):
            e = cols[i] if i < len(cols) else '<none>'
            a = header[i] if i < len(header) else '<none>'
            if e != a:
                report('header col %d: expected %s actual %s' % (i, e, a))
        print('windows_ref: column names/order differ; values not compared', file=out)
    else:
        if len(rows) != len(actual_rows):
            report('row count: expected %d actual %d' % (len(rows), len(actual_rows)))
        kinds = [column_kind(c) for c in cols]
        for r in range(min(len(rows), len(actual_rows))):
            for c, (name, kind) in enumerate(zip(cols, kinds)):
                if not compare_cell(rows[r][c], actual_rows[r][c], kind):
                    report('row %d col %s: expected %s actual %s'
                           % (r, name, format_value(rows[r][c]) or '<null>',
                              actual_rows[r][c] or '<null>'))
    print('windows_ref: %d rows, %d columns, %d mismatches' % (len(rows), len(cols), mismatches),
          file=out)
    return mismatches


# ---------------------------------------------------------------------------------------------
# gen

def gen_entries(seed, rows, span_s, start_s, n_ips, n_ports, slot_s, shuffle_within, iso,
                no_bytes, extra_col):
    rng = random.Random(seed)
    start_ns = parse_decimal_seconds_ns(start_s)
    span_ns = parse_duration_ns(span_s, '--span-s')
    slot_ns = parse_duration_ns(slot_s, '--slot-s')

    # address / port pools: mostly IPv4, one IPv6 in three (at least one when K >= 3)
    ips = []
    for i in range(max(1, n_ips)):
        if i % 3 == 2:
            ips.append('2001:db8::%x' % (i + 1))
        else:
            ips.append('10.0.%d.%d' % (i // 200, 1 + i % 200))
    ports = [rng.choice([22, 53, 80, 443, 8080, 3389, 5353, 123]) if i < 4
             else rng.randint(1024, 65535) for i in range(max(1, n_ports))]
    ip_w = [1.0 / (i + 1) for i in range(len(ips))]          # skewed: collisions and ties
    port_w = [1.0 / (i + 1) ** 1.5 for i in range(len(ports))]
    protos = ['tcp', 'udp', 'icmp', '47']
    proto_w = [6, 3, 1, 1]

    # time layout: slots of slot_ns from start; some slots empty, some with one entry
    first_slot = start_ns // slot_ns
    last_slot = (start_ns + span_ns - 1) // slot_ns
    slots = list(range(first_slot, last_slot + 1))
    kind = {}
    for s in slots:
        x = rng.random()
        kind[s] = 'empty' if x < 0.1 else ('single' if x < 0.3 else 'busy')
    if len(slots) >= 3:          # always at least one one-entry slot and one empty slot
        inner = slots[1:-1]
        if 'single' not in kind.values():
            kind[rng.choice(inner)] = 'single'
        if 'empty' not in kind.values():
            kind[rng.choice([s for s in inner if kind[s] != 'single'] or inner)] = 'empty'
    singles = [s for s in slots if kind[s] == 'single']
    busy = [s for s in slots if kind[s] == 'busy'] or slots

    def slot_range(s):
        return max(s * slot_ns, start_ns), max(min((s + 1) * slot_ns, start_ns + span_ns),
                                               max(s * slot_ns, start_ns) + 1)

    times = []
    for s in singles[:rows]:
        lo, hi = slot_range(s)
        times.append(rng.randrange(lo, hi))
    while len(times) < rows:
        s = rng.choice(busy)
        lo, hi = slot_range(s)
        r = rng.random()
        if r < 0.03:
            t = lo                                     # on the slot boundary (when aligned)
        elif r < 0.07:
            t = rng.randrange(lo, min(hi, lo + NS))    # first second of the slot
        else:
            t = rng.randrange(lo, hi)
        times.append(t)

    # text of each ts; the value is whatever the text says (precision is cut, not rounded)
    texts = []
    for t in times:
        r = rng.random()
        if iso and r < 0.15:
            off_min = rng.choice([0, 0, 60, -300, 330, 120])
            local = t + off_min * 60 * NS
            secs, frac = divmod(local, NS)
            dt = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=secs)
            digits = rng.choice([0, 1, 3, 6, 9])
            text = dt.strftime('%Y-%m-%dT%H:%M:%S')
            if digits:
                text += '.' + ('%09d' % frac)[:digits]
            if off_min == 0 and rng.random() < 0.5:
                text += 'Z'
            else:
                sign = '+' if off_min >= 0 else '-'
                text += '%s%02d:%02d' % (sign, abs(off_min) // 60, abs(off_min) % 60)
        else:
            digits = rng.choice([0, 1, 2, 3, 6, 9, 9, 9])
            text = format_ns_as_seconds(t, digits)
            if digits == 9 and rng.random() < 0.3:
                text = text.rstrip('0').rstrip('.') or '0'
        texts.append((parse_ts_ns(text), text))
    texts.sort(key=lambda p: p[0])       # non-decreasing by value (stable)

    if shuffle_within:
        # permute inside each slot only (never across a slot boundary)
        out = []
        i = 0
        while i < len(texts):
            j = i
            while j < len(texts) and texts[j][0] // slot_ns == texts[i][0] // slot_ns:
                j += 1
            block = texts[i:j]
            rng.shuffle(block)
            out.extend(block)
            i = j
        texts = out

    header = ['ts', 'src_ip', 'src_port', 'dst_ip', 'dst_port', 'ip_protocol', 'state']
    if not no_bytes:
        header += ['bytes_up', 'bytes_down']
    if extra_col:
        header.insert(3, 'note')
    out_rows = [header]
    for _, text in texts:
        row = {
            'ts': text,
            'src_ip': rng.choices(ips, ip_w)[0],
            'src_port': str(rng.choice(ports) if rng.random() < 0.3 else rng.randint(1024, 1100)),
            'dst_ip': rng.choices(ips, ip_w)[0],
            'dst_port': str(rng.choices(ports, port_w)[0]),
            'ip_protocol': rng.choices(protos, proto_w)[0],
            'state': rng.choice(STATES),
            'bytes_up': str(rng.randint(0, 1500)),
            'bytes_down': str(rng.randint(0, 1500)),
            'note': rng.choice(['x', '', 'a b']),
        }
        out_rows.append([row[h] for h in header])
    return out_rows


# ---------------------------------------------------------------------------------------------
# selftest

SELFTEST_CSV = """\
ts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state,bytes_up,bytes_down
1700000001.5,s1,1001,d1,80,tcp,new,10,1
1700000002,s1,1002,d2,80,tcp,established,20,2
1700000003.25,s2,1003,d1,80,tcp,established,30,3
1700000003.250000001,s2,1003,d1,443,tcp,reset,40,4
1700000004,s2,1004,d2,80,udp,closing,50,5
1700000005,s2,1004,d2,80,udp,closing,60,6
1700000006,s2,1005,d2,22,tcp,closing,70,7
2023-11-14T22:13:29.999999999Z,s2,1005,d2,22,47,connecting,80,8
1700000030,s9,9,d9,9,icmp,new,5,0
"""
# window 10: window 170000000 has the first 8 rows, conns (d1,s1)=1 (d2,s1)=1 (d1,s2)=2
# (d2,s2)=4 -> sizes [1,1,2,4]; window 170000003 has one row; with --empty two empty windows
# between them.


def selftest():
    import io
    import os
    import tempfile
    failures = []

    def eq(what, got, want):
        ok = (got == want) or (isinstance(got, float) and isinstance(want, float)
                               and math.isnan(got) and math.isnan(want))
        if not ok or type(got) is not type(want):
            failures.append('%s: got %r want %r' % (what, got, want))

    # time parsing
    eq('ts 1', parse_ts_ns('1700000003.5'), 1700000003500000000)
    eq('ts 2', parse_ts_ns('1700000003.123456789'), 1700000003123456789)
    eq('ts 3', parse_ts_ns('-1.5'), -1500000000)
    eq('ts 4', parse_ts_ns('2023-11-14T22:13:20.5+00:00'), 1700000000500000000)
    eq('ts 5', parse_ts_ns('2023-11-15T00:13:20+02:00'), 1700000000000000000)
    eq('ts 6', parse_ts_ns('2023-11-14T22:13:20Z'), 1700000000000000000)
    eq('ts 7', parse_ts_ns('1969-12-31T23:59:59.5-00:00'), -500000000)
    eq('dur', parse_duration_ns('0.5', 'w'), 500000000)
    for bad in ['1.0000000001', 'abc', '', '2023-11-14T22:13:20', '1e9', '.']:
        try:
            parse_ts_ns(bad)
            failures.append('accepted bad ts %r' % bad)
        except InputError:
            pass
    eq('floor neg', batches_tumbling([(-1500000000,)], 10 * NS, False)[0][0], -10 * NS)

    # describe_distribution on [1,1,2,4]
    d = describe_distribution(pd.Series([1, 1, 2, 4]))
    eq('max', int(d['max']), 4)
    eq('mean', float(d['mean']), 2.0)
    eq('p25', float(d['perc25']), 1.0)
    eq('p50', float(d['perc50']), 1.5)
    eq('p75', float(d['perc75']), 2.5)
    eq('p90', float(d['perc90']), 3.4000000000000004)

    tmp = tempfile.mkdtemp(prefix='windows_ref_selftest_')
    ent = os.path.join(tmp, 'e.csv')
    with open(ent, 'w') as f:
        f.write(SELFTEST_CSV)

    def run(**kw):
        a = argparse.Namespace(entries=ent, window='10', step=None, batching='tumbling',
                               distinct=False, empty=False)
        for k, v in kw.items():
            setattr(a, k, v)
        return compute_rows(a)

    cols, rows = run(distinct=True)
    r = dict(zip(cols, rows[0]))
    eq('rows', len(rows), 2)
    eq('start', r['window_start_ns'], 1700000000 * NS)
    eq('num_entries', r['num_entries'], 8)
    eq('count_dst_port', r['count_dst_port'], 3)
    eq('count_src_port', r['count_src_port'], 5)
    eq('count_dst_ip', r['count_dst_ip'], 2)
    eq('count_src_ip', r['count_src_ip'], 2)
    eq('closed', r['num_state_closed'], 0)
    eq('established', r['num_state_established'], 2)
    eq('closing', r['num_state_closing'], 3)
    eq('connecting', r['num_state_connecting'], 1)
    eq('count_conns', r['count_conns'], 4)
    eq('conn max', r['dst_port_per_conn_max'], 4)
    eq('conn mean', r['dst_port_per_conn_mean'], 2.0)
    eq('conn p25', r['dst_port_per_conn_perc25'], 1.0)
    eq('conn p50', r['dst_port_per_conn_perc50'], 1.5)
    eq('conn p75', r['dst_port_per_conn_perc75'], 2.5)
    eq('conn p90', r['dst_port_per_conn_perc90'], 3.4000000000000004)
    # flows: (d1,80,s1,1001,tcp) (d2,80,s1,1002,tcp) (d1,80,s2,1003,tcp) (d1,443,s2,1003,tcp)
    #        (d2,80,s2,1004,udp) (d2,22,s2,1005,tcp) (d2,22,s2,1005,47) -> 7
    eq('count_flows', r['count_flows'], 7)
    eq('flows/conn', r['num_flows_per_conn_mean'], 7 / 4)
    # dst_ip groups: d1 = 3 rows, d2 = 5 rows -> [3,5]: p90 = 3 + 0.9*2 (numpy lerp)
    eq('dst_ip max', r['dst_port_per_dst_ip_max'], 5)
    eq('dst_ip mean', r['src_ip_per_dst_ip_mean'], 4.0)
    eq('dst_ip p90', r['src_ip_per_dst_ip_perc90'], 4.8)
    # dst_port groups: 80 -> 5, 443 -> 1, 22 -> 2 : sorted [1,2,5]
    eq('dst_port mean', r['dst_ip_per_dst_port_mean'], 8 / 3)
    eq('dst_port p75', r['src_ip_per_dst_port_perc75'], 3.5)
    eq('bytes_up', r['bytes_up'], 360)
    eq('bytes_down', r['bytes_down'], 36)
    # distinct dst_port per conn: (d1,s1)={80} (d2,s1)={80} (d1,s2)={80,443} (d2,s2)={80,22}
    eq('distinct conn max', r['distinct_dst_port_per_conn_max'], 2)
    eq('distinct conn mean', r['distinct_dst_port_per_conn_mean'], 1.5)
    # distinct src_ip per dst_port: 80 -> {s1,s2}, 443 -> {s2}, 22 -> {s2} : [1,1,2]
    eq('distinct src/dport p50', r['distinct_src_ip_per_dst_port_perc50'], 1.0)
    eq('distinct src/dport p90', r['distinct_src_ip_per_dst_port_perc90'], 1.8)
    r1 = dict(zip(cols, rows[1]))
    eq('single p90', r1['dst_port_per_conn_perc90'], 1.0)
    eq('single flows/conn', r1['num_flows_per_conn_mean'], 1.0)

    # --empty
    cols, rows = run(empty=True)
    eq('empty rows', len(rows), 4)
    r2 = dict(zip(cols, rows[2]))
    eq('empty batch', r2['flow_batch'], 2)
    eq('empty start', r2['window_start_ns'], 1700000020 * NS)
    eq('empty n', r2['num_entries'], 0)
    eq('empty max', r2['dst_port_per_conn_max'], None)
    eq('empty mean', r2['dst_port_per_conn_mean'], math.nan)
    eq('empty fpc', r2['num_flows_per_conn_mean'], math.nan)
    eq('empty bytes', r2['bytes_up'], 0)

    # sliding: T=10, S=5: 1700000030 is in windows starting ..25 and ..30
    cols, rows = run(step='5')
    eq('sliding starts', [x[1] // NS for x in rows],
       [1699999995, 1700000000, 1700000005, 1700000025, 1700000030])
    eq('sliding n', [x[2] for x in rows], [5, 8, 3, 1, 1])

    # seed batching: closes after ...00.* (floor % 10 == 0) and after ...30
    cols, rows = run(batching='seed')
    eq('seed cols', cols[:2], ['flow_batch', 'num_entries'])
    eq('seed rows', [x[1] for x in rows], [9])
    e2 = os.path.join(tmp, 'e2.csv')
    with open(e2, 'w') as f:
        f.write('ts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state\n')
        for t in ['1', '2', '10.5', '11', '20', '-10.5', '-10', '21']:
            f.write('%s,a,1,b,2,tcp,new\n' % t)
    cols, rows = run(entries=e2, batching='seed')
    eq('seed sizes', [x[1] for x in rows], [3, 2, 2])   # [1,2,10.5] [11,20] [-10.5,-10]; 21 lost
    eq('seed bytes', rows[0][cols.index('bytes_up')], 0)

    # check: passes on its own output, fails on a 1-ulp change, a changed int, a null
    cols, rows = run(distinct=True, empty=True)
    out = os.path.join(tmp, 'o.csv')
    write_rows(out, cols, rows)
    header, act = read_actual(out)
    sink = io.StringIO()
    eq('check self', check(cols, rows, header, act, out=sink), 0)
    ci = cols.index('dst_port_per_conn_perc90')
    act2 = [list(x) for x in act]
    act2[0][ci] = repr(math.nextafter(float(act2[0][ci]), math.inf))
    eq('check ulp', check(cols, rows, header, act2, out=sink), 1)
    act3 = [list(x) for x in act]
    act3[0][cols.index('num_entries')] = '9'
    act3[2][cols.index('dst_port_per_conn_max')] = '0'
    act3[2][cols.index('dst_port_per_conn_mean')] = ''
    eq('check int/null', check(cols, rows, header, act3, out=sink), 3)
    act4 = [list(x) for x in act]
    act4[2][cols.index('dst_port_per_conn_mean')] = '-nan'       # glibc's 0.0/0.0
    act4[0][cols.index('dst_port_per_conn_mean')] = '2'          # %.17g of 2.0
    eq('check nan/%g', check(cols, rows, header, act4, out=sink), 0)
    eq('check rows', check(cols, rows, header, act[:-1], out=sink), 1)
    eq('check header', check(cols, rows, header[::-1], act, out=sink) > 0, True)

    # a bad row names file and line
    e3 = os.path.join(tmp, 'e3.csv')
    with open(e3, 'w') as f:
        f.write('ts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state\n1,a,1,b,2,tcp,new\n'
                '2,a,1,b,2,tcp,bogus\n')
    try:
        run(entries=e3)
        failures.append('bad state accepted')
    except InputError as e:
        eq('bad row msg', str(e).endswith('e3.csv:3: unknown state \'bogus\''), True)

    # gen round trip: valid, non-decreasing, has one-entry windows
    g = gen_entries(1, 300, '60', '1700000000', 6, 5, '10', False, True, False, True)
    gpath = os.path.join(tmp, 'g.csv')
    with open(gpath, 'w', newline='') as f:
        csv.writer(f, lineterminator='\n').writerows(g)
    ents = read_entries(gpath)
    eq('gen rows', len(ents), 300)
    eq('gen sorted', all(ents[i][0] <= ents[i + 1][0] for i in range(len(ents) - 1)), True)

    for msg in failures:
        print('FAIL', msg)
    print('windows_ref selftest: %d failures' % len(failures))
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)

    g = sub.add_parser('gen', help='random entries CSV')
    g.add_argument('--seed', type=int, required=True)
    g.add_argument('--rows', type=int, required=True)
    g.add_argument('--span-s', default='60')
    g.add_argument('--start-s', default='1700000000')
    g.add_argument('--ips', type=int, default=6)
    g.add_argument('--ports', type=int, default=5)
    g.add_argument('--slot-s', default='10',
                   help='slot length for the time layout and --shuffle-within (default 10)')
    g.add_argument('--shuffle-within', action='store_true',
                   help='permute entries inside each slot (never across a slot boundary)')
    g.add_argument('--iso', action='store_true', help='write ~15%% of ts as ISO-8601')
    g.add_argument('--no-bytes', action='store_true', help='leave out bytes_up/bytes_down')
    g.add_argument('--extra-col', action='store_true', help='add an ignored column "note"')
    g.add_argument('-o', '--out', required=True)

    for name in ('compute', 'check'):
        c = sub.add_parser(name)
        c.add_argument('--entries', required=True)
        c.add_argument('--window', required=True, help='T in seconds (decimal)')
        c.add_argument('--step', default=None, help='S in seconds (decimal): sliding windows')
        c.add_argument('--batching', choices=['tumbling', 'seed'], default='tumbling')
        c.add_argument('--distinct', action='store_true')
        c.add_argument('--empty', action='store_true')
        if name == 'compute':
            c.add_argument('-o', '--out', required=True)
        else:
            c.add_argument('--actual', required=True)
            c.add_argument('--time', action='store_true', help='print the run time')

    sub.add_parser('selftest')
    args = p.parse_args(argv)

    try:
        if args.cmd == 'selftest':
            return selftest()
        if args.cmd == 'gen':
            rows = gen_entries(args.seed, args.rows, args.span_s, args.start_s, args.ips,
                               args.ports, args.slot_s, args.shuffle_within, args.iso,
                               args.no_bytes, args.extra_col)
            with open(args.out, 'w', newline='') as f:
                csv.writer(f, lineterminator='\n').writerows(rows)
            return 0
        t0 = time.perf_counter()
        cols, rows = compute_rows(args)
        if args.cmd == 'compute':
            write_rows(args.out, cols, rows)
            return 0
        header, actual_rows = read_actual(args.actual)
        n = check(cols, rows, header, actual_rows)
        if args.time:
            print('windows_ref: %.2f s' % (time.perf_counter() - t0))
        return 1 if n else 0
    except InputError as e:
        print('windows_ref: error: %s' % e, file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
