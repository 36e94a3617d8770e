/* The selector records as published (snapshot table "selectors": per namespace, which
 * scope a proxy of it gets by its labels), taken from each new plan (scope/plan.h) and
 * staged where they changed.
 *
 *   sc__selectors_take()    a new plan's records: stage the changed, added and removed
 *   sc__selectors_write()   inside the publish transaction
 *   sc__selectors_commit()  after the commit: forget what was staged */
#ifndef SC_SELECTORS_H
#define SC_SELECTORS_H

#include <stdbool.h>
#include <stdint.h>

#include "scope/plan.h"
#include "scopecast/snapshot.h"
#include "store/vec.h"

typedef struct {
  sc_selector_t *items; /* sorted by key */
  size_t n;
  sc_vec_t write;   /* sc_selector_t * (into items) to write */
  sc_vec_t deleted; /* char * keys to delete (owned) */
} sc_selectors_t;

void sc__selectors_init(sc_selectors_t *s);
void sc__selectors_free(sc_selectors_t *s);

/* Takes plan's selector records (plan keeps none); stages those that changed (all of them
 * with write_all) and the keys that are gone; *written counts the staged writes. */
int sc__selectors_take(sc_selectors_t *s, sc_scope_plan_t *plan, bool write_all, uint64_t *written);
/* Whether anything is staged. */
bool sc__selectors_staged(const sc_selectors_t *s);
/* Writes what is staged (no deletes after a resync, which cleared the table). */
int sc__selectors_write(const sc_selectors_t *s, sc_snapshot_txn_t *txn, bool resync);
void sc__selectors_commit(sc_selectors_t *s);

#endif
