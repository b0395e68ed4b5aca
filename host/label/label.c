/*
 * Flow labelling: constant labels and ground-truth CSVs (CICFlowMeter flow
 * files and our rules format). Semantics in include/cuflow/label.h.
 *
 * Layout after loading. Rows naming one host/port/protocol on each side
 * ("exact") are grouped by their canonical key (the two endpoints in
 * sorted order, so both orientations meet); a group's rows are contiguous
 * in rows[], sorted by start, and each row keeps the running maximum of
 * the ends before it (maxend), so a lookup binary-searches the last row
 * starting before the flow ends and walks back only while some earlier
 * row could still reach the flow's start. Every other rule is in wild[],
 * in file order, checked one by one.
 *
 * Times are stored already shifted by time_offset_ns and widened by
 * slack_ns; INT64_MIN / INT64_MAX stand for an open end and are never
 * shifted.
 *
 * CF_LABEL_MATCH_TUPLE_DIRECTIONAL (netml's semantics) reuses the same
 * layout: CIC rows keyed by their 5-tuple as written (not canonical), each
 * row open at both ends, so a lookup meets every row of its key and the
 * one latest in the file wins.
 */
#include "cuflow/label.h"
#include "cuflow/cuflow.h"
#include "common/csv_reader.h"
#include "common/text_parse.h"
#include "cuflow/errbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_PER_S 1000000000LL

enum { FMT_CONSTANT, FMT_CIC, FMT_RULES };

/* Canonical flow key: ep[0] <= ep[1] by (address, port). Zeroed before
 * filling so that memcmp and the hash see no padding garbage. */
typedef struct lkey {
	uint8_t ip[2][16];
	uint16_t port[2];
	uint8_t ver, proto;
} lkey;

typedef struct lrow {
	int64_t start, end;   /* shifted and widened */
	int64_t maxend;       /* max end over the group's rows up to this one */
	uint32_t rule, label; /* index in rules[], label id */
} lrow;

typedef struct lgroup {
	lkey key;
	uint32_t hash;
	uint32_t first, n;    /* rows[first .. first + n) */
} lgroup;

/* A rule with a wildcard, prefix, port range or any protocol. */
typedef struct wrule {
	uint8_t ver;              /* 0: any version, else 4 or 6 */
	int16_t proto;            /* -1: any */
	uint8_t any_ip[2];        /* side s matches every address */
	uint8_t plen[2];          /* prefix length of side s */
	uint8_t ip[2][16];        /* side s prefix, host bits cleared */
	uint16_t plo[2], phi[2];  /* port range of side s */
	int64_t start, end;
	uint32_t rule, label;
} wrule;

typedef struct rulemeta {
	uint64_t line, matched, won;
	uint32_t label;
} rulemeta;

struct cf_labeler {
	int format;
	char *source;             /* CSV path, NULL for constant labelers */
	int32_t default_id;       /* -1: drop unmatched */
	int32_t constant_id;

	char **names;             /* label names, by id */
	cf_label_counts *counts;  /* per label id */
	uint32_t nnames, names_cap, counts_cap;
	uint32_t *name_tab;       /* open addressing: id + 1, 0 empty */
	uint32_t name_mask;

	lgroup *groups;
	uint32_t ngroups, groups_cap;
	uint32_t *group_tab;      /* open addressing: group index + 1, 0 empty */
	uint32_t group_mask;
	lrow *rows;
	uint32_t nrows;

	wrule *wild;
	uint32_t nwild, wild_cap;

	rulemeta *rules;
	uint32_t nrules, rules_cap;

	int64_t slack_ns;
	int tuple;                /* CF_LABEL_MATCH_TUPLE_DIRECTIONAL */
	cf_label_totals tot;
};

