/* Insertion-ordered 5-tuple key set (see key_table.h). */
#include "common/key_table.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(cf_key5) == 38, "cf_key5 must have no padding (memcmp)");

static uint32_t key_hash(const cf_key5 *k)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)k->ver << 56 | (uint64_t)k->proto << 48 |
	                                       (uint64_t)k->sport << 16 | k->dport);
	for (int i = 0; i < 32; i += 8) {
		uint64_t w;
		memcpy(&w, i < 16 ? k->src + i : k->dst + (i - 16), 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return (uint32_t)(h ^ (h >> 29));
}

uint32_t cf_key5_hash(const cf_key5 *k) { return key_hash(k); }

void cf_keymap_free(cf_keymap *m)
{
	free(m->keys);
	free(m->tab);
	memset(m, 0, sizeof *m);
}

void cf_keymap_clear(cf_keymap *m)
{
	m->n = 0;
	if (m->tab)
		memset(m->tab, 0, ((size_t)m->mask + 1) * sizeof *m->tab);
}

static int grow_tab(cf_keymap *m)
{
	uint32_t ncap = m->tab ? (m->mask + 1) * 2 : 1024;
	if (!ncap)
		return -1;
	uint64_t *t = calloc(ncap, sizeof *t);
	if (!t)
		return -1;
	for (uint32_t i = 0; m->tab && i <= m->mask; i++) {
		uint64_t e = m->tab[i];
		if (!e)
			continue;
		uint32_t j = (uint32_t)(e >> 32) & (ncap - 1);
		while (t[j])
			j = (j + 1) & (ncap - 1);
		t[j] = e;
	}
	free(m->tab);
	m->tab = t;
	m->mask = ncap - 1;
	return 0;
}

int64_t cf_keymap_find(const cf_keymap *m, const cf_key5 *k)
{
	if (!m->tab)
		return -1;
	uint32_t h = key_hash(k);
	for (uint32_t j = h & m->mask; m->tab[j]; j = (j + 1) & m->mask) {
		uint64_t e = m->tab[j];
		if ((uint32_t)(e >> 32) == h && !memcmp(&m->keys[(uint32_t)e - 1], k, sizeof *k))
			return (uint32_t)e - 1;
	}
	return -1;
}

int64_t cf_keymap_add(cf_keymap *m, const cf_key5 *k, int *added)
{
	*added = 0;
	if (!m->tab || (uint64_t)m->n * 2 >= (uint64_t)m->mask + 1)
		if (m->n >= UINT32_MAX / 2 || grow_tab(m))
			return -1;
	uint32_t h = key_hash(k), j = h & m->mask;
	for (; m->tab[j]; j = (j + 1) & m->mask) {
		uint64_t e = m->tab[j];
		if ((uint32_t)(e >> 32) == h && !memcmp(&m->keys[(uint32_t)e - 1], k, sizeof *k))
			return (uint32_t)e - 1;
	}
	if (m->n == m->cap) {
		uint32_t nc = m->cap ? m->cap * 2 : 1024;
		cf_key5 *nk = realloc(m->keys, (size_t)nc * sizeof *nk);
		if (!nk)
			return -1;
		m->keys = nk;
		m->cap = nc;
	}
	m->keys[m->n] = *k;
	m->tab[j] = (uint64_t)h << 32 | (m->n + 1);
	*added = 1;
	return m->n++;
}

int64_t cf_group_by(const uint32_t *g, uint64_t n, uint32_t ngroups, uint64_t *start, uint32_t *idx)
{
	uint64_t maxlen = 0;
	for (uint64_t i = 0; i < n; i++)
		start[g[i] + 1]++;
	for (uint32_t f = 0; f < ngroups; f++) {
		if (start[f + 1] > maxlen)
			maxlen = start[f + 1];
		start[f + 1] += start[f];
	}
	uint64_t *fill = malloc(((size_t)ngroups + 1) * sizeof *fill);
	if (!fill)
		return -1;
	memcpy(fill, start, ((size_t)ngroups + 1) * sizeof *fill);
	for (uint64_t i = 0; i < n; i++)
		idx[fill[g[i]]++] = (uint32_t)i;
	free(fill);
	return (int64_t)maxlen;
}
