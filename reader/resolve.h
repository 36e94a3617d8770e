/* Proxy -> scope (semantics 4.3) through the snapshot's selector records (FORMAT.md
 * "selectors"): the record of the proxy's namespace, or "*" for a namespace the config
 * does not mention; its first scope whose selector labels the proxy carries. */
#ifndef SC_RESOLVE_H
#define SC_RESOLVE_H

#include <jansson.h>

#include "scopecast/config.h"
#include "scopecast/snapshot.h"

/* Whether labels hold every label of selector (a JSON object of strings, as the
 * snapshot's records write selectors). */
bool sc_selector_holds(json_t *selector, const sc_labels_t *labels);

/* The scope id (malloc'd into *scope) a proxy of namespace ns with labels gets, read in
 * one short read transaction. SC_ENOTFOUND when the snapshot has no selector data for it,
 * SC_ECORRUPT for a record that does not parse. */
int sc_resolve_scope(sc_snapshot_reader_t *r, sc_str_t ns, const sc_labels_t *labels, char **scope);

#endif
