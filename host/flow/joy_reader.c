/*
 * Reading Joy files (cuflow/joy.h): one JSON object per line, plain or
 * gzip (zlib reads both), Joy's configuration line first. A small JSON
 * scanner of its own: the records are flat but for a few nested objects,
 * which are skipped whole; times are read as decimal text, exactly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cuflow/joy.h"

struct cf_joy_reader {
	gzFile gz;
	char *path;
	char *buf;
	size_t cap;
	uint64_t line;
	int status;
	char err[CF_ERRBUF_SIZE];
	cf_joy_packet *pk;
	size_t npk, pkcap;
};

typedef struct scan {
	const char *p, *end;
	int bad;
	const char *why;
} scan;

static void ws(scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

static int expect(scan *s, char c)
{
	ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return 1;
	}
	if (!s->bad) {
		s->bad = 1;
		s->why = "malformed JSON";
	}
	return 0;
}

static int peek(scan *s, char c)
{
	ws(s);
	return s->p < s->end && *s->p == c;
}

/* A string into out (escapes kept as written but for \" and \\, enough for
 * keys and addresses); out may be NULL. */
static int str(scan *s, char *out, size_t cap)
{
	if (!expect(s, '"'))
		return 0;
	size_t n = 0;
	while (s->p < s->end && *s->p != '"') {
		char c = *s->p++;
		if (c == '\\' && s->p < s->end)
			c = *s->p++;
		if (out && n + 1 < cap)
			out[n++] = c;
	}
	if (out && cap)
		out[n] = 0;
	return expect(s, '"');
}

static int skip_value(scan *s, int depth);

static int skip_container(scan *s, char open, char close, int depth)
{
	if (depth > 64) {
		s->bad = 1;
		s->why = "JSON nested too deep";
		return 0;
	}
	expect(s, open);
	if (peek(s, close))
		return expect(s, close);
	do {
		if (open == '{') {
			if (!str(s, NULL, 0) || !expect(s, ':'))
				return 0;
		}
		if (!skip_value(s, depth + 1))
			return 0;
	} while (peek(s, ',') && expect(s, ','));
	return expect(s, close);
}

static int skip_value(scan *s, int depth)
{
	ws(s);
	if (s->p >= s->end) {
		s->bad = 1;
		s->why = "the line ends inside a value";
		return 0;
	}
	char c = *s->p;
	if (c == '"')
		return str(s, NULL, 0);
	if (c == '{')
		return skip_container(s, '{', '}', depth);
	if (c == '[')
		return skip_container(s, '[', ']', depth);
	const char *q = s->p;
	while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' && *s->p != ' ')
		s->p++;
	if (s->p == q) {
		s->bad = 1;
		s->why = "malformed JSON";
		return 0;
	}
	return 1;
}

/* An unsigned integer (or null: *is_null). */
static int uint_value(scan *s, uint64_t *v, int *is_null)
{
	ws(s);
	if (is_null)
		*is_null = 0;
	if (s->end - s->p >= 4 && !memcmp(s->p, "null", 4)) {
		s->p += 4;
		if (is_null) {
			*is_null = 1;
			return 1;
		}
		s->bad = 1;
		s->why = "null where a number belongs";
		return 0;
	}
	uint64_t x = 0;
	const char *q = s->p;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		unsigned d = (unsigned)(*s->p++ - '0');
		if (x > (UINT64_MAX - d) / 10) {
			s->bad = 1;
			s->why = "a number out of range";
			return 0;
		}
		x = x * 10 + d;
	}
	if (s->p == q) {
		s->bad = 1;
		s->why = "a number expected";
		return 0;
	}
	*v = x;
	return 1;
}

