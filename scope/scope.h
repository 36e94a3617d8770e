/* scope/: what one scope contains and which scopes exist.
 *
 * Owns the SidecarScope computation (scope.c: for a namespace and a Sidecar, the
 * listeners, imported services and VirtualServices, DestinationRules, recording every
 * dependency key it looks up, incr/deps.h), the plan (plan.c: every scope the config
 * defines and the per-namespace selector records that map a proxy to one of them) and
 * the JSON helpers of the records (json.c). May call store/, model/ and incr/ (the key
 * vocabulary); not xds/ (whose builders take a computed scope): rendering a scope into
 * snapshot records with its Envoy resources is publish/render.c.
 *
 * SidecarScope computation (docs/semantics.md, "Which scope a proxy gets" to
 * "DestinationRules for a service"): for a config namespace and a source
 * Sidecar (or none), the egress listeners with their imported services and
 * VirtualServices, the scope's merged services, the DestinationRules per service, the
 * outbound traffic policy and the config keys the scope depends on. */
#ifndef SC_SCOPE_H
#define SC_SCOPE_H

#include "incr/deps.h"
#include "store/hashmap.h"
#include "model/world.h"

typedef enum {
  SC_SCOPE_RESOURCE = 0, /* a Sidecar resource, for its own namespace */
  SC_SCOPE_ROOT_DERIVED, /* the root Sidecar applied to another namespace */
  SC_SCOPE_DEFAULT       /* no Sidecar at all: one egress listener importing everything */
} sc_scope_kind_t;

/* Host classification of one namespace in one egress listener. */
typedef struct {
  sc_str_t ns; /* a namespace or "*" */
  sc_vec_t all, exact, excluded; /* sc_str_t * */
} sc_host_class_t;

typedef struct {
  const sc_egress_listener_t *api; /* NULL for the default listener */
  bool match_port;
  uint32_t port;
  sc_vec_t classes;  /* sc_host_class_t * */
  bool all_exact;
  sc_vec_t services; /* const sc_svc_t * (copies when trimmed) */
  sc_vec_t vss;      /* const sc_obj_t * */
} sc_listener_t;

typedef struct {
  sc_arena_t *arena;
  sc_vec_t vecs; /* vectors to free with the scope */
  sc_scope_kind_t kind;
  sc_str_t namespace_; /* the config namespace */
  const sc_obj_t *sidecar;
  sc_listener_t *listeners;
  uint32_t nlisteners;
  sc_vec_t services;         /* const sc_svc_t *, merged */
  const sc_vec_t **drs;      /* per service: the consolidated rules found, or NULL */
  bool has_outbound_policy;
  sc_outbound_mode_t outbound_mode;
  const sc_destination_t *egress_proxy;
  sc_vec_t deps;             /* char *: "Kind/namespace/name" of the Sidecar and the
                                VirtualServices, sorted, unique (services and rules
                                are dependencies of the hostname's entry) */
  sc_keys_t keys;            /* index keys of every lookup made (deps.h), sorted, unique */
  bool oom;                  /* an allocation failed where no error could be returned */
} sc_scope_t;

/* A recomputation of only some hostnames of a scope. Everything a scope holds for one
 * hostname (its service record, the listeners importing it, its DestinationRules)
 * depends only on records, rules and VirtualService destinations of that hostname, and
 * on the listeners and VirtualServices of the scope, which a patch takes as they were. */
typedef struct {
  const sc_vec_t *hosts;       /* sc_str_t *: the hostnames to recompute, each once */
  const sc_strmap_t *host_set; /* the same hostnames, for lookups */
  /* Per listener: VirtualService key hash -> its position in the listener + 1, from the
   * scope's last full computation; NULL: compute the listeners too. */
  const sc_hashmap_t *vs_positions;
  uint32_t nlisteners;
} sc_scope_patch_t;

/* Whether the scope has one egress listener importing every host of every namespace
 * (hosts "*" slash "*", no port): the built-in default, or a Sidecar saying just that. Such
 * scopes differ from one namespace to another only in a few hostnames
 * (sc__world_ns_specific_hosts). */
bool sc__scope_imports_all(sc_scope_kind_t kind, const sc_obj_t *sidecar);

/* Computes the scope of namespace ns with Sidecar sidecar (NULL for the default scope).
 * kind says how the Sidecar applies (a resource scope or the root Sidecar). With a patch,
 * only the services of the patch's hostnames (and their rules) are computed; with its
 * VirtualService positions, the listeners are taken as they were and have no
 * VirtualServices. services are sorted by hostname. */
int sc__scope_compute(const sc_world_t *w, sc_scope_kind_t kind, const sc_obj_t *sidecar,
                     sc_str_t ns, const sc_scope_patch_t *patch, sc_scope_t **out);
void sc__scope_free(sc_scope_t *s);

#endif
