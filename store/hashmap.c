#include <string.h>

#include "store/hashmap.h"
#include "store/mem.h"
#include "scopecast/error.h"

void sc__hashmap_init(sc_hashmap_t *m) { memset(m, 0, sizeof(*m)); }

void sc__hashmap_free(sc_hashmap_t *m) {
  sc__free(m->keys);
  sc__free(m->values);
  memset(m, 0, sizeof(*m));
}

/* Keys are hashes already; fold the high bits in anyway so that keys built from small
 * integers still spread. */
static size_t slot_of(uint64_t key, size_t cap) {
  return (size_t)((key ^ (key >> 29)) & (cap - 1));
}

void *sc__hashmap_get(const sc_hashmap_t *m, uint64_t key) {
  if (m->cap == 0)
    return NULL;
  for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->values[i] == NULL)
      return NULL;
    if (m->keys[i] == key)
      return m->values[i];
  }
}

static int grow(sc_hashmap_t *m) {
  size_t cap = m->cap ? m->cap * 2 : 16;
  uint64_t *keys = sc__malloc(cap * sizeof(*keys));
  void **values = sc__calloc(cap, sizeof(*values));
  if (keys == NULL || values == NULL) {
    sc__free(keys);
    sc__free(values);
    return SC_ENOMEM;
  }
  for (size_t j = 0; j < m->cap; j++) {
    if (m->values[j] == NULL)
      continue;
    size_t i = slot_of(m->keys[j], cap);
    while (values[i] != NULL)
      i = (i + 1) & (cap - 1);
    keys[i] = m->keys[j];
    values[i] = m->values[j];
  }
  sc__free(m->keys);
  sc__free(m->values);
  m->keys = keys;
  m->values = values;
  m->cap = cap;
  return 0;
}

int sc__hashmap_put(sc_hashmap_t *m, uint64_t key, void *value) {
  if ((m->n + 1) * 4 > m->cap * 3) { /* load factor 0.75 */
    int rc = grow(m);
    if (rc != 0)
      return rc;
  }
  size_t i = slot_of(key, m->cap);
  while (m->values[i] != NULL && m->keys[i] != key)
    i = (i + 1) & (m->cap - 1);
  if (m->values[i] == NULL)
    m->n++;
  m->keys[i] = key;
  m->values[i] = value;
  return 0;
}

void *sc__hashmap_remove(sc_hashmap_t *m, uint64_t key) {
  if (m->cap == 0)
    return NULL;
  size_t mask = m->cap - 1;
  size_t i = slot_of(key, m->cap);
  while (m->values[i] != NULL && m->keys[i] != key)
    i = (i + 1) & mask;
  void *old = m->values[i];
  if (old == NULL)
    return NULL;
  /* Backward-shift deletion keeps probe sequences intact without tombstones. */
  size_t hole = i;
  for (size_t j = (i + 1) & mask; m->values[j] != NULL; j = (j + 1) & mask) {
    size_t home = slot_of(m->keys[j], m->cap);
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      m->keys[hole] = m->keys[j];
      m->values[hole] = m->values[j];
      hole = j;
    }
  }
  m->values[hole] = NULL;
  m->n--;
  return old;
}
