/*
 * A small CSV record reader for the label files (internal): RFC 4180
 * quoting, records spanning lines inside quotes, a UTF-8 BOM on the first
 * line, CRLF, fields trimmed of spaces and tabs, empty lines skipped.
 */
#ifndef CUFLOW_COMMON_CSV_READER_H
#define CUFLOW_COMMON_CSV_READER_H

#include <stdint.h>
#include <stdio.h>

typedef struct csvr {
	FILE *f;             /* borrowed */
	const char *path;
	char *line;
	size_t line_cap;
	char *rec;           /* record spanning several lines */
	size_t rec_cap, rec_len;
	uint64_t lineno;     /* physical lines read */
	uint64_t rec_line;   /* line where the current record starts */
	char **fld;          /* the current record's fields */
	uint32_t nfld, fld_cap;
} csvr;

void csvr_init(csvr *c, FILE *f, const char *path);
/* Frees the buffers (not the FILE). */
void csvr_free(csvr *c);
/* Next record into c->fld[0..nfld): 1, 0 at end of file, -1 out of
 * memory, -2 an unterminated quote, -3 a read error. */
int csvr_next(csvr *c);

#endif
