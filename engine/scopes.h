/* Incremental scopes: the published scope records, the dependency index that says which
 * scopes read which index keys, and the update that recomputes only the scopes a batch
 * can affect (design.md "Incremental computation").
 *
 *   sc_scopes_update()  recompute what the batch affects; stage writes and deletes
 *   sc_scopes_write()   inside the publish transaction: write what is staged
 *   sc_scopes_commit()  after the commit: forget what was staged
 *   sc_scopes_resync()  after a failed commit: the next write rewrites everything */
#ifndef SC_SCOPES_H
#define SC_SCOPES_H

#include "deps.h"
#include "hashmap.h"
#include "scopecast/snapshot.h"
#include "scopeset.h"
#include "strmap.h"

typedef struct sc_scope_state_s {
  char *id;            /* owned; the key of by_id */
  sc_record_t rec;     /* as published (key = scope id) */
  sc_keys_t keys;      /* what it read */
  uint64_t changed_at; /* head version of its last change */
  bool seen;           /* in the current plan */
  bool affected;       /* registered on a key the batch emitted */
  bool shared;         /* a reference to another scope's content (same_as) */
} sc_scope_state_t;

typedef struct {
  uint64_t affected, recomputed, unchanged, added, removed, selectors_written;
} sc_scopes_stats_t;

typedef struct {
  sc_strmap_t by_id;    /* scope id -> sc_scope_state_t * */
  sc_hashmap_t by_key;  /* dependency key -> sc_vec_t * of sc_scope_state_t * */
  sc_vec_t states;      /* every sc_scope_state_t *, for iteration */
  sc_record_t *selectors;
  size_t nselectors;
  /* Staged by the last update. */
  sc_vec_t write;          /* sc_scope_state_t * to write */
  sc_vec_t deleted;        /* char * ids to delete (owned) */
  sc_vec_t sel_deleted;    /* char * selector keys to delete (owned) */
  sc_vec_t sel_write;      /* sc_record_t * (into selectors) to write */
  bool resync;             /* the snapshot may not match: rewrite everything */
} sc_scopes_t;

void sc_scopes_init(sc_scopes_t *ss);
void sc_scopes_free(sc_scopes_t *ss);

/* Recomputes the scopes registered on any of the emitted keys (all of them when all is
 * set), adds the scopes the plan gained and drops the ones it lost. A recomputed scope
 * whose content hash is unchanged keeps its record and changedAt. */
int sc_scopes_update(sc_scopes_t *ss, const sc_world_t *w, const sc_keys_t *emitted, bool all,
                     uint64_t head_next, sc_scopes_stats_t *stats);
int sc_scopes_write(sc_scopes_t *ss, sc_snapshot_txn_t *txn, size_t *written, size_t *deleted);
void sc_scopes_commit(sc_scopes_t *ss);
void sc_scopes_resync(sc_scopes_t *ss);

/* The keys under which a changed object can be found (call for its old and its new
 * version). mesh is the current mesh config; a mesh change recomputes everything. */
int sc_scopes_emit(const sc_obj_t *obj, const sc_mesh_config_t *mesh, sc_keys_t *out);

/* What one applied change means for the scopes: the keys of its old and new versions go
 * into emitted, and *plan_dirty is set when it can change which scopes exist (Sidecars,
 * namespaces coming or going, namespaces named in exportTo or sourceNamespace). Pods
 * and EndpointSlices only do when they are the first or last object of a namespace. */
int sc_scopes_note_change(const sc_store_t *store, const sc_change_t *change, sc_keys_t *emitted,
                          bool *plan_dirty);

/* Whether an update is needed at all; when not, the world need not even be built. */
bool sc_scopes_needs_update(const sc_scopes_t *ss, const sc_keys_t *emitted, bool all,
                            bool plan_dirty);

#endif