/* ------------------------------------------------------------------ helpers */

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Grows *p (elements of size sz) to hold at least need elements. */
static int grow(void **p, uint32_t *cap, uint32_t need, size_t sz)
{
	if (need <= *cap)
		return 0;
	uint64_t nc = *cap ? (uint64_t)*cap * 2 : 16;
	while (nc < need)
		nc *= 2;
	if (nc > UINT32_MAX)
		return -1;
	void *q = realloc(*p, (size_t)nc * sz);
	if (!q)
		return -1;
	*p = q;
	*cap = (uint32_t)nc;
	return 0;
}

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* Shift a bounded time; open ends stay open. */
static int64_t shift(int64_t t, int64_t by)
{
	return (t == INT64_MIN || t == INT64_MAX) ? t : sat_add(t, by);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint32_t key_hash(const lkey *k)
{
	uint64_t w[4], h = ((uint64_t)k->ver << 56) ^ ((uint64_t)k->proto << 48) ^
	                   ((uint64_t)k->port[0] << 16) ^ k->port[1];
	memcpy(w, k->ip, sizeof w);
	for (int i = 0; i < 4; i++)
		h = mix64(h ^ w[i]) + (uint64_t)i;
	return (uint32_t)(mix64(h) >> 32);
}

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* Builds the key of two endpoints: canonical (sorted), or as given when
 * directional (tuple mode: the reverse direction is another key). */
static void make_key_as(lkey *k, int directional, uint8_t ver, uint8_t proto, const uint8_t *ipa, uint16_t pa,
                        const uint8_t *ipb, uint16_t pb)
{
	memset(k, 0, sizeof *k);
	size_t n = ver == 4 ? 4 : 16;
	int c = directional ? 0 : memcmp(ipa, ipb, n);
	if (!directional && (c > 0 || (c == 0 && pa > pb))) {
		const uint8_t *t = ipa;
		ipa = ipb;
		ipb = t;
		uint16_t tp = pa;
		pa = pb;
		pb = tp;
	}
	memcpy(k->ip[0], ipa, n);
	memcpy(k->ip[1], ipb, n);
	k->port[0] = pa;
	k->port[1] = pb;
	k->ver = ver;
	k->proto = proto;
}

static void make_key(lkey *k, uint8_t ver, uint8_t proto, const uint8_t *ipa, uint16_t pa, const uint8_t *ipb,
                     uint16_t pb)
{
	make_key_as(k, 0, ver, proto, ipa, pa, ipb, pb);
}

/* ------------------------------------------------------------------ labels */

static int32_t name_lookup(const cf_labeler *l, const char *s, uint32_t h)
{
	if (!l->name_tab)
		return -1;
	for (uint32_t i = h & l->name_mask;; i = (i + 1) & l->name_mask) {
		uint32_t e = l->name_tab[i];
		if (!e)
			return -1;
		if (!strcmp(l->names[e - 1], s))
			return (int32_t)(e - 1);
	}
}

/* Id of s, interning it when new; -1 when out of memory. */
static int32_t intern(cf_labeler *l, const char *s)
{
	uint32_t h = str_hash(s);
	int32_t id = name_lookup(l, s, h);
	if (id >= 0)
		return id;
	if (l->nnames >= INT32_MAX - 1)
		return -1;
	/* keep the table at most half full */
	if ((uint64_t)(l->nnames + 1) * 2 > (uint64_t)l->name_mask + 1 || !l->name_tab) {
		uint32_t cap = l->name_tab ? (l->name_mask + 1) * 2 : 64;
		uint32_t *t = calloc(cap, sizeof *t);
		if (!t)
			return -1;
		for (uint32_t i = 0; i < l->nnames; i++) {
			uint32_t j = str_hash(l->names[i]) & (cap - 1);
			while (t[j])
				j = (j + 1) & (cap - 1);
			t[j] = i + 1;
		}
		free(l->name_tab);
		l->name_tab = t;
		l->name_mask = cap - 1;
	}
	if (grow((void **)&l->names, &l->names_cap, l->nnames + 1, sizeof *l->names) ||
	    grow((void **)&l->counts, &l->counts_cap, l->nnames + 1, sizeof *l->counts))
		return -1;
	char *copy = strdup(s);
	if (!copy)
		return -1;
	id = (int32_t)l->nnames++;
	l->names[id] = copy;
	memset(&l->counts[id], 0, sizeof l->counts[id]);
	uint32_t j = h & l->name_mask;
	while (l->name_tab[j])
		j = (j + 1) & l->name_mask;
	l->name_tab[j] = (uint32_t)id + 1;
	return id;
}

/* ------------------------------------------------------------------ field parsers */

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

static int is_wild(const char *s)
{
	return !*s || !strcmp(s, "*");
}

/* Address or CIDR prefix; host bits are cleared. */
static int parse_prefix(const char *s, uint8_t ip[16], uint8_t *ver, uint8_t *plen)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (cf_parse_ip_text(buf, ip, ver))
		return -1;
	uint64_t max = *ver == 4 ? 32 : 128, len = max;
	if (slash && parse_uint(slash + 1, max, &len))
		return -1;
	*plen = (uint8_t)len;
	for (uint64_t bit = len; bit < 128; bit++)
		ip[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	return 0;
}

static int prefix_match(const uint8_t *ip, const uint8_t *pfx, unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;
	if (memcmp(ip, pfx, full))
		return 0;
	if (!rest)
		return 1;
	uint8_t mask = (uint8_t)(0xFF00u >> rest);
	return (ip[full] & mask) == pfx[full];
}

static int parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	uint64_t a, b;
	const char *dash = strchr(s, '-');
	if (!dash) {
		if (parse_uint(s, 65535, &a))
			return -1;
		*lo = *hi = (uint16_t)a;
		return 0;
	}
	char buf[16];
	size_t n = (size_t)(dash - s);
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (parse_uint(buf, 65535, &a) || parse_uint(dash + 1, 65535, &b) || a > b)
		return -1;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

/* ------------------------------------------------------------------ times */

/* Up to max digits as a number; *p advanced. -1 when there is none. */
static int64_t digits(const char **p, int max, int *count)
{
	int64_t v = 0;
	int n = 0;
	while (n < max && **p >= '0' && **p <= '9') {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	if (count)
		*count = n;
	return n ? v : -1;
}

/* ".ddd" after seconds: adds the fraction to *ns and sets the resolution. */
static void fraction(const char **p, int64_t *ns, int64_t *res)
{
	if (**p != '.' || (*p)[1] < '0' || (*p)[1] > '9')
		return;
	(*p)++;
	int64_t scale = NS_PER_S;
	while (**p >= '0' && **p <= '9') {
		if (scale > 1) {
			scale /= 10;
			*ns += (**p - '0') * scale;
		}
		(*p)++;
	}
	*res = scale;
}

/* Seconds since the epoch of a civil date and time; -1 when out of range. */
static int civil(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s, int64_t *out)
{
	if (y < 1970 || y > 2200)
		return -1;
	return cf_civil_seconds(y, mo, d, h, mi, s, out);
}

/* yyyy-mm-dd[T ]hh:mm[:ss[.frac]][Z|+hh:mm|-hh:mm|+hhmm], no zone = UTC. */
static int parse_iso(const char *s, int64_t *ns, int64_t *res)
{
	const char *p = s;
	int n;
	int64_t y = digits(&p, 4, &n);
	if (n != 4 || *p++ != '-')
		return -1;
	int64_t mo = digits(&p, 2, NULL);
	if (mo < 0 || *p++ != '-')
		return -1;
	int64_t d = digits(&p, 2, NULL);
	if (d < 0 || (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p++;
	int64_t h = digits(&p, 2, NULL);
	if (h < 0 || *p++ != ':')
		return -1;
	int64_t mi = digits(&p, 2, NULL), sec = 0, frac = 0;
	if (mi < 0)
		return -1;
	*res = 60 * NS_PER_S;
	if (*p == ':') {
		p++;
		sec = digits(&p, 2, NULL);
		if (sec < 0)
			return -1;
		*res = NS_PER_S;
		fraction(&p, &frac, res);
	}
	int64_t zone = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;
		int64_t zh = digits(&p, 2, &n);
		if (n != 2)
			return -1;
		if (*p == ':')
			p++;
		int64_t zm = digits(&p, 2, &n);
		if (n != 2 || zh > 23 || zm > 59)
			return -1;
		zone = sign * (zh * 3600 + zm * 60);
	}
	if (*p)
		return -1;
	int64_t secs;
	if (civil(y, mo, d, h, mi, sec, &secs))
		return -1;
	*ns = (secs - zone) * NS_PER_S + frac;
	return 0;
}

/* CICFlowMeter Timestamp (see label.h). Returns 0, -1 (syntax), or -2
 * (a month above 12: the date order is probably the other one). */
static int parse_cic_time(const char *s, const cf_label_opts *o, int64_t *ns, int64_t *res)
{
	const char *p = s;
	int n;
	digits(&p, 4, &n);
	if (n == 4 && *p == '-')
		return parse_iso(s, ns, res);
	p = s;
	int64_t a = digits(&p, 2, NULL);
	if (a < 0 || *p++ != '/')
		return -1;
	int64_t b = digits(&p, 2, NULL);
	if (b < 0 || *p++ != '/')
		return -1;
	int64_t y = digits(&p, 4, &n);
	if (n != 4 || !is_space(*p))
		return -1;
	while (is_space(*p))
		p++;
	int64_t h = digits(&p, 2, NULL);
	if (h < 0 || *p++ != ':')
		return -1;
	int64_t mi = digits(&p, 2, &n), sec = 0, frac = 0;
	if (n != 2)
		return -1;
	*res = 60 * NS_PER_S;
	if (*p == ':') {
		p++;
		sec = digits(&p, 2, &n);
		if (n != 2)
			return -1;
		*res = NS_PER_S;
		fraction(&p, &frac, res);
	}
	while (is_space(*p))
		p++;
	int ampm = 0; /* 1 AM, 2 PM */
	if ((p[0] == 'A' || p[0] == 'a' || p[0] == 'P' || p[0] == 'p') && (p[1] == 'M' || p[1] == 'm')) {
		ampm = (p[0] == 'A' || p[0] == 'a') ? 1 : 2;
		p += 2;
		while (is_space(*p))
			p++;
	}
	if (*p)
		return -1;
	if (ampm) {
		if (h < 1 || h > 12)
			return -1;
		h = (h % 12) + (ampm == 2 ? 12 : 0);
	} else if (o->pm_hours_below > 0 && h >= 1 && h < o->pm_hours_below && h < 12) {
		h += 12;
	}
	int64_t d = o->month_first ? b : a, mo = o->month_first ? a : b;
	if (mo > 12 && d <= 12)
		return -2;
	int64_t secs;
	if (civil(y, mo, d, h, mi, sec, &secs))
		return -1;
	*ns = secs * NS_PER_S + frac;
	return 0;
}

/* Rules start/end: epoch seconds[.frac] or ISO-8601. */
static int parse_rule_time(const char *s, int64_t *ns)
{
	const char *p = s;
	int n;
	digits(&p, 4, &n);
	int64_t res;
	if (n == 4 && *p == '-')
		return parse_iso(s, ns, &res);
	p = s;
	int64_t sec = digits(&p, 11, &n), frac = 0;
	if (sec < 0 || sec > INT64_MAX / NS_PER_S - 1)
		return -1;
	fraction(&p, &frac, &res);
	if (*p)
		return -1;
	*ns = sec * NS_PER_S + frac;
	return 0;
}

/* ------------------------------------------------------------------ loading */

enum { C_SRC_IP, C_DST_IP, C_SRC_PORT, C_DST_PORT, C_PROTO, C_TS, C_DUR, C_START, C_END, C_LABEL, C_N };

static const char *const col_names[C_N] = {
	"Source IP", "Destination IP", "Source Port", "Destination Port", "Protocol", "Timestamp",
	"Flow Duration", "start", "end", "Label",
};

static int header_col(const char *h, int format)
{
	static const struct { const char *name; int col, fmt; } map[] = {
		{"source ip", C_SRC_IP, FMT_CIC}, {"src ip", C_SRC_IP, FMT_CIC},
		{"destination ip", C_DST_IP, FMT_CIC}, {"dst ip", C_DST_IP, FMT_CIC},
		{"source port", C_SRC_PORT, FMT_CIC}, {"src port", C_SRC_PORT, FMT_CIC},
		{"destination port", C_DST_PORT, FMT_CIC}, {"dst port", C_DST_PORT, FMT_CIC},
		{"protocol", C_PROTO, FMT_CIC}, {"timestamp", C_TS, FMT_CIC},
		{"flow duration", C_DUR, FMT_CIC}, {"label", C_LABEL, FMT_CIC},
		{"src_ip", C_SRC_IP, FMT_RULES}, {"dst_ip", C_DST_IP, FMT_RULES},
		{"src_port", C_SRC_PORT, FMT_RULES}, {"dst_port", C_DST_PORT, FMT_RULES},
		{"protocol", C_PROTO, FMT_RULES}, {"proto", C_PROTO, FMT_RULES},
		{"start", C_START, FMT_RULES}, {"end", C_END, FMT_RULES}, {"label", C_LABEL, FMT_RULES},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (map[i].fmt == format && !strcasecmp(h, map[i].name))
			return map[i].col;
	return -1;
}

/* Group index for key (created when new); -1 out of memory. */
static int64_t group_of(cf_labeler *l, const lkey *k)
{
	uint32_t h = key_hash(k);
	if (l->group_tab)
		for (uint32_t i = h & l->group_mask;; i = (i + 1) & l->group_mask) {
			uint32_t e = l->group_tab[i];
			if (!e)
				break;
			lgroup *g = &l->groups[e - 1];
			if (g->hash == h && !memcmp(&g->key, k, sizeof *k))
				return e - 1;
		}
	if (l->ngroups >= UINT32_MAX / 4)
		return -1;
	if (!l->group_tab || (uint64_t)(l->ngroups + 1) * 2 > (uint64_t)l->group_mask + 1) {
		uint64_t cap = l->group_tab ? ((uint64_t)l->group_mask + 1) * 2 : 1024;
		uint32_t *t = calloc((size_t)cap, sizeof *t);
		if (!t)
			return -1;
		for (uint32_t i = 0; i < l->ngroups; i++) {
			uint32_t j = l->groups[i].hash & (uint32_t)(cap - 1);
			while (t[j])
				j = (j + 1) & (uint32_t)(cap - 1);
			t[j] = i + 1;
		}
		free(l->group_tab);
		l->group_tab = t;
		l->group_mask = (uint32_t)(cap - 1);
	}
	if (grow((void **)&l->groups, &l->groups_cap, l->ngroups + 1, sizeof *l->groups))
		return -1;
	uint32_t gi = l->ngroups++;
	lgroup *g = &l->groups[gi];
	g->key = *k;
	g->hash = h;
	g->first = 0;
	g->n = 0;
	uint32_t j = h & l->group_mask;
	while (l->group_tab[j])
		j = (j + 1) & l->group_mask;
	l->group_tab[j] = gi + 1;
	return gi;
}

/* Rows as parsed, before grouping. */
typedef struct pending {
	lrow *rows;
	uint32_t *group;
	uint32_t n, cap, gcap;
} pending;

static int add_exact(cf_labeler *l, pending *pd, const lkey *k, int64_t start, int64_t end, uint32_t label)
{
	int64_t g = group_of(l, k);
	if (g < 0)
		return -1;
	if (pd->n == UINT32_MAX - 1 || grow((void **)&pd->rows, &pd->cap, pd->n + 1, sizeof *pd->rows) ||
	    grow((void **)&pd->group, &pd->gcap, pd->n + 1, sizeof *pd->group))
		return -1;
	lrow *r = &pd->rows[pd->n];
	r->start = start;
	r->end = end;
	r->maxend = end;
	r->rule = l->nrules - 1;
	r->label = label;
	pd->group[pd->n++] = (uint32_t)g;
	l->groups[g].n++;
	return 0;
}

static int cmp_row(const void *a, const void *b)
{
	const lrow *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* Moves the pending rows into rows[], grouped and sorted. */
static int finish_groups(cf_labeler *l, pending *pd)
{
	if (!pd->n)
		return 0;
	l->rows = malloc((size_t)pd->n * sizeof *l->rows);
	if (!l->rows)
		return -1;
	uint32_t at = 0;
	for (uint32_t g = 0; g < l->ngroups; g++) {
		l->groups[g].first = at;
		at += l->groups[g].n;
		l->groups[g].n = 0;
	}
	for (uint32_t i = 0; i < pd->n; i++) {
		lgroup *g = &l->groups[pd->group[i]];
		l->rows[g->first + g->n++] = pd->rows[i];
	}
	l->nrows = pd->n;
	for (uint32_t g = 0; g < l->ngroups; g++) {
		lrow *r = l->rows + l->groups[g].first;
		uint32_t n = l->groups[g].n;
		if (n > 1)
			qsort(r, n, sizeof *r, cmp_row);
		int64_t m = INT64_MIN;
		for (uint32_t i = 0; i < n; i++) {
			if (r[i].end > m)
				m = r[i].end;
			r[i].maxend = m;
		}
	}
	return 0;
}

static int add_rule_meta(cf_labeler *l, uint64_t line, uint32_t label)
{
	if (l->nrules == UINT32_MAX - 1 || grow((void **)&l->rules, &l->rules_cap, l->nrules + 1, sizeof *l->rules))
		return -1;
	rulemeta *m = &l->rules[l->nrules++];
	memset(m, 0, sizeof *m);
	m->line = line;
	m->label = label;
	return 0;
}

static cf_labeler *labeler_new(int format)
{
	cf_labeler *l = calloc(1, sizeof *l);
	if (l) {
		l->format = format;
		l->default_id = -1;
		l->constant_id = -1;
	}
	return l;
}

/* One CICFlowMeter data row. */
static int load_cic_row(cf_labeler *l, pending *pd, csvr *c, const int *col, const cf_label_opts *o,
                        char *errbuf)
{
	const char *P = c->path;
	unsigned long long ln = (unsigned long long)c->rec_line;
	char **f = c->fld;
	uint8_t ipa[16], ipb[16], va, vb, proto;
	uint64_t pa, pb;
	if (cf_parse_ip_text(f[col[C_SRC_IP]], ipa, &va))
		return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: bad Source IP \"%.60s\"", P, ln, f[col[C_SRC_IP]]);
	if (cf_parse_ip_text(f[col[C_DST_IP]], ipb, &vb))
		return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: bad Destination IP \"%.60s\"", P, ln,
		            f[col[C_DST_IP]]);
	if (va != vb)
		return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: Source IP and Destination IP are different IP versions",
		            P, ln);
	if (parse_uint(f[col[C_SRC_PORT]], 65535, &pa))
		return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: bad Source Port \"%.60s\"", P, ln,
		            f[col[C_SRC_PORT]]);
	if (parse_uint(f[col[C_DST_PORT]], 65535, &pb))
		return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: bad Destination Port \"%.60s\"", P, ln,
		            f[col[C_DST_PORT]]);
	uint64_t pr;
	if (parse_uint(f[col[C_PROTO]], 255, &pr))
		return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: bad Protocol \"%.60s\"", P, ln, f[col[C_PROTO]]);
	proto = (uint8_t)pr;
	int64_t ts, res;
	int st = parse_cic_time(f[col[C_TS]], o, &ts, &res);
	if (st == -2)
		return cf_errf(errbuf, CF_ERR_CORRUPT,
		            "%.200s:%llu: bad Timestamp \"%.60s\": month above 12 (%s assumed; try the other order)", P,
		            ln, f[col[C_TS]], o->month_first ? "month/day/year" : "day/month/year");
	if (st)
		return cf_errf(errbuf, CF_ERR_CORRUPT,
		            "%.200s:%llu: bad Timestamp \"%.60s\" (expected %s h:mm[:ss] [AM|PM] or "
		            "yyyy-mm-dd hh:mm:ss)",
		            P, ln, f[col[C_TS]], o->month_first ? "m/d/yyyy" : "d/m/yyyy");
	int64_t dur_ns = 0;
	if (col[C_DUR] >= 0) {
		const char *s = f[col[C_DUR]];
		char *end;
		errno = 0;
		double d = strtod(s, &end);
		if (!*s || *end || errno || d != d || d > 1e15 || d < -1e15)
			return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: bad Flow Duration \"%.60s\"", P, ln, s);
		if (d > 0) { /* microseconds; negative durations count as 0 */
			long long us = strtoll(s, &end, 10);
			dur_ns = *end ? (int64_t)(d * 1000.0) : (int64_t)us * 1000;
		}
	}
	const char *lab = f[col[C_LABEL]];
	if (!*lab)
		return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: empty Label", P, ln);
	int32_t id = intern(l, lab);
	if (id < 0 || add_rule_meta(l, c->rec_line, (uint32_t)id))
		return cf_errf(errbuf, CF_ERR_NOMEM, "%.200s: out of memory", P);
	int64_t start = sat_add(ts, o->time_offset_ns);
	int64_t end = sat_add(sat_add(start, res), dur_ns);
	if (proto == 1 || proto == 58)
		pa = pb = 0; /* ICMP: ports are not compared, see label.h */
	lkey k;
	make_key(&k, va, proto, ipa, (uint16_t)pa, ipb, (uint16_t)pb);
	if (add_exact(l, pd, &k, sat_add(start, -o->slack_ns), sat_add(end, o->slack_ns), (uint32_t)id))
		return cf_errf(errbuf, CF_ERR_NOMEM, "%.200s: out of memory", P);
	return CF_OK;
}

