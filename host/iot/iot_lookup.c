/* The IEEE registry lookup and the device-type mapping (cuflow/iot.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/csv_reader.h"
#include "cuflow/iot.h"

/* One assignment: its prefix (the MAC's top `bits` bits) and the name. */
struct oui {
	uint64_t prefix;
	uint32_t name;   /* offset into the pool */
};

/* Prefix lengths, longest first: MA-S/IAB 36, MA-M 28, MA-L 24. */
#define NLEN 3
static const int lens[NLEN] = {36, 28, 24};

struct cf_oui_registry {
	struct oui *v[NLEN];
	size_t n[NLEN], cap[NLEN];
	char *pool;
	size_t pool_len, pool_cap;
};

static uint64_t mac48(const uint8_t m[6])
{
	uint64_t v = 0;
	for (int i = 0; i < 6; i++)
		v = v << 8 | m[i];
	return v;
}

static int cmp_oui(const void *a, const void *b)
{
	uint64_t x = ((const struct oui *)a)->prefix, y = ((const struct oui *)b)->prefix;
	return x < y ? -1 : x > y;
}

/* Hex digits of s (all of them, 1..12) as a number; -1 when not hex. */
static int hex_prefix(const char *s, uint64_t *v, int *digits)
{
	uint64_t x = 0;
	int n = 0;
	for (; *s; s++) {
		if (*s == ':' || *s == '-' || *s == '.')
			continue;
		if (!isxdigit((unsigned char)*s) || n == 12)
			return -1;
		x = x << 4 | (uint64_t)(isdigit((unsigned char)*s) ? *s - '0' : (tolower((unsigned char)*s) - 'a' + 10));
		n++;
	}
	*v = x, *digits = n;
	return n ? 0 : -1;
}

static int pool_add(struct cf_oui_registry *r, const char *s, uint32_t *off)
{
	size_t n = strlen(s) + 1;
	if (r->pool_len + n > r->pool_cap) {
		size_t cap = r->pool_cap ? r->pool_cap * 2 : 1 << 20;
		while (cap < r->pool_len + n)
			cap *= 2;
		char *p = realloc(r->pool, cap);
		if (!p)
			return -1;
		r->pool = p, r->pool_cap = cap;
	}
	memcpy(r->pool + r->pool_len, s, n);
	*off = (uint32_t)r->pool_len;
	r->pool_len += n;
	return 0;
}

static int load_csv(struct cf_oui_registry *r, const char *path, char *errbuf)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : (snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: %s", path, strerror(errno)), CF_ERR_IO);
	csvr c;
	csvr_init(&c, f, path);
	int st = CF_OK, k;
	while ((k = csvr_next(&c)) == 1) {
		if (c.rec_line == 1 && c.nfld >= 3 && !strcmp(c.fld[0], "Registry"))
			continue; /* the header */
		uint64_t v;
		int digits, li = -1;
		if (c.nfld < 3 || hex_prefix(c.fld[1], &v, &digits) < 0) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s:%llu: not an IEEE registry line (Registry,Assignment,Organization Name,...)",
			         path, (unsigned long long)c.rec_line);
			st = CF_ERR_CORRUPT;
			break;
		}
		for (int i = 0; i < NLEN; i++)
			if (lens[i] == digits * 4)
				li = i;
		if (li < 0)
			continue; /* not a MAC prefix length */
		if (r->n[li] == r->cap[li]) {
			size_t cap = r->cap[li] ? r->cap[li] * 2 : 4096;
			struct oui *p = realloc(r->v[li], cap * sizeof *p);
			if (!p) {
				st = CF_ERR_NOMEM;
				break;
			}
			r->v[li] = p, r->cap[li] = cap;
		}
		struct oui *o = &r->v[li][r->n[li]];
		o->prefix = v;
		if (pool_add(r, c.fld[2], &o->name) < 0) {
			st = CF_ERR_NOMEM;
			break;
		}
		r->n[li]++;
	}
	if (k < 0 && st == CF_OK) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s:%llu: %s", path, (unsigned long long)c.lineno,
		         k == -1 ? "out of memory" : k == -2 ? "unterminated quote" : "read error");
		st = k == -1 ? CF_ERR_NOMEM : CF_ERR_CORRUPT;
	}
	if (st == CF_ERR_NOMEM)
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
	csvr_free(&c);
	fclose(f);
	return st;
}

int cf_oui_registry_open(const char *dir, cf_oui_registry **out, char *errbuf)
{
	*out = NULL;
	if (!dir)
		dir = getenv("CUFLOW_IEEE_DATA");
	if (!dir || !dir[0])
		dir = "/usr/share/ieee-data";
	struct cf_oui_registry *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	static const char *const files[] = {"oui.csv", "mam.csv", "oui36.csv", "iab.csv"};
	for (int i = 0; i < 4; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		int st = load_csv(r, path, errbuf);
		if (st < 0) {
			cf_oui_registry_close(r);
			return st;
		}
	}
	if (!cf_oui_registry_size(r)) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s: no IEEE registry here (oui.csv, mam.csv, oui36.csv, iab.csv; Debian package ieee-data)",
		         dir);
		cf_oui_registry_close(r);
		return CF_ERR_IO;
	}
	for (int i = 0; i < NLEN; i++)
		if (r->n[i])
			qsort(r->v[i], r->n[i], sizeof *r->v[i], cmp_oui);
	*out = r;
	return CF_OK;
}

