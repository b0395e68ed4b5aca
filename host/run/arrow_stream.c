/* A run of the dataset engine as an Arrow record batch stream
 * (cuflow/arrow.h): cf_run with CF_RUN_CALLBACK in a thread of its own,
 * its batches exported into a small queue that get_next drains. */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/arrow.h"
#include "cuflow/backend.h"
#include "cuflow/iot.h"
#include "cuflow/label.h"
#include "cuflow/netml.h"
#include "cuflow/producers.h"
#include "cuflow/run.h"

#define QUEUE 4 /* batches the run may be ahead of the consumer */

struct stream {
	cf_run_opts o;
	const cf_run_inputs *in;
	uint32_t table;
	cf_table_schema *schema;       /* the table's (a copy) */
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ArrowArray q[QUEUE];
	int head, len;
	int done, cancel, status;
	int strict, damaged;           /* strict: an input not read to its end fails the stream */
	char err[CF_ERRBUF_SIZE];
	/* cf_arrow_stream_open's own: what it made for the run */
	cf_run_inputs *own_in;
	void *own_config;
	char *own_options;             /* the options' text, cut into the strings the config points at */
	char **own_dir_names;          /* label_from_dir: the inputs' directory names (one per input) */
	/* the caller's progress callback (the run's user pointer is the stream) */
	void (*progress)(void *user, const cf_run_progress *p);
	void *progress_user;
};

static void on_progress(void *user, const cf_run_progress *p)
{
	struct stream *s = user;
	s->progress(s->progress_user, p);
}

void cf_run_progress_store(void *user, const cf_run_progress *p)
{
	cf_run_progress *d = user;
	uint64_t secs;
	memcpy(&secs, &p->elapsed_s, sizeof secs);
	__atomic_store_n(&d->files_done, p->files_done, __ATOMIC_RELAXED);
	__atomic_store_n(&d->files_total, p->files_total, __ATOMIC_RELAXED);
	__atomic_store_n(&d->bytes_done, p->bytes_done, __ATOMIC_RELAXED);
	__atomic_store_n(&d->bytes_total, p->bytes_total, __ATOMIC_RELAXED);
	__atomic_store_n(&d->packets_done, p->packets_done, __ATOMIC_RELAXED);
	__atomic_store_n((uint64_t *)(void *)&d->elapsed_s, secs, __ATOMIC_RELEASE);
}

static int on_batch(void *user, uint32_t table, const cf_table_schema *schema, const cf_table_batch *b)
{
	struct stream *s = user;
	if (table != s->table)
		return CF_OK;
	struct ArrowArray a;
	char err[CF_ERRBUF_SIZE];
	int st = cf_arrow_export_batch(schema, b, &a, err);
	pthread_mutex_lock(&s->mu);
	if (st < 0) {
		snprintf(s->err, sizeof s->err, "%s", err);
		pthread_mutex_unlock(&s->mu);
		return st;
	}
	while (s->len == QUEUE && !s->cancel)
		pthread_cond_wait(&s->cv, &s->mu);
	if (s->cancel) {
		pthread_mutex_unlock(&s->mu);
		a.release(&a);
		return CF_ERR_IO; /* the consumer left: stop the run */
	}
	s->q[(s->head + s->len++) % QUEUE] = a;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return CF_OK;
}

static void on_file(void *user, const cf_run_file *f)
{
	struct stream *s = user;
	if (!s->strict || f->skipped || f->status >= 0)
		return;
	pthread_mutex_lock(&s->mu);
	if (!s->damaged++)
		snprintf(s->err, sizeof s->err, "%s", f->error && f->error[0] ? f->error : cf_status_str(f->status));
	pthread_mutex_unlock(&s->mu);
}

