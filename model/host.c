#include <string.h>

#include "model/host.h"

/* tail(x): x without its first character. */
static sc_str_t tail(sc_str_t h) {
  sc_str_t t = {h.ptr + 1, h.len - 1};
  return t;
}

static bool ends_with(sc_str_t s, sc_str_t suffix) {
  return s.len >= suffix.len && memcmp(s.ptr + s.len - suffix.len, suffix.ptr, suffix.len) == 0;
}

bool sc__host_matches(sc_str_t a, sc_str_t b) {
  bool wa = sc__host_is_wildcard(a), wb = sc__host_is_wildcard(b);
  if (wa && wb) {
    sc_str_t ta = tail(a), tb = tail(b);
    return ta.len >= tb.len ? ends_with(ta, tb) : ends_with(tb, ta);
  }
  if (wa)
    return ends_with(b, tail(a));
  if (wb)
    return ends_with(a, tail(b));
  return sc_str_eq(a, b);
}

bool sc__host_subset_of(sc_str_t a, sc_str_t b) {
  bool wa = sc__host_is_wildcard(a), wb = sc__host_is_wildcard(b);
  if (wa && wb)
    return a.len >= b.len && ends_with(tail(a), tail(b));
  if (wa)
    return false;
  if (wb)
    return ends_with(a, tail(b));
  return sc_str_eq(a, b);
}

int sc__host_cmp_specificity(sc_str_t a, sc_str_t b) {
  bool wa = sc__host_is_wildcard(a), wb = sc__host_is_wildcard(b);
  if (wa != wb)
    return wa ? 1 : -1; /* the non-wildcard is more specific */
  if (a.len != b.len)
    return a.len > b.len ? -1 : 1; /* the longer is more specific */
  return memcmp(a.ptr, b.ptr, a.len);
}

int sc__host_most_specific(sc_str_t needle, const sc_str_t *keys, int nkeys) {
  bool wn = sc__host_is_wildcard(needle);
  int best = -1;
  for (int i = 0; i < nkeys; i++) {
    sc_str_t k = keys[i];
    bool wk = sc__host_is_wildcard(k);
    if (!wk) {
      if (!wn && sc_str_eq(k, needle))
        return i; /* an exact hit beats every wildcard */
      continue;
    }
    if (wn && sc_str_eq(k, needle))
      return i;
    bool match = ends_with(wn ? tail(needle) : needle, tail(k));
    if (match && (best < 0 || sc__host_cmp_specificity(k, keys[best]) < 0))
      best = i;
  }
  return best;
}

bool sc__host_export_visible(const sc_strlist_t *e, sc_str_t owner_ns, sc_str_t ns) {
  for (uint32_t i = 0; i < e->n; i++) {
    sc_str_t v = e->items[i];
    if (sc_str_eqz(v, "*") || sc_str_eq(v, ns) || (sc_str_eqz(v, ".") && sc_str_eq(owner_ns, ns)))
      return true;
  }
  return false;
}