const char *cf_oui_lookup(const cf_oui_registry *r, const uint8_t mac[6], int *bits)
{
	if (bits)
		*bits = 0;
	if (!r || (mac[0] & 3)) /* group or locally administered: no vendor */
		return NULL;
	uint64_t m = mac48(mac);
	for (int i = 0; i < NLEN; i++) {
		struct oui key = {m >> (48 - lens[i]), 0};
		const struct oui *o = r->n[i] ? bsearch(&key, r->v[i], r->n[i], sizeof key, cmp_oui) : NULL;
		if (o) {
			if (bits)
				*bits = lens[i];
			return r->pool + o->name;
		}
	}
	return NULL;
}

size_t cf_oui_registry_size(const cf_oui_registry *r)
{
	return r ? r->n[0] + r->n[1] + r->n[2] : 0;
}

void cf_oui_registry_close(cf_oui_registry *r)
{
	if (!r)
		return;
	for (int i = 0; i < NLEN; i++)
		free(r->v[i]);
	free(r->pool);
	free(r);
}

/* ------------------------------------------------------------ device types */

struct dt_entry {
	int kind;        /* 0 MAC, 1 prefix, 2 manufacturer */
	int digits;      /* prefix: hex digits */
	uint64_t value;
	char *name;      /* manufacturer */
	char *type;
};

struct cf_device_types {
	struct dt_entry *v;
	size_t n;
};

void cf_device_types_close(cf_device_types *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].type);
	}
	free(t->v);
	free(t);
}

size_t cf_device_types_count(const cf_device_types *t)
{
	return t ? t->n : 0;
}

int cf_device_types_open(const char *csv, cf_device_types **out, char *errbuf)
{
	*out = NULL;
	FILE *f = fopen(csv, "r");
	if (!f) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s: %s", csv, strerror(errno));
		return CF_ERR_IO;
	}
	cf_device_types *t = calloc(1, sizeof *t);
	csvr c;
	csvr_init(&c, f, csv);
	int st = t ? CF_OK : CF_ERR_NOMEM, k = 0, header = 0;
	size_t cap = 0;
	while (st == CF_OK && (k = csvr_next(&c)) == 1) {
		if (!header) {
			header = 1;
			if (c.nfld < 2 || strcasecmp(c.fld[0], "key") || strcasecmp(c.fld[1], "device_type")) {
				snprintf(errbuf, CF_ERRBUF_SIZE, "%s:%llu: the header must be key,device_type", csv,
				         (unsigned long long)c.rec_line);
				st = CF_ERR_ARG;
			}
			continue;
		}
		if (c.nfld != 2 || !c.fld[0][0] || !c.fld[1][0]) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s:%llu: want two non-empty fields: key,device_type", csv,
			         (unsigned long long)c.rec_line);
			st = CF_ERR_ARG;
			break;
		}
		struct dt_entry e = {0};
		int digits;
		uint64_t v;
		/* a key of hex digits and separators is an address; anything else
		 * a manufacturer's name ("Apple, Inc.") */
		if (hex_prefix(c.fld[0], &v, &digits) == 0 && (digits == 12 || (digits >= 6 && digits <= 11))) {
			e.kind = digits == 12 ? 0 : 1;
			e.digits = digits, e.value = v;
		} else {
			e.kind = 2;
			e.name = strdup(c.fld[0]);
		}
		e.type = strdup(c.fld[1]);
		if (t->n == cap) {
			cap = cap ? cap * 2 : 64;
			struct dt_entry *p = realloc(t->v, cap * sizeof *p);
			if (!p) {
				free(e.name), free(e.type);
				st = CF_ERR_NOMEM;
				break;
			}
			t->v = p;
		}
		if (!e.type || (e.kind == 2 && !e.name)) {
			free(e.name), free(e.type);
			st = CF_ERR_NOMEM;
			break;
		}
		t->v[t->n++] = e;
	}
	if (k < 0 && st == CF_OK) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s:%llu: %s", csv, (unsigned long long)c.lineno,
		         k == -1 ? "out of memory" : k == -2 ? "unterminated quote" : "read error");
		st = k == -1 ? CF_ERR_NOMEM : CF_ERR_ARG;
	}
	if (st == CF_OK && !header) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s: empty (want the header key,device_type)", csv);
		st = CF_ERR_ARG;
	}
	if (st == CF_ERR_NOMEM)
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
	csvr_free(&c);
	fclose(f);
	if (st < 0) {
		cf_device_types_close(t);
		return st;
	}
	*out = t;
	return CF_OK;
}

const char *cf_device_types_lookup(const cf_device_types *t, const uint8_t mac[6], const char *manufacturer)
{
	if (!t)
		return NULL;
	uint64_t m = mac48(mac);
	const struct dt_entry *best = NULL;
	int best_rank = -1; /* 13: the MAC; 6..11: prefix digits; 1: the name */
	for (size_t i = 0; i < t->n; i++) {
		const struct dt_entry *e = &t->v[i];
		int rank = -1;
		if (e->kind == 0 && e->value == m)
			rank = 13;
		else if (e->kind == 1 && (m >> (48 - 4 * e->digits)) == e->value)
			rank = e->digits;
		else if (e->kind == 2 && manufacturer && !strcasecmp(e->name, manufacturer))
			rank = 1;
		if (rank > best_rank) /* the first line wins among equals */
			best = e, best_rank = rank;
	}
	return best ? best->type : NULL;
}
