/* Proxy -> scope (docs/semantics.md "Which scope a proxy gets") through the snapshot's selector records; sc_resolve_scope
 * is public (include/scopecast/reader.h). */
#ifndef SC_RESOLVE_H
#define SC_RESOLVE_H

#include <jansson.h>
#include <stdbool.h>

#include "scopecast/reader.h"

/* Whether labels hold every label of selector (a JSON object of strings, as the
 * snapshot's records write selectors). */
bool sc__resolve_selector_holds(json_t *selector, const sc_labels_t *labels);

#endif
