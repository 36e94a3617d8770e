/* Every allocation in scopecast's libraries goes through these wrappers, so a test can
 * inject failures (see tests/test_failmalloc.c) and an embedder can swap the allocator. */
#ifndef SC_MEM_H
#define SC_MEM_H

#include <stddef.h>

void *sc__malloc(size_t n);
void *sc__calloc(size_t count, size_t n);
void *sc__realloc(void *p, size_t n);
void sc__free(void *p);

/* Copies of a string (at most n bytes of it for sc__strndup, always NUL-terminated), allocated
 * with sc__malloc so injected failures reach them; NULL when the allocation fails. */
char *sc__strdup(const char *s);
char *sc__strndup(const char *s, size_t n);

typedef struct {
  void *(*malloc_fn)(size_t);
  void *(*realloc_fn)(void *, size_t);
  void *(*calloc_fn)(size_t, size_t);
  void (*free_fn)(void *);
} sc__allocator_t;

/* Replaces the allocator (NULL restores libc's). Not thread-safe; call before use. */
void sc__set_allocator(const sc__allocator_t *a);

#endif
