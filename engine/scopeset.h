/* Every scope the config defines (semantics 4.1) and the selector data that maps a proxy
 * (namespace + labels) to one of them (4.3), rendered as the JSON records the snapshot
 * stores (snapshot/FORMAT.md, tables "scopes" and "selectors").
 *
 * Scope ids: "<ns>/<sidecar>" for a Sidecar resource; "<ns>/<root sidecar>@<root ns>" for
 * the root Sidecar applied to namespace ns; "<ns>/@default" when there is no root
 * Sidecar. Namespace "*" stands for every namespace the config does not mention. */
#ifndef SC_SCOPESET_H
#define SC_SCOPESET_H

#include <stddef.h>
#include <stdint.h>

#include "world.h"

/* The namespace written as "*": content for any namespace no object mentions. */
#define SC_OTHER_NAMESPACES "*"

typedef struct {
  char *key;  /* scope id, or namespace for selector records */
  char *json; /* the record, compact JSON */
  size_t len;
  uint64_t hash; /* XXH3 of the content */
} sc_record_t;

typedef struct {
  sc_record_t *scopes;
  size_t nscopes;
  sc_record_t *selectors;
  size_t nselectors;
} sc_scopeset_t;

int sc_scopeset_compute(const sc_world_t *w, sc_scopeset_t *out);
void sc_scopeset_free(sc_scopeset_t *set);

#endif
