/* Every scope the config defines (docs/semantics.md "Which scope a proxy gets") and the selector data that maps a proxy
 * (namespace + labels) to one of them, rendered as the JSON records the snapshot
 * stores (snapshot/FORMAT.md, table "selectors").
 *
 * Scope ids: "<ns>/<sidecar>" for a Sidecar resource; "<ns>/<root sidecar>@<root ns>" for
 * the root Sidecar applied to namespace ns; "<ns>/@default" when there is no root
 * Sidecar. Namespace "*" stands for every namespace the config does not mention. */
#ifndef SC_PLAN_H
#define SC_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "model/world.h"
#include "scope/scope.h"
#include "scopecast/snapshot.h"

/* The namespace written as "*": content for any namespace no object mentions. */
#define SC_OTHER_NAMESPACES "*"

/* A scope the config defines, not yet computed. */
typedef struct {
  char *id;
  sc_scope_kind_t kind;
  const sc_obj_t *sidecar; /* NULL for default scopes */
  sc_str_t ns;             /* the config namespace, or "*" (owned) */
  char *same_as;           /* a plain namespace's fallback (sc__world_ns_plain): the id of
                              the "*" scope whose content it shares; NULL otherwise */
} sc_scope_desc_t;

/* The entries every namespace sees through an import of every host of every namespace,
 * stored once under this id (entries only, no head): a scope that imports exactly that
 * stores only the hostnames specific to its namespace and refers to these for the rest. */
#define SC_BASE_ID SC_BASE_KEY

/* The base's description: the built-in default scope of a namespace nothing names. */
extern const sc_scope_desc_t sc_base_desc;

/* A selector record (table "selectors"): key the namespace, json the record. */
typedef struct {
  char *key;
  char *json; /* compact JSON */
  size_t len;
  uint64_t hash; /* XXH3 of json */
} sc_selector_t;

void sc__plan_selector_free(sc_selector_t *s);

/* Every scope id the config defines, sorted, and the selector records. */
typedef struct {
  sc_scope_desc_t *scopes;
  size_t nscopes;
  sc_selector_t *selectors; /* sorted by key */
  size_t nselectors;
} sc_scope_plan_t;

int sc__plan_compute(const sc_world_t *w, sc_scope_plan_t *out);
void sc__plan_free(sc_scope_plan_t *plan);

#endif
