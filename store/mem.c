#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/array.h"
#include "store/mem.h"

static sc__allocator_t sc__alloc = {malloc, realloc, calloc, free};

void sc__set_allocator(const sc__allocator_t *a) {
  if (a == NULL) {
    sc__alloc = (sc__allocator_t){malloc, realloc, calloc, free};
    return;
  }
  sc__alloc = *a;
}

void *sc__malloc(size_t n) { return sc__alloc.malloc_fn(n ? n : 1); }
void *sc__calloc(size_t count, size_t n) { return sc__alloc.calloc_fn(count ? count : 1, n ? n : 1); }
void *sc__realloc(void *p, size_t n) { return sc__alloc.realloc_fn(p, n ? n : 1); }

void sc__free(void *p) {
  int saved = errno; /* like uv__free: freeing never clobbers errno */
  sc__alloc.free_fn(p);
  errno = saved;
}

char *sc__strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *d = sc__malloc(len + 1);
  if (d == NULL)
    return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

char *sc__strdup(const char *s) { return sc__strndup(s, strlen(s)); }

int sc__array_reserve(void **items, size_t *cap, size_t n, size_t extra, size_t size) {
  if (extra > SIZE_MAX / size - n)
    return SC_ENOMEM;
  size_t need = n + extra;
  if (need <= *cap)
    return 0;
  size_t grown = *cap ? *cap : 8;
  while (grown < need)
    grown = grown > SIZE_MAX / 2 ? need : grown * 2;
  if (grown > SIZE_MAX / size)
    return SC_ENOMEM;
  void *p = sc__realloc(*items, grown * size);
  if (p == NULL)
    return SC_ENOMEM;
  *items = p;
  *cap = grown;
  return 0;
}
