/* Model directories: model.safetensors (the weights as PyTorch's
 * state_dict names and shapes them, float32 little-endian) and config.json.
 * safetensors: an 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets}}, then the tensors' bytes. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs_util.h"
#include "cuflow/model.h"
#include "cuflow/status.h"
#include "nn/nn_internal.h"

static void json_escape(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
		else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
		else fputc(ch, f);
	}
	fputc('"', f);
}

static int write_file_atomic(const char *path, int (*fill)(FILE *, const void *), const void *arg, char *errbuf)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: %s", tmp, strerror(errno));
		return CF_ERR_IO;
	}
	int bad = fill(f, arg) != 0;
	bad |= ferror(f) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: %s", path, strerror(errno ? errno : EIO));
		unlink(tmp);
		return CF_ERR_IO;
	}
	return CF_OK;
}

static int fill_safetensors(FILE *f, const void *arg)
{
	const cf_model *m = arg;
	cf_nn_param ps[64];
	int np = nn_model_params(m, ps, 64);
	char *hdr = NULL;
	size_t hlen = 0;
	FILE *h = open_memstream(&hdr, &hlen);
	if (!h) return -1;
	fprintf(h, "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"cuflow\",\"model\":\"%s\"}", cf_model_kind(m));
	size_t off = 0;
	for (int i = 0; i < np; i++) {
		size_t bytes = ps[i].count * 4;
		fprintf(h, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld", ps[i].name, (long long)ps[i].dims[0]);
		for (int d = 1; d < ps[i].ndim; d++) fprintf(h, ",%lld", (long long)ps[i].dims[d]);
		fprintf(h, "],\"data_offsets\":[%zu,%zu]}", off, off + bytes);
		off += bytes;
	}
	fputc('}', h);
	fclose(h);
	/* the header is padded with spaces to 8 bytes, as the format recommends */
	while (hlen % 8) { hdr = realloc(hdr, hlen + 2); hdr[hlen++] = ' '; hdr[hlen] = 0; }
	uint8_t len8[8];
	for (int k = 0; k < 8; k++) len8[k] = (uint8_t)((uint64_t)hlen >> (8 * k));
	fwrite(len8, 1, 8, f);
	fwrite(hdr, 1, hlen, f);
	free(hdr);
	for (int i = 0; i < np; i++) fwrite(m->params + ps[i].offset, sizeof(float), ps[i].count, f);
	return 0;
}

static void fill_class_names(FILE *f, const cf_model *m)
{
	fprintf(f, "  \"class_names\": [");
	for (int k = 0; k < m->n_classes; k++) {
		if (k) fputs(", ", f);
		json_escape(f, m->classes[k]);
	}
	fprintf(f, "]\n}\n");
}

