/*
 * Internal: the id maps of a window (addresses, connections, flows): keys
 * of three 64-bit words to dense ids 0, 1, 2, ... in order of first use.
 * Open addressing with a generation stamp per slot, so forgetting every
 * key (a window closes, seed batching makes many one-entry windows) costs
 * nothing.
 */
#ifndef CUFLOW_WINDOWS_WINDOW_MAP_H
#define CUFLOW_WINDOWS_WINDOW_MAP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct wmap_slot {
	uint64_t k[3];
	uint32_t gen, id;
} wmap_slot;

typedef struct wmap {
	wmap_slot *slot;
	uint32_t mask, gen, n;
} wmap;

static inline uint64_t wmap_hash(const uint64_t k[3])
{
	uint64_t h = k[0] * 0x9e3779b97f4a7c15ull;
	h ^= (k[1] + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
	h ^= (k[2] + 0x8cb92ba72f3d8dd7ull) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static inline void wmap_free(wmap *m)
{
	free(m->slot);
	memset(m, 0, sizeof *m);
}

static inline void wmap_clear(wmap *m)
{
	m->n = 0;
	if (++m->gen == 0) { /* wrapped: stamps of 2^32 windows ago would look live */
		if (m->slot)
			memset(m->slot, 0, (size_t)(m->mask + 1) * sizeof *m->slot);
		m->gen = 1;
	}
}

static int wmap_grow(wmap *m)
{
	uint32_t cap = m->slot ? (m->mask + 1) * 2 : 64;
	if (cap == 0)
		return -1;
	wmap_slot *s = calloc(cap, sizeof *s);
	if (!s)
		return -1;
	if (m->gen == 0)
		m->gen = 1;
	if (m->slot) {
		for (uint64_t i = 0; i <= m->mask; i++) {
			if (m->slot[i].gen != m->gen)
				continue;
			uint64_t j = wmap_hash(m->slot[i].k) & (cap - 1);
			while (s[j].gen == m->gen)
				j = (j + 1) & (cap - 1);
			s[j] = m->slot[i];
		}
		free(m->slot);
	}
	m->slot = s;
	m->mask = cap - 1;
	return 0;
}

/* The id of k, added as n (n + 1 keys then) when new; -1 out of memory. */
static inline int64_t wmap_id(wmap *m, uint64_t k0, uint64_t k1, uint64_t k2)
{
	if (!m->slot || (uint64_t)(m->n + 1) * 2 > (uint64_t)m->mask + 1) {
		if (wmap_grow(m))
			return -1;
	}
	uint64_t k[3] = {k0, k1, k2};
	uint64_t j = wmap_hash(k) & m->mask;
	for (;;) {
		wmap_slot *s = &m->slot[j];
		if (s->gen != m->gen) {
			s->gen = m->gen;
			s->k[0] = k0, s->k[1] = k1, s->k[2] = k2;
			s->id = m->n++;
			return s->id;
		}
		if (s->k[0] == k0 && s->k[1] == k1 && s->k[2] == k2)
			return s->id;
		j = (j + 1) & m->mask;
	}
}

#endif
