/* An open-addressing hash map from 64-bit keys (already XXH3 hashes) to non-NULL
 * pointers. Callers whose keys can collide keep the full key in the value and chain. */
#ifndef SC_HASHMAP_H
#define SC_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t *keys;
  void **values; /* NULL marks an empty slot */
  size_t cap;    /* power of two, or 0 */
  size_t n;
} sc_hashmap_t;

void sc__hashmap_init(sc_hashmap_t *m);
void sc__hashmap_free(sc_hashmap_t *m);
void *sc__hashmap_get(const sc_hashmap_t *m, uint64_t key);
/* Inserts or replaces; value must not be NULL. Returns 0 or SC_ENOMEM. */
int sc__hashmap_put(sc_hashmap_t *m, uint64_t key, void *value);
/* Removes the key; returns the value it held, or NULL. */
void *sc__hashmap_remove(sc_hashmap_t *m, uint64_t key);

/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->values[i]) ... */

#endif