/* pandas reads "80" and "80.0" alike; netml 0.7.1 took ports that way. */
static int parse_port_num(const char *s, uint16_t *out)
{
	char *e;
	double d = strtod(s, &e);
	if (e == s || *e || d != floor(d) || d < 0 || d > 65535)
		return -1;
	*out = (uint16_t)d;
	return 0;
}

/* One CICFlowMeter data row in tuple mode (label.h, cf_label_opts.match). */
static int load_tuple_row(cf_labeler *l, pending *pd, csvr *c, const int *col, char *errbuf)
{
	const char *P = c->path;
	char **f = c->fld;
	uint16_t sp, dp;
	char *e;
	const char *ps = f[col[C_PROTO]];
	long pr = strtol(ps, &e, 10);
	if (parse_port_num(f[col[C_SRC_PORT]], &sp) || parse_port_num(f[col[C_DST_PORT]], &dp) || *e || e == ps ||
	    pr < 0 || pr > 255)
		return cf_errf(errbuf, CF_ERR_CORRUPT,
		            "%.200s:%llu: bad port or protocol number (\"%.20s\", \"%.20s\", \"%.20s\")", P,
		            (unsigned long long)c->rec_line, f[col[C_SRC_PORT]], f[col[C_DST_PORT]], ps);
	/* addresses that are not one IP version: no flow can have them */
	uint8_t ipa[16], ipb[16], va, vb;
	if (cf_parse_ip_text(f[col[C_SRC_IP]], ipa, &va) || cf_parse_ip_text(f[col[C_DST_IP]], ipb, &vb) || va != vb)
		return CF_OK;
	int32_t id = intern(l, f[col[C_LABEL]]);
	if (id < 0 || add_rule_meta(l, c->rec_line, (uint32_t)id))
		return cf_errf(errbuf, CF_ERR_NOMEM, "%.200s: out of memory", P);
	lkey k;
	make_key_as(&k, 1, va, (uint8_t)pr, ipa, sp, ipb, dp);
	if (add_exact(l, pd, &k, INT64_MIN, INT64_MAX, (uint32_t)id))
		return cf_errf(errbuf, CF_ERR_NOMEM, "%.200s: out of memory", P);
	return CF_OK;
}

