/*
 * cuflow_bench_reader: reader and decoder throughput against libpcap.
 *
 * All modes read the same file in the same process, single-threaded,
 * interleaved (A B C A B C ...) so that drift on a noisy machine hits every
 * mode alike; the median of the runs is reported. The file is read once
 * before timing and its page-cache residency is checked before every run,
 * so what is measured is parsing, not the disk.
 *
 *   libpcap        pcap_open_offline + pcap_next_ex, minimal header touch
 *   cuflow-read    cf_reader_open + cf_reader_next, the same touch
 *   cuflow-decode  cf_read_decode (default options) in runs of 32 records, as
 *                  the scan pipeline reads; CF_BENCH_PER_FRAME=1: cf_reader_next +
 *                  cf_decode_frame per frame
 *   floor          read() of the file into a 1 MiB buffer (no parsing)
 *
 * Exit status: 0 ok, 1 usage, 2 a reader failed, 3 the readers disagree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "cuflow/cuflow.h"

enum mode { M_FLOOR, M_LIBPCAP, M_READ, M_DECODE, M_COUNT };

static const char *const mode_name[M_COUNT] = {
	[M_FLOOR] = "floor",
	[M_LIBPCAP] = "libpcap",
	[M_READ] = "cuflow-read",
	[M_DECODE] = "cuflow-decode",
};

/* One timed pass over the file. */
typedef struct result {
	double secs;
	double cpu;        /* process CPU seconds (user + system) of the pass */
	uint64_t packets;
	uint64_t touch;    /* caplen + ethertype, summed: equal for libpcap and cuflow-read */
	uint64_t fields;   /* decode: sport + dport + proto, summed */
	uint64_t decoded;  /* decode: frames with skip == CF_SKIP_NONE */
} result;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time next to wall time: when cpu/wall drops well below 1 the pass
 * waited for the CPU (a busy machine) and its wall time is suspect. */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The same bytes for both readers: caplen and the ethertype field. */
static inline uint64_t touch(uint32_t caplen, const uint8_t *data)
{
	uint64_t t = caplen;
	if (caplen >= 14)
		t += (uint64_t)data[12] << 8 | data[13];
	return t;
}

static int run_floor(const char *path, result *res)
{
	static char buf[1 << 20];
	double t0 = now();
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	uint64_t sum = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		sum += (uint8_t)buf[n - 1];  /* one byte per chunk: read() did the copy */
	close(fd);
	res->secs = now() - t0;
	res->touch = sum;
	return n < 0 ? -1 : 0;
}

static int run_libpcap(const char *path, result *res)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	double t0 = now();
	pcap_t *p = pcap_open_offline(path, errbuf);
	if (!p) {
		fprintf(stderr, "bench: libpcap: %s\n", errbuf);
		return -1;
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t n = 0, t = 0;
	int rc;
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		t += touch(h->caplen, data);
		n++;
	}
	if (rc != PCAP_ERROR_BREAK) {
		fprintf(stderr, "bench: libpcap: %s after %" PRIu64 " packets\n", pcap_geterr(p), n);
		pcap_close(p);
		return -1;
	}
	pcap_close(p);
	res->secs = now() - t0;
	res->packets = n;
	res->touch = t;
	return 0;
}

