/*
 * Reading Joy records (cuflow/joy.h): one JSON object per line, plain or
 * gzip (zlib reads both), Joy's configuration line first; or the lines the
 * Joy-compatible tracker writes while it reads a capture. A small JSON
 * scanner of its own: the records are flat but for a few nested objects,
 * which are skipped whole but for "ip"; times are read as decimal text,
 * exactly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cuflow/joy.h"

struct cf_joy_reader {
	gzFile gz;
	/* capture mode: the tracker writes lines into q, next() parses them */
	cf_reader *capture;
	cf_joy *joy;
	int capture_done;   /* cf_joy_end has run */
	int capture_status; /* the capture's damage, returned once q is drained */
	int q_oom;
	char *q;
	size_t qlen, qpos, qcap;
	char *path;
	char *buf;
	size_t cap;
	uint64_t line;
	int status;
	char err[CF_ERRBUF_SIZE];
	cf_joy_packet *pk;
	size_t npk, pkcap;
	uint16_t *ids[2]; /* ip.out.id, ip.in.id */
	size_t nids[2], idcap[2];
	char *label;
	size_t labcap;
};

typedef struct scan {
	const char *p, *end;
	int bad;
	int oom;
	const char *why;
} scan;

static int bad(scan *s, const char *why)
{
	if (!s->bad) {
		s->bad = 1;
		s->why = why;
	}
	return 0;
}

static int oom(scan *s)
{
	s->oom = 1;
	return bad(s, "out of memory");
}

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
	return bad(s, "malformed JSON");
}

static int peek(scan *s, char c)
{
	ws(s);
	return s->p < s->end && *s->p == c;
}

static int is_null(scan *s)
{
	ws(s);
	if (s->end - s->p >= 4 && !memcmp(s->p, "null", 4)) {
		s->p += 4;
		return 1;
	}
	return 0;
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

static int hex4(scan *s, unsigned *v)
{
	if (s->end - s->p < 4)
		return 0;
	*v = 0;
	for (int k = 0; k < 4; k++) {
		char c = *s->p++;
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
		             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
		             : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
		if (d > 15)
			return 0;
		*v = *v << 4 | d;
	}
	return 1;
}

/* A JSON string decoded in full (\uXXXX as UTF-8) into the reader's label:
 * labels are class names a model's output is compared against. */
static int label_value(cf_joy_reader *r, scan *s)
{
	if (!expect(s, '"'))
		return 0;
	size_t n = 0;
	for (;;) {
		if (r->labcap - n < 5) {
			size_t cap = r->labcap ? r->labcap * 2 : 64;
			char *b = realloc(r->label, cap);
			if (!b)
				return oom(s);
			r->label = b;
			r->labcap = cap;
		}
		if (s->p >= s->end)
			return bad(s, "the line ends inside \"label\"");
		char c = *s->p++;
		if (c == '"')
			break;
		if (c != '\\') {
			r->label[n++] = c;
			continue;
		}
		if (s->p >= s->end)
			return bad(s, "the line ends inside \"label\"");
		c = *s->p++;
		const char *simple = c == 'b' ? "\b" : c == 'f' ? "\f" : c == 'n' ? "\n" : c == 'r' ? "\r" : c == 't' ? "\t"
		                     : c == '"' ? "\"" : c == '\\' ? "\\" : c == '/' ? "/" : NULL;
		if (simple) {
			r->label[n++] = *simple;
			continue;
		}
		unsigned u, lo;
		if (c != 'u' || !hex4(s, &u))
			return bad(s, "a bad escape in \"label\"");
		if (u >= 0xd800 && u < 0xdc00) { /* a surrogate pair */
			if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u')
				return bad(s, "a bad escape in \"label\"");
			s->p += 2;
			if (!hex4(s, &lo) || lo < 0xdc00 || lo >= 0xe000)
				return bad(s, "a bad escape in \"label\"");
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
		} else if (u >= 0xdc00 && u < 0xe000) {
			return bad(s, "a bad escape in \"label\"");
		}
		if (u == 0)
			return bad(s, "a NUL character in \"label\"");
		if (u < 0x80) {
			r->label[n++] = (char)u;
		} else if (u < 0x800) {
			r->label[n++] = (char)(0xc0 | u >> 6);
			r->label[n++] = (char)(0x80 | (u & 0x3f));
		} else if (u < 0x10000) {
			r->label[n++] = (char)(0xe0 | u >> 12);
			r->label[n++] = (char)(0x80 | (u >> 6 & 0x3f));
			r->label[n++] = (char)(0x80 | (u & 0x3f));
		} else {
			r->label[n++] = (char)(0xf0 | u >> 18);
			r->label[n++] = (char)(0x80 | (u >> 12 & 0x3f));
			r->label[n++] = (char)(0x80 | (u >> 6 & 0x3f));
			r->label[n++] = (char)(0x80 | (u & 0x3f));
		}
	}
	r->label[n] = 0;
	return 1;
}

static int skip_value(scan *s, int depth);

static int skip_container(scan *s, char open, char close, int depth)
{
	if (depth > 64)
		return bad(s, "JSON nested too deep");
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
	if (s->p >= s->end)
		return bad(s, "the line ends inside a value");
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
	if (s->p == q)
		return bad(s, "malformed JSON");
	return 1;
}

/* An unsigned integer (or null: *null_seen). */
static int uint_value(scan *s, uint64_t *v, int *null_seen)
{
	if (null_seen)
		*null_seen = 0;
	if (is_null(s)) {
		if (null_seen) {
			*null_seen = 1;
			return 1;
		}
		return bad(s, "null where a number belongs");
	}
	uint64_t x = 0;
	const char *q = s->p;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		unsigned d = (unsigned)(*s->p++ - '0');
		if (x > (UINT64_MAX - d) / 10)
			return bad(s, "a number out of range");
		x = x * 10 + d;
	}
	if (s->p == q)
		return bad(s, "a number expected");
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
	if (sec > (uint64_t)INT64_MAX / 1000000000u - 1)
		return bad(s, "a time out of range");
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
		if (!have_b || !pk.dir)
			return bad(s, "a packet without \"b\" or \"dir\"");
		if (r->npk == r->pkcap) {
			size_t cap = r->pkcap ? r->pkcap * 2 : 128;
			cf_joy_packet *np = realloc(r->pk, cap * sizeof *np);
			if (!np)
				return oom(s);
			r->pk = np;
			r->pkcap = cap;
		}
		r->pk[r->npk++] = pk;
	} while (peek(s, ',') && expect(s, ','));
	return expect(s, ']');
}

