/* The label files' CSV reader (see csv_reader.h). */
#include "common/csv_reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void csvr_init(csvr *c, FILE *f, const char *path)
{
	memset(c, 0, sizeof *c);
	c->f = f;
	c->path = path;
}

void csvr_free(csvr *c)
{
	free(c->line);
	free(c->rec);
	free(c->fld);
	c->line = c->rec = NULL;
	c->fld = NULL;
}

static int grow_fields(csvr *c, uint32_t need)
{
	if (need <= c->fld_cap)
		return 0;
	uint32_t nc = c->fld_cap ? c->fld_cap * 2 : 16;
	char **p = realloc(c->fld, (size_t)nc * sizeof *p);
	if (!p)
		return -1;
	c->fld = p;
	c->fld_cap = nc;
	return 0;
}

static int append(csvr *c, const char *s, size_t n)
{
	if (c->rec_len + n + 1 > c->rec_cap) {
		size_t nc = c->rec_cap ? c->rec_cap : 1024;
		while (nc < c->rec_len + n + 1)
			nc *= 2;
		char *p = realloc(c->rec, nc);
		if (!p)
			return -1;
		c->rec = p;
		c->rec_cap = nc;
	}
	memcpy(c->rec + c->rec_len, s, n);
	c->rec_len += n;
	c->rec[c->rec_len] = 0;
	return 0;
}

static int odd_quotes(const char *s, size_t n)
{
	int odd = 0;
	for (const char *p = s; (p = memchr(p, '"', n - (size_t)(p - s))) != NULL; p++)
		odd ^= 1;
	return odd;
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Splits buf (NUL-terminated, writable) into trimmed, unquoted fields. */
static int split(csvr *c, char *p)
{
	c->nfld = 0;
	for (;;) {
		if (grow_fields(c, c->nfld + 1))
			return -1;
		while (is_space(*p))
			p++;
		char *start = p, *end;
		if (*p == '"') {
			char *w = p;
			p++;
			for (;;) {
				if (*p == '"' && p[1] == '"') {
					*w++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else if (!*p) {
					break;
				} else {
					*w++ = *p++;
				}
			}
			/* anything between the closing quote and the comma is kept */
			while (*p && *p != ',')
				*w++ = *p++;
			end = w;
		} else {
			char *comma = strchr(p, ',');
			p = comma ? comma : p + strlen(p);
			end = p;
		}
		int more = *p == ',';
		while (end > start && is_space(end[-1]))
			end--;
		*end = 0;
		c->fld[c->nfld++] = start;
		if (!more)
			return 0;
		p++;
	}
}

int csvr_next(csvr *c)
{
	int open = 0;
	c->rec_len = 0;
	for (;;) {
		errno = 0;
		ssize_t n = getline(&c->line, &c->line_cap, c->f);
		if (n < 0) {
			if (ferror(c->f))
				return -3;
			if (open)
				return -2;
			return 0;
		}
		c->lineno++;
		char *s = c->line;
		if (c->lineno == 1 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
			s += 3;
			n -= 3;
		}
		while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
			n--;
		s[n] = 0;
		if (!open) {
			if (n == 0)
				continue;
			c->rec_line = c->lineno;
			if (!odd_quotes(s, (size_t)n))
				return split(c, s) ? -1 : 1;
			if (append(c, s, (size_t)n))
				return -1;
			open = 1;
			continue;
		}
		if (append(c, "\n", 1) || append(c, s, (size_t)n))
			return -1;
		if (odd_quotes(s, (size_t)n)) {
			open = 0;
			return split(c, c->rec) ? -1 : 1;
		}
	}
}

