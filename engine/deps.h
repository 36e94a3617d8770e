/* Dependency index keys (design.md "Incremental computation", semantics 8.4/8.6).
 *
 * A scope computation records, through its lookups, the keys under which any object that
 * could change its result would be found: exact config keys, and query keys such as
 * "services of namespace X" that make negative dependencies (something new appearing)
 * exact. A changed object emits the keys of its old and new versions; the scopes to
 * recompute are those registered on any emitted key. Keys are XXH3-64 of a tag and
 * strings. */
#ifndef SC_DEPS_H
#define SC_DEPS_H

#include <stdint.h>

#include "scopecast/config.h"

typedef enum {
  SC_DEP_MESH = 1,     /* the mesh config */
  SC_DEP_OBJECT,       /* (kind, ns, name): one object (Sidecar, VirtualService, DestinationRule) */
  SC_DEP_SVC_EXACT,    /* (ns, host): a service record of that host in that namespace */
  SC_DEP_SVC_NS,       /* (ns): any service of namespace ns */
  SC_DEP_SVC_ANY,      /* any service anywhere */
  SC_DEP_SVC_HOST,     /* (host): a service record of that host in any namespace */
  SC_DEP_VS_NS,        /* (ns): any VirtualService of namespace ns */
  SC_DEP_VS_ANY,       /* any VirtualService anywhere */
  SC_DEP_DR_HOST,      /* (ns, host): a DestinationRule of ns for exactly that host */
  SC_DEP_DR_WILD       /* (ns): a DestinationRule of ns with a wildcard host */
} sc_dep_kind_t;

uint64_t sc_dep_key(sc_dep_kind_t kind, sc_str_t a, sc_str_t b);
uint64_t sc_dep_object(sc_kind_t kind, sc_str_t ns, sc_str_t name);

/* A growable set of keys; sorted and deduplicated by sc_keys_finish. */
typedef struct {
  uint64_t *keys;
  uint32_t n, cap;
} sc_keys_t;

int sc_keys_add(sc_keys_t *k, uint64_t key);
void sc_keys_finish(sc_keys_t *k);
void sc_keys_free(sc_keys_t *k);

#endif