/* One rules data row. */
static int load_rule_row(cf_labeler *l, pending *pd, csvr *c, const int *col, const cf_label_opts *o,
                         char *errbuf)
{
	const char *P = c->path;
	unsigned long long ln = (unsigned long long)c->rec_line;
	static const char *const empty = "";
	const char *v[C_N];
	for (int i = 0; i < C_N; i++)
		v[i] = col[i] >= 0 ? c->fld[col[i]] : empty;
	wrule w;
	memset(&w, 0, sizeof w);
	w.proto = -1;
	for (int s = 0; s < 2; s++) {
		const char *ip = v[s ? C_DST_IP : C_SRC_IP];
		if (is_wild(ip)) {
			w.any_ip[s] = 1;
		} else {
			uint8_t ver;
			if (parse_prefix(ip, w.ip[s], &ver, &w.plen[s]))
				return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: bad %s \"%.60s\" (address or CIDR prefix)",
				            P, ln, s ? "dst_ip" : "src_ip", ip);
			if (w.ver && w.ver != ver)
				return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: src_ip and dst_ip are different IP versions",
				            P, ln);
			w.ver = ver;
		}
		const char *port = v[s ? C_DST_PORT : C_SRC_PORT];
		if (is_wild(port)) {
			w.plo[s] = 0;
			w.phi[s] = 65535;
		} else if (parse_port_range(port, &w.plo[s], &w.phi[s])) {
			return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: bad %s \"%.60s\" (port or lo-hi)", P, ln,
			            s ? "dst_port" : "src_port", port);
		}
	}
	if (!is_wild(v[C_PROTO])) {
		uint8_t pr;
		if (cf_parse_ip_proto(v[C_PROTO], &pr))
			return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: bad protocol \"%.60s\"", P, ln, v[C_PROTO]);
		w.proto = pr;
	}
	w.start = INT64_MIN;
	w.end = INT64_MAX;
	if (!is_wild(v[C_START]) && parse_rule_time(v[C_START], &w.start))
		return cf_errf(errbuf, CF_ERR_CORRUPT,
		            "%.200s:%llu: bad start \"%.60s\" (epoch seconds or yyyy-mm-ddThh:mm:ssZ)", P, ln, v[C_START]);
	if (!is_wild(v[C_END]) && parse_rule_time(v[C_END], &w.end))
		return cf_errf(errbuf, CF_ERR_CORRUPT,
		            "%.200s:%llu: bad end \"%.60s\" (epoch seconds or yyyy-mm-ddThh:mm:ssZ)", P, ln, v[C_END]);
	if (w.start > w.end)
		return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: start is after end", P, ln);
	w.start = shift(shift(w.start, o->time_offset_ns), -o->slack_ns);
	w.end = shift(shift(w.end, o->time_offset_ns), o->slack_ns);
	if (!*v[C_LABEL])
		return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: empty label", P, ln);
	int32_t id = intern(l, v[C_LABEL]);
	if (id < 0 || add_rule_meta(l, c->rec_line, (uint32_t)id))
		return cf_errf(errbuf, CF_ERR_NOMEM, "%.200s: out of memory", P);
	w.rule = l->nrules - 1;
	w.label = (uint32_t)id;
	unsigned full = w.ver == 4 ? 32 : 128;
	int exact = w.proto >= 0 && w.ver && !w.any_ip[0] && !w.any_ip[1] && w.plen[0] == full &&
	            w.plen[1] == full && w.plo[0] == w.phi[0] && w.plo[1] == w.phi[1];
	if (exact) {
		lkey k;
		make_key(&k, w.ver, (uint8_t)w.proto, w.ip[0], w.plo[0], w.ip[1], w.plo[1]);
		if (add_exact(l, pd, &k, w.start, w.end, w.label))
			return cf_errf(errbuf, CF_ERR_NOMEM, "%.200s: out of memory", P);
		return CF_OK;
	}
	if (grow((void **)&l->wild, &l->wild_cap, l->nwild + 1, sizeof *l->wild))
		return cf_errf(errbuf, CF_ERR_NOMEM, "%.200s: out of memory", P);
	l->wild[l->nwild++] = w;
	return CF_OK;
}

