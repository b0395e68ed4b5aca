/*
 * Grouping on disk (internal): bounded memory for the whole-capture
 * groupings (netml's flows, FlowPic's sessions). They need every packet
 * of a group together and the groups in order of their first packets, so
 * in memory they grow with the capture. Past a budget both write every
 * packet with its group's key to hash partitions (cf_parts) and take one
 * partition at a time, so no table of all groups is ever held; the
 * results go to stores (cf_spill, a file appended to and read back by
 * offset) and come back in order through a k-way merge (cf_heap_down).
 * Every file is an unlinked temporary file.
 */
#ifndef CUFLOW_COMMON_SPILL_H
#define CUFLOW_COMMON_SPILL_H

#include <stddef.h>
#include <stdint.h>

typedef struct cf_spill cf_spill;

/* A store in dir (NULL or "": $TMPDIR, else /tmp), named cuflow-<tag>-*,
 * made at its first append. CF_OK, or a negative status with the reason
 * in err. */
int cf_spill_open_store(cf_spill **out, const char *dir, const char *tag, char *err, size_t errlen);
void cf_spill_close(cf_spill *s);

/* Bytes appended (buffered), then read at any offset once
 * cf_spill_store_flush has been called. */
int cf_spill_store_append(cf_spill *s, const void *p, size_t n, char *err, size_t errlen);
int cf_spill_store_flush(cf_spill *s, char *err, size_t errlen);
uint64_t cf_spill_store_size(const cf_spill *s);
int cf_spill_store_read(cf_spill *s, uint64_t off, size_t n, void *out, char *err, size_t errlen);

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
uint64_t cf_parts_records(const cf_parts *p, uint32_t part);
/* The partition's records (cf_parts_records of them) into out. */
int cf_parts_read(cf_parts *p, uint32_t part, void *out, char *err, size_t errlen);
/* The partition's disk space back (holes punched where the file system
 * can); it is not read again. */
void cf_parts_release(cf_parts *p, uint32_t part);

/* Which of n partitions a key hash goes to at split level `level` (0:
 * the first partitions): the high bits of a remix per level, so that
 * each level divides what the level above gathered (a map's slot takes
 * the low bits). */
static inline uint32_t cf_part_pick(uint32_t hash, uint32_t level, uint32_t n)
{
	uint64_t z = hash;
	if (level) {
		z += (uint64_t)level * 0x9e3779b97f4a7c15ull;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z = (z ^ (z >> 31)) & 0xffffffffu;
	}
	return (uint32_t)((z * n) >> 32);
}

/* A partition to take at once: partition i of set p. */
typedef struct cf_unit {
	cf_parts *p;
	uint32_t i;
} cf_unit;

/* The units of src, in partition order: its partitions, those of more
 * than max_records records split (records keep their order) into pieces
 * of about max_records / 2 (2 to nsub of them: a new set writing to src's
 * file) by cf_part_pick of the cf_key5 at key_off, level after level (at
 * most 4; a key alone can be larger). *units (*nunits of
 * them, malloc'd) and the new sets (*made, *nmade; cf_parts_close each,
 * then free) belong to the caller; a split partition is released. */
int cf_parts_units(cf_parts *src, uint64_t max_records, uint32_t nsub, size_t key_off, cf_unit **units,
                   uint32_t *nunits, cf_parts ***made, uint32_t *nmade, char *err, size_t errlen);

/* Merging k sorted lists: a min-heap of list ids by key[id], each list's
 * current head (distinct keys). Sifts entry i of heap[0..n) down. */
void cf_heap_down(uint32_t *heap, uint32_t n, uint32_t i, const uint64_t *key);

#endif