static int fill_config(FILE *f, const void *arg)
{
	const cf_model *m = arg;
	if (m->arch == NN_ARCH_FLOWPIC) {
		const cf_flowpic_cnn_config *c = &m->fcfg;
		fprintf(f, "{\n  \"model\": \"%s\",\n  \"format\": 1,\n", cf_model_kind(m));
		fprintf(f, "  \"channels\": %d,\n  \"size\": %d,\n  \"classes\": %d,\n  \"conv1\": %d,\n  \"conv2\": %d,\n",
		        c->channels, c->size, c->classes, c->conv1, c->conv2);
		fprintf(f, "  \"kernel\": %d,\n  \"stride\": %d,\n  \"pool\": %d,\n  \"hidden1\": %d,\n  \"hidden2\": %d,\n",
		        c->kernel, c->stride, c->pool, c->hidden1, c->hidden2);
		fprintf(f, "  \"drop_conv\": %.17g,\n  \"drop_fc\": %.17g,\n  \"same_padding\": %d,\n  \"pad_sym\": %d,\n",
		        c->drop_conv, c->drop_fc, c->same_padding, c->pad_sym);
		fprintf(f, "  \"inputs\": \"FlowPic images as cuflow flowpic writes them (N x channels x size x size), "
		           "values as stored\",\n");
		/* how the training images were made: predict makes them so from captures */
		if (m->fp_preset && m->fp_options) {
			fprintf(f, "  \"flowpic_preset\": ");
			json_escape(f, m->fp_preset);
			fprintf(f, ",\n  \"flowpic_options\": %s,\n", m->fp_options);
		}
		fill_class_names(f, m);
		return 0;
	}
	const cf_nested_config *c = &m->cfg;
	fprintf(f, "{\n  \"model\": \"nested\",\n  \"format\": 1,\n");
	fprintf(f, "  \"pkt_hidden\": %d,\n  \"ttl_vocab\": %d,\n  \"ttl_dim\": %d,\n  \"id_hidden\": %d,\n",
	        c->pkt_hidden, c->ttl_vocab, c->ttl_dim, c->id_hidden);
	fprintf(f, "  \"dense_units\": %d,\n  \"dense_layers\": %d,\n  \"classes\": %d,\n", c->dense_units,
	        c->dense_layers, c->classes);
	fprintf(f, "  \"max_packets\": %d,\n  \"max_ids\": %d,\n  \"reference_compat\": %d,\n", c->max_packets,
	        c->max_ids, c->reference_compat);
	if (c->reference_compat)
		fprintf(f, "  \"inputs\": \"raw: packets [b, dir, ipt ms], ids as is, totals [bytes_in, bytes_out, "
		           "num_pkts_in, num_pkts_out, seconds]; batch-max zero padding, no lengths\",\n");
	else
		fprintf(f, "  \"inputs\": \"packets [b/1500, dir, log1p(ipt ms)] (first %d), ids id/65535 (first %d), "
		           "totals log1p of [bytes_in, bytes_out, num_pkts_in, num_pkts_out, ms]; true lengths\",\n",
		        c->max_packets, c->max_ids);
	fill_class_names(f, m);
	return 0;
}

static int mkdir_p(const char *dir, char *errbuf)
{
	if (cf_mkdir_p(dir) == 0) return CF_OK;
	snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: %s", dir, strerror(errno));
	return CF_ERR_IO;
}

int nn_mkdir_p(const char *dir, char *errbuf) { return mkdir_p(dir, errbuf); }

int cf_model_save(const cf_model *m, const char *dir, char *errbuf)
{
	char path[4096];
	int rc = mkdir_p(dir, errbuf);
	if (rc) return rc;
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	if ((rc = write_file_atomic(path, fill_safetensors, m, errbuf))) return rc;
	snprintf(path, sizeof path, "%s/config.json", dir);
	return write_file_atomic(path, fill_config, m, errbuf);
}

/* ------------------------------------------------------------ reading */

char *nn_slurp(const char *path, size_t *len, char *errbuf)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 65536 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			char *q = realloc(buf, cap + 1);
			if (!q) { free(buf); fclose(f); snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: out of memory", path); return NULL; }
			buf = q;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0) break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) { free(buf); snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: read error", path); return NULL; }
	buf[n] = 0;
	*len = n;
	return buf;
}

/* The value after "key": in a flat JSON object (first match). */
const char *nn_json_value(const char *js, const char *key)
{
	char pat[160];
	snprintf(pat, sizeof pat, "\"%s\"", key);
	const char *p = strstr(js, pat);
	if (!p) return NULL;
	p += strlen(pat);
	while (isspace((unsigned char)*p)) p++;
	if (*p != ':') return NULL;
	p++;
	while (isspace((unsigned char)*p)) p++;
	return p;
}

static int json_int(const char *js, const char *key, int *out)
{
	const char *v = nn_json_value(js, key);
	if (!v) return -1;
	char *end;
	long x = strtol(v, &end, 10);
	if (end == v || x < INT_MIN || x > INT_MAX) return -1;
	*out = (int)x;
	return 0;
}

static int json_double(const char *js, const char *key, double *out)
{
	const char *v = nn_json_value(js, key);
	if (!v) return -1;
	char *end;
	double x = strtod(v, &end);
	if (end == v) return -1;
	*out = x;
	return 0;
}

