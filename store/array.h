/* Typed growable arrays: a struct with the members `T *items; size_t n, cap;` (declare one
 * with SC__ARRAY(T), or by hand with those names and types), grown by doubling through the
 * allocator wrappers.
 *
 *   SC__ARRAY(ep_t) eps = {0};                      empty
 *   if (SC__ARRAY_PUSH(&eps, e) != 0) ...           SC_ENOMEM, the array unchanged
 *   if (SC__ARRAY_RESERVE(&eps, extra) != 0) ...    room for `extra` more items
 *   SC__ARRAY_FREE(&eps);                           frees the items, not what they point to */
#ifndef SC_ARRAY_H
#define SC_ARRAY_H

#include <stddef.h>

#include "store/mem.h"
#include "scopecast/error.h"

#define SC__ARRAY(T)                                                                             \
  struct {                                                                                       \
    T *items;                                                                                    \
    size_t n, cap;                                                                               \
  }

/* Grows *items (of `size`-byte items, `n` in use, room for *cap) to hold at least n + extra,
 * doubling from 8: 0, or SC_ENOMEM (also on overflow) with nothing changed. */
int sc__array_reserve(void **items, size_t *cap, size_t n, size_t extra, size_t size);

#define SC__ARRAY_RESERVE(a, extra)                                                              \
  ((size_t)(extra) <= (a)->cap - (a)->n                                                          \
       ? 0                                                                                       \
       : sc__array_reserve((void **)&(a)->items, &(a)->cap, (a)->n, (extra), sizeof(*(a)->items)))

#define SC__ARRAY_PUSH(a, value)                                                                 \
  (SC__ARRAY_RESERVE((a), 1) != 0 ? SC_ENOMEM : ((a)->items[(a)->n++] = (value), 0))

#define SC__ARRAY_FREE(a)                                                                        \
  do {                                                                                           \
    sc__free((a)->items);                                                                        \
    (a)->items = NULL;                                                                           \
    (a)->n = (a)->cap = 0;                                                                       \
  } while (0)

#endif
