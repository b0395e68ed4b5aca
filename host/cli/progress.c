/* Progress line on stderr for long runs: shown only on a terminal, at most
 * four updates a second, erased at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

struct cli_progress {
	const char *label;
	int enabled;
	int shown;
	double start, last;
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

cli_progress *cli_progress_start(const char *label, int enabled)
{
	cli_progress *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->label = label;
	p->enabled = enabled && isatty(2);
	p->start = p->last = now_s();
	return p;
}

static void human_bytes(double b, char *out, size_t cap)
{
	const char *u[] = {"B", "kB", "MB", "GB", "TB"};
	int i = 0;
	while (b >= 1000 && i < 4)
		b /= 1000, i++;
	snprintf(out, cap, "%.1f %s", b, u[i]);
}

void cli_progress_update(void *vp, uint64_t done, uint64_t total, uint64_t packets)
{
	cli_progress *p = vp;
	if (!p || !p->enabled)
		return;
	double t = now_s();
	if (t - p->last < 0.25)
		return;
	p->last = t;
	double el = t - p->start;
	char d[32], tot[32], rate[32];
	human_bytes((double)done, d, sizeof d);
	human_bytes(total ? (double)total : 0, tot, sizeof tot);
	human_bytes(el > 0 ? done / el : 0, rate, sizeof rate);
	fprintf(stderr, "\r\033[K%s: %s", p->label, d);
	if (total) {
		double eta = done ? el * (double)(total - (done < total ? done : total)) / (double)done : 0;
		fprintf(stderr, " / %s (%.0f%%)", tot, 100.0 * (double)done / (double)total);
		fprintf(stderr, ", %.1f Mpkts, %s/s, ETA %d:%02d", packets / 1e6, rate, (int)eta / 60, (int)eta % 60);
	} else {
		fprintf(stderr, ", %.1f Mpkts, %s/s", packets / 1e6, rate);
	}
	p->shown = 1;
}

void cli_progress_end(cli_progress *p)
{
	if (!p)
		return;
	if (p->shown)
		fprintf(stderr, "\r\033[K");
	free(p);
}

/* A whole run: files done of all, input bytes, packets, rate, ETA from the
 * bytes (the files' sizes, known at the start). */
void cli_progress_run(void *vp, const cf_run_progress *rp)
{
	cli_progress *p = vp;
	if (!p || !p->enabled)
		return;
	double t = now_s();
	if (t - p->last < 0.25)
		return;
	p->last = t;
	double el = rp->elapsed_s;
	char d[32], tot[32], rate[32];
	human_bytes((double)rp->bytes_done, d, sizeof d);
	human_bytes((double)rp->bytes_total, tot, sizeof tot);
	human_bytes(el > 0 ? rp->bytes_done / el : 0, rate, sizeof rate);
	uint64_t left = rp->bytes_total > rp->bytes_done ? rp->bytes_total - rp->bytes_done : 0;
	double eta = rp->bytes_done ? el * (double)left / (double)rp->bytes_done : 0;
	fprintf(stderr, "\r\033[K%s: %zu/%zu files, %s / %s", p->label, rp->files_done, rp->files_total, d, tot);
	if (rp->bytes_total)
		fprintf(stderr, " (%.0f%%)", 100.0 * (double)rp->bytes_done / (double)rp->bytes_total);
	fprintf(stderr, ", %.1f Mpkts, %s/s, ETA %d:%02d", rp->packets_done / 1e6, rate, (int)eta / 60, (int)eta % 60);
	p->shown = 1;
}
