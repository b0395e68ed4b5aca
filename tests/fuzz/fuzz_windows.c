/*
 * Fuzz target: cuflow windows' entries CSV parser and the windowing behind
 * it (cf_windows_add_csv, host/windows/). The first byte picks the options
 * (tumbling / sliding / seed batching, window length, distinct, empty,
 * lateness); the rest is the CSV. Checked besides memory safety: the run
 * either succeeds or fails with a message naming the file and line, and
 * every row it writes is consistent (distinct counts and state counts
 * within the window's entries, max within them, NaN only without groups).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuflow/cuflow.h"
#include "fuzz_common.h"

static char path[64];

static int check_rows(void *user, const cf_table_batch *b)
{
	const cf_table_schema *s = user;
	int32_t ne = cf_table_schema_find(s, "num_entries"), cd = cf_table_schema_find(s, "count_dst_port");
	int32_t mx = cf_table_schema_find(s, "src_ip_per_dst_ip_max"), mean = cf_table_schema_find(s, "src_ip_per_dst_ip_mean");
	int32_t st0 = cf_table_schema_find(s, "num_state_closed");
	if (ne < 0 || cd < 0 || mx < 0 || mean < 0 || st0 < 0)
		FUZZ_FAIL("windows schema lacks a column");
	for (int64_t r = 0; r < b->n_rows; r++) {
		int64_t n = ((const int64_t *)b->columns[ne].values)[r];
		int64_t d = ((const int64_t *)b->columns[cd].values)[r];
		double m = ((const double *)b->columns[mean].values)[r];
		int64_t states = 0;
		for (int k = 0; k < CF_WSTATE_COUNT; k++)
			states += ((const int64_t *)b->columns[st0 + k].values)[r];
		const uint8_t *v = b->columns[mx].validity;
		int has_max = !v || (v[r / 8] >> (r % 8) & 1);
		int64_t maxv = ((const int64_t *)b->columns[mx].values)[r];
		if (n < 0 || d < 0 || d > n || states != n)
			FUZZ_FAIL("row %lld: %lld entries, %lld dst ports, %lld in states", (long long)r, (long long)n,
			          (long long)d, (long long)states);
		if (n > 0 && (!has_max || maxv < 1 || maxv > n || !(m >= 1 && m <= (double)maxv)))
			FUZZ_FAIL("row %lld: max %lld mean %g of %lld entries", (long long)r, (long long)maxv, m, (long long)n);
		if (n == 0 && (has_max || !isnan(m)))
			FUZZ_FAIL("empty row %lld has a distribution", (long long)r);
	}
	return CF_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (!path[0])
		snprintf(path, sizeof path, "/tmp/cuflow-fuzz-windows-%d.csv", (int)getpid());
	FILE *f = fopen(path, "wb");
	if (!f)
		FUZZ_FAIL("cannot write %s", path);
	fwrite(data + 1, 1, size - 1, f);
	fclose(f);
	uint8_t sel = data[0];
	cf_windows_opts o;
	cf_windows_opts_default(&o);
	static const int64_t lens[4] = {10000000000ll, 1000000000ll, 500000000ll, 60000000000ll};
	o.window_ns = lens[sel & 3];
	o.batching = (sel >> 2 & 3) == 3 ? CF_WINDOWS_SEED : CF_WINDOWS_TUMBLING;
	if (o.batching == CF_WINDOWS_SEED && o.window_ns % 1000000000ll)
		o.window_ns = 10000000000ll;
	if ((sel >> 2 & 3) == 2)
		o.step_ns = o.window_ns / 2;
	o.distinct = sel >> 4 & 1;
	o.empty = sel >> 5 & 1;
	o.lateness_ns = sel >> 6 & 1 ? 0 : 1000000000ll;
	o.batch_windows = sel >> 7 ? 1 : 256;
	o.label_column = sel >> 7;
	char err[CF_ERRBUF_SIZE];
	cf_windows *w = NULL;
	if (cf_windows_create(&o, NULL, &w, err) != CF_OK)
		FUZZ_FAIL("create: %s", err);
	cf_windows_set_emit(w, check_rows, (void *)cf_windows_schema(w));
	if (o.label_column)
		cf_windows_set_label(w, "fuzz");
	int st = cf_windows_add_csv(w, path);
	if (st == CF_OK)
		st = cf_windows_finish(w);
	if (st != CF_OK && strncmp(cf_windows_error(w), path, strlen(path)) != 0 &&
	    !strstr(cf_windows_error(w), "out of range"))
		FUZZ_FAIL("error without the file: %s", cf_windows_error(w));
	cf_windows_free(w);
	return 0;
}
