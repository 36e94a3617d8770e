#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