static void *run_main(void *arg)
{
	struct stream *s = arg;
	cf_run_result res;
	char err[CF_ERRBUF_SIZE] = "";
	int st = cf_run(&s->o, s->in, &res, err);
	pthread_mutex_lock(&s->mu);
	s->done = 1;
	s->status = st < 0 ? st : s->damaged ? CF_ERR_CORRUPT : CF_OK;
	if (st < 0 && !s->err[0])
		snprintf(s->err, sizeof s->err, "%s", err[0] ? err : cf_status_str(st));
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out)
{
	struct stream *s = st->private_data;
	return cf_arrow_export_schema(s->schema, out, NULL) == CF_OK ? 0 : ENOMEM;
}

static int get_next(struct ArrowArrayStream *st, struct ArrowArray *out)
{
	struct stream *s = st->private_data;
	pthread_mutex_lock(&s->mu);
	while (!s->len && !s->done)
		pthread_cond_wait(&s->cv, &s->mu);
	int rc = 0;
	if (s->len) {
		*out = s->q[s->head];
		s->head = (s->head + 1) % QUEUE;
		s->len--;
		pthread_cond_broadcast(&s->cv);
	} else if (s->status < 0) {
		rc = EIO;
	} else {
		memset(out, 0, sizeof *out); /* released: the end of the stream */
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static const char *get_last_error(struct ArrowArrayStream *st)
{
	struct stream *s = st->private_data;
	return s->err[0] ? s->err : NULL;
}

static void stream_free(struct stream *s)
{
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->cancel = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->th, NULL);
	}
	for (int i = 0; i < s->len; i++)
		s->q[(s->head + i) % QUEUE].release(&s->q[(s->head + i) % QUEUE]);
	cf_table_schema_free(s->schema);
	if (s->own_dir_names) /* one per input: counted before the inputs go */
		cf_producer_labels_free_dir_names(s->own_dir_names, cf_run_inputs_count(s->own_in));
	cf_run_inputs_free(s->own_in);
	free(s->own_config);
	free(s->own_options);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

static void stream_release(struct ArrowArrayStream *st)
{
	if (!st->release)
		return;
	stream_free(st->private_data);
	st->release = NULL;
}

static int emit_nothing(void *user, uint32_t table, const cf_table_batch *b)
{
	(void)user, (void)table, (void)b;
	return CF_OK;
}

/* The index of table `name` of the producer (NULL: 0) and a copy of its
 * schema, from an instance opened on a CPU backend for the purpose. */
static int find_table(const cf_run_opts *o, const char *name, uint32_t *t, cf_table_schema **schema, char *errbuf)
{
	cf_backend *be = NULL;
	int st = cf_backend_open(CF_BACKEND_CPU, &be, errbuf);
	if (st < 0)
		return st;
	cf_producer_env env = {be, emit_nothing, NULL};
	void *state = NULL;
	if ((st = o->producer->open(o->producer_config, &env, &state, errbuf)) < 0) {
		cf_backend_close(be);
		return st;
	}
	uint32_t n = o->producer->tables(state);
	st = CF_ERR_ARG;
	for (uint32_t i = 0; i < n; i++)
		if (!name || !strcmp(o->producer->table_name(state, i), name)) {
			*t = i;
			st = cf_table_schema_clone(o->producer->schema(state, i), schema, errbuf);
			break;
		}
	if (st == CF_ERR_ARG)
		snprintf(errbuf, CF_ERRBUF_SIZE, "producer %s has no table %s", o->producer->name, name ? name : "");
	o->producer->close(state);
	cf_backend_close(be);
	return st;
}

static int stream_start(struct stream *s, const char *table, struct ArrowArrayStream *out, char *errbuf)
{
	int st = find_table(&s->o, table, &s->table, &s->schema, errbuf);
	if (st < 0)
		return st;
	s->o.format = CF_RUN_CALLBACK;
	s->o.format_name = "arrow";
	s->o.output = "";
	s->o.on_batch = on_batch;
	s->o.on_file = on_file;
	s->o.on_progress = s->progress ? on_progress : NULL;
	s->o.user = s;
	if (pthread_create(&s->th, NULL, run_main, s) != 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "cannot start the stream's thread");
		return CF_ERR_NOMEM;
	}
	s->started = 1;
	out->get_schema = get_schema;
	out->get_next = get_next;
	out->get_last_error = get_last_error;
	out->release = stream_release;
	out->private_data = s;
	return CF_OK;
}

