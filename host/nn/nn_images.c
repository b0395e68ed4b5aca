/* FlowPic images for the CNNs: `cuflow flowpic` output directories
 * (flowpic.npy or its shards, labels.npy, meta.json's class names) read
 * into sparse pixel lists, since an image is almost all zeros. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cuflow/npy_read.h"
#include "cuflow/status.h"
#include "nn/nn_internal.h"

void nn_images_free(nn_images *d)
{
	free(d->off); free(d->pc); free(d->py); free(d->px); free(d->pv); free(d->label);
	for (int k = 0; k < d->n_classes; k++) free(d->classes[k]);
	free(d->classes);
	free(d->preset);
	free(d->options);
	memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------ meta.json */

static char **meta_names(const char *dir, int *count, char *errbuf)
{
	char path[4200], why[CF_ERRBUF_SIZE];
	snprintf(path, sizeof path, "%s/meta.json", dir);
	*count = 0;
	size_t n;
	char *js = nn_slurp(path, &n, why); /* no meta.json: no names (the labels stay numbers) */
	if (!js) return NULL;
	char **names = nn_json_strings(nn_json_value(js, "names"), count);
	free(js);
	(void)errbuf;
	return names;
}

/* meta.json's "preset" and "options" (the object's text: it has no nested
 * object), or NULL. */
static void meta_opts(const char *dir, char **preset, char **options)
{
	*preset = *options = NULL;
	char path[4200], why[CF_ERRBUF_SIZE], buf[64];
	snprintf(path, sizeof path, "%s/meta.json", dir);
	size_t n;
	char *js = nn_slurp(path, &n, why);
	if (!js) return;
	const char *p = nn_json_value(js, "preset");
	if (p && nn_json_string(p, buf, sizeof buf)) *preset = strdup(buf);
	const char *o = nn_json_value(js, "options");
	const char *e = o && *o == '{' ? strchr(o, '}') : NULL;
	if (e) *options = strndup(o, (size_t)(e - o + 1));
	free(js);
}

/* ------------------------------------------------------------ loading */

static int grow_pixels(nn_images *d, size_t need)
{
	if (need <= d->cap) return 0;
	size_t c = d->cap ? d->cap * 2 : 1 << 16;
	while (c < need) c *= 2;
	int32_t *a = realloc(d->pc, c * 4), *b, *e;
	if (!a) return -1;
	d->pc = a;
	if (!(b = realloc(d->py, c * 4))) return -1;
	d->py = b;
	if (!(e = realloc(d->px, c * 4))) return -1;
	d->px = e;
	float *v = realloc(d->pv, c * sizeof(float));
	if (!v) return -1;
	d->pv = v;
	d->cap = c;
	return 0;
}

static int fopen_ok(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) return 0;
	fclose(f);
	return 1;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* One directory's images (every shard) into d, labels mapped through map. */
