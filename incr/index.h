/* The dependency index: key -> the scopes registered on it (every key a scope's last
 * computation recorded). Scopes are opaque pointers here: the index neither reads nor
 * owns them, so publish/ registers its states without incr/ knowing their type. */
#ifndef SC_INDEX_H
#define SC_INDEX_H

#include <stdbool.h>

#include "incr/deps.h"
#include "store/hashmap.h"
#include "store/vec.h"

typedef struct {
  sc_hashmap_t by_key; /* key -> sc_vec_t * of scope pointers */
} sc_index_t;

void sc__index_init(sc_index_t *idx);
void sc__index_free(sc_index_t *idx);

/* Registers scope on every key of keys (SC_ENOMEM: some may be registered; remove them
 * with sc__index_remove over the same keys). */
int sc__index_add(sc_index_t *idx, void *scope, const sc_keys_t *keys);
/* Unregisters scope from every key of keys. */
void sc__index_remove(sc_index_t *idx, void *scope, const sc_keys_t *keys);
/* Adds to *have (sorted) the keys of more it lacks and registers scope on them (a patch
 * may look up new hostnames). */
int sc__index_merge(sc_index_t *idx, void *scope, sc_keys_t *have, const sc_keys_t *more);

/* The scopes registered on key (NULL: none). */
const sc_vec_t *sc__index_get(const sc_index_t *idx, uint64_t key);
/* Whether any scope is registered on some key of keys. */
bool sc__index_any(const sc_index_t *idx, const sc_keys_t *keys);

#endif