static struct stream *stream_new(void)
{
	struct stream *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	return s;
}

int cf_arrow_stream_run(const cf_run_opts *opts, const cf_run_inputs *inputs, const char *table,
                        struct ArrowArrayStream *out, char *errbuf)
{
	char tmp[CF_ERRBUF_SIZE];
	char *err = errbuf ? errbuf : tmp;
	if (!opts || !inputs || !out || !opts->producer || !opts->producer_config) {
		snprintf(err, CF_ERRBUF_SIZE, "arrow stream: bad arguments");
		return CF_ERR_ARG;
	}
	struct stream *s = stream_new();
	if (!s) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	s->o = *opts;
	s->in = inputs;
	s->progress = opts->on_progress;
	s->progress_user = opts->user;
	int st = stream_start(s, table, out, err);
	if (st < 0)
		stream_free(s);
	return st;
}

/* One option's value as seconds (> 0 unless zero_ok) into ns. */
static int opt_seconds(const char *key, const char *v, int64_t *ns, int zero_ok, char *err)
{
	char *end;
	double x = strtod(v, &end);
	if (end == v || *end || !(x >= 0) || x > 1e9 || (!zero_ok && x == 0)) {
		snprintf(err, CF_ERRBUF_SIZE, "option %.64s: want seconds (%s 1e9), not '%.64s'", key,
		         zero_ok ? "0 .." : "> 0 ..", v);
		return CF_ERR_ARG;
	}
	*ns = (int64_t)(x * 1e9);
	return CF_OK;
}

static int opt_flag(const char *key, const char *v, int *out, char *err)
{
	if (strcmp(v, "0") && strcmp(v, "1") && strcmp(v, "true") && strcmp(v, "false")) {
		snprintf(err, CF_ERRBUF_SIZE, "option %.64s: want 0 or 1, not '%.64s'", key, v);
		return CF_ERR_ARG;
	}
	*out = !strcmp(v, "1") || !strcmp(v, "true");
	return CF_OK;
}

/* The stream's options: one row per producer and key, the value written at
 * `off` in that producer's configuration ("*": the run's, in cf_run_opts). */
enum opt_kind {
	OPT_NS,        /* seconds >= 0 -> int64_t ns */
	OPT_NS_POS,    /* seconds > 0 -> int64_t ns */
	OPT_SEC,       /* seconds >= 0 -> double s */
	OPT_SEC_POS,   /* seconds > 0 -> double s */
	OPT_FLAG,      /* 0/1/true/false -> int */
	OPT_TCP_END,   /* a flag that compat=nfstream leaves alone once given */
	OPT_STR,       /* the text -> const char * */
	OPT_STR_NULL,  /* the text, "null" -> NULL */
	OPT_DIM,       /* 2 .. 2^23 -> uint32_t */
	OPT_INT_LABEL, /* an integer -> int64_t at off2, and int 1 at off */
	OPT_PRESET,    /* official/mini -> cf_flowpic_opts at off */
	OPT_COMPAT,    /* nfstream/none -> the cf_flow_opts at off */
	OPT_SIZE,      /* wire/captured/ip/transport/payload -> int (cf_flow_size_parse) */
	OPT_SEQ_LEN,   /* 0 .. 1024 -> uint32_t at off (the engine's) and off2 (the rows') */
	OPT_DTYPE      /* float32/float64 -> int 0/1 */
};

struct opt_def {
	const char *producer, *key;
	enum opt_kind kind;
	size_t off, off2;
};