static int load_csv(cf_labeler *l, csvr *c, const cf_label_opts *o, char *errbuf)
{
	const char *P = c->path;
	int r;
	while ((r = csvr_next(c)) == 1 && c->fld[0][0] == '#')
		; /* comments before a rules header */
	if (r == 0)
		return cf_errf(errbuf, CF_ERR_UNSUPPORTED, "%.200s: empty file (no header line)", P);
	if (r == -1)
		return cf_errf(errbuf, CF_ERR_NOMEM, "%.200s: out of memory", P);
	if (r == -2)
		return cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: unterminated quoted field", P,
		            (unsigned long long)c->rec_line);
	if (r == -3)
		return cf_errf(errbuf, CF_ERR_IO, "%.200s: read error", P);

	/* the format: a Timestamp column means CICFlowMeter */
	int col[C_N];
	int format = l->tuple ? FMT_CIC : FMT_RULES;
	for (uint32_t i = 0; i < c->nfld; i++)
		if (!strcasecmp(c->fld[i], "timestamp"))
			format = FMT_CIC;
	for (int i = 0; i < C_N; i++)
		col[i] = -1;
	int any_rule_col = 0;
	for (uint32_t i = 0; i < c->nfld; i++) {
		int k = header_col(c->fld[i], format);
		if (k >= 0 && col[k] < 0) {
			col[k] = (int)i;
			if (k != C_LABEL)
				any_rule_col = 1;
		}
	}
	if (format == FMT_CIC) {
		static const int need[] = {C_SRC_IP, C_DST_IP, C_SRC_PORT, C_DST_PORT, C_PROTO, C_LABEL};
		for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
			if (col[need[i]] < 0)
				return cf_errf(errbuf, CF_ERR_UNSUPPORTED,
				            "%.200s: CICFlowMeter CSV without a \"%s\" column (the CIC-IDS2017 "
				            "MachineLearningCSV files have no addresses; use GeneratedLabelledFlows)",
				            P, col_names[need[i]]);
	} else if (col[C_LABEL] < 0 || !any_rule_col) {
		return cf_errf(errbuf, CF_ERR_UNSUPPORTED,
		            "%.200s:%llu: unknown header: expected a CICFlowMeter CSV (Source IP, Source Port, "
		            "Destination IP, Destination Port, Protocol, Timestamp, Flow Duration, Label) or a "
		            "rules CSV (src_ip,dst_ip,src_port,dst_port,protocol,start,end,label)",
		            P, (unsigned long long)c->rec_line);
	}
	l->format = format;
	if (l->tuple)
		col[C_TS] = col[C_DUR] = -1; /* not read, so a short row may lack them */
	int maxcol = 0;
	for (int i = 0; i < C_N; i++)
		if (col[i] > maxcol)
			maxcol = col[i];

	pending pd = {0};
	int st = CF_OK;
	for (;;) {
		r = csvr_next(c);
		if (r == 0)
			break;
		if (r < 0) {
			st = r == -1 ? cf_errf(errbuf, CF_ERR_NOMEM, "%.200s: out of memory", P)
			   : r == -2 ? cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: unterminated quoted field", P,
			                    (unsigned long long)c->rec_line)
			             : cf_errf(errbuf, CF_ERR_IO, "%.200s: read error", P);
			break;
		}
		if (format == FMT_RULES && c->fld[0][0] == '#')
			continue;
		int blank = 1;
		for (uint32_t i = 0; i < c->nfld && blank; i++)
			blank = !c->fld[i][0];
		if (blank)
			continue;
		if ((int)c->nfld <= maxcol) {
			st = cf_errf(errbuf, CF_ERR_CORRUPT, "%.200s:%llu: %u fields, the header needs at least %d", P,
			          (unsigned long long)c->rec_line, c->nfld, maxcol + 1);
			break;
		}
		st = l->tuple ? load_tuple_row(l, &pd, c, col, errbuf)
		   : format == FMT_CIC ? load_cic_row(l, &pd, c, col, o, errbuf)
		                       : load_rule_row(l, &pd, c, col, o, errbuf);
		if (st < 0)
			break;
	}
	if (st == CF_OK && finish_groups(l, &pd))
		st = cf_errf(errbuf, CF_ERR_NOMEM, "%.200s: out of memory", P);
	free(pd.rows);
	free(pd.group);
	return st;
}

