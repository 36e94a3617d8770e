/* Hostname matching and exportTo visibility (docs/semantics.md "Hostnames", "Visibility").
 * Hostnames are compared as bytes, case-sensitively, as Istio does. A hostname is
 * wildcarded when it starts with '*'. */
#ifndef SC_HOST_H
#define SC_HOST_H

#include <stdbool.h>

#include "scopecast/config.h"

static inline bool sc__host_is_wildcard(sc_str_t h) { return h.len > 0 && h.ptr[0] == '*'; }

/* Symmetric overlap: some name matches both a and b. */
bool sc__host_matches(sc_str_t a, sc_str_t b);
/* Every name a matches is matched by b. */
bool sc__host_subset_of(sc_str_t a, sc_str_t b);
/* Specificity order (docs/semantics.md "Hostnames"): negative when a is more specific than b, 0 when equal. */
int sc__host_cmp_specificity(sc_str_t a, sc_str_t b);

/* MostSpecificHostMatch (docs/semantics.md "Hostnames") over a set of index keys given as an array: returns the
 * index of the key that matches needle most specifically, or -1. Exact keys only match an
 * equal non-wildcard needle; wildcard keys match by suffix. */
int sc__host_most_specific(sc_str_t needle, const sc_str_t *keys, int nkeys);

/* IsServiceVisible for an effective exportTo set (the service's own, or the mesh
 * default when it has none): "*", "." (own namespace), a namespace name; "~" hides. */
bool sc__host_export_visible(const sc_strlist_t *export_to, sc_str_t owner_ns, sc_str_t ns);

#endif