#define FLOWS(m) offsetof(cf_flows_producer_config, m)
#define FEAT(m) offsetof(cf_features_producer_config, m)
#define PIC(m) offsetof(cf_flowpic_producer_config, m)
#define NETML(m) offsetof(cf_netml_producer_config, m)
#define WIN(m) offsetof(cf_windows_producer_config, m)
#define SESS(m) offsetof(cf_sessions_producer_config, m)
/* the flow engine's keys, in the configs that hold a cf_flow_opts `flow` */
#define FLOW_ENGINE_OPTIONS(name, AT)                                        \
	{name, "idle_timeout", OPT_NS, AT(flow.idle_timeout_ns), 0},         \
	{name, "active_timeout", OPT_NS, AT(flow.active_timeout_ns), 0},     \
	{name, "unidirectional", OPT_FLAG, AT(flow.unidirectional), 0},      \
	{name, "tcp_end", OPT_TCP_END, AT(flow.tcp_end), 0},                 \
	{name, "compat", OPT_COMPAT, AT(flow), 0},                           \
	{name, "size", OPT_SIZE, AT(flow.size_mode), 0}

static const struct opt_def OPTIONS[] = {
	{"*", "continuous", OPT_FLAG, offsetof(cf_run_opts, continuous), 0},
	{"*", "hook_thread", OPT_FLAG, offsetof(cf_run_opts, hook_thread), 0},
	FLOW_ENGINE_OPTIONS("flows", FLOWS),
	FLOW_ENGINE_OPTIONS("features", FEAT),
	{"features", "seq_len", OPT_SEQ_LEN, FEAT(flow.seq_len), FEAT(rows.seq_len)},
	{"features", "dtype", OPT_DTYPE, FEAT(rows.float64), 0},
	{"features", "label", OPT_STR, FEAT(labels.constant), 0},
	{"features", "label_from_dir", OPT_FLAG, FEAT(labels.from_dir), 0},
	{"features", "labels_csv", OPT_STR, FEAT(labels.csv), 0},
	{"flowpic", "preset", OPT_PRESET, PIC(pic), 0},
	{"flowpic", "label", OPT_STR, PIC(labels.constant), 0},
	{"flowpic", "label_from_dir", OPT_FLAG, PIC(labels.from_dir), 0},
	{"flowpic", "labels_csv", OPT_STR, PIC(labels.csv), 0},
	{"flowpic", "spill_dir", OPT_STR, PIC(pic.spill_dir), 0},
	{"netml", "dim", OPT_DIM, NETML(dim), 0},
	{"netml", "fft", OPT_FLAG, NETML(fft), 0},
	{"netml", "header", OPT_FLAG, NETML(header), 0},
	{"netml", "label", OPT_INT_LABEL, NETML(have_label), NETML(label)},
	{"netml", "labels_csv", OPT_STR, NETML(labels_csv), 0},
	{"netml", "spill_dir", OPT_STR, NETML(netml.spill_dir), 0},
	{"windows", "window", OPT_NS_POS, WIN(win.window_ns), 0},
	{"windows", "step", OPT_NS, WIN(win.step_ns), 0},
	{"windows", "distinct", OPT_FLAG, WIN(win.distinct), 0},
	{"windows", "empty", OPT_FLAG, WIN(win.empty), 0},
	{"windows", "lateness", OPT_NS, WIN(win.lateness_ns), 0},
	{"windows", "idle_timeout", OPT_NS_POS, WIN(win.idle_timeout_ns), 0},
	{"sessions", "idle_timeout", OPT_SEC_POS, SESS(idle_timeout_s), 0},
	{"sessions", "active_timeout", OPT_SEC, SESS(active_timeout_s), 0},
	{"sessions", "dns_timeout", OPT_SEC_POS, SESS(dns_timeout_s), 0},
	{"sessions", "device_types", OPT_STR, SESS(device_types), 0},
	{"sessions", "default_type", OPT_STR_NULL, SESS(default_type), 0},
	{"sessions", "ieee_data", OPT_STR, SESS(ieee_dir), 0},
};