/* One side of "ip" ({"ttl":N,"id":[...]}, Joy's and cuflow's writers alike;
 * either key may be missing: IPv6 has no id). d: 0 out, 1 in. */
static int ip_side_value(cf_joy_reader *r, scan *s, int d, int *ttl)
{
	*ttl = -1;
	r->nids[d] = 0;
	if (!expect(s, '{'))
		return 0;
	if (peek(s, '}'))
		return expect(s, '}');
	do {
		char key[16];
		uint64_t v;
		if (!str(s, key, sizeof key) || !expect(s, ':'))
			return 0;
		if (!strcmp(key, "ttl")) {
			if (!uint_value(s, &v, NULL))
				return 0;
			if (v > 255)
				return bad(s, "an ip ttl out of range (0..255)");
			*ttl = (int)v;
		} else if (!strcmp(key, "id")) {
			r->nids[d] = 0;
			if (!expect(s, '['))
				return 0;
			while (!peek(s, ']')) {
				if (r->nids[d] && !expect(s, ','))
					return 0;
				if (!uint_value(s, &v, NULL))
					return 0;
				if (v > 65535)
					return bad(s, "an ip id out of range (0..65535)");
				if (r->nids[d] == r->idcap[d]) {
					size_t cap = r->idcap[d] ? r->idcap[d] * 2 : 64;
					uint16_t *ni = realloc(r->ids[d], cap * sizeof *ni);
					if (!ni)
						return oom(s);
					r->ids[d] = ni;
					r->idcap[d] = cap;
				}
				r->ids[d][r->nids[d]++] = (uint16_t)v;
			}
			if (!expect(s, ']'))
				return 0;
		} else if (!skip_value(s, 2)) {
			return 0;
		}
	} while (peek(s, ',') && expect(s, ','));
	return expect(s, '}');
}

static int ip_value(cf_joy_reader *r, scan *s, cf_joy_flow *fl)
{
	if (!expect(s, '{'))
		return 0;
	if (peek(s, '}'))
		return expect(s, '}');
	do {
		char key[16];
		if (!str(s, key, sizeof key) || !expect(s, ':'))
			return 0;
		if (!strcmp(key, "out")) {
			if (!ip_side_value(r, s, 0, &fl->ttl_out))
				return 0;
		} else if (!strcmp(key, "in")) {
			if (!ip_side_value(r, s, 1, &fl->ttl_in))
				return 0;
		} else if (!skip_value(s, 1)) {
			return 0;
		}
	} while (peek(s, ',') && expect(s, ','));
	return expect(s, '}');
}

