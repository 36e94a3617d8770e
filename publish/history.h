/* History of the snapshot's scope records (snapshot/FORMAT.md "history"): what each of the
 * last `keep` head versions replaced, so that readers can put a scope together as it was,
 * and the resources no current record names, kept while a retained version may name them.
 *
 *   sc__history_begin()     at the start of each publish write (a retried write starts over)
 *   sc__history_remember()  before a record is overwritten or deleted
 *   sc__history_bury()      when the last current record naming a resource goes
 *   sc__history_expire()    in the write: delete what leaves the window
 *   sc__history_commit()    after the commit */
#ifndef SC_HISTORY_H
#define SC_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "scopecast/snapshot.h"
#include "store/vec.h"

typedef struct {
  uint32_t keep;       /* head versions retained; 0: none */
  sc_vec_t committed;  /* records of committed versions, oldest first */
  sc_vec_t written;    /* records the current write kept (join committed at commit) */
  sc_vec_t graveyard;  /* resources unnamed since a version, oldest first */
} sc_history_t;

void sc__history_init(sc_history_t *h, uint32_t keep);
void sc__history_free(sc_history_t *h);
/* Forgets everything (a resync clears the table). */
void sc__history_reset(sc_history_t *h);

void sc__history_begin(sc_history_t *h);
/* Keeps what (table, key) holds before this write, as the history record of scope id
 * (kind 'h' its head, 'e' the entry of host) under the version being written. */
int sc__history_remember(sc_history_t *h, sc_snapshot_txn_t *txn, const char *table, const void *key,
                        size_t klen, const char *id, char kind, const char *host);
/* The resource hash is named by no current record since version. */
int sc__history_bury(sc_history_t *h, const uint8_t hash[16], uint64_t version);
/* Deletes the history records and the buried resources that leave the window with this
 * write; named(arg, hash) says whether a current record names a resource again. */
int sc__history_expire(sc_history_t *h, sc_snapshot_txn_t *txn, bool (*named)(void *arg, const uint8_t hash[16]),
                      void *arg);
void sc__history_commit(sc_history_t *h, uint64_t version);

#endif
