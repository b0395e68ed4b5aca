/* Expanding the command line's inputs: files, directories (recursive,
 * names in bytewise order), glob patterns and @LIST files. */
#define _GNU_SOURCE /* qsort_r */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cuflow/reader.h"
#include "run/run_internal.h"

struct entry {
	char *path;
	long dup_of;
	int have_id;
	dev_t dev;
	ino_t ino;
	uint64_t size;    /* from the same stat, for the run (one stat per input) */
	int64_t mtime_ns;
};

struct cf_run_inputs {
	struct entry *v;
	size_t n, cap;
};

/* st: the path's stat when the caller has it (NULL: stat it here) */
static int add(cf_run_inputs *in, const char *path, const struct stat *st_known, char *err)
{
	if (in->n == in->cap) {
		size_t cap = in->cap ? 2 * in->cap : 64;
		struct entry *v = realloc(in->v, cap * sizeof *v);
		if (!v)
			goto nomem;
		in->v = v, in->cap = cap;
	}
	struct entry *e = &in->v[in->n];
	memset(e, 0, sizeof *e);
	e->dup_of = -1;
	if (!(e->path = strdup(path)))
		goto nomem;
	struct stat st;
	if (strcmp(path, "-") && (st_known || stat(path, &st) == 0)) {
		if (st_known)
			st = *st_known;
		e->have_id = 1, e->dev = st.st_dev, e->ino = st.st_ino;
		e->size = (uint64_t)st.st_size;
		e->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	}
	in->n++;
	return CF_OK;
nomem:
	snprintf(err, CF_ERRBUF_SIZE, "out of memory listing the inputs");
	return CF_ERR_NOMEM;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(cf_run_inputs *in, const char *dir, int depth, char *err)
{
	if (depth > 64) {
		snprintf(err, CF_ERRBUF_SIZE, "%s: directories nested too deep (a symbolic link loop?)", dir);
		return CF_ERR_ARG;
	}
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, CF_ERRBUF_SIZE, "cannot read directory %s: %s", dir, strerror(errno));
		return CF_ERR_IO;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = CF_OK;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			char **v = realloc(names, cap * sizeof *v);
			if (!v) {
				rc = CF_ERR_NOMEM;
				break;
			}
			names = v;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = CF_ERR_NOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == CF_OK)
		qsort(names, n, sizeof *names, cmp_str);
	else
		snprintf(err, CF_ERRBUF_SIZE, "out of memory listing %s", dir);
	size_t dl = strlen(dir);
	for (size_t i = 0; i < n && rc == CF_OK; i++) {
		size_t len = dl + strlen(names[i]) + 2;
		char *p = malloc(len);
		if (!p) {
			snprintf(err, CF_ERRBUF_SIZE, "out of memory listing %s", dir);
			rc = CF_ERR_NOMEM;
			break;
		}
		snprintf(p, len, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", names[i]);
		struct stat st;
		int ok = stat(p, &st) == 0;
		if (ok && S_ISDIR(st.st_mode))
			rc = walk(in, p, depth + 1, err);
		else if (!ok || S_ISREG(st.st_mode))
			rc = add(in, p, ok ? &st : NULL, err); /* a dangling link is reported when read */
		/* sockets, fifos, devices inside a directory are left out */
		free(p);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int expand_one(cf_run_inputs *in, const char *arg, int allow_list, char *err)
{
	struct stat st;
	if (!strcmp(arg, "-"))
		return add(in, arg, NULL, err);
	if (allow_list && arg[0] == '@' && arg[1]) {
		FILE *f = fopen(arg + 1, "r");
		if (!f) {
			snprintf(err, CF_ERRBUF_SIZE, "cannot read the list %s: %s", arg + 1, strerror(errno));
			return CF_ERR_IO;
		}
		char *line = NULL;
		size_t cap = 0;
		ssize_t len;
		int rc = CF_OK;
		while (rc == CF_OK && (len = getline(&line, &cap, f)) >= 0) {
			while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
				line[--len] = 0;
			if (len)
				rc = expand_one(in, line, 0, err);
		}
		if (rc == CF_OK && ferror(f)) {
			snprintf(err, CF_ERRBUF_SIZE, "cannot read the list %s", arg + 1);
			rc = CF_ERR_IO;
		}
		free(line);
		fclose(f);
		return rc;
	}
	if (stat(arg, &st) == 0)
		return S_ISDIR(st.st_mode) ? walk(in, arg, 0, err) : add(in, arg, &st, err);
	if (strpbrk(arg, "*?[")) {
		glob_t g;
		int r = glob(arg, 0, NULL, &g); /* glob sorts its matches (strcoll; LC_COLLATE is C in the CLI) */
		if (r == GLOB_NOMATCH) {
			snprintf(err, CF_ERRBUF_SIZE, "no input matches '%s'", arg);
			return CF_ERR_ARG;
		}
		if (r) {
			snprintf(err, CF_ERRBUF_SIZE, "cannot expand '%s'", arg);
			return r == GLOB_NOSPACE ? CF_ERR_NOMEM : CF_ERR_IO;
		}
		qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, cmp_str); /* bytewise, whatever the locale */
		int rc = CF_OK;
		for (size_t i = 0; i < g.gl_pathc && rc == CF_OK; i++)
		{
			int ok = stat(g.gl_pathv[i], &st) == 0;
			rc = ok && S_ISDIR(st.st_mode) ? walk(in, g.gl_pathv[i], 0, err) : add(in, g.gl_pathv[i], ok ? &st : NULL, err);
		}
		globfree(&g);
		return rc;
	}
	return add(in, arg, NULL, err); /* missing: reported as the file's error when it is read */
}

/* Duplicates: the same file (device, inode), or the same text for a path
 * that cannot be stat'ed: entries sorted by that key, then by index; each
 * later entry of a group repeats the group's first. */
static int cmp_key(const void *a, const void *b, void *arg)
{
	const cf_run_inputs *in = arg;
	const struct entry *x = &in->v[*(const size_t *)a], *y = &in->v[*(const size_t *)b];
	if (x->have_id != y->have_id)
		return x->have_id < y->have_id ? -1 : 1;
	if (x->have_id) {
		if (x->dev != y->dev)
			return x->dev < y->dev ? -1 : 1;
		if (x->ino != y->ino)
			return x->ino < y->ino ? -1 : 1;
	} else {
		int c = strcmp(x->path, y->path);
		if (c)
			return c;
	}
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static int mark_duplicates(cf_run_inputs *in)
{
	size_t *ix = malloc(in->n * sizeof *ix);
	if (!ix)
		return CF_ERR_NOMEM;
	for (size_t i = 0; i < in->n; i++)
		ix[i] = i;
	qsort_r(ix, in->n, sizeof *ix, cmp_key, in);
	for (size_t i = 1; i < in->n; i++) {
		const struct entry *first = &in->v[ix[i - 1]];
		struct entry *e = &in->v[ix[i]];
		/* "-" again is standard input again: a duplicate too (two workers
		 * reading one stream would each get part of it) */
		int same = e->have_id == first->have_id &&
		           (e->have_id ? e->dev == first->dev && e->ino == first->ino : !strcmp(e->path, first->path));
		if (same)
			e->dup_of = first->dup_of >= 0 ? first->dup_of : (long)ix[i - 1];
	}
	free(ix);
	return CF_OK;
}

int cf_run_inputs_expand(const char *const *args, int n, cf_run_inputs **out, char *errbuf)
{
	char tmp[CF_ERRBUF_SIZE];
	char *err = errbuf ? errbuf : tmp;
	*out = NULL;
	cf_run_inputs *in = calloc(1, sizeof *in);
	if (!in) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	int rc = CF_OK;
	for (int i = 0; i < n && rc == CF_OK; i++)
		rc = expand_one(in, args[i], 1, err);
	if (rc == CF_OK && in->n && mark_duplicates(in) != CF_OK) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		rc = CF_ERR_NOMEM;
	}
	if (rc == CF_OK && !in->n) {
		snprintf(err, CF_ERRBUF_SIZE, "no input file (empty directories or list)");
		rc = CF_ERR_ARG;
	}
	if (rc != CF_OK) {
		cf_run_inputs_free(in);
		return rc;
	}
	*out = in;
	return CF_OK;
}

size_t cf_run_inputs_count(const cf_run_inputs *in)
{
	return in ? in->n : 0;
}

const char *cf_run_inputs_path(const cf_run_inputs *in, size_t i)
{
	return in && i < in->n ? in->v[i].path : NULL;
}

int cf_run_inputs_stat(const cf_run_inputs *in, size_t i, uint64_t *size, int64_t *mtime_ns)
{
	if (!in || i >= in->n || !in->v[i].have_id)
		return -1;
	*size = in->v[i].size;
	*mtime_ns = in->v[i].mtime_ns;
	return 0;
}

int cf_run_inputs_id(const cf_run_inputs *in, size_t i, dev_t *dev, ino_t *ino)
{
	if (!in || i >= in->n || !in->v[i].have_id)
		return -1;
	*dev = in->v[i].dev;
	*ino = in->v[i].ino;
	return 0;
}

long cf_run_inputs_duplicate_of(const cf_run_inputs *in, size_t i)
{
	return in && i < in->n ? in->v[i].dup_of : -1;
}

struct timed {
	int64_t ts;
	size_t index;
};

static int cmp_timed(const void *a, const void *b)
{
	const struct timed *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

int cf_run_inputs_sort_by_time(cf_run_inputs *in, char *errbuf)
{
	char tmp[CF_ERRBUF_SIZE];
	char *err = errbuf ? errbuf : tmp;
	struct timed *t = malloc((in->n ? in->n : 1) * sizeof *t);
	struct entry *v = malloc((in->n ? in->n : 1) * sizeof *v);
	if (!t || !v) {
		free(t), free(v);
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	for (size_t i = 0; i < in->n; i++) {
		if (!strcmp(in->v[i].path, "-")) {
			free(t), free(v);
			snprintf(err, CF_ERRBUF_SIZE, "standard input cannot be ordered by time (it is read once)");
			return CF_ERR_ARG;
		}
		t[i].index = i;
		t[i].ts = INT64_MAX; /* no packet, or not a capture: last, reported when read */
		cf_reader *rd = NULL;
		char e[CF_ERRBUF_SIZE];
		cf_frame f;
		if (cf_reader_open(in->v[i].path, &rd, e) == CF_OK && cf_reader_next(rd, &f) == CF_OK)
			t[i].ts = f.ts_ns;
		cf_reader_close(rd);
	}
	qsort(t, in->n, sizeof *t, cmp_timed);
	for (size_t i = 0; i < in->n; i++) {
		v[i] = in->v[t[i].index];
		v[i].dup_of = -1;
	}
	memcpy(in->v, v, in->n * sizeof *v);
	free(t), free(v);
	if (in->n && mark_duplicates(in) != CF_OK) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	return CF_OK;
}

void cf_run_inputs_free(cf_run_inputs *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->n; i++)
		free(in->v[i].path);
	free(in->v);
	free(in);
}