/* A JSON string at p (p at the opening quote) into out; returns the
 * position after the closing quote or NULL. */
const char *nn_json_string(const char *p, char *out, size_t cap)
{
	if (*p != '"') return NULL;
	p++;
	size_t n = 0;
	while (*p && *p != '"') {
		char ch = *p++;
		if (ch == '\\') {
			ch = *p++;
			if (ch == 'u') {
				unsigned v = 0;
				for (int k = 0; k < 4 && isxdigit((unsigned char)*p); k++, p++)
					v = v * 16 + (unsigned)(isdigit((unsigned char)*p) ? *p - '0' : (tolower(*p) - 'a' + 10));
				ch = v < 0x80 ? (char)v : '?';
			} else if (ch == 'n') ch = '\n';
			else if (ch == 't') ch = '\t';
			else if (!ch) return NULL;
		}
		if (n + 1 < cap) out[n++] = ch;
	}
	if (*p != '"') return NULL;
	out[n] = 0;
	return p + 1;
}

char **nn_json_strings(const char *p, int *count)
{
	*count = 0;
	if (!p || *p != '[') return NULL;
	char **names = NULL, buf[1024];
	for (p++;;) {
		while (isspace((unsigned char)*p) || *p == ',') p++;
		if (*p != '"' || !(p = nn_json_string(p, buf, sizeof buf))) break;
		char **q = realloc(names, (size_t)(*count + 1) * sizeof *q);
		char *d = strdup(buf);
		if (!q || !d) {
			free(d);
			if (q) names = q;
			break;
		}
		names = q;
		names[(*count)++] = d;
	}
	return names;
}

static int read_safetensors(cf_model *m, const char *path, char *errbuf)
{
	size_t len = 0;
	char *buf = nn_slurp(path, &len, errbuf);
	if (!buf) return CF_ERR_IO;
	int rc = CF_ERR_CORRUPT;
	uint64_t hlen = 0;
	if (len < 8) goto bad;
	for (int k = 0; k < 8; k++) hlen |= (uint64_t)(uint8_t)buf[k] << (8 * k);
	if (hlen > len - 8) goto bad;
	char *hdr = malloc(hlen + 1);
	if (!hdr) { free(buf); return CF_ERR_NOMEM; }
	memcpy(hdr, buf + 8, hlen);
	hdr[hlen] = 0;
	const char *data = buf + 8 + hlen;
	size_t dlen = len - 8 - hlen;
	cf_nn_param ps[64];
	int np = nn_model_params(m, ps, 64);
	for (int i = 0; i < np; i++) {
		const char *v = nn_json_value(hdr, ps[i].name);
		char dtype[16] = "";
		long long shape[5] = {0, 0, 0, 0, 0}, off[2] = {0, 0};
		int nd = 0;
		if (!v || *v != '{') {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: no tensor \"%.40s\"", path, ps[i].name);
			free(hdr);
			goto out;
		}
		const char *end = strchr(v, '}');
		const char *d = strstr(v, "\"dtype\"");
		const char *s = strstr(v, "\"shape\"");
		const char *o = strstr(v, "\"data_offsets\"");
		if (!end || !d || !s || !o || d > end || s > end || o > end) goto badt;
		d = strchr(d + 7, '"');
		if (!d || !nn_json_string(d, dtype, sizeof dtype)) goto badt;
		s = strchr(s, '[');
		for (s++; nd < 5;) {
			while (isspace((unsigned char)*s)) s++;
			if (*s == ']') break;
			char *e;
			shape[nd++] = strtoll(s, &e, 10);
			if (e == s) goto badt;
			s = e;
			while (isspace((unsigned char)*s)) s++;
			if (*s == ',') s++;
		}
		o = strchr(o, '[');
		if (!o || sscanf(o, "[ %lld , %lld ]", &off[0], &off[1]) != 2) goto badt;
		if (strcmp(dtype, "F32") != 0) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: tensor \"%.47s\" is %.15s; cuflow reads F32", path, ps[i].name, dtype);
			free(hdr);
			rc = CF_ERR_UNSUPPORTED;
			goto out;
		}
		int same = nd == ps[i].ndim;
		for (int d = 0; same && d < nd; d++) same = shape[d] == ps[i].dims[d];
		if (!same) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: tensor \"%.47s\" has %d dims [%lld, %lld, ...], config.json "
			         "implies %d [%lld, %lld, ...]", path, ps[i].name, nd, shape[0], shape[1], ps[i].ndim,
			         (long long)ps[i].dims[0], (long long)ps[i].dims[1]);
			free(hdr);
			goto out;
		}
		if (off[0] < 0 || off[1] - off[0] != (long long)(ps[i].count * 4) || (size_t)off[1] > dlen) goto badt;
		memcpy(m->params + ps[i].offset, data + off[0], ps[i].count * 4);
		continue;
	badt:
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: malformed header entry for \"%.40s\"", path, ps[i].name);
		free(hdr);
		goto out;
	}
	free(hdr);
	free(buf);
	return CF_OK;