static int load_dir(nn_images *d, const char *dir, const int32_t *map, int n_map, uint64_t max, char *errbuf)
{
	char ipath[4200], lpath[4200];
	int rc = CF_OK;
	for (int shard = -1; shard < 100000 && rc == CF_OK; shard++) {
		if (shard < 0) {
			snprintf(ipath, sizeof ipath, "%s/flowpic.npy", dir);
			snprintf(lpath, sizeof lpath, "%s/labels.npy", dir);
		} else {
			snprintf(ipath, sizeof ipath, "%s/flowpic-%05d.npy", dir, shard);
			snprintf(lpath, sizeof lpath, "%s/labels-%05d.npy", dir, shard);
		}
		FILE *probe = fopen(ipath, "rb");
		if (!probe) {
			if (shard < 0) continue;     /* no single file: shards */
			if (shard == 0) {
				snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: no flowpic.npy (nor flowpic-00000.npy): not a cuflow flowpic "
				         "output directory", dir);
				return CF_ERR_IO;
			}
			break;
		}
		fclose(probe);
		cf_npy_file im, lb;
		if ((rc = cf_npy_file_open(ipath, &im, errbuf))) return rc;
		int no_labels = n_map < 0; /* predict: every image, labels optional */
		if (no_labels && !fopen_ok(lpath)) {
			memset(&lb, 0, sizeof lb);
			lb.ndim = 1;
			lb.shape[0] = im.shape[0];
			lb.size = 0;
		} else if ((rc = cf_npy_file_open(lpath, &lb, errbuf))) {
			fclose(im.f);
			snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: no labels (flowpic ... --label, --label-from-dir or --labels "
			         "writes them)", lpath);
			return rc;
		}
		if (im.ndim != 4 || lb.ndim != 1 || lb.shape[0] != im.shape[0] || im.shape[2] != im.shape[3] ||
		    (d->size && ((int)im.shape[1] != d->channels || (int)im.shape[2] != d->size))) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: shape (%llu, %llu, %llu, %llu) does not fit (N, %d, %d, %d) and "
			         "its labels", ipath, (unsigned long long)im.shape[0], (unsigned long long)im.shape[1],
			         (unsigned long long)im.shape[2], (unsigned long long)im.shape[3], d->channels, d->size, d->size);
			fclose(im.f);
			fclose(lb.f);
			return CF_ERR_CORRUPT;
		}
		d->channels = (int)im.shape[1];
		d->size = (int)im.shape[2];
		size_t per = (size_t)d->channels * d->size * d->size, row_bytes = per * (size_t)im.size;
		unsigned char *row = malloc(row_bytes), lab[8];
		if (!row) { fclose(im.f); fclose(lb.f); return CF_ERR_NOMEM; }
		for (uint64_t r = 0; r < im.shape[0] && rc == CF_OK; r++) {
			if (fread(row, 1, row_bytes, im.f) != row_bytes ||
			    (lb.f && fread(lab, 1, (size_t)lb.size, lb.f) != (size_t)lb.size)) {
				snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: image %llu: file ends early", ipath, (unsigned long long)r);
				rc = CF_ERR_TRUNCATED;
				break;
			}
			if (max && d->n >= max) break;
			double lv = lb.f ? cf_npy_file_value(&lb, lab) : 0;
			int32_t y = no_labels ? 0 : lv >= 0 && lv < n_map ? map[(int)lv] : -1;
			if (y < 0) { d->skipped_unlabelled++; continue; }
			if (d->n + 1 >= d->n_cap) {
				size_t c = d->n_cap ? d->n_cap * 2 : 4096;
				uint64_t *o = realloc(d->off, (c + 1) * sizeof *o);
				int32_t *l = o ? realloc(d->label, c * sizeof *l) : NULL;
				if (o) d->off = o;
				if (!o || !l) { rc = CF_ERR_NOMEM; break; }
				d->label = l;
				if (!d->n_cap) d->off[0] = 0;
				d->n_cap = c;
			}
			size_t at = d->nnz;
			for (size_t k = 0; k < per; k++) {
				double v = cf_npy_file_value(&im, row + k * (size_t)im.size);
				if (v == 0) continue;
				if (grow_pixels(d, at + 1)) { rc = CF_ERR_NOMEM; break; }
				d->pc[at] = (int32_t)(k / ((size_t)d->size * d->size));
				d->py[at] = (int32_t)(k / (size_t)d->size % (size_t)d->size);
				d->px[at] = (int32_t)(k % (size_t)d->size);
				d->pv[at] = (float)v;
				at++;
			}
			d->nnz = at;
			d->label[d->n] = y;
			d->off[++d->n] = at;
		}
		free(row);
		fclose(im.f);
		if (lb.f) fclose(lb.f);
		if (shard < 0) break; /* a single file */
	}
	if (rc == CF_ERR_NOMEM) snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: out of memory", dir);
	return rc;
}

/* The flowpic directories of the inputs: a directory as it is, a file by
 * its directory (the commands expand a directory into its files), each
 * once, in order. */
char **nn_images_dirs(const char *const *in, int n, int *count)
{
	char **out = calloc((size_t)(n ? n : 1), sizeof *out);
	*count = 0;
	if (!out) return NULL;
	for (int i = 0; i < n; i++) {
		struct stat st;
		char *d = strdup(in[i]);
		if (!d) break;
		if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
			char *slash = strrchr(d, '/');
			if (slash && slash != d) *slash = 0;
			else if (slash) slash[1] = 0;
			else strcpy(d, ".");
		}
		int seen = 0;
		for (int j = 0; j < *count && !seen; j++) seen = !strcmp(out[j], d);
		if (seen) free(d);
		else out[(*count)++] = d;
	}
	return out;
}

