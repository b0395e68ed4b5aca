/*
 * Fuzz target: the Joy file reader (cf_joy_reader) on any bytes, written
 * to a temporary file (the reader takes paths; zlib reads it plain or
 * gzip). Checked besides memory safety: statuses are CF_OK, CF_EOF or a
 * negative code with a message naming the line; after an error every
 * later call returns the same status; packets are in range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuflow/cuflow.h"
#include "cuflow/joy.h"
#include "fuzz_common.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		snprintf(path, sizeof path, "/tmp/cuflow-fuzz-joy-%d.json", (int)getpid());
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	char err[CF_ERRBUF_SIZE];
	cf_joy_reader *r = NULL;
	if (cf_joy_reader_open(path, &r, err) != CF_OK)
		return 0;
	cf_joy_flow fl;
	int st, n = 0;
	while ((st = cf_joy_reader_next(r, &fl)) == CF_OK && n++ < 100000) {
		for (size_t i = 0; i < fl.npackets; i++)
			if (fl.packets[i].dir != 1 && fl.packets[i].dir != -1)
				FUZZ_FAIL("a packet direction other than > or <");
		if (!memchr(fl.sa, 0, sizeof fl.sa) || !memchr(fl.da, 0, sizeof fl.da))
			FUZZ_FAIL("an address without its NUL");
	}
	if (st != CF_OK && st != CF_EOF) {
		if (st > 0 || !strstr(cf_joy_reader_error(r), ": line "))
			FUZZ_FAIL("status %d without a message naming the line", st);
		if (cf_joy_reader_next(r, &fl) != st)
			FUZZ_FAIL("the reader did not stay stopped");
	}
	cf_joy_reader_close(r);
	return 0;
}