/* The error for an unknown key: the producer's keys, from the table. */
static int unknown_option(const char *producer, const char *key, char *err)
{
	char list[512] = "";
	size_t n = 0;
	for (size_t i = 0; i < sizeof OPTIONS / sizeof OPTIONS[0]; i++)
		if (!strcmp(OPTIONS[i].producer, producer) && n < sizeof list)
			n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? " " : "", OPTIONS[i].key);
	snprintf(err, CF_ERRBUF_SIZE, "producer %.32s has no option %.64s (its options: %s; every producer's: "
	                              "continuous hook_thread)", producer, key, n ? list : "none");
	return CF_ERR_ARG;
}

/* Writes one option's value at base + d->off. */
static int set_option(const struct opt_def *d, char *base, const char *v, char *err)
{
	const char *k = d->key;
	char *end;
	int64_t ns;
	int f, st;
	switch (d->kind) {
	case OPT_NS:
	case OPT_NS_POS:
		return opt_seconds(k, v, (int64_t *)(void *)(base + d->off), d->kind == OPT_NS, err);
	case OPT_SEC:
	case OPT_SEC_POS:
		if ((st = opt_seconds(k, v, &ns, d->kind == OPT_SEC, err)) == CF_OK)
			*(double *)(void *)(base + d->off) = (double)ns / 1e9;
		return st;
	case OPT_FLAG:
	case OPT_TCP_END:
		if ((st = opt_flag(k, v, &f, err)) == CF_OK)
			*(int *)(void *)(base + d->off) = f;
		return st;
	case OPT_STR:
		*(const char **)(void *)(base + d->off) = v;
		return CF_OK;
	case OPT_STR_NULL:
		*(const char **)(void *)(base + d->off) = strcmp(v, "null") ? v : NULL;
		return CF_OK;
	case OPT_DIM: {
		unsigned long x = strtoul(v, &end, 10);
		if (!*v || *end || x < 2 || x > (1u << 23)) {
			snprintf(err, CF_ERRBUF_SIZE, "option %s: want 2 to 8388608, not '%.64s'", k, v);
			return CF_ERR_ARG;
		}
		*(uint32_t *)(void *)(base + d->off) = (uint32_t)x;
		return CF_OK;
	}
	case OPT_INT_LABEL: {
		long long x = strtoll(v, &end, 10);
		if (!*v || *end) {
			snprintf(err, CF_ERRBUF_SIZE, "option %s: want an integer, not '%.64s'", k, v);
			return CF_ERR_ARG;
		}
		*(int *)(void *)(base + d->off) = 1;
		*(int64_t *)(void *)(base + d->off2) = x;
		return CF_OK;
	}
	case OPT_PRESET:
		if (cf_flowpic_preset((cf_flowpic_opts *)(void *)(base + d->off), v) != CF_OK) {
			snprintf(err, CF_ERRBUF_SIZE, "option %s: official or mini, not '%.64s'", k, v);
			return CF_ERR_ARG;
		}
		return CF_OK;
	case OPT_SIZE:
		if (cf_flow_size_parse(v, (int *)(void *)(base + d->off)) != CF_OK) {
			snprintf(err, CF_ERRBUF_SIZE, "option %s: wire, captured, ip, transport or payload, not '%.64s'", k, v);
			return CF_ERR_ARG;
		}
		return CF_OK;
	case OPT_SEQ_LEN: {
		unsigned long x = strtoul(v, &end, 10);
		if (!*v || *end || x > 1024) {
			snprintf(err, CF_ERRBUF_SIZE, "option %s: want 0 to 1024, not '%.64s'", k, v);
			return CF_ERR_ARG;
		}
		*(uint32_t *)(void *)(base + d->off) = (uint32_t)x;
		*(uint32_t *)(void *)(base + d->off2) = (uint32_t)x;
		return CF_OK;
	}
	case OPT_DTYPE:
		if (strcmp(v, "float32") && strcmp(v, "float64")) {
			snprintf(err, CF_ERRBUF_SIZE, "option %s: float32 or float64, not '%.64s'", k, v);
			return CF_ERR_ARG;
		}
		*(int *)(void *)(base + d->off) = !strcmp(v, "float64");
		return CF_OK;
	case OPT_COMPAT:
		if (strcmp(v, "nfstream") && strcmp(v, "none")) {
			snprintf(err, CF_ERRBUF_SIZE, "option %s: nfstream or none, not '%.64s'", k, v);
			return CF_ERR_ARG;
		}
		((cf_flow_opts *)(void *)(base + d->off))->compat = strcmp(v, "nfstream") ? CF_COMPAT_NONE : CF_COMPAT_NFSTREAM;
		return CF_OK;
	}
	return CF_ERR_ARG;
}

