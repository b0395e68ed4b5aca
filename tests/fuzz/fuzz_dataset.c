/*
 * Fuzz target: a `cuflow extract` dataset read as the nested model's input
 * (nn_extract.c through nn_dataset_load, with the shared .npy reader). The
 * input's first byte picks the file it replaces in a valid two-row dataset
 * written once (schema.json, features.npy, sequences.npy, lengths.npy,
 * labels.npy); the rest is that file's bytes. Checked besides memory
 * safety: a load either succeeds with labels inside its classes and packet
 * offsets that add up, or fails with a message naming the dataset.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cuflow/cuflow.h"
#include "cuflow/model.h"
#include "fuzz_common.h"
#include "nn/nn_internal.h"

static char dir[64];
static const char *const files[] = {"schema.json", "features.npy", "sequences.npy", "lengths.npy", "labels.npy"};

/* A version-1 .npy: header padded so the data starts at a multiple of 64. */
static void write_npy(const char *name, const char *descr, const char *shape, const void *data, size_t n)
{
	char path[128], hdr[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int h = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
	int total = 10 + h + 1, pad = (64 - total % 64) % 64;
	FILE *f = fopen(path, "wb");
	if (!f) FUZZ_FAIL("cannot write %s", path);
	uint16_t hl = (uint16_t)(h + pad + 1);
	fwrite("\x93NUMPY\x01\x00", 1, 8, f);
	fputc(hl & 0xff, f);
	fputc(hl >> 8, f);
	fwrite(hdr, 1, (size_t)h, f);
	for (int k = 0; k < pad; k++) fputc(' ', f);
	fputc('\n', f);
	fwrite(data, 1, n, f);
	fclose(f);
}

static void write_seed(void)
{
	snprintf(dir, sizeof dir, "/tmp/cuflow-fuzz-dataset-%d", (int)getpid());
	mkdir(dir, 0755);
	char path[128];
	snprintf(path, sizeof path, "%s/schema.json", dir);
	FILE *f = fopen(path, "wb");
	if (!f) FUZZ_FAIL("cannot write %s", path);
	fputs("{\"rows\": 2, \"features\": {\"dtype\": \"float32\", \"columns\": [{\"name\": \"bidirectional_duration_ns\"}, "
	      "{\"name\": \"src2dst_packets\"}, {\"name\": \"src2dst_bytes\"}, {\"name\": \"dst2src_packets\"}, "
	      "{\"name\": \"dst2src_bytes\"}]}, \"sequences\": {\"length\": 4}, \"labels\": {\"names\": [\"a\", \"b\\\"q\"]}}",
	      f);
	fclose(f);
	float feat[10] = {1e9f, 3, 300, 1, 60, 5e6f, 1, 1500, 0, 0};
	float seq[24] = {100, 0, 1, 60, 2e6f, -1, 100, 3e6f, 1, 0, 0, 0, 1500, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	int32_t len[2] = {3, 1}, lab[2] = {1, 0};
	write_npy("features.npy", "<f4", "(2, 5)", feat, sizeof feat);
	write_npy("sequences.npy", "<f4", "(2, 4, 3)", seq, sizeof seq);
	write_npy("lengths.npy", "<i4", "(2,)", len, sizeof len);
	write_npy("labels.npy", "<i4", "(2,)", lab, sizeof lab);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CF_ERRBUF_SIZE] = "", path[128], keep[160];
	if (!dir[0]) write_seed();
	if (size < 1) return 0;
	const char *which = files[data[0] % 5];
	snprintf(path, sizeof path, "%s/%s", dir, which);
	snprintf(keep, sizeof keep, "%s/%s.keep", dir, which);
	if (access(keep, F_OK) != 0 && link(path, keep) != 0) return 0;
	unlink(path);
	FILE *f = fopen(path, "wb");
	if (!f) return 0;
	fwrite(data + 1, 1, size - 1, f);
	fclose(f);
	nn_dataset d;
	memset(&d, 0, sizeof d);
	const char *in[1] = {dir};
	if (nn_extract_is_dataset(dir)) {
		int st = nn_dataset_load(&d, in, 1, CF_MODEL_LABEL_FIELD, NULL, 0, 0, NULL, NULL, err);
		if (st == CF_OK) {
			for (size_t i = 0; i < d.n; i++) {
				if (d.label[i] < 0 || d.label[i] >= d.n_classes) FUZZ_FAIL("a label outside the classes");
				if (d.pkt_off[i + 1] < d.pkt_off[i] || d.pkt_off[i + 1] > d.n_pkts) FUZZ_FAIL("packet offsets");
			}
		} else if (!strstr(err, dir)) {
			FUZZ_FAIL("a load error that does not name the dataset: %s", err);
		}
		nn_dataset_free(&d);
	}
	unlink(path);
	if (link(keep, path) != 0) FUZZ_FAIL("cannot restore the seed file");
	return 0;
}
