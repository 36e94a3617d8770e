/* A bump allocator: many small allocations, freed in one step. Each config object owns
 * one arena holding all its strings and arrays. */
#ifndef SC_ARENA_H
#define SC_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "scopecast/config.h"

typedef struct sc_arena_s sc_arena_t;

sc_arena_t *sc__arena_new(size_t first_block);
void sc__arena_del(sc_arena_t *a); /* NULL is a no-op */
/* Zeroed, 8-byte aligned; NULL when out of memory. */
void *sc__arena_alloc(sc_arena_t *a, size_t n);
/* A NUL-terminated copy as a slice; {NULL,0} when out of memory. */
int sc__arena_str(sc_arena_t *a, const char *p, size_t n, sc_str_t *out);
size_t sc__arena_bytes(const sc_arena_t *a);

#endif
