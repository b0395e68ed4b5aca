/*
 * Fuzz target: Joy-compatible records (cuflow/joy.h) of a capture.
 *
 * The whole input is a capture (the seeds are fuzz_reader's). Every frame
 * the reader yields goes to the Joy tracker from a private copy of exactly
 * caplen bytes, so a read past caplen is an ASan error (the tracker must
 * read short frames as zero-padded, never past them). Checked besides
 * memory safety: every line written is one JSON object ('{' ... "}\n", no
 * other newline); the tracker only fails on a failed write or memory.
 * Work per input is bounded (FUZZ_MAX_FRAMES frames).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/cuflow.h"
#include "cuflow/joy.h"
#include "fuzz_common.h"

#define FUZZ_MAX_FRAMES 20000

static int check_line(void *user, const char *text, size_t len)
{
	(void)user;
	if (len < 3 || text[0] != '{' || text[len - 2] != '}' || text[len - 1] != '\n')
		FUZZ_FAIL("a Joy record is not one JSON object on one line");
	if (memchr(text, '\n', len - 1))
		FUZZ_FAIL("a Joy record holds a newline");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CF_ERRBUF_SIZE];
	cf_reader *r = NULL;
	if (cf_reader_open_memory(data, size, "fuzz", &r, err) != CF_OK)
		return 0;
	cf_joy *j = NULL;
	if (cf_joy_open(check_line, NULL, &j, err) != CF_OK)
		FUZZ_FAIL("cf_joy_open failed");
	cf_frame f;
	int n = 0;
	while (n++ < FUZZ_MAX_FRAMES && cf_reader_next(r, &f) == CF_OK) {
		uint8_t *copy = malloc(f.caplen ? f.caplen : 1);
		if (!copy)
			break;
		memcpy(copy, f.data, f.caplen);
		f.data = copy;
		int st = cf_joy_frame(j, &f);
		free(copy);
		if (st != CF_OK)
			FUZZ_FAIL("cf_joy_frame failed without a failed write");
	}
	if (cf_joy_end(j) != CF_OK)
		FUZZ_FAIL("cf_joy_end failed without a failed write");
	cf_joy_close(j);
	cf_reader_close(r);
	return 0;
}