/* Decimal seconds ("1502118721.115234", up to 9 decimals) as ns, exactly. */
static int time_value(scan *s, int64_t *ns)
{
	uint64_t sec;
	if (!uint_value(s, &sec, NULL))
		return 0;
	int64_t frac = 0;
	int digits = 0;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
			if (digits < 9) {
				frac = frac * 10 + (*s->p - '0');
				digits++;
			}
			s->p++;
		}
	}
	while (digits++ < 9)
		frac *= 10;
	if (sec > (uint64_t)INT64_MAX / 1000000000u - 1) {
		s->bad = 1;
		s->why = "a time out of range";
		return 0;
	}
	*ns = (int64_t)sec * 1000000000 + frac;
	return 1;
}

static int packets_value(cf_joy_reader *r, scan *s)
{
	r->npk = 0;
	if (!expect(s, '['))
		return 0;
	if (peek(s, ']'))
		return expect(s, ']');
	do {
		cf_joy_packet pk = {0, 0, 0};
		int have_b = 0;
		if (!expect(s, '{'))
			return 0;
		if (!peek(s, '}')) {
			do {
				char key[16];
				uint64_t v;
				if (!str(s, key, sizeof key) || !expect(s, ':'))
					return 0;
				if (!strcmp(key, "b") || !strcmp(key, "rep")) {
					if (!uint_value(s, &v, NULL))
						return 0;
					pk.b = key[0] == 'b' ? (uint32_t)v : (uint32_t)(65536 - v);
					have_b = 1;
				} else if (!strcmp(key, "ipt")) {
					if (!uint_value(s, &v, NULL))
						return 0;
					pk.ipt = (uint32_t)v;
				} else if (!strcmp(key, "dir")) {
					char d[4];
					if (!str(s, d, sizeof d))
						return 0;
					pk.dir = d[0] == '>' ? 1 : d[0] == '<' ? -1 : 0;
				} else if (!skip_value(s, 1)) {
					return 0;
				}
			} while (peek(s, ',') && expect(s, ','));
		}
		if (!expect(s, '}'))
			return 0;
		if (!have_b || !pk.dir) {
			s->bad = 1;
			s->why = "a packet without \"b\" or \"dir\"";
			return 0;
		}
		if (r->npk == r->pkcap) {
			size_t cap = r->pkcap ? r->pkcap * 2 : 128;
			cf_joy_packet *np = realloc(r->pk, cap * sizeof *np);
			if (!np) {
				s->bad = 1;
				s->why = "out of memory";
				return 0;
			}
			r->pk = np;
			r->pkcap = cap;
		}
		r->pk[r->npk++] = pk;
	} while (peek(s, ',') && expect(s, ','));
	return expect(s, ']');
}

int cf_joy_reader_open(const char *path, cf_joy_reader **out, char *errbuf)
{
	*out = NULL;
	cf_joy_reader *r = calloc(1, sizeof *r);
	if (!r || !(r->path = strdup(path))) {
		free(r);
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	r->gz = strcmp(path, "-") ? gzopen(path, "rb") : gzdopen(0, "rb");
	if (!r->gz) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
		cf_joy_reader_close(r);
		return CF_ERR_IO;
	}
	*out = r;
	return CF_OK;
}

/* The next line into r->buf (without the newline); 0 at the end. */
static int read_line(cf_joy_reader *r, size_t *len)
{
	size_t n = 0;
	for (;;) {
		if (r->cap - n < 2) {
			size_t cap = r->cap ? r->cap * 2 : 65536;
			char *b = realloc(r->buf, cap);
			if (!b)
				return -1;
			r->buf = b;
			r->cap = cap;
		}
		if (!gzgets(r->gz, r->buf + n, (int)(r->cap - n))) {
			int e;
			gzerror(r->gz, &e);
			if (e != Z_OK && e != Z_BUF_ERROR)
				return -2;
			*len = n;
			return n > 0;
		}
		n += strlen(r->buf + n);
		if (n && r->buf[n - 1] == '\n') {
			r->buf[--n] = 0;
			*len = n;
			return 1;
		}
	}
}

static int fail(cf_joy_reader *r, int status, const char *why)
{
	r->status = status;
	snprintf(r->err, sizeof r->err, "%s: line %llu: %s", r->path, (unsigned long long)r->line, why);
	return status;
}

