/* The dependency index (see index.h). */
#include "incr/index.h"
#include "store/mem.h"
#include "scopecast/error.h"

void sc__index_init(sc_index_t *idx) { sc__hashmap_init(&idx->by_key); }

void sc__index_free(sc_index_t *idx) {
  for (size_t i = 0; i < idx->by_key.cap; i++) {
    sc_vec_t *v = idx->by_key.values[i];
    if (v != NULL) {
      sc__vec_free(v);
      sc__free(v);
    }
  }
  sc__hashmap_free(&idx->by_key);
}

static int index_add_key(sc_index_t *idx, void *scope, uint64_t k) {
  sc_vec_t *v = sc__hashmap_get(&idx->by_key, k);
  if (v == NULL) {
    v = sc__calloc(1, sizeof(*v));
    if (v == NULL || sc__hashmap_put(&idx->by_key, k, v) != 0) {
      sc__free(v);
      return SC_ENOMEM;
    }
  }
  return sc__vec_push(v, scope);
}

int sc__index_add(sc_index_t *idx, void *scope, const sc_keys_t *keys) {
  for (size_t i = 0; i < keys->n; i++)
    if (index_add_key(idx, scope, keys->keys[i]) != 0)
      return SC_ENOMEM;
  return 0;
}

void sc__index_remove(sc_index_t *idx, void *scope, const sc_keys_t *keys) {
  for (size_t i = 0; i < keys->n; i++) {
    uint64_t k = keys->keys[i];
    sc_vec_t *v = sc__hashmap_get(&idx->by_key, k);
    for (uint32_t j = 0; v && j < v->n; j++) {
      if (v->items[j] == scope) {
        v->items[j] = v->items[--v->n];
        break;
      }
    }
    if (v != NULL && v->n == 0) {
      sc__hashmap_remove(&idx->by_key, k);
      sc__vec_free(v);
      sc__free(v);
    }
  }
}

/* Whether key is among the first n keys of k (sorted). */
static bool has_key(const sc_keys_t *k, size_t n, uint64_t key) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (k->keys[mid] == key)
      return true;
    if (k->keys[mid] < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return false;
}

int sc__index_merge(sc_index_t *idx, void *scope, sc_keys_t *have, const sc_keys_t *more) {
  size_t before = have->n;
  for (size_t i = 0; i < more->n; i++) {
    if (has_key(have, before, more->keys[i])) /* the sorted part */
      continue;
    if (sc__deps_keys_add(have, more->keys[i]) != 0 || index_add_key(idx, scope, more->keys[i]) != 0)
      return SC_ENOMEM;
  }
  if (have->n != before)
    sc__deps_keys_finish(have);
  return 0;
}

const sc_vec_t *sc__index_get(const sc_index_t *idx, uint64_t key) {
  return sc__hashmap_get(&idx->by_key, key);
}

bool sc__index_any(const sc_index_t *idx, const sc_keys_t *keys) {
  for (size_t i = 0; i < keys->n; i++)
    if (sc__hashmap_get(&idx->by_key, keys->keys[i]) != NULL)
      return true;
  return false;
}