int nn_images_load_all(nn_images *d, const char *dir, char *errbuf)
{
	/* every image: labels are not needed (map everything to class 0) */
	int32_t map[1] = {0};
	int n = 0;
	char **dl = nn_images_dirs(&dir, 1, &n);
	if (!dl) return CF_ERR_NOMEM;
	int rc = load_dir(d, dl[0], map, -1, 0, errbuf);
	free(dl[0]);
	free(dl);
	return rc;
}

int nn_images_load(nn_images *d, const char *const *inputs, int n_inputs, char *const *fixed, int n_fixed,
                   uint64_t max, void (*progress)(void *, uint64_t, uint64_t, uint64_t), void *user, char *errbuf)
{
	int n_dirs = 0;
	char **dirlist = nn_images_dirs(inputs, n_inputs, &n_dirs);
	if (!dirlist) return CF_ERR_NOMEM;
	const char *const *dirs = (const char *const *)dirlist;
	/* the classes: the fixed ones, or every directory's names sorted */
	char **all = NULL;
	int n_all = 0, rc = CF_OK;
	if (fixed) {
		for (int k = 0; k < n_fixed; k++) {
			char **q = realloc(all, (size_t)(n_all + 1) * sizeof *q);
			if (!q || !(q[n_all] = strdup(fixed[k]))) { free(q ? q : all); return CF_ERR_NOMEM; }
			all = q;
			n_all++;
		}
	} else {
		for (int i = 0; i < n_dirs; i++) {
			int cnt;
			char **names = meta_names(dirs[i], &cnt, errbuf);
			for (int k = 0; k < cnt; k++) {
				int seen = 0;
				for (int j = 0; j < n_all && !seen; j++) seen = !strcmp(all[j], names[k]);
				if (seen) { free(names[k]); continue; }
				char **q = realloc(all, (size_t)(n_all + 1) * sizeof *q);
				if (!q) { rc = CF_ERR_NOMEM; free(names[k]); continue; }
				all = q;
				all[n_all++] = names[k];
			}
			free(names);
		}
		if (n_all > 1) qsort(all, (size_t)n_all, sizeof *all, cmp_name);
	}
	for (int i = 0; i < n_dirs && rc == CF_OK; i++) {
		int cnt;
		char **names = meta_names(dirs[i], &cnt, errbuf);
		int32_t *map = calloc((size_t)(cnt ? cnt : 1), sizeof *map);
		if (!map) rc = CF_ERR_NOMEM;
		for (int k = 0; map && k < cnt; k++) {
			map[k] = -1;
			for (int j = 0; j < n_all; j++)
				if (!strcmp(all[j], names[k])) map[k] = j;
		}
		if (rc == CF_OK) rc = load_dir(d, dirs[i], map, cnt, max, errbuf);
		for (int k = 0; k < cnt; k++) free(names[k]);
		free(names);
		free(map);
		if (progress && rc == CF_OK) progress(user, (uint64_t)i + 1, (uint64_t)n_dirs, (uint64_t)d->n);
	}
	d->classes = all;
	d->n_classes = n_all;
	/* how the images were made, when every directory agrees */
	for (int i = 0; i < n_dirs && rc == CF_OK; i++) {
		char *pr, *op;
		meta_opts(dirs[i], &pr, &op);
		int same = i == 0 || (d->preset && d->options && pr && op && !strcmp(pr, d->preset) && !strcmp(op, d->options));
		if (i == 0) {
			d->preset = pr;
			d->options = op;
			continue;
		}
		free(pr);
		free(op);
		if (!same) {
			free(d->preset);
			free(d->options);
			d->preset = d->options = NULL;
			break;
		}
	}
	for (int i = 0; i < n_dirs; i++) free(dirlist[i]);
	free(dirlist);
	return rc;
}
