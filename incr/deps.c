#include <stdlib.h>
#include <xxhash.h>

#include "incr/deps.h"
#include "store/array.h"
#include "store/mem.h"
#include "scopecast/error.h"

uint64_t sc__deps_key(sc_dep_kind_t kind, sc_str_t a, sc_str_t b) {
  /* tag, a, NUL, b: unambiguous since names contain no NUL */
  char buf[1024];
  size_t n = 0;
  buf[n++] = (char)kind;
  if (a.len + b.len + 2 > sizeof(buf) - 1) { /* long names: hash in pieces */
    XXH3_state_t *st = XXH3_createState();
    if (st == NULL)
      return XXH3_64bits(a.ptr, a.len) ^ ((uint64_t)kind << 56) ^ XXH3_64bits(b.ptr, b.len);
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, buf, 1);
    XXH3_64bits_update(st, a.ptr, a.len);
    XXH3_64bits_update(st, "", 1);
    XXH3_64bits_update(st, b.ptr, b.len);
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
  }
  for (uint32_t i = 0; i < a.len; i++)
    buf[n++] = a.ptr[i];
  buf[n++] = '\0';
  for (uint32_t i = 0; i < b.len; i++)
    buf[n++] = b.ptr[i];
  return XXH3_64bits(buf, n);
}

uint64_t sc__deps_object(sc_kind_t kind, sc_str_t ns, sc_str_t name) {
  return sc__deps_key(SC_DEP_OBJECT, ns, name) ^ ((uint64_t)(kind + 1) * 0x9e3779b97f4a7c15ull);
}

int sc__deps_keys_add(sc_keys_t *k, uint64_t key) {
  if (k->n == k->cap && sc__array_reserve((void **)&k->keys, &k->cap, k->n, 1, sizeof(*k->keys)) != 0)
    return SC_ENOMEM;
  k->keys[k->n++] = key;
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

void sc__deps_keys_finish(sc_keys_t *k) {
  if (k->n < 2)
    return;
  qsort(k->keys, k->n, sizeof(uint64_t), cmp_u64);
  size_t out = 1;
  for (size_t i = 1; i < k->n; i++)
    if (k->keys[i] != k->keys[out - 1])
      k->keys[out++] = k->keys[i];
  k->n = out;
}

void sc__deps_keys_free(sc_keys_t *k) {
  sc__free(k->keys);
  k->keys = NULL;
  k->n = k->cap = 0;
}