static int run_cuflow(const char *path, int decode, result *res)
{
	char errbuf[CF_ERRBUF_SIZE];
	cf_reader *r;
	cf_decode_opts opts;
	cf_decode_opts_default(&opts);
	double t0 = now();
	int rc = cf_reader_open(path, &r, errbuf);
	if (rc != CF_OK) {
		fprintf(stderr, "bench: cuflow: %s (%s)\n", errbuf, cf_status_str(rc));
		return -1;
	}
	cf_frame f;
	cf_pkt pkt;
	uint64_t n = 0, t = 0, fields = 0, decoded = 0;
	if (decode && getenv("CF_BENCH_PER_FRAME")) { /* the per-frame API, for comparison */
		while ((rc = cf_reader_next(r, &f)) == CF_OK) {
			cf_decode_frame(&opts, &f, &pkt);
			fields += (uint64_t)pkt.sport + pkt.dport + pkt.proto;
			decoded += pkt.skip == CF_SKIP_NONE;
			n++;
		}
	} else if (decode) {
		static cf_pkt run[32]; /* as the scan pipeline reads: runs of 32 records */
		size_t got;
		while ((rc = cf_read_decode(r, &opts, run, 32, &got)) == CF_OK) {
			for (size_t i = 0; i < got; i++) {
				fields += (uint64_t)run[i].sport + run[i].dport + run[i].proto;
				decoded += run[i].skip == CF_SKIP_NONE;
			}
			n += got;
		}
	} else {
		while ((rc = cf_reader_next(r, &f)) == CF_OK) {
			t += touch(f.caplen, f.data);
			n++;
		}
	}
	if (rc != CF_EOF) {
		fprintf(stderr, "bench: cuflow: %s (%s) after %" PRIu64 " packets\n", cf_reader_error(r),
			cf_status_str(rc), n);
		cf_reader_close(r);
		return -1;
	}
	cf_reader_close(r);
	res->secs = now() - t0;
	res->packets = n;
	res->touch = t;
	res->fields = fields;
	res->decoded = decoded;
	return 0;
}

static int run_mode(int m, const char *path, result *res)
{
	memset(res, 0, sizeof *res);
	double c0 = cpu_now();
	int rc;
	switch (m) {
	case M_FLOOR: rc = run_floor(path, res); break;
	case M_LIBPCAP: rc = run_libpcap(path, res); break;
	case M_READ: rc = run_cuflow(path, 0, res); break;
	default: rc = run_cuflow(path, 1, res); break;
	}
	res->cpu = cpu_now() - c0;
	return rc;
}

/* Reads the whole file once so that every mode finds it in the page cache. */
static int warm(const char *path)
{
	result r;
	return run_floor(path, &r);
}

/* Fraction of the file's pages in the page cache (mincore does not fault
 * them in). A reader that drops the cache behind itself would otherwise
 * make the next mode pay for the disk. */
