/* Reading the .npy files cuflow writes (cuflow/npy_read.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/npy_read.h"
#include "cuflow/status.h"

int cf_npy_file_open(const char *path, cf_npy_file *n, char *errbuf)
{
	memset(n, 0, sizeof *n);
	if (!(n->f = fopen(path, "rb"))) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: %s", path, strerror(errno));
		return CF_ERR_IO;
	}
	unsigned char pre[12];
	char hdr[4096];
	if (fread(pre, 1, 10, n->f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) goto bad;
	size_t hl;
	if (pre[6] == 1) hl = pre[8] | (size_t)pre[9] << 8;
	else {
		if (fread(pre + 10, 1, 2, n->f) != 2) goto bad;
		hl = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
	}
	if (hl >= sizeof hdr || fread(hdr, 1, hl, n->f) != hl) goto bad;
	hdr[hl] = 0;
	const char *d = strstr(hdr, "'descr'");
	const char *fo = strstr(hdr, "'fortran_order'");
	const char *sh = strstr(hdr, "'shape'");
	if (!d || !fo || !sh || strstr(fo, "True") == fo + 17) goto bad;
	d = strchr(d + 7, '\'');
	if (!d || (d[1] != '<' && d[1] != '|')) goto bad;
	n->kind = d[2];
	n->size = d[3] - '0';
	if ((n->kind != 'u' && n->kind != 'i' && n->kind != 'f') || (n->size != 1 && n->size != 2 && n->size != 4 && n->size != 8) ||
	    (n->kind == 'f' && n->size < 4))
		goto bad;
	sh = strchr(sh, '(');
	if (!sh) goto bad;
	for (sh++; n->ndim < 4;) {
		while (isspace((unsigned char)*sh)) sh++;
		if (*sh == ')') break;
		char *e;
		unsigned long long v = strtoull(sh, &e, 10);
		if (e == sh) goto bad;
		n->shape[n->ndim++] = v;
		sh = e;
		while (isspace((unsigned char)*sh) || *sh == ',') sh++;
	}
	return CF_OK;
bad:
	snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: not a C-order little-endian .npy cuflow reads", path);
	fclose(n->f);
	n->f = NULL;
	return CF_ERR_CORRUPT;
}

double cf_npy_file_value(const cf_npy_file *n, const unsigned char *p)
{
	uint64_t u = 0;
	for (int k = 0; k < n->size; k++) u |= (uint64_t)p[k] << (8 * k);
	if (n->kind == 'f') {
		if (n->size == 4) { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); return f; }
		double x; memcpy(&x, &u, 8); return x;
	}
	if (n->kind == 'i' && n->size < 8 && (u >> (8 * n->size - 1)) & 1) u |= ~0ull << (8 * n->size);
	return n->kind == 'i' ? (double)(int64_t)u : (double)u;
}
