/* Labels for producers: one labeler per producer instance, numbered so
 * that ids do not depend on which worker saw which input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/errbuf.h"
#include "cuflow/producers.h"
#include "cuflow/run.h"
#include "produce/produce_internal.h"

void cf_producer_labels_default(cf_producer_labels *l)
{
	memset(l, 0, sizeof *l);
	cf_label_opts_default(&l->csv_opts);
}

int cf_producer_labels_on(const cf_producer_labels *l)
{
	return l && (l->csv || l->constant || l->from_dir);
}

int cf_producer_labels_dir_names(cf_producer_labels *l, const cf_run_inputs *in, char ***names, char *errbuf)
{
	*names = NULL;
	if (!l || !l->from_dir)
		return CF_OK;
	size_t n = cf_run_inputs_count(in);
	char **v = calloc(n ? n : 1, sizeof *v);
	if (!v)
		return cf_errf(errbuf, CF_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		char name[4096] = "unknown";
		cf_label_dir_name(cf_run_inputs_path(in, i), name, sizeof name);
		if (!(v[i] = strdup(name))) {
			cf_producer_labels_free_dir_names(v, i);
			return cf_errf(errbuf, CF_ERR_NOMEM, "out of memory");
		}
	}
	l->dir_names = (const char *const *)v;
	l->n_dir_names = (uint32_t)n;
	*names = v;
	return CF_OK;
}

void cf_producer_labels_free_dir_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int cf_produce_labeler_open(const cf_producer_labels *l, cf_labeler **out, char *errbuf)
{
	*out = NULL;
	if (!cf_producer_labels_on(l))
		return CF_OK;
	if (!!l->csv + !!l->constant + !!l->from_dir > 1) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "labels: csv, constant and from_dir exclude each other");
		return CF_ERR_ARG;
	}
	if (l->csv)
		return cf_labeler_open_csv(l->csv, &l->csv_opts, out, errbuf);
	if (l->constant)
		return cf_labeler_open_constant(l->constant, out, errbuf);
	/* from_dir: the run's directory names first, in input order */
	const char *first = l->n_dir_names ? l->dir_names[0] : "unknown";
	int st = cf_labeler_open_constant(first, out, errbuf);
	for (uint32_t i = 1; st >= 0 && i < l->n_dir_names; i++)
		st = cf_labeler_set_constant(*out, l->dir_names[i]);
	if (st < 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "labels: %s", cf_status_str(st));
		cf_labeler_close(*out);
		*out = NULL;
		return st;
	}
	return CF_OK;
}

void cf_produce_labeler_file(cf_labeler *lab, const cf_producer_labels *l, const char *path)
{
	char name[4096];
	if (lab && l->from_dir && cf_label_dir_name(path, name, sizeof name) == CF_OK)
		cf_labeler_set_constant(lab, name);
}
