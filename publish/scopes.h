/* publish/: incremental publication into the snapshot. Owns rendering scopes into records
 * (render.c), the per-scope states, the batch update and staging (scopes.c), the world
 * and plan kept across batches (basis.c), resource reference counts (refs.c), selector
 * records (selectors.c), endpoint assignments (endpoints.c), history (history.c) and
 * commit notifications (notify.c); each an object with its own init/free, which
 * sc_scopes_t composes. May call store/, model/, incr/, scope/, xds/, wire/, snapshot/
 * and obs/; the engine calls its functions and reads none of its fields.
 *
 * Incremental scopes: the published scope records, each registered in the dependency
 * index (incr/index.h) on the keys its computation read, and the update that recomputes
 * only what a batch can affect (docs/incremental.md).
 *
 * A scope is stored as a head (listeners, VirtualServices, policy, static clusters) and
 * one entry per hostname (service record, importing listeners, DestinationRules, the
 * service's clusters); Envoy resources are stored once by content hash and counted by
 * the records that name them (FORMAT.md). A change that is
 * about hostnames only (a Service, a ServiceEntry, a DestinationRule for an exact host)
 * recomputes just those hostnames' entries in the scopes registered on its keys; any
 * other change recomputes those scopes in full. Either way only the entries and heads
 * whose content changed are written.
 *
 *   sc__changes_note()        for every applied change: collect its keys and hostnames
 *                            (incr/changes.h)
 *   sc__scopes_update()       recompute what the batch affects; stage writes and deletes
 *   sc__scopes_write()        inside the publish transaction: write what is staged
 *                            (records, resources new or no longer named)
 *   sc__scopes_commit()       after the commit: forget what was staged
 *   sc__scopes_resync()       after a failed commit: the next update rewrites everything */
#ifndef SC_SCOPES_H
#define SC_SCOPES_H

#include "incr/changes.h"
#include "incr/index.h"
#include "publish/basis.h"
#include "publish/refs.h"
#include "publish/selectors.h"
#include "publish/endpoints.h"
#include "publish/history.h"
#include "store/hashmap.h"
#include "scopecast/snapshot.h"
#include "publish/render.h"
#include "store/strmap.h"

typedef struct sc_scope_state_s {
  char *id;            /* owned; the key of by_id */
  sc_record_t rec;     /* the head as published (key = scope id; entries not kept here) */
  sc_strmap_t entries; /* hostname -> sc_entry_t * (json dropped once written) */
  uint64_t entries_mix; /* XOR of the entry hashes (sc__render_version) */
  sc_keys_t keys;      /* what it read: sorted, unique */
  sc_scope_aux_t aux;  /* VirtualService positions for patches (aux.keys unused) */
  uint64_t changed_at; /* head version of its last change */
  sc_vec_t put;        /* staged: sc_entry_t * to write */
  sc_vec_t del;        /* staged: char * hostnames to delete (owned) */
  bool put_head;       /* staged: the head changed */
  unsigned types;      /* staged: the xDS types (bit per sc_xds_type_t) whose resources changed */
  bool listed;         /* in sc_scopes_t.write */
  bool seen;           /* in the current plan */
  bool affected;       /* registered on a full key the batch emitted */
  bool patched;        /* registered on a patch key the batch emitted */
  bool shared;         /* a reference to another scope's content (same_as) */
  bool is_base;        /* the base (SC_BASE_ID): entries only */
} sc_scope_state_t;

typedef struct {
  uint64_t affected, recomputed, patched, unchanged, added, removed, entries_written,
      entries_deleted, selectors_written;
  uint64_t endpoints_built, endpoints_written, endpoints_deleted; /* assignments */
  double world_ms, plan_ms, scopes_ms; /* where the time went */
  bool updated;    /* false: nothing could change, nothing was done */
  bool replanned;  /* the plan (which scopes exist, selectors) was recomputed */
} sc_scopes_stats_t;

typedef struct {
  sc_strmap_t by_id;    /* scope id -> sc_scope_state_t * */
  sc_index_t index;     /* dependency key -> sc_scope_state_t * registered on it */
  sc_vec_t states;      /* every sc_scope_state_t *, for iteration */
  sc_selectors_t selectors; /* the selector records as published (selectors.h) */
  /* Staged by the last update. */
  sc_vec_t write;          /* sc_scope_state_t * with something staged */
  sc_vec_t deleted;        /* sc_scope_state_t * of removed scopes (owned) */
  bool resync;             /* the snapshot may not match: rewrite everything */
  bool keep_entry_json;    /* tests: keep entries' JSON after they are written */
  sc_basis_t basis;        /* the world and the plan, kept across batches (basis.h) */
  sc_scope_state_t *base;  /* the entries scopes importing everything share */
  sc_refs_t refs;          /* the resources the records name, counted (refs.h) */
  sc_cds_cache_t clusters; /* clusters built during the current update */
  uint32_t changelog_keep; /* changelog records kept (the last N head versions) */
  sc_history_t history;     /* what the last N head versions replaced (history.h) */
  uint64_t head_next;      /* the version the current update will be published as */
  uint64_t written_version; /* the version the last write wrote */
  sc_endpoints_t eds;      /* the assignments EDS clusters name, counted like resources */
} sc_scopes_t;

void sc__scopes_init(sc_scopes_t *ss);
void sc__scopes_free(sc_scopes_t *ss);

/* Recomputes the scopes registered on the batch's keys (all of them when all is set, or
 * after a resync; changes NULL is all), adds the scopes the plan gained and drops the
 * ones it lost. A scope whose content is unchanged keeps its version and changedAt. When
 * nothing can change (sc__scopes_needs_update) it does nothing, not even update the world.
 * The store must be the same at every call. */
int sc__scopes_update(sc_scopes_t *ss, const sc_store_t *store, const sc_changes_t *changes,
                     bool all, uint64_t head_next, sc_scopes_stats_t *stats);
int sc__scopes_write(sc_scopes_t *ss, sc_snapshot_txn_t *txn, size_t *written, size_t *deleted);
void sc__scopes_commit(sc_scopes_t *ss);
void sc__scopes_resync(sc_scopes_t *ss);

/* Distinct Envoy resources the published records name (after sc__scopes_update), and
 * the ClusterLoadAssignments their EDS clusters name. */
size_t sc__scopes_resource_count(const sc_scopes_t *ss);
size_t sc__scopes_endpoint_count(const sc_scopes_t *ss);

/* The number of scopes published; the head versions whose replaced records the
 * snapshot keeps (history.h; set before the first update); the resource counts. */
size_t sc__scopes_count(const sc_scopes_t *ss);
void sc__scopes_set_history(sc_scopes_t *ss, uint32_t keep);
uint32_t sc__scopes_history(const sc_scopes_t *ss);
const sc_refs_t *sc__scopes_refs(const sc_scopes_t *ss);


#endif
