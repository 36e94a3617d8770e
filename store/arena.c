#include <string.h>

#include "store/arena.h"
#include "store/mem.h"
#include "scopecast/error.h"

typedef struct sc_arena_block_s {
  struct sc_arena_block_s *next;
  size_t size;
  size_t used;
  /* data follows, 8-byte aligned */
} sc_arena_block_t;

struct sc_arena_s {
  sc_arena_block_t *head;
  size_t next_size;
  size_t total;
};

#define SC_ARENA_HDR ((sizeof(sc_arena_block_t) + 7u) & ~(size_t)7u)

sc_arena_t *sc__arena_new(size_t first_block) {
  sc_arena_t *a = sc__calloc(1, sizeof(*a));
  if (a == NULL)
    return NULL;
  a->next_size = first_block < 256 ? 256 : first_block;
  return a;
}

void sc__arena_del(sc_arena_t *a) {
  if (a == NULL)
    return;
  sc_arena_block_t *b = a->head;
  while (b != NULL) {
    sc_arena_block_t *next = b->next;
    sc__free(b);
    b = next;
  }
  sc__free(a);
}

void *sc__arena_alloc(sc_arena_t *a, size_t n) {
  n = (n + 7u) & ~(size_t)7u;
  if (n == 0)
    n = 8;
  sc_arena_block_t *b = a->head;
  if (b == NULL || b->size - b->used < n) {
    size_t size = a->next_size;
    while (size < n)
      size *= 2;
    b = sc__malloc(SC_ARENA_HDR + size);
    if (b == NULL)
      return NULL;
    b->size = size;
    b->used = 0;
    b->next = a->head;
    a->head = b;
    a->total += size;
    if (a->next_size < (1u << 16))
      a->next_size *= 2;
  }
  char *p = (char *)b + SC_ARENA_HDR + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

int sc__arena_str(sc_arena_t *a, const char *p, size_t n, sc_str_t *out) {
  if (n == 0) {
    out->ptr = "";
    out->len = 0;
    return 0;
  }
  if (n > UINT32_MAX - 1)
    return SC_ETOOBIG;
  char *s = sc__arena_alloc(a, n + 1);
  if (s == NULL)
    return SC_ENOMEM;
  memcpy(s, p, n);
  s[n] = '\0';
  out->ptr = s;
  out->len = (uint32_t)n;
  return 0;
}

size_t sc__arena_bytes(const sc_arena_t *a) { return a->total; }