static int fail(cf_joy_reader *r, int status, const char *why)
{
	r->status = status;
	snprintf(r->err, sizeof r->err, "%s: %s %llu: %s", r->path, r->capture || r->joy ? "record" : "line",
	         (unsigned long long)r->line, why);
	return status;
}

/* One line (len bytes, no newline) into fl: 1 a record, 0 a line without
 * one (blank, configuration), or the status fail() set. */
static int parse_line(cf_joy_reader *r, const char *text, size_t len, cf_joy_flow *fl)
{
	scan s = {text, text + len, 0, 0, NULL};
	ws(&s);
	if (s.p == s.end)
		return 0; /* blank line */
	memset(fl, 0, sizeof *fl);
	fl->sp = fl->dp = -1;
	fl->ttl_out = fl->ttl_in = -1;
	fl->line = r->line;
	r->npk = r->nids[0] = r->nids[1] = 0;
	int config = 0, have_sa = 0;
	if (!expect(&s, '{'))
		return fail(r, CF_ERR_CORRUPT, "not a JSON object");
	if (!peek(&s, '}')) {
		do {
			char key[32];
			uint64_t v;
			int null_seen;
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
				if (uint_value(&s, &v, &null_seen) && !null_seen)
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
			} else if (!strcmp(key, "ip")) {
				ip_value(r, &s, fl);
			} else if (!strcmp(key, "label")) {
				if (is_null(&s))
					fl->label = NULL;
				else if (!peek(&s, '"'))
					bad(&s, "\"label\" is not a string");
				else if (label_value(r, &s))
					fl->label = r->label;
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
		return fail(r, s.oom ? CF_ERR_NOMEM : CF_ERR_CORRUPT, s.why ? s.why : "malformed JSON");
	if (config && !have_sa)
		return 0;
	if (!have_sa)
		return fail(r, CF_ERR_CORRUPT, "a record without \"sa\"");
	fl->npackets = r->npk;
	fl->packets = r->pk;
	fl->n_ids_out = r->nids[0];
	fl->ids_out = r->ids[0];
	fl->n_ids_in = r->nids[1];
	fl->ids_in = r->ids[1];
	return 1;
}

static cf_joy_reader *reader_new(const char *path, char *errbuf)
{
	cf_joy_reader *r = calloc(1, sizeof *r);
	if (!r || !(r->path = strdup(path))) {
		free(r);
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return NULL;
	}
	return r;
}

int cf_joy_reader_open(const char *path, cf_joy_reader **out, char *errbuf)
{
	*out = NULL;
	cf_joy_reader *r = reader_new(path, errbuf);
	if (!r)
		return CF_ERR_NOMEM;
	errno = 0;
	r->gz = strcmp(path, "-") ? gzopen(path, "rb") : gzdopen(0, "rb");
	if (!r->gz) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
		cf_joy_reader_close(r);
		return CF_ERR_IO;
	}
	*out = r;
	return CF_OK;
}

/* The tracker's lines go to the queue that next() drains. */
static int queue_write(void *user, const char *text, size_t len)
{
	cf_joy_reader *r = user;
	if (r->qcap - r->qlen < len) {
		size_t cap = r->qcap ? r->qcap : 65536;
		while (cap - r->qlen < len)
			cap *= 2;
		char *q = realloc(r->q, cap);
		if (!q) {
			r->q_oom = 1;
			return -1;
		}
		r->q = q;
		r->qcap = cap;
	}
	memcpy(r->q + r->qlen, text, len);
	r->qlen += len;
	return 0;
}

int cf_joy_reader_open_capture(const char *path, cf_joy_reader **out, char *errbuf)
{
	*out = NULL;
	cf_joy_reader *r = reader_new(path, errbuf);
	if (!r)
		return CF_ERR_NOMEM;
	int rc = cf_reader_open(path, &r->capture, errbuf);
	if (rc == CF_OK)
		rc = cf_joy_open(queue_write, r, &r->joy, errbuf);
	if (rc < 0) {
		cf_joy_reader_close(r);
		return rc;
	}
	*out = r;
	return CF_OK;
}

static int capture_magic(const unsigned char *m, size_t n)
{
	static const unsigned char magics[][4] = {
	        {0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, /* pcap, us */
	        {0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d}, /* pcap, ns */
	        {0x34, 0xcd, 0xb2, 0xa1}, {0xa1, 0xb2, 0xcd, 0x34}, /* modified pcap (libpcap reads it) */
	        {0x0a, 0x0d, 0x0d, 0x0a},                           /* pcapng */
	        {'s', 'n', 'o', 'o'},                               /* snoop */
	        {0x28, 0xb5, 0x2f, 0xfd},                           /* zstd: cf_reader's, zlib cannot */
	        {0x04, 0x22, 0x4d, 0x18},                           /* lz4 frame */
	        {0xfd, '7', 'z', 'X'},                              /* xz */
	};
	if (n < 4)
		return 0;
	for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
		if (!memcmp(m, magics[i], 4))
			return 1;
	return 0;
}

int cf_joy_reader_open_auto(const char *path, cf_joy_reader **out, char *errbuf)
{
	/* Standard input cannot be peeked and read again: a Joy file, as before. */
	if (strcmp(path, "-")) {
		unsigned char m[4];
		size_t n = 0;
		FILE *f = fopen(path, "rb");
		if (f) {
			n = fread(m, 1, sizeof m, f);
			fclose(f);
		}
		int capture = capture_magic(m, n);
		if (!capture && n >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
			/* gzip: a Joy file or a compressed capture; zlib tells */
			gzFile gz = gzopen(path, "rb");
			if (gz) {
				int got = gzread(gz, m, sizeof m);
				capture = got > 0 && capture_magic(m, (size_t)got);
				gzclose(gz);
			}
		}
		if (capture)
			return cf_joy_reader_open_capture(path, out, errbuf);
	}
	return cf_joy_reader_open(path, out, errbuf);
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

/* The tracker's next line: frames are read only while the queue is empty,
 * so it holds the records one expiry pass wrote (at the end, every record
 * still open: what the tracker held anyway). 1 a line, 0 the end, or a
 * status. */
static int capture_line(cf_joy_reader *r, const char **text, size_t *len)
{
	while (r->qpos == r->qlen) {
		r->qpos = r->qlen = 0;
		if (r->capture_done)
			return 0;
		cf_frame f;
		int rc = cf_reader_next(r->capture, &f);
		if (rc == CF_OK) {
			if (cf_joy_frame(r->joy, &f) < 0)
				return CF_ERR_NOMEM; /* the tracker's or the queue's */
			continue;
		}
		if (rc != CF_EOF) { /* damage: the records before it come first */
			r->capture_status = rc;
			snprintf(r->err, sizeof r->err, "%s", cf_reader_error(r->capture));
		}
		cf_reader_close(r->capture);
		r->capture = NULL;
		r->capture_done = 1;
		if (cf_joy_end(r->joy) < 0)
			return CF_ERR_NOMEM;
	}
	const char *p = r->q + r->qpos;
	const char *nl = memchr(p, '\n', r->qlen - r->qpos);
	*text = p;
	*len = nl ? (size_t)(nl - p) : r->qlen - r->qpos;
	r->qpos += *len + (nl != NULL);
	return 1;
}

int cf_joy_reader_next(cf_joy_reader *r, cf_joy_flow *fl)
{
	if (r->status)
		return r->status;
	for (;;) {
		const char *text = r->buf;
		size_t len;
		int got;
		if (r->joy) {
			got = capture_line(r, &text, &len);
			if (got < 0)
				return fail(r, got, "out of memory");
			if (!got && r->capture_status)
				return r->status = r->capture_status; /* r->err holds the reader's message */
		} else {
			got = read_line(r, &len);
			text = r->buf;
			if (got == -1)
				return fail(r, CF_ERR_NOMEM, "out of memory");
			if (got == -2) {
				r->line++;
				return fail(r, CF_ERR_IO, "read error (a damaged gzip stream?)");
			}
		}
		if (!got)
			return CF_EOF;
		r->line++;
		int st = parse_line(r, text, len, fl);
		if (st < 0)
			return st;
		if (st == 1)
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
	cf_reader_close(r->capture);
	cf_joy_close(r->joy);
	free(r->q);
	free(r->path);
	free(r->buf);
	free(r->pk);
	free(r->ids[0]);
	free(r->ids[1]);
	free(r->label);
	free(r);
}
