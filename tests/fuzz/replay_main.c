/*
 * main() for the fuzz targets when the compiler has no libFuzzer (gcc):
 * runs LLVMFuzzerTestOneInput once on each file named on the command line,
 * and on each file inside each directory named. Arguments starting with
 * '-' are libFuzzer flags and are ignored, so the same command line
 * (e.g. `fuzz_reader -runs=0 DIR`) replays inputs in both builds.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		perror(path);
		return 1;
	}
	size_t cap = 1 << 16, n = 0, got;
	uint8_t *buf = malloc(cap);
	while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
		n += got;
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	fclose(fp);
	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", path);
		return 1;
	}
	/* An exact-size copy, as libFuzzer does, so overreads are caught. */
	uint8_t *exact = malloc(n ? n : 1);
	if (!exact) {
		free(buf);
		return 1;
	}
	memcpy(exact, buf, n);
	free(buf);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	int bad = 0, runs = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		struct stat st;
		if (arg[0] == '-')
			continue;
		if (stat(arg, &st) != 0) {
			perror(arg);
			bad = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad |= run_file(arg);
			runs++;
			continue;
		}
		DIR *d = opendir(arg);
		if (!d) {
			perror(arg);
			bad = 1;
			continue;
		}
		char **names = NULL;
		size_t count = 0;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char **nn = realloc(names, (count + 1) * sizeof *names);
			if (!nn)
				break;
			names = nn;
			size_t len = strlen(arg) + strlen(e->d_name) + 2;
			names[count] = malloc(len);
			if (!names[count])
				break;
			snprintf(names[count], len, "%s/%s", arg, e->d_name);
			count++;
		}
		closedir(d);
		qsort(names, count, sizeof *names, cmp);
		for (size_t k = 0; k < count; k++) {
			struct stat fs;
			if (stat(names[k], &fs) == 0 && S_ISREG(fs.st_mode)) {
				bad |= run_file(names[k]);
				runs++;
			}
			free(names[k]);
		}
		free(names);
	}
	fprintf(stderr, "replay: %d input(s) ran without a crash\n", runs);
	return bad;
}