/* Applies "key=value" options (one per line, or separated by ';') to the
 * producer's configuration and the run's keys; the strings stay in `text`
 * (the stream's). compat=nfstream then sets what the command line's
 * --compat nfstream sets besides (orientation, TCP end, tunnels). */
static int apply_options(const char *producer, void *config, char *text, cf_run_opts *run, char *err)
{
	cf_flow_opts *compat_fo = NULL;
	int tcp_end_given = 0;
	for (char *save = NULL, *kv = strtok_r(text, ";\n", &save); kv; kv = strtok_r(NULL, ";\n", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq) {
			snprintf(err, CF_ERRBUF_SIZE, "option '%.64s': want key=value", kv);
			return CF_ERR_ARG;
		}
		*eq = 0;
		const struct opt_def *d = NULL;
		for (size_t i = 0; i < sizeof OPTIONS / sizeof OPTIONS[0] && !d; i++)
			if ((!strcmp(OPTIONS[i].producer, producer) || !strcmp(OPTIONS[i].producer, "*")) &&
			    !strcmp(OPTIONS[i].key, kv))
				d = &OPTIONS[i];
		if (!d)
			return unknown_option(producer, kv, err);
		char *base = !strcmp(d->producer, "*") ? (char *)run : config;
		int st = set_option(d, base, eq + 1, err);
		if (st < 0)
			return st;
		tcp_end_given |= d->kind == OPT_TCP_END;
		if (d->kind == OPT_COMPAT)
			compat_fo = (cf_flow_opts *)(void *)(base + d->off);
	}
	if (compat_fo && compat_fo->compat == CF_COMPAT_NFSTREAM) {
		/* as the command line's --compat nfstream (host/cli/flow_setup.c):
		 * NFStream's orientation, its tunnels, no TCP end unless asked */
		compat_fo->orientation = CF_ORIENT_FIRST_PACKET;
		if (!tcp_end_given)
			compat_fo->tcp_end = 0;
		return cf_decode_parse_decap("gtp,capwap,tzsp,ipip", &run->decode.decap, err);
	}
	return CF_OK;
}

/* The labels of the producers that take them (features, flowpic), or NULL. */
static cf_producer_labels *labels_of(const char *producer, void *config)
{
	if (!strcmp(producer, "features"))
		return &((cf_features_producer_config *)config)->labels;
	if (!strcmp(producer, "flowpic"))
		return &((cf_flowpic_producer_config *)config)->labels;
	return NULL;
}

int cf_arrow_stream_open(const char *producer, const char *const *inputs, int n_inputs, const char *table,
                         uint32_t jobs, int strict, const char *options, struct ArrowArrayStream *out,
                         char *errbuf)
{
	return cf_arrow_stream_open_progress(producer, inputs, n_inputs, table, jobs, strict, options, NULL, NULL, out,
	                                     errbuf);
}

