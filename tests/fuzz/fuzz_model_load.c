/*
 * Fuzz target: a model directory read back (cf_model_load: config.json and
 * model.safetensors). The input's first byte picks the file it replaces in
 * a valid directory written once (even: config.json, odd: the weights);
 * the rest is that file's bytes. Checked besides memory safety: a load
 * either succeeds with a model whose sizes are in range or fails with a
 * message naming the directory's file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuflow/cuflow.h"
#include "cuflow/model.h"
#include "fuzz_common.h"

static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CF_ERRBUF_SIZE] = "", path[128];
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/cuflow-fuzz-model-%d", (int)getpid());
		cf_nested_config c;
		cf_nested_config_default(&c);
		c.pkt_hidden = 4;
		c.id_hidden = 3;
		c.ttl_vocab = 16;
		c.ttl_dim = 2;
		c.dense_units = 5;
		c.dense_layers = 2;
		c.classes = 3;
		const char *names[3] = {"a", "b\"q", "c"};
		cf_model *m = NULL;
		if (cf_model_create(&c, 1, names, &m, err) != CF_OK || cf_model_save(m, dir, err) != CF_OK)
			FUZZ_FAIL("cannot write the seed model directory");
		cf_model_free(m);
	}
	if (size < 1)
		return 0;
	const char *which = (data[0] & 1) ? "model.safetensors" : "config.json";
	char keep[128];
	snprintf(path, sizeof path, "%s/%s", dir, which);
	snprintf(keep, sizeof keep, "%s/%s.keep", dir, which);
	/* keep the valid file aside, put the input in its place, restore after */
	if (access(keep, F_OK) != 0 && link(path, keep) != 0)
		return 0;
	unlink(path);
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data + 1, 1, size - 1, f);
	fclose(f);
	cf_model *m = NULL;
	int st = cf_model_load(dir, &m, err);
	if (st == CF_OK) {
		const cf_nested_config *c = cf_model_config(m);
		if (c->classes < 1 || c->pkt_hidden < 1 || c->id_hidden < 1 || !cf_model_class_name(m, c->classes - 1))
			FUZZ_FAIL("a loaded model with sizes out of range");
		cf_model_free(m);
	} else if (!strstr(err, dir)) {
		FUZZ_FAIL("a load error that does not name the model's file");
	}
	unlink(path);
	if (link(keep, path) != 0)
		FUZZ_FAIL("cannot restore the seed file");
	return 0;
}
