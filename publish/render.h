/* Rendering scopes into the records the snapshot stores (snapshot/FORMAT.md, tables
 * "scopes", "scope_index" and "scope_entries"): a scope's head and one entry per
 * hostname, with the Envoy resources they name built by xds/. Sits after xds/ in the
 * library order (xds/lds.h and rds.h take a computed scope, scope/scope.h), so it lives
 * in publish/, whose incremental update (scopes.c) is its main caller. */
#ifndef SC_RENDER_H
#define SC_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "xds/cds.h"
#include "xds/rds.h"
#include "scope/plan.h"
#include "scope/scope.h"
#include "scopecast/snapshot.h"
#include "model/world.h"


/* What a scope holds for one hostname: its service record, the listeners importing it,
 * its DestinationRules and dependencies (table "scope_entries", FORMAT.md). */
typedef struct {
  char *host;   /* the hostname */
  char *json;   /* compact JSON; NULL once written (the hash stays) */
  size_t len;
  uint64_t hash; /* XXH3 of json */
  sc_resources_t res; /* the Envoy resources it names (bytes dropped once written) */
} sc_entry_t;

typedef struct {
  char *key;  /* scope id */
  char *json; /* the record, compact JSON */
  size_t len;
  uint64_t hash; /* the version */
  char *summary; /* scopes: the scope_index record, compact JSON; NULL otherwise */
  size_t summary_len;
  uint32_t services; /* scopes: how many services (entries) */
  /* Scopes: the head's content with a placeholder version, and its hash. The version is
   * that hash combined with every entry's hash, so a patch of some entries re-versions
   * the head without recomputing it. */
  char *body;
  size_t body_len;
  uint64_t body_hash;
  sc_entry_t *entries; /* sorted by hostname; NULL for shared scopes */
  size_t nentries;
  sc_resources_t res;  /* scopes: the Envoy resources the head names (static clusters) */
  bool has_base; /* scopes: the entries are only the namespace's specific hostnames; the
                    others are the base's (SC_BASE_ID) */
} sc_record_t;




typedef struct {
  bool unshared;            /* compute every entry, even where the base has it */
  sc_cds_cache_t *clusters; /* clusters already built in this update (may be NULL) */
} sc_render_opts_t;


/* What a full computation leaves for later patches of the scope. */
typedef struct {
  sc_keys_t keys;             /* every index key the computation looked up */
  sc_hashmap_t *vs_positions; /* per listener: VS key hash -> position + 1 */
  uint32_t nlisteners;
  sc_rds_owners_t owners;     /* which VirtualService owns a hostname, per listener */
  sc_vec_t vs_hosts;          /* char * (owned): hosts whose change the head reads */
  sc_vec_t vs_all_hosts;      /* char * (owned): every host of the VirtualServices */
} sc_scope_aux_t;
void sc__render_aux_free(sc_scope_aux_t *aux);
/* Whether a change of host recomputes the scope in full rather than its entry: the head
 * reads its record (vs_hosts), or a service behind a VirtualService host may have come or
 * gone (may_flip, every VirtualService host). */
bool sc__render_vs_covers(const sc_scope_aux_t *aux, sc_str_t host, bool may_flip);


/* Computes and renders one scope: its head and its entries. changed_at > 0 adds
 * "changedAt" (outside the version). aux (may be NULL) receives what patches need. */
int sc__render_scope(const sc_world_t *w, const sc_scope_desc_t *d, const sc_render_opts_t *opts,
                    uint64_t changed_at, sc_record_t *rec, sc_scope_aux_t *aux);

/* Recomputes the entries of the patch's hostnames only: *entries (sorted by hostname)
 * holds those that exist (for a scope sharing the base: those specific to its
 * namespace). keys receives the keys looked up. */
int sc__render_patch(const sc_world_t *w, const sc_scope_desc_t *d,
                          const sc_scope_patch_t *patch, const sc_rds_owners_t *owners,
                          sc_cds_cache_t *clusters, sc_entry_t **entries, size_t *nentries,
                          sc_keys_t *keys);

/* The version of a head with these entry hashes combined (XOR) into entries_mix. A scope
 * sharing the base has this version of its own; readers combine it with the base's
 * (sc_snapshot_effective_version). */
uint64_t sc__render_version(uint64_t body_hash, uint64_t entries_mix);
/* Rewrites rec's record and summary from its body for a new version, changedAt and
 * entry count. */
int sc__render_reversion(const sc_scope_desc_t *d, sc_record_t *rec, uint64_t version,
                       uint64_t changed_at, uint32_t services);

void sc__render_entry_free(sc_entry_t *e);
void sc__render_record_free(sc_record_t *r);

/* The record of a scope that shares target's content (d->same_as): a reference, not a
 * copy, so equal scopes cost one computation and one stored body. Its version is the
 * target's; its content hash changes with the target's. */
int sc__render_shared(const sc_scope_desc_t *d, const sc_record_t *target,
                           uint64_t changed_at, sc_record_t *rec);

typedef struct {
  sc_record_t base; /* the base's entries (its head is never written) */
  sc_record_t *scopes;
  size_t nscopes;
  sc_selector_t *selectors;
  size_t nselectors;
} sc_scopeset_t;

/* Every scope and selector record, computed from scratch (records sorted by key). */
int sc__render_all(const sc_world_t *w, sc_scopeset_t *out);
void sc__render_all_free(sc_scopeset_t *set);

#endif
