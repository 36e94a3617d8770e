/* A map from strings to non-NULL pointers. Keys are borrowed: the caller keeps them alive
 * for as long as they are in the map. Built on sc_hashmap_t with XXH3 and chaining, so
 * colliding hashes are told apart by the string. */
#ifndef SC_STRMAP_H
#define SC_STRMAP_H

#include "store/hashmap.h"
#include "scopecast/config.h"

typedef struct sc_strmap_entry_s {
  struct sc_strmap_entry_s *next;
  sc_str_t key;
  void *value;
} sc_strmap_entry_t;

typedef struct {
  sc_hashmap_t map; /* hash -> entry chain */
  size_t n;
} sc_strmap_t;

void sc__strmap_init(sc_strmap_t *m);
/* Frees the map's own memory; free_value (may be NULL) is called on every value. */
void sc__strmap_free(sc_strmap_t *m, void (*free_value)(void *value));
void *sc__strmap_get(const sc_strmap_t *m, sc_str_t key);
/* Inserts or replaces. Returns 0 or SC_ENOMEM. */
int sc__strmap_put(sc_strmap_t *m, sc_str_t key, void *value);
/* Removes key; returns its value, or NULL. */
void *sc__strmap_remove(sc_strmap_t *m, sc_str_t key);
/* Calls cb for every entry, in no particular order. */
void sc__strmap_foreach(const sc_strmap_t *m, void (*cb)(void *arg, sc_str_t key, void *value),
                        void *arg);

#endif
