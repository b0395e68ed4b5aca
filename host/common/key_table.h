/*
 * An insertion-ordered set of 5-tuple keys (internal): key -> index, the
 * index being the order in which the key was first added. Used by the
 * whole-capture groupings (netml's flows, FlowPic's sessions), which need
 * first-appearance order.
 */
#ifndef CUFLOW_COMMON_KEY_TABLE_H
#define CUFLOW_COMMON_KEY_TABLE_H

#include <stdint.h>

typedef struct cf_key5 {
	uint8_t ver, proto;
	uint16_t sport, dport;
	uint8_t src[16], dst[16]; /* network order; IPv4 in the first 4 bytes, the rest zero */
} cf_key5;                    /* no padding: compared with memcmp */

typedef struct cf_keymap {
	cf_key5 *keys;            /* keys[i]: the key of index i */
	uint32_t n, cap;
	uint64_t *tab;            /* open addressing: hash << 32 | (index + 1), 0 empty; the
	                             hash is compared before the key, so a probe past other
	                             keys (and the insert of a new one) reads no key */
	uint32_t mask;
} cf_keymap;

/* The map's hash of a key (its low bits pick the slot: a partition of
 * keys by hash takes the high bits). */
uint32_t cf_key5_hash(const cf_key5 *k);

/* All zero is an empty map too. */
void cf_keymap_free(cf_keymap *m);
/* Forgets every key (keeps the memory). */
void cf_keymap_clear(cf_keymap *m);
/* Index of k, or -1. */
int64_t cf_keymap_find(const cf_keymap *m, const cf_key5 *k);
/* Index of k, added at index n when new (*added = 1); -1 out of memory. */
int64_t cf_keymap_add(cf_keymap *m, const cf_key5 *k, int *added);

/* Groups items 0..n-1 by their group id g[i] (< ngroups) with a counting
 * sort: start (ngroups + 1 entries, zeroed by the caller) gets the prefix
 * offsets, idx (n entries) the items group by group, in their original
 * order within a group. Returns the largest group's size, or -1 when out
 * of memory. */
int64_t cf_group_by(const uint32_t *g, uint64_t n, uint32_t ngroups, uint64_t *start, uint32_t *idx);

#endif
