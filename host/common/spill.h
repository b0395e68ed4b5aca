/*
 * Grouping on disk (internal): bounded memory for the whole-capture
 * groupings (netml's flows, FlowPic's official sessions). They need every
 * packet of a group (a flow, a session) together, and the groups in order
 * of their first packets, so the packets held while reading grow with the
 * capture. With a spill they go to sorted runs instead: each run is one
 * buffer of fixed-size records sorted by their group id (capture order
 * kept within a group), and the merge gives them back group by group.
 *
 * Two unlinked temporary files: the runs, and a second store the caller
 * appends to and reads back by offset. FlowPic uses the runs.
 *
 * Hash partitions (cf_parts) bound the groups too: netml writes every
 * packet with its flow's key to a partition and takes one partition at a
 * time, so no table of all flows is ever held; its rows and their packets
 * live in stores (cf_spill_open_store).
 */
#ifndef CUFLOW_COMMON_SPILL_H
#define CUFLOW_COMMON_SPILL_H

#include <stddef.h>
#include <stdint.h>

typedef struct cf_spill cf_spill;

/* Creates the runs' file in dir (NULL or "": $TMPDIR, else /tmp), named
 * cuflow-<tag>-* (the store's beside it at its first append). Records are rec_size bytes; the group id is the uint32_t
 * at key_off, masked with key_mask (the other bits are the caller's).
 * CF_OK, or a negative status with the reason in err. */
int cf_spill_open(cf_spill **out, const char *dir, const char *tag, size_t rec_size, size_t key_off,
                  uint32_t key_mask, char *err, size_t errlen);
void cf_spill_close(cf_spill *s);
/* Runs written so far. */
uint32_t cf_spill_runs(const cf_spill *s);

/* Merging the runs: records come in increasing group id, and within a
 * group in capture order (earlier runs first). buf_bytes is each run's
 * read buffer. next: 1 with *rec, 0 at the end, or a negative status. */
int cf_spill_merge_start(cf_spill *s, size_t buf_bytes, char *err, size_t errlen);
int cf_spill_merge_next(cf_spill *s, void *rec, char *err, size_t errlen);
/* After the merge: the runs' disk space back. */
void cf_spill_runs_drop(cf_spill *s);

/* The second store: bytes appended (buffered), then read at any offset
 * once cf_spill_store_flush has been called. */
int cf_spill_store_append(cf_spill *s, const void *p, size_t n, char *err, size_t errlen);
int cf_spill_store_flush(cf_spill *s, char *err, size_t errlen);
uint64_t cf_spill_store_size(const cf_spill *s);
int cf_spill_store_read(cf_spill *s, uint64_t off, size_t n, void *out, char *err, size_t errlen);

/* A run's order: the records 0..n-1 sorted by their group ids key[i],
 * stable. An LSD radix sort on 16-bit digits, whose memory is per record
 * (8 bytes) and none per id value: a run's group ids can be many more than
 * its records. The buffers grow as needed and are reused. */
typedef struct cf_spill_sorter {
	uint32_t *idx, *tmp;
	uint64_t *cnt;
	uint64_t cap;
} cf_spill_sorter;
/* idx (n entries), or NULL when out of memory. */
const uint32_t *cf_spill_sort_ids(cf_spill_sorter *s, const uint32_t *key, uint64_t n);
void cf_spill_sorter_free(cf_spill_sorter *s);

/* One whole run of n records, written in the order of their group ids
 * key[0..n) (sorted with so): record i is made by fill(user, i, rec). */
typedef void (*cf_spill_fill_fn)(void *user, uint32_t i, void *rec);
int cf_spill_write_run(cf_spill *s, cf_spill_sorter *so, const uint32_t *key, uint64_t n, cf_spill_fill_fn fill,
                       void *user, char *err, size_t errlen);

/* A store alone (no runs' file): cf_spill_store_* on it. */
int cf_spill_open_store(cf_spill **out, const char *dir, const char *tag, char *err, size_t errlen);

/* Hash partitions: fixed-size records appended to one of nparts
 * partitions, each with a write buffer of buf_bytes that goes to the
 * file as one block when full; a partition is read back whole, its
 * records in the order they were added. One unlinked file for all. */
typedef struct cf_parts cf_parts;
int cf_parts_open(cf_parts **out, const char *dir, const char *tag, uint32_t nparts, size_t rec_size,
                  size_t buf_bytes, char *err, size_t errlen);
void cf_parts_close(cf_parts *p);
int cf_parts_add(cf_parts *p, uint32_t part, const void *rec, char *err, size_t errlen);
/* After the last add: the buffers to the file, and their memory freed. */
int cf_parts_flush(cf_parts *p, char *err, size_t errlen);
uint32_t cf_parts_count(const cf_parts *p);
uint64_t cf_parts_records(const cf_parts *p, uint32_t part);
/* The partition's records (cf_parts_records of them) into out. */
int cf_parts_read(cf_parts *p, uint32_t part, void *out, char *err, size_t errlen);
/* The partition's disk space back (holes punched where the file system
 * can); it is not read again. */
void cf_parts_release(cf_parts *p, uint32_t part);

#endif