int cf_joy_reader_next(cf_joy_reader *r, cf_joy_flow *fl)
{
	if (r->status)
		return r->status;
	for (;;) {
		size_t len;
		int got = read_line(r, &len);
		if (got == -1)
			return fail(r, CF_ERR_NOMEM, "out of memory");
		if (got == -2) {
			r->line++;
			return fail(r, CF_ERR_IO, "read error (a damaged gzip stream?)");
		}
		if (!got)
			return CF_EOF;
		r->line++;
		scan s = {r->buf, r->buf + len, 0, NULL};
		ws(&s);
		if (s.p == s.end)
			continue; /* blank line */
		memset(fl, 0, sizeof *fl);
		fl->sp = fl->dp = -1;
		fl->line = r->line;
		r->npk = 0;
		int config = 0, have_sa = 0;
		if (!expect(&s, '{'))
			return fail(r, CF_ERR_CORRUPT, "not a JSON object");
		if (!peek(&s, '}')) {
			do {
				char key[32];
				uint64_t v;
				int is_null;
				if (!str(&s, key, sizeof key) || !expect(&s, ':'))
					break;
				if (!strcmp(key, "end-config")) {
					config = 1;
					skip_value(&s, 0);
				} else if (!strcmp(key, "sa")) {
					have_sa = str(&s, fl->sa, sizeof fl->sa);
				} else if (!strcmp(key, "da")) {
					str(&s, fl->da, sizeof fl->da);
				} else if (!strcmp(key, "pr")) {
					if (uint_value(&s, &v, NULL))
						fl->pr = (uint8_t)v;
				} else if (!strcmp(key, "sp") || !strcmp(key, "dp")) {
					if (uint_value(&s, &v, &is_null) && !is_null)
						*(key[0] == 's' ? &fl->sp : &fl->dp) = (int32_t)(v & 0xffff);
				} else if (!strcmp(key, "bytes_out")) {
					uint_value(&s, &fl->bytes_out, NULL);
				} else if (!strcmp(key, "num_pkts_out")) {
					uint_value(&s, &fl->num_pkts_out, NULL);
				} else if (!strcmp(key, "bytes_in")) {
					uint_value(&s, &fl->bytes_in, NULL);
					fl->has_in = 1;
				} else if (!strcmp(key, "num_pkts_in")) {
					uint_value(&s, &fl->num_pkts_in, NULL);
					fl->has_in = 1;
				} else if (!strcmp(key, "time_start")) {
					time_value(&s, &fl->time_start_ns);
				} else if (!strcmp(key, "time_end")) {
					time_value(&s, &fl->time_end_ns);
				} else if (!strcmp(key, "packets")) {
					packets_value(r, &s);
				} else if (!strcmp(key, "expire_type")) {
					char e[4] = "";
					str(&s, e, sizeof e);
					fl->expire_type = e[0];
				} else {
					skip_value(&s, 0);
				}
			} while (!s.bad && peek(&s, ',') && expect(&s, ','));
		}
		if (!s.bad)
			expect(&s, '}');
		if (s.bad)
			return fail(r, r->npk == SIZE_MAX ? CF_ERR_NOMEM : CF_ERR_CORRUPT, s.why ? s.why : "malformed JSON");
		if (config && !have_sa)
			continue;
		if (!have_sa)
			return fail(r, CF_ERR_CORRUPT, "a record without \"sa\"");
		fl->npackets = r->npk;
		fl->packets = r->pk;
		return CF_OK;
	}
}

const char *cf_joy_reader_error(const cf_joy_reader *r)
{
	return r ? r->err : "";
}

void cf_joy_reader_close(cf_joy_reader *r)
{
	if (!r)
		return;
	if (r->gz)
		gzclose(r->gz);
	free(r->path);
	free(r->buf);
	free(r->pk);
	free(r);
}
