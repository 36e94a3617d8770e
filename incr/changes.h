/* The emitting side of the dependency contract (incr/deps.h): what one applied change
 * means for the scopes. For the old and new version of every changed object it emits the
 * keys under which a scope computation would have found it (the same sc__deps_key calls
 * the lookups make when they record), and the hostnames a change is limited to.
 *
 *   sc__changes_init()    an empty batch
 *   sc__changes_note()    for every applied change: collect its keys and hostnames
 *   sc__changes_finish()  once all are noted: sort and deduplicate the keys
 *   sc__changes_free() */
#ifndef SC_CHANGES_H
#define SC_CHANGES_H

#include <stdbool.h>

#include "incr/deps.h"
#include "model/world.h"
#include "scopecast/store.h"
#include "store/strmap.h"
#include "store/vec.h"

/* What a batch's changes mean for the scopes. */
typedef struct {
  sc_keys_t full;       /* keys whose scopes recompute in full */
  sc_keys_t patch;      /* keys whose scopes recompute only the entries of hosts */
  sc_vec_t hosts;       /* sc_str_t * (owned): the hostnames the patch keys are about */
  sc_strmap_t host_set; /* the same, for lookups */
  bool plan_dirty;      /* which scopes exist may have changed */
  unsigned world_parts; /* the world's parts whose inputs changed (world.h) */
  sc_vec_t objects;     /* sc_obj_t * (held): old and new versions of changed Services,
                           ServiceEntries, VirtualServices and DestinationRules, for the
                           world to update only what they touch */
  sc_strmap_t endpoint_ns; /* namespaces whose endpoints may have changed (Services,
                              ServiceEntries, EndpointSlices, Pods): their assignments
                              are rebuilt; values are the owned copies in endpoint_ns_names */
  sc_vec_t endpoint_ns_names;
  sc_strmap_t flip_set; /* hostnames whose service may have come or gone for some scope
                           (a Service or ServiceEntry added, deleted, or its hosts or
                           exportTo changed); values: the owned copies in flip_hosts */
  sc_vec_t flip_hosts;
} sc_changes_t;

void sc__changes_init(sc_changes_t *c);
/* Sorts and deduplicates the keys; call once all changes are noted. */
void sc__changes_finish(sc_changes_t *c);
void sc__changes_free(sc_changes_t *c);

/* What one applied change means for the scopes (see sc_changes_t). The plan is dirty
 * when the change can alter which scopes exist: Sidecars, namespaces coming or going,
 * namespaces named in exportTo or sourceNamespace. Pods and EndpointSlices only dirty
 * it when they are the first or last object of a namespace. The store already holds
 * the change. */
int sc__changes_note(const sc_store_t *store, const sc_change_t *change, sc_changes_t *out);

#endif