bad:
	snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: not a safetensors file (header length %llu, file %zu bytes)", path,
	         (unsigned long long)hlen, len);
out:
	free(buf);
	return rc;
}

int cf_model_load(const char *dir, cf_model **out, char *errbuf)
{
	char path[4096];
	*out = NULL;
	snprintf(path, sizeof path, "%s/config.json", dir);
	size_t len;
	char *js = nn_slurp(path, &len, errbuf);
	if (!js) return CF_ERR_IO;
	cf_nested_config c;
	cf_nested_config_default(&c);
	cf_flowpic_cnn_config fc;
	cf_flowpic_cnn_config_default(&fc, CF_FLOWPIC_CNN_OFFICIAL);
	const char *model = nn_json_value(js, "model");
	char mname[32] = "";
	int arch = -1;
	if (model && nn_json_string(model, mname, sizeof mname)) {
		if (!strcmp(mname, "nested")) arch = NN_ARCH_NESTED;
		else if (!strcmp(mname, "flowpic") || !strcmp(mname, "flowpic-mini")) arch = NN_ARCH_FLOWPIC;
	}
	if (arch < 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: not a cuflow model (\"model\": \"nested\", \"flowpic\" or "
		         "\"flowpic-mini\" missing)", path);
		free(js);
		return CF_ERR_CORRUPT;
	}
	int bad;
	if (arch == NN_ARCH_NESTED) {
		bad = json_int(js, "pkt_hidden", &c.pkt_hidden) | json_int(js, "ttl_vocab", &c.ttl_vocab) |
		      json_int(js, "ttl_dim", &c.ttl_dim) | json_int(js, "id_hidden", &c.id_hidden) |
		      json_int(js, "dense_units", &c.dense_units) | json_int(js, "dense_layers", &c.dense_layers) |
		      json_int(js, "classes", &c.classes) | json_int(js, "max_packets", &c.max_packets) |
		      json_int(js, "max_ids", &c.max_ids) | json_int(js, "reference_compat", &c.reference_compat);
	} else {
		cf_flowpic_cnn_config_default(&fc, strcmp(mname, "flowpic-mini") ? CF_FLOWPIC_CNN_OFFICIAL : CF_FLOWPIC_CNN_MINI);
		bad = json_int(js, "channels", &fc.channels) | json_int(js, "size", &fc.size) |
		      json_int(js, "classes", &fc.classes) | json_int(js, "conv1", &fc.conv1) | json_int(js, "conv2", &fc.conv2) |
		      json_int(js, "kernel", &fc.kernel) | json_int(js, "stride", &fc.stride) | json_int(js, "pool", &fc.pool) |
		      json_int(js, "hidden1", &fc.hidden1) | json_int(js, "hidden2", &fc.hidden2) |
		      json_int(js, "same_padding", &fc.same_padding) | json_int(js, "pad_sym", &fc.pad_sym) |
		      json_double(js, "drop_conv", &fc.drop_conv) | json_double(js, "drop_fc", &fc.drop_fc);
		c.classes = fc.classes;
		/* bounds a damaged file cannot exceed, so no size product overflows */
		if (!bad && (fc.size > 1 << 16 || fc.channels > 64 || fc.conv1 > 1 << 16 || fc.conv2 > 1 << 16 ||
		             fc.hidden1 > 1 << 20 || fc.hidden2 > 1 << 20 || fc.kernel > 1 << 12 || fc.stride > 1 << 12 ||
		             fc.pool > 1 << 12 || fc.pad_sym > 1 << 12 || cf_flowpic_cnn_shapes(&fc, NULL) != 0))
			bad = 1;
	}
	if (bad || c.classes < 1 || c.classes > 100000) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: a size is missing or malformed", path);
		free(js);
		return CF_ERR_CORRUPT;
	}
	char **names = calloc((size_t)c.classes, sizeof *names);
	const char *p = nn_json_value(js, "class_names");
	int rc = CF_OK;
	if (!names) rc = CF_ERR_NOMEM;
	else if (!p || *p != '[') rc = CF_ERR_CORRUPT;
	else {
		p++;
		for (int k = 0; k < c.classes && rc == CF_OK; k++) {
			char nm[512];
			while (isspace((unsigned char)*p) || *p == ',') p++;
			const char *q = nn_json_string(p, nm, sizeof nm);
			if (!q) rc = CF_ERR_CORRUPT;
			else if (!(names[k] = strdup(nm))) rc = CF_ERR_NOMEM;
			p = q;
		}
	}
	char *fp_preset = NULL, *fp_options = NULL;
	if (arch == NN_ARCH_FLOWPIC) {
		char pr[64];
		const char *v = nn_json_value(js, "flowpic_preset"), *o = nn_json_value(js, "flowpic_options");
		const char *e = o && *o == '{' ? strchr(o, '}') : NULL;
		if (v && nn_json_string(v, pr, sizeof pr) && e) {
			fp_preset = strdup(pr);
			fp_options = strndup(o, (size_t)(e - o + 1));
		}
	}
	free(js);
	if (rc == CF_ERR_CORRUPT) snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: class_names missing or shorter than classes", path);
	cf_model *m = NULL;
	if (rc == CF_OK) {
		/* the weights file must hold what the sizes imply: nothing is
		 * allocated for sizes a damaged config.json makes up */
		char wpath[4096];
		struct stat stw;
		snprintf(wpath, sizeof wpath, "%s/model.safetensors", dir);
		size_t need = arch == NN_ARCH_NESTED ? cf_nested_param_count(&c) : cf_flowpic_cnn_param_count(&fc);
		if (stat(wpath, &stw) == 0 && (c.ttl_vocab > 1 << 24 || c.max_packets > 1 << 16 || c.max_ids > 1 << 16 ||
		                               need > (size_t)stw.st_size / 4)) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: the sizes imply %zu parameters; %.100s holds %lld bytes", path,
			         need, "model.safetensors", (long long)stw.st_size);
			rc = CF_ERR_CORRUPT;
		}
	}
	if (rc == CF_OK) {
		char msg[CF_ERRBUF_SIZE];
		rc = arch == NN_ARCH_NESTED ? cf_model_create(&c, 0, (const char *const *)names, &m, msg)
		                            : nn_model_create_flowpic(&fc, 0, (const char *const *)names, &m, msg);
		if (rc) snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: %.200s", path, msg);
	}
	for (int k = 0; names && k < c.classes; k++) free(names[k]);
	free(names);
	if (rc) {
		free(fp_preset);
		free(fp_options);
		return rc;
	}
	m->fp_preset = fp_preset;
	m->fp_options = fp_options;
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	if ((rc = read_safetensors(m, path, errbuf))) {
		cf_model_free(m);
		return rc;
	}
	*out = m;
	return CF_OK;
}
