/* The published EDS state: every ClusterLoadAssignment some scope's EDS cluster names,
 * stored once in the endpoints table under "CLUSTER#ID" (eds.h, FORMAT.md), counted by
 * the records that name it, rebuilt when endpoints in its namespace change.
 *
 *   sc__endpoints_ref()/unref()  as records naming EDS clusters come and go
 *   sc__endpoints_update()       builds the new ones and those of changed namespaces;
 *                               stages those whose bytes changed
 *   sc__endpoints_write()        inside the publish transaction
 *   sc__endpoints_commit()       after the commit
 *   sc__endpoints_reset()        forget everything (a resync counts again from nothing) */
#ifndef SC_ENDPOINTS_H
#define SC_ENDPOINTS_H

#include <stdbool.h>

#include "xds/cds.h"
#include "scopecast/snapshot.h"
#include "store/strmap.h"
#include "store/vec.h"
#include "model/world.h"

typedef struct sc_eds_ref_s sc_eds_ref_t;

typedef struct {
  sc_strmap_t by_key;  /* "CLUSTER#ID" -> sc_eds_ref_t * */
  sc_strmap_t by_ns;   /* record namespace -> its sc_eds_ref_t *s (for rebuilds) */
  sc_vec_t fresh;      /* sc_eds_ref_t * named for the first time: to build */
  sc_vec_t put;        /* sc_eds_ref_t * whose bytes are to be written */
  sc_vec_t del;        /* char * keys to delete (owned) */
  uint64_t built;      /* assignments built by the last update */
} sc_endpoints_t;

void sc__endpoints_init(sc_endpoints_t *eps);
void sc__endpoints_free(sc_endpoints_t *eps);
/* Forgets every assignment and everything staged. */
void sc__endpoints_reset(sc_endpoints_t *eps);

/* One more (one fewer) record naming r's assignment; no-op for a resource that is not an
 * EDS cluster. A first reference needs r's recipe. */
int sc__endpoints_ref(sc_endpoints_t *eps, const sc_resource_t *r);
int sc__endpoints_unref(sc_endpoints_t *eps, const sc_resource_t *r);

/* Builds the assignments named for the first time, and rebuilds those whose record is in
 * one of the namespaces (every one when all is set); stages those whose bytes changed.
 * w holds the records; namespaces may be NULL. */
int sc__endpoints_update(sc_endpoints_t *eps, const sc_store_t *store, const sc_world_t *w,
                        const sc_strmap_t *namespaces, bool all);

int sc__endpoints_write(const sc_endpoints_t *eps, sc_snapshot_txn_t *txn);
void sc__endpoints_commit(sc_endpoints_t *eps);

/* The endpoints table key of a staged assignment (an item of put). */
const char *sc__endpoints_key(const sc_eds_ref_t *ref);

/* Calls cb for every assignment named: its key, recipe, reference count and the XXH3-128
 * of its bytes as last built (for tests that compare with a computation from scratch). */
void sc__endpoints_foreach(const sc_endpoints_t *eps,
                          void (*cb)(void *arg, const char *key, const char *recipe, uint64_t refs,
                                     const uint8_t hash[16]),
                          void *arg);

/* Distinct assignments named. */
size_t sc__endpoints_count(const sc_endpoints_t *eps);

#endif