static double resident_fraction(const char *path, uint64_t size)
{
	if (size == 0)
		return 1.0;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1.0;
	void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -1.0;
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = (size + (uint64_t)page - 1) / (uint64_t)page;
	unsigned char *vec = malloc(pages);
	double frac = -1.0;
	if (vec && mincore(map, size, vec) == 0) {
		size_t in = 0;
		for (size_t i = 0; i < pages; i++)
			in += vec[i] & 1;
		frac = (double)in / (double)pages;
	}
	free(vec);
	munmap(map, size);
	return frac;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double *s = malloc(sizeof *s * (size_t)n);
	memcpy(s, v, sizeof *s * (size_t)n);
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

static double minimum(const double *v, int n)
{
	double m = v[0];
	for (int i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

/* A JSON string: the path is the only free text we print. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cuflow_bench_reader FILE [--runs N] [--mode MODE] [--json] [--cpu N]\n"
		"\n"
		"  --runs N     interleaved runs per mode, median reported (default 5)\n"
		"  --mode MODE  libpcap, cuflow-read, cuflow-decode, floor or all (default all:\n"
		"               floor, libpcap, cuflow-read, cuflow-decode)\n"
		"  --json       machine-readable results on stdout (the table goes to stderr)\n"
		"  --cpu N      pin the process to CPU N\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL, *mode = "all";
	int runs = 5, json = 0, cpu = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			mode = argv[++i];
		} else if (!strcmp(argv[i], "--cpu") && i + 1 < argc) {
			cpu = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' || path) {
			usage(stderr);
			return 1;
		} else {
			path = argv[i];
		}
	}
	if (!path || runs < 1) {
		usage(stderr);
		return 1;
	}
	int on[M_COUNT] = { 0 };
	if (!strcmp(mode, "all")) {
		for (int m = 0; m < M_COUNT; m++)
			on[m] = 1;
	} else {
		int found = 0;
		for (int m = 0; m < M_COUNT; m++)
			if (!strcmp(mode, mode_name[m]))
				on[m] = found = 1;
		if (!found) {
			fprintf(stderr, "bench: unknown mode '%s'\n", mode);
			usage(stderr);
			return 1;
		}
	}
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0)
			fprintf(stderr, "bench: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
	}

	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return 2;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (warm(path) != 0)
		return 2;
	double resident = resident_fraction(path, size);
	if (resident >= 0 && resident < 0.99)
		fprintf(stderr, "bench: warning: only %.0f%% of %s stays in the page cache "
			"(not enough memory?): numbers include disk reads\n", resident * 100, path);

	double *secs[M_COUNT] = { 0 }, *cpus[M_COUNT] = { 0 };
	result first[M_COUNT];
	int rewarmed = 0;
	memset(first, 0, sizeof first);
	for (int m = 0; m < M_COUNT; m++)
		if (on[m])
		{
			secs[m] = calloc((size_t)runs, sizeof(double));
			cpus[m] = calloc((size_t)runs, sizeof(double));
		}
	for (int i = 0; i < runs; i++) {
		for (int m = 0; m < M_COUNT; m++) {
			if (!on[m])
				continue;
			/* Someone (a reader's fadvise, memory pressure) evicted pages:
			 * put them back so this run reads from memory too. */
			double f = resident_fraction(path, size);
			if (f >= 0 && f < resident - 0.01) {
				rewarmed++;
				warm(path);
			}
			result r;
			if (run_mode(m, path, &r) != 0)
				return 2;
			secs[m][i] = r.secs;
			cpus[m][i] = r.cpu;
			if (i == 0) {
				first[m] = r;
			} else if (r.packets != first[m].packets || r.touch != first[m].touch ||
				   r.fields != first[m].fields) {
				fprintf(stderr, "bench: %s: run %d differs from run 1 (%" PRIu64
					" vs %" PRIu64 " packets)\n", mode_name[m], i + 1, r.packets,
					first[m].packets);
				return 3;
			}
			fprintf(stderr, "  run %d/%d %-14s %8.3f s  cpu %3.0f%%\n", i + 1, runs, mode_name[m],
				r.secs, 100 * r.cpu / r.secs);
		}
	}

	/* Both readers must have seen the same frames. */
	int bad = 0;
	if (on[M_LIBPCAP]) {
		for (int m = M_READ; m <= M_DECODE; m++) {
			if (on[m] && first[m].packets != first[M_LIBPCAP].packets) {
				fprintf(stderr, "bench: MISMATCH: %s read %" PRIu64 " packets, libpcap %" PRIu64 "\n",
					mode_name[m], first[m].packets, first[M_LIBPCAP].packets);
				bad = 1;
			}
		}
		if (on[M_READ] && first[M_READ].touch != first[M_LIBPCAP].touch) {
			fprintf(stderr, "bench: MISMATCH: caplen/ethertype checksum cuflow-read %" PRIu64
				" != libpcap %" PRIu64 "\n", first[M_READ].touch, first[M_LIBPCAP].touch);
			bad = 1;
		}
	}

	double med[M_COUNT] = { 0 }, best[M_COUNT] = { 0 }, medcpu[M_COUNT] = { 0 };
	for (int m = 0; m < M_COUNT; m++) {
		if (on[m]) {
			med[m] = median(secs[m], runs);
			best[m] = minimum(secs[m], runs);
			medcpu[m] = median(cpus[m], runs);
		}
	}
	/* Paired ratio: libpcap time / mode time within one round, median over
	 * rounds. Less sensitive to slow phases of the machine than the ratio
	 * of medians. */
	double paired[M_COUNT] = { 0 };
	if (on[M_LIBPCAP]) {
		double *q = malloc(sizeof *q * (size_t)runs);
		for (int m = 0; m < M_COUNT; m++) {
			if (!on[m])
				continue;
			for (int i = 0; i < runs; i++)
				q[i] = secs[M_LIBPCAP][i] / secs[m][i];
			paired[m] = median(q, runs);
		}
		free(q);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);

	FILE *out = json ? stderr : stdout;
	fprintf(out, "file %s: %" PRIu64 " bytes, page cache %.0f%%, median of %d interleaved runs, 1 thread\n",
		path, size, resident * 100, runs);
	fprintf(out, "%-14s %12s %9s %9s %8s %10s %10s %6s\n", "mode", "packets", "seconds", "Mpps", "GB/s",
		"x libpcap", "(paired)", "cpu");
	for (int m = 0; m < M_COUNT; m++) {
		if (!on[m])
			continue;
		double gbps = (double)size / med[m] / 1e9;
		if (m == M_FLOOR)
			fprintf(out, "%-14s %12s %9.3f %9s %8.2f", mode_name[m], "-", med[m], "-", gbps);
		else
			fprintf(out, "%-14s %12" PRIu64 " %9.3f %9.2f %8.2f", mode_name[m], first[m].packets,
				med[m], (double)first[m].packets / med[m] / 1e6, gbps);
		if (on[M_LIBPCAP])
			fprintf(out, " %9.2fx %9.2fx", med[M_LIBPCAP] / med[m], paired[m]);
		else
			fprintf(out, " %10s %10s", "-", "-");
		fprintf(out, " %5.0f%%\n", 100 * medcpu[m] / med[m]);
	}
	fprintf(out, "checksum:");
	if (on[M_LIBPCAP])
		fprintf(out, " libpcap touch=%" PRIu64, first[M_LIBPCAP].touch);
	if (on[M_READ])
		fprintf(out, " cuflow-read touch=%" PRIu64, first[M_READ].touch);
	if (on[M_DECODE])
		fprintf(out, " cuflow-decode ports+proto=%" PRIu64 " decoded=%" PRIu64, first[M_DECODE].fields,
			first[M_DECODE].decoded);
	fprintf(out, "\n");
	fprintf(out, "packet counts: %s; peak RSS %ld MB%s\n",
		bad ? "MISMATCH" : on[M_LIBPCAP] && (on[M_READ] || on[M_DECODE]) ? "libpcap == cuflow" : "not compared",
		ru.ru_maxrss / 1024, rewarmed ? "; page cache re-warmed between runs" : "");

	if (json) {
		printf("{\"file\":");
		json_str(path);
		printf(",\"bytes\":%" PRIu64 ",\"runs\":%d,\"page_cache\":%.4f,"
		       "\"rewarmed\":%d,\"counts_match\":%s,\"peak_rss_kb\":%ld,\"modes\":[",
		       size, runs, resident, rewarmed, bad ? "false" : "true", ru.ru_maxrss);
		int comma = 0;
		for (int m = 0; m < M_COUNT; m++) {
			if (!on[m])
				continue;
			printf("%s{\"mode\":\"%s\",\"packets\":%" PRIu64 ",\"seconds\":%.6f,\"seconds_min\":%.6f,"
			       "\"mpps\":%.4f,\"gbps\":%.4f", comma ? "," : "", mode_name[m], first[m].packets,
			       med[m], best[m], (double)first[m].packets / med[m] / 1e6,
			       (double)size / med[m] / 1e9);
			if (on[M_LIBPCAP])
				printf(",\"ratio\":%.4f,\"ratio_paired\":%.4f", med[M_LIBPCAP] / med[m], paired[m]);
			printf(",\"cpu_seconds\":%.6f", medcpu[m]);
			printf(",\"touch\":%" PRIu64 ",\"fields\":%" PRIu64 ",\"decoded\":%" PRIu64 ",\"runs_s\":[",
			       first[m].touch, first[m].fields, first[m].decoded);
			for (int i = 0; i < runs; i++)
				printf("%s%.6f", i ? "," : "", secs[m][i]);
			printf("]}");
			comma = 1;
		}
		printf("]}\n");
	}
	for (int m = 0; m < M_COUNT; m++) {
		free(secs[m]);
		free(cpus[m]);
	}
	return bad ? 3 : 0;
}
