/*
 * `cuflow flows --joy-compat`: Joy 4.5.0's records exactly (cuflow/joy.h),
 * one tracker run per input, written to OUT (plain or gzip) through
 * OUT.partial and a rename, or to stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cuflow/joy.h"
#include "cli.h"

typedef struct joy_out {
	FILE *f;
	gzFile gz;
	int failed;
} joy_out;

static int joy_write(void *user, const char *text, size_t len)
{
	joy_out *o = user;
	if (o->gz ? gzwrite(o->gz, text, (unsigned)len) != (int)len : fwrite(text, 1, len, o->f) != len)
		o->failed = 1;
	return o->failed ? -1 : 0;
}

int cli_flows_joy(const char *out_path, int gz, char **args, int nargs, int quiet)
{
	cf_run_inputs *in = cli_inputs_expand("flows", args, nargs);
	if (!in)
		return CLI_EXIT_USAGE;
	int to_stdout = !strcmp(out_path, "-");
	size_t plen = strlen(out_path) + 16;
	char *partial = malloc(plen);
	joy_out o = {0};
	cf_joy *j = NULL;
	char err[CF_ERRBUF_SIZE];
	int rc = CLI_EXIT_USAGE, damaged = 0;
	if (!partial)
		goto done;
	snprintf(partial, plen, "%s.partial", out_path);
	if (to_stdout)
		o.f = stdout;
	else if (gz ? !(o.gz = gzopen(partial, "wb")) : !(o.f = fopen(partial, "w"))) {
		fprintf(stderr, "cuflow flows: cannot create %s\n", partial);
		goto done;
	}
	if (cf_joy_open(joy_write, &o, &j, err) < 0) {
		fprintf(stderr, "cuflow flows: %s\n", err);
		goto done;
	}
	char line[2048];
	size_t n = cf_joy_config_line(line, sizeof line, out_path);
	if (n >= sizeof line || joy_write(&o, line, n) < 0)
		goto done;
	uint64_t frames_total = 0;
	for (size_t i = 0; i < cf_run_inputs_count(in) && !o.failed; i++) {
		uint64_t frames = 0;
		int st = cf_joy_scan_file(j, cf_run_inputs_path(in, i), &frames, err);
		frames_total += frames;
		if (st == CF_ERR_IO && o.failed)
			break;
		if (st < 0) {
			fprintf(stderr, "cuflow flows: %s\n", err);
			if (st == CF_ERR_NOMEM)
				goto done;
			damaged = 1;
		}
	}
	if (o.failed) {
		fprintf(stderr, "cuflow flows: writing %s failed\n", to_stdout ? "standard output" : out_path);
		goto done;
	}
	if (!quiet)
		fprintf(stderr, "cuflow flows: --joy-compat: %llu frames, %llu records\n",
		        (unsigned long long)frames_total, (unsigned long long)cf_joy_records(j));
	rc = damaged ? CLI_EXIT_DAMAGED : CLI_EXIT_OK;
done:
	cf_joy_close(j);
	if (o.gz && gzclose(o.gz) != Z_OK && rc != CLI_EXIT_USAGE) {
		fprintf(stderr, "cuflow flows: writing %s failed\n", out_path);
		rc = CLI_EXIT_USAGE;
	}
	if (o.f && !to_stdout && fclose(o.f) != 0 && rc != CLI_EXIT_USAGE) {
		fprintf(stderr, "cuflow flows: writing %s failed\n", out_path);
		rc = CLI_EXIT_USAGE;
	}
	if (to_stdout && fflush(stdout) != 0 && rc != CLI_EXIT_USAGE)
		rc = CLI_EXIT_USAGE;
	if (!to_stdout && partial) {
		if (rc != CLI_EXIT_USAGE && rename(partial, out_path) != 0) {
			fprintf(stderr, "cuflow flows: cannot rename %s to %s\n", partial, out_path);
			rc = CLI_EXIT_USAGE;
		}
		if (rc == CLI_EXIT_USAGE)
			remove(partial);
	}
	free(partial);
	cf_run_inputs_free(in);
	return rc;
}
