/* A growable array of pointers. */
#ifndef SC_VEC_H
#define SC_VEC_H

#include <stdint.h>
#include <stdlib.h>

#include "store/mem.h"
#include "scopecast/error.h"

typedef struct {
  void **items;
  uint32_t n, cap;
} sc_vec_t;

static inline int sc__vec_push(sc_vec_t *v, void *p) {
  if (v->n == v->cap) {
    uint32_t cap = v->cap ? v->cap * 2 : 8;
    void **items = sc__realloc(v->items, cap * sizeof(*items));
    if (items == NULL)
      return SC_ENOMEM;
    v->items = items;
    v->cap = cap;
  }
  v->items[v->n++] = p;
  return 0;
}

/* qsort, which must not be given the NULL array of an empty vector. */
static inline void sc__vec_sort(sc_vec_t *v, int (*cmp)(const void *, const void *)) {
  if (v->n > 1)
    qsort(v->items, v->n, sizeof(void *), cmp);
}

static inline void sc__vec_free(sc_vec_t *v) {
  sc__free(v->items);
  v->items = NULL;
  v->n = v->cap = 0;
}

#endif
