/* Envoy resources stored once by content hash (snapshot table "resources") and counted by
 * the scope heads and entries that name them: a resource is written with its first
 * reference and deleted (or buried in the history, history.h) with its last one, in the
 * same write.
 *
 *   sc__refs_ref() / sc__refs_unref()   as records start or stop naming a resource
 *   sc__refs_write()                   inside the publish transaction
 *   sc__refs_commit()                  after the commit: forget what was staged
 *   sc__refs_reset()                   after a resync: counted again from nothing */
#ifndef SC_REFS_H
#define SC_REFS_H

#include <stdbool.h>
#include <stdint.h>

#include "publish/history.h"
#include "scopecast/snapshot.h"
#include "store/hashmap.h"
#include "store/vec.h"
#include "xds/cds.h"

typedef struct sc_res_ref_s {
  uint8_t hash[16];
  uint64_t refs;
  const uint8_t *bytes; /* while a write is pending: the bytes of a referencing record */
  size_t len;
  bool put_pending;
  struct sc_res_ref_s *next; /* another hash with the same first 8 bytes */
} sc_res_ref_t;

typedef struct {
  sc_hashmap_t by_hash; /* first 8 bytes of the hash -> sc_res_ref_t * (chained) */
  sc_vec_t put;         /* sc_res_ref_t * to write */
  sc_vec_t del;         /* uint8_t[16] (owned) to delete */
  size_t n;             /* distinct resources counted */
} sc_refs_t;

void sc__refs_init(sc_refs_t *r);
void sc__refs_free(sc_refs_t *r);
/* Forgets every count and what is staged. */
void sc__refs_reset(sc_refs_t *r);

/* One more reference to x; a new one (which always comes with its bytes) is written at
 * the next write. */
int sc__refs_ref(sc_refs_t *r, const sc_resource_t *x);
/* One reference less to hash; the last one gone, the resource is deleted at the next
 * write, or not written at all when it was new, or buried in history (when it keeps
 * versions) as of head_next. Unknown hashes are ignored: after a resync the counts start
 * again from what is recomputed. SC_ENOMEM: the resource stays in the snapshot (harmless,
 * gone at the next resync). */
int sc__refs_unref(sc_refs_t *r, const uint8_t hash[16], sc_history_t *history, uint64_t head_next);

const sc_res_ref_t *sc__refs_find(const sc_refs_t *r, const uint8_t hash[16]);
size_t sc__refs_count(const sc_refs_t *r);
size_t sc__refs_added(const sc_refs_t *r);   /* staged to write */
size_t sc__refs_removed(const sc_refs_t *r); /* staged to delete */
/* Calls fn for every counted resource. */
void sc__refs_foreach(const sc_refs_t *r, void (*fn)(void *arg, const sc_res_ref_t *ref), void *arg);

/* Writes what is staged (deletes first, so that one deleted and added back stays; none
 * after a resync, which cleared the table). */
int sc__refs_write(const sc_refs_t *r, sc_snapshot_txn_t *txn, bool resync);
void sc__refs_commit(sc_refs_t *r);

#endif
