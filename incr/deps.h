/* incr/: the dependency index, the one place of the contract behind incremental updates
 * (docs/incremental.md). Owns the key vocabulary and recording (deps.c), what a change
 * emits (changes.c) and the index key -> registered scopes (index.c, scopes as opaque
 * pointers). May call store/ and model/ only: scope/ and xds/ record keys through it, and
 * publish/ files its scope states in the index and marks them from a batch's keys.
 *
 * THE CONTRACT. A scope computation records, through its lookups, the keys under which
 * any object that could change its result would be found: exact config keys, and query
 * keys such as "services of namespace X" that make negative dependencies (something new
 * appearing) exact. A changed object emits the keys of its old and new versions; the
 * scopes to recompute are those registered on any emitted key. So every key a computation
 * records must be emitted by every change that could alter the lookup's answer. Keys are
 * XXH3-64 of a tag and strings (docs/incremental.md).
 *
 * Where each kind is recorded (R) and emitted (E); E is incr/changes.c throughout (emit,
 * emit_service, emit_visibility, emit_destination_rule, note_flips):
 *   MESH                      R scope/scope.c (every scope)            E MeshConfig
 *   OBJECT (Sidecar)          R scope/scope.c (its Sidecar)            E Sidecar
 *   SVC_EXACT, SVC_HOST       R scope/scope.c (imports, services, aliases, VS destinations),
 *                               xds/rds.c (route destinations), publish/render.c (foreign
 *                               VS hosts, specific hostnames)         E Service, ServiceEntry
 *                                                                      (ExternalName: target)
 *   SVC_{NS,ANY}_{VIS,PUBLIC} R scope/scope.c (wildcard imports), publish/render.c
 *                                                                    E Service, ServiceEntry
 *   VS_{NS,ANY}_{VIS,PUBLIC}  R scope/scope.c (imports)               E VirtualService
 *   DR_{LOCAL,EXP,ROOT}_{HOST,WILD}
 *                             R scope/scope.c (dr_keys, dr_wild_keys), publish/render.c
 *                               (DR_LOCAL_WILD of base-sharing scopes) E DestinationRule
 *   SVC_NS_ANY, DR_LOCAL_ANY, DR_NAMED
 *                             R publish/render.c (specific_keys)      E Service, ServiceEntry;
 *                                                                      DestinationRule
 *   SVC_PRESENCE(_ANY)        R publish/render.c (add_vs_host_keys)   E note_flips: a Service
 *                                                                      or ServiceEntry added,
 *                                                                      deleted, re-hosted or
 *                                                                      re-exported
 * A scope sharing another's content takes the target's keys (publish/scopes.c). Adding a
 * kind or a recording site means adding its emission here and to the differential tests'
 * generator (tests/test_incremental.c). */
#ifndef SC_DEPS_H
#define SC_DEPS_H

#include <stdint.h>

#include "scopecast/config.h"

/* Query keys carry the visibility dimension where it matters: a service exported only to
 * its own namespace must not make every scope that imports all namespaces recompute. */
typedef enum {
  SC_DEP_MESH = 1,        /* the mesh config */
  SC_DEP_OBJECT,          /* (kind, ns, name): one object (a Sidecar) */
  SC_DEP_SVC_EXACT,       /* (ns, host): a service record of that host in that namespace */
  SC_DEP_SVC_HOST,        /* (host): a service record of that host in any namespace */
  SC_DEP_SVC_NS_VIS,      /* (ns, N): a service of namespace ns visible to namespace N */
  SC_DEP_SVC_NS_PUBLIC,   /* (ns): a service of namespace ns exported to "*" */
  SC_DEP_SVC_ANY_VIS,     /* (N): a service of any namespace visible to N */
  SC_DEP_SVC_ANY_PUBLIC,  /* a service of any namespace exported to "*" */
  SC_DEP_VS_NS_VIS,       /* (ns, N): a VirtualService of ns visible to N */
  SC_DEP_VS_NS_PUBLIC,    /* (ns): a VirtualService of ns exported to "*" */
  SC_DEP_VS_ANY_VIS,      /* (N): a VirtualService of any namespace visible to N */
  SC_DEP_VS_ANY_PUBLIC,   /* a VirtualService of any namespace exported to "*" */
  SC_DEP_DR_LOCAL_HOST,   /* (ns, host): a rule in the namespace-local index of ns */
  SC_DEP_DR_LOCAL_WILD,   /* (ns): a wildcard-host rule in that index */
  SC_DEP_DR_EXP_HOST,     /* (ns, host): a rule in the exported index of ns */
  SC_DEP_DR_EXP_WILD,     /* (ns): a wildcard-host rule in that index */
  SC_DEP_DR_ROOT_HOST,    /* (host): a rule in the root namespace's private index */
  SC_DEP_DR_ROOT_WILD,    /* a wildcard-host rule in that index */
  /* What makes a hostname specific to a namespace N (sc__world_ns_specific_hosts), for
   * scopes that store only those hostnames and share the rest: */
  SC_DEP_SVC_NS_ANY,      /* (ns): a service record of namespace ns, visible or not */
  SC_DEP_DR_LOCAL_ANY,    /* (ns): a rule in the namespace-local index of ns */
  SC_DEP_DR_NAMED,        /* (N): an exported rule whose exportTo names N */
  /* Whether a service of a hostname exists for some scope, not what it holds (a
   * VirtualService host that is no service gets a virtual host of its own): */
  SC_DEP_SVC_PRESENCE,    /* (host): a service of it added, deleted, re-hosted or re-exported */
  SC_DEP_SVC_PRESENCE_ANY /* the same for any hostname */
} sc_dep_kind_t;

uint64_t sc__deps_key(sc_dep_kind_t kind, sc_str_t a, sc_str_t b);
uint64_t sc__deps_object(sc_kind_t kind, sc_str_t ns, sc_str_t name);

/* A growable set of keys; sorted and deduplicated by sc__deps_keys_finish. */
typedef struct {
  uint64_t *keys;
  size_t n, cap;
} sc_keys_t;

int sc__deps_keys_add(sc_keys_t *k, uint64_t key);
void sc__deps_keys_finish(sc_keys_t *k);
void sc__deps_keys_free(sc_keys_t *k);

#endif