/* ------------------------------------------------------------------ API */

void cf_label_opts_default(cf_label_opts *o)
{
	if (o)
		memset(o, 0, sizeof *o);
}

void cf_label_opts_cicids2017(cf_label_opts *o)
{
	if (!o)
		return;
	o->time_offset_ns = 3 * 3600 * NS_PER_S;
	o->slack_ns = NS_PER_S;
	o->month_first = 0;
	o->pm_hours_below = 8;
}

int cf_labeler_open_csv(const char *path, const cf_label_opts *opts, cf_labeler **out, char *errbuf)
{
	if (out)
		*out = NULL;
	if (!path || !out)
		return cf_errf(errbuf, CF_ERR_ARG, "cf_labeler_open_csv: NULL argument");
	cf_label_opts o;
	cf_label_opts_default(&o);
	if (opts)
		o = *opts;
	if (o.slack_ns < 0)
		return cf_errf(errbuf, CF_ERR_ARG, "label slack must be >= 0");
	if (o.default_label && !*o.default_label)
		return cf_errf(errbuf, CF_ERR_ARG, "empty default label");
	if (o.match != CF_LABEL_MATCH_TIME && o.match != CF_LABEL_MATCH_TUPLE_DIRECTIONAL)
		return cf_errf(errbuf, CF_ERR_ARG, "unknown label match mode %d", o.match);
	FILE *f = fopen(path, "rb");
	if (!f)
		return cf_errf(errbuf, CF_ERR_IO, "%.200s: %s", path, strerror(errno));
	cf_labeler *l = labeler_new(FMT_RULES);
	int st = CF_OK;
	if (!l || !(l->source = strdup(path))) {
		st = cf_errf(errbuf, CF_ERR_NOMEM, "%.200s: out of memory", path);
	} else {
		l->slack_ns = o.slack_ns;
		l->tuple = o.match == CF_LABEL_MATCH_TUPLE_DIRECTIONAL;
		csvr c;
		csvr_init(&c, f, path);
		st = load_csv(l, &c, &o, errbuf);
		csvr_free(&c);
		if (st == CF_OK && o.default_label && (l->default_id = intern(l, o.default_label)) < 0)
			st = cf_errf(errbuf, CF_ERR_NOMEM, "%.200s: out of memory", path);
	}
	fclose(f);
	if (st < 0) {
		cf_labeler_close(l);
		return st;
	}
	*out = l;
	return CF_OK;
}