int cf_arrow_stream_open_progress(const char *producer, const char *const *inputs, int n_inputs, const char *table,
                                  uint32_t jobs, int strict, const char *options,
                                  void (*on_progress)(void *user, const cf_run_progress *p), void *user,
                                  struct ArrowArrayStream *out, char *errbuf)
{
	char tmp[CF_ERRBUF_SIZE];
	char *err = errbuf ? errbuf : tmp;
	if (!producer || !inputs || n_inputs < 1 || !out) {
		snprintf(err, CF_ERRBUF_SIZE, "arrow stream: bad arguments");
		return CF_ERR_ARG;
	}
	struct stream *s = stream_new();
	if (!s) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	cf_run_opts_default(&s->o);
	s->progress = on_progress;
	s->progress_user = user;
	s->strict = strict;
	s->o.jobs = jobs ? jobs : 1;
	s->o.backend_kind = CF_BACKEND_CPU;
	/* the producer's default configuration */
	union {
		cf_flows_producer_config flows;
		cf_netml_producer_config netml;
		cf_features_producer_config features;
		cf_flowpic_producer_config flowpic;
		cf_summary_producer_config summary;
		cf_windows_producer_config windows;
		cf_sessions_producer_config sessions;
	} *c = calloc(1, sizeof *c);
	s->own_config = c;
	int st = CF_OK;
	if (!c) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		st = CF_ERR_NOMEM;
	} else if (!strcmp(producer, "flows")) {
		cf_flows_producer_config_default(&c->flows);
		s->o.producer = cf_producer_flows();
	} else if (!strcmp(producer, "features")) {
		cf_features_producer_config_default(&c->features);
		s->o.producer = cf_producer_features();
	} else if (!strcmp(producer, "netml")) {
		/* only the table asked for is computed (its type; default IAT) */
		cf_netml_producer_config_default(&c->netml);
		int t = cf_netml_type_parse(table ? table : "IAT");
		if (t < 0) {
			snprintf(err, CF_ERRBUF_SIZE, "arrow stream: netml has no type %.64s", table);
			st = CF_ERR_ARG;
		} else {
			c->netml.types = 1u << t;
		}
		s->o.producer = cf_producer_netml();
	} else if (!strcmp(producer, "flowpic")) {
		cf_flowpic_producer_config_default(&c->flowpic);
		s->o.producer = cf_producer_flowpic();
	} else if (!strcmp(producer, "summary")) {
		cf_summary_producer_config_default(&c->summary);
		s->o.producer = cf_producer_summary();
	} else if (!strcmp(producer, "windows")) {
		cf_windows_producer_config_default(&c->windows);
		s->o.producer = cf_producer_windows();
	} else if (!strcmp(producer, "sessions")) {
		cf_sessions_producer_config_default(&c->sessions);
		s->o.producer = cf_producer_sessions();
	} else {
		snprintf(err, CF_ERRBUF_SIZE, "arrow stream: no producer %.64s with a default configuration "
		                              "(flows, features, netml, flowpic, summary, windows, sessions)", producer);
		st = CF_ERR_ARG;
	}
	s->o.producer_config = c;
	if (st == CF_OK && options && options[0]) {
		if (!(s->own_options = strdup(options))) {
			snprintf(err, CF_ERRBUF_SIZE, "out of memory");
			st = CF_ERR_NOMEM;
		} else {
			st = apply_options(producer, c, s->own_options, &s->o, err);
		}
	}
	if (st == CF_OK && (st = cf_run_inputs_expand(inputs, n_inputs, &s->own_in, err)) == CF_OK &&
	    (!s->o.continuous || (st = cf_run_inputs_sort_by_time(s->own_in, err)) == CF_OK) &&
	    (st = cf_producer_labels_dir_names(labels_of(producer, c), s->own_in, &s->own_dir_names, err)) == CF_OK) {
		s->in = s->own_in;
		st = stream_start(s, table, out, err);
	}
	if (st < 0)
		stream_free(s);
	return st;
}
