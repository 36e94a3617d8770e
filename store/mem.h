/* Every allocation in scopecast's libraries goes through these wrappers, so a test can
 * inject failures (see tests/test_failmalloc.c) and an embedder can swap the allocator. */
#ifndef SC_MEM_H
#define SC_MEM_H

#include <stddef.h>

void *sc__malloc(size_t n);
void *sc__calloc(size_t count, size_t n);
void *sc__realloc(void *p, size_t n);
void sc__free(void *p);

typedef struct {
  void *(*malloc_fn)(size_t);
  void *(*realloc_fn)(void *, size_t);
  void *(*calloc_fn)(size_t, size_t);
  void (*free_fn)(void *);
} sc__allocator_t;

/* Replaces the allocator (NULL restores libc's). Not thread-safe; call before use. */
void sc__set_allocator(const sc__allocator_t *a);

#endif