int cf_labeler_open_constant(const char *label, cf_labeler **out, char *errbuf)
{
	if (out)
		*out = NULL;
	if (!label || !*label || !out)
		return cf_errf(errbuf, CF_ERR_ARG, "constant label: %s", !out ? "NULL argument" : "empty label");
	cf_labeler *l = labeler_new(FMT_CONSTANT);
	if (!l || (l->constant_id = intern(l, label)) < 0) {
		cf_labeler_close(l);
		return cf_errf(errbuf, CF_ERR_NOMEM, "constant label: out of memory");
	}
	*out = l;
	return CF_OK;
}

int cf_labeler_set_constant(cf_labeler *l, const char *label)
{
	if (!l || l->format != FMT_CONSTANT || !label || !*label)
		return CF_ERR_ARG;
	int32_t id = intern(l, label);
	if (id < 0)
		return CF_ERR_NOMEM;
	l->constant_id = id;
	return id;
}

int cf_label_dir_name(const char *path, char *out, size_t out_size)
{
	if (!path || !out || !out_size || !*path)
		return CF_ERR_ARG;
	size_t n = strlen(path);
	char *dir = malloc(n + 2);
	if (!dir)
		return CF_ERR_NOMEM;
	memcpy(dir, path, n + 1);
	char *slash = strrchr(dir, '/');
	if (!slash) {
		strcpy(dir, ".");
	} else {
		while (slash > dir && slash[-1] == '/')
			slash--;
		*slash = 0;
		if (!*dir)
			strcpy(dir, "/"); /* "/x.pcap" */
	}
	const char *base = strrchr(dir, '/');
	base = base ? base + 1 : dir;
	char *resolved = NULL;
	if (!strcmp(base, ".") || !strcmp(base, "..")) {
		resolved = realpath(dir, NULL);
		if (!resolved) {
			free(dir);
			return CF_ERR_IO;
		}
		base = strrchr(resolved, '/');
		base = base ? base + 1 : resolved;
	}
	int st = CF_OK;
	size_t bl = strlen(base);
	if (bl == 0 || bl + 1 > out_size)
		st = CF_ERR_ARG;
	else
		memcpy(out, base, bl + 1);
	free(resolved);
	free(dir);
	return st;
}

static int wild_match(const wrule *w, const cf_label_query *q)
{
	if (w->proto >= 0 && w->proto != q->proto)
		return 0;
	if (w->ver && w->ver != q->ip_version)
		return 0;
	for (int o = 0; o < 2; o++) { /* o = 1: the rule's src is the flow's dst */
		const uint8_t *ip0 = o ? q->dst_ip : q->src_ip, *ip1 = o ? q->src_ip : q->dst_ip;
		uint16_t p0 = o ? q->dst_port : q->src_port, p1 = o ? q->src_port : q->dst_port;
		if (p0 < w->plo[0] || p0 > w->phi[0] || p1 < w->plo[1] || p1 > w->phi[1])
			continue;
		if (!w->any_ip[0] && !prefix_match(ip0, w->ip[0], w->plen[0]))
			continue;
		if (!w->any_ip[1] && !prefix_match(ip1, w->ip[1], w->plen[1]))
			continue;
		return 1;
	}
	return 0;
}

/* The winner so far among the rows a flow matched. */
typedef struct best {
	int found, differ;
	uint32_t rule, label, first_label;
	uint64_t dist;
} best;

static void consider(cf_labeler *l, best *b, uint32_t rule, uint32_t label, int64_t start, int64_t anchor)
{
	l->rules[rule].matched++;
	uint64_t dist = 0;
	if (l->format == FMT_CIC && !l->tuple) /* CIC rows are always bounded */
		dist = start > anchor ? (uint64_t)start - (uint64_t)anchor : (uint64_t)anchor - (uint64_t)start;
	if (!b->found) {
		b->found = 1;
		b->first_label = label;
		b->rule = rule;
		b->label = label;
		b->dist = dist;
		return;
	}
	if (label != b->first_label)
		b->differ = 1;
	/* rules: the earlier row; CIC: the start nearest the flow's first
	 * packet, then the earlier row; tuple mode: the later row (netml's
	 * dict keeps the last assignment) */
	int better = l->tuple ? rule > b->rule
	           : l->format == FMT_CIC ? (dist < b->dist || (dist == b->dist && rule < b->rule))
	                                  : rule < b->rule;
	if (better) {
		b->rule = rule;
		b->label = label;
		b->dist = dist;
	}
}

int cf_labeler_match(cf_labeler *l, const cf_label_query *q)
{
	if (!l || !q)
		return CF_ERR_ARG;
	l->tot.flows++;
	if (l->format == FMT_CONSTANT) {
		l->tot.matched++;
		l->counts[l->constant_id].matched++;
		return l->constant_id;
	}
	int64_t first = q->first_ns, last = q->last_ns;
	if (first > last) {
		int64_t t = first;
		first = last;
		last = t;
	}
	best b = {0};
	if ((q->ip_version == 4 || q->ip_version == 6) && q->src_ip && q->dst_ip) {
		if (l->ngroups) {
			lkey k;
			uint16_t sp = q->src_port, dp = q->dst_port;
			if (l->format == FMT_CIC && !l->tuple && (q->proto == 1 || q->proto == 58))
				sp = dp = 0;
			/* tuple mode: rows are open at both ends, so the walk below
			 * meets every row of the key */
			make_key_as(&k, l->tuple, q->ip_version, q->proto, q->src_ip, sp, q->dst_ip, dp);
			uint32_t h = key_hash(&k);
			const lgroup *g = NULL;
			for (uint32_t i = h & l->group_mask;; i = (i + 1) & l->group_mask) {
				uint32_t e = l->group_tab[i];
				if (!e)
					break;
				const lgroup *c = &l->groups[e - 1];
				if (c->hash == h && !memcmp(&c->key, &k, sizeof k)) {
					g = c;
					break;
				}
			}
			if (g) {
				const lrow *r = l->rows + g->first;
				/* hi = number of rows starting at or before last */
				uint32_t lo = 0, hi = g->n;
				while (lo < hi) {
					uint32_t mid = lo + (hi - lo) / 2;
					if (r[mid].start <= last)
						lo = mid + 1;
					else
						hi = mid;
				}
				int64_t anchor = sat_add(first, -l->slack_ns);
				for (uint32_t i = lo; i-- > 0 && r[i].maxend >= first;)
					if (r[i].end >= first)
						consider(l, &b, r[i].rule, r[i].label, r[i].start, anchor);
			}
		}
		for (uint32_t i = 0; i < l->nwild; i++) {
			const wrule *w = &l->wild[i];
			if (w->start <= last && w->end >= first && wild_match(w, q))
				consider(l, &b, w->rule, w->label, w->start, first);
		}
	}
	if (b.found) {
		l->rules[b.rule].won++;
		l->tot.matched++;
		l->counts[b.label].matched++;
		if (b.differ) {
			l->tot.ambiguous++;
			l->counts[b.label].ambiguous++;
		}
		return (int)b.label;
	}
	if (l->default_id >= 0) {
		l->tot.defaulted++;
		l->counts[l->default_id].defaulted++;
		return l->default_id;
	}
	l->tot.dropped++;
	return CF_LABEL_DROP;
}

const char *cf_labeler_source(const cf_labeler *l)
{
	return l ? l->source : NULL;
}

uint32_t cf_labeler_count(const cf_labeler *l)
{
	return l ? l->nnames : 0;
}

const char *cf_labeler_name(const cf_labeler *l, uint32_t id)
{
	return l && id < l->nnames ? l->names[id] : NULL;
}

int cf_labeler_find(const cf_labeler *l, const char *name)
{
	return l && name ? name_lookup(l, name, str_hash(name)) : -1;
}

const char *cf_labeler_format(const cf_labeler *l)
{
	if (!l)
		return NULL;
	return l->format == FMT_CONSTANT ? "constant" : l->format == FMT_CIC ? "cicflowmeter" : "rules";
}

void cf_labeler_totals(const cf_labeler *l, cf_label_totals *t)
{
	if (!t)
		return;
	if (l)
		*t = l->tot;
	else
		memset(t, 0, sizeof *t);
}

int cf_labeler_label_counts(const cf_labeler *l, uint32_t id, cf_label_counts *c)
{
	if (!l || !c || id >= l->nnames)
		return CF_ERR_ARG;
	*c = l->counts[id];
	return CF_OK;
}

uint32_t cf_labeler_rules(const cf_labeler *l)
{
	return l ? l->nrules : 0;
}

int cf_labeler_rule_counts(const cf_labeler *l, uint32_t index, cf_label_rule_counts *c)
{
	if (!l || !c || index >= l->nrules)
		return CF_ERR_ARG;
	const rulemeta *m = &l->rules[index];
	c->line = m->line;
	c->label = m->label;
	c->matched = m->matched;
	c->won = m->won;
	return CF_OK;
}

/* Length of the valid UTF-8 sequence at s, 0 when there is none. */
static int utf8_len(const unsigned char *s)
{
	int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
	if (s[0] >= 0xF5)
		return 0;
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

static void json_str(FILE *f, const char *str)
{
	if (!str) {
		fputs("null", f);
		return;
	}
	const unsigned char *s = (const unsigned char *)str;
	fputc('"', f);
	while (*s) {
		if (*s == '"' || *s == '\\') {
			fputc('\\', f);
			fputc(*s++, f);
		} else if (*s < 0x20 || *s == 0x7F) {
			fprintf(f, "\\u%04x", *s++);
		} else if (*s < 0x80) {
			fputc(*s++, f);
		} else {
			int n = utf8_len(s);
			if (n) {
				fwrite(s, 1, (size_t)n, f);
				s += n;
			} else {
				fprintf(f, "\\u%04x", *s++);
			}
		}
	}
	fputc('"', f);
}

int cf_labeler_report_json(const cf_labeler *l, FILE *f)
{
	if (!l || !f)
		return CF_ERR_ARG;
	const cf_label_totals *t = &l->tot;
	uint64_t rows_matched = 0;
	for (uint32_t i = 0; i < l->nrules; i++)
		rows_matched += l->rules[i].matched > 0;
	fprintf(f, "{\"format\": \"%s\", \"source\": ", cf_labeler_format(l));
	json_str(f, l->source);
	fputs(", \"default_label\": ", f);
	json_str(f, l->default_id >= 0 ? l->names[l->default_id] : NULL);
	fprintf(f,
	        ",\n \"flows\": %llu, \"matched\": %llu, \"ambiguous\": %llu, \"unmatched\": %llu, "
	        "\"defaulted\": %llu, \"dropped\": %llu, \"rows\": %u, \"rows_matched\": %llu,\n \"labels\": [",
	        (unsigned long long)t->flows, (unsigned long long)t->matched, (unsigned long long)t->ambiguous,
	        (unsigned long long)(t->defaulted + t->dropped), (unsigned long long)t->defaulted,
	        (unsigned long long)t->dropped, l->nrules, (unsigned long long)rows_matched);
	for (uint32_t i = 0; i < l->nnames; i++) {
		fprintf(f, "%s\n  {\"id\": %u, \"name\": ", i ? "," : "", i);
		json_str(f, l->names[i]);
		fprintf(f, ", \"matched\": %llu, \"ambiguous\": %llu, \"defaulted\": %llu}",
		        (unsigned long long)l->counts[i].matched, (unsigned long long)l->counts[i].ambiguous,
		        (unsigned long long)l->counts[i].defaulted);
	}
	fputs("]", f);
	if (l->format == FMT_RULES) {
		fputs(",\n \"rules\": [", f);
		for (uint32_t i = 0; i < l->nrules; i++) {
			const rulemeta *m = &l->rules[i];
			fprintf(f, "%s\n  {\"line\": %llu, \"label\": ", i ? "," : "", (unsigned long long)m->line);
			json_str(f, l->names[m->label]);
			fprintf(f, ", \"matched\": %llu, \"won\": %llu}", (unsigned long long)m->matched,
			        (unsigned long long)m->won);
		}
		fputs("]", f);
	}
	fputs("}\n", f);
	return ferror(f) ? CF_ERR_IO : CF_OK;
}

void cf_labeler_close(cf_labeler *l)
{
	if (!l)
		return;
	for (uint32_t i = 0; i < l->nnames; i++)
		free(l->names[i]);
	free(l->names);
	free(l->counts);
	free(l->name_tab);
	free(l->groups);
	free(l->group_tab);
	free(l->rows);
	free(l->wild);
	free(l->rules);
	free(l->source);
	free(l);
}
