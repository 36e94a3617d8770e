/* Proxy -> scope (include/scopecast/reader.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/mem.h"
#include "reader/resolve.h"
#include "scopecast/error.h"

typedef struct {
  const sc_labels_t *labels;
  char *scope;
  int rc;
} pick_t;

bool sc__resolve_selector_holds(json_t *selector, const sc_labels_t *labels) {
  const char *k;
  json_t *v;
  json_object_foreach(selector, k, v) {
    bool found = false;
    for (uint32_t i = 0; labels && i < labels->n && !found; i++)
      found = sc_str_eqz(labels->items[i].key, k) && json_is_string(v) &&
              sc_str_eqz(labels->items[i].value, json_string_value(v));
    if (!found)
      return false;
  }
  return true;
}

static int pick(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  pick_t *p = arg;
  json_t *rec = json_loadb(val, vlen, 0, NULL);
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(rec, "scopes"), i, e) {
    json_t *sel = json_object_get(e, "selector");
    const char *id = json_string_value(json_object_get(e, "scope"));
    if (id != NULL && (!json_is_object(sel) || sc__resolve_selector_holds(sel, p->labels))) {
      p->scope = sc__strdup(id);
      p->rc = p->scope ? 0 : SC_ENOMEM;
      break;
    }
  }
  json_decref(rec);
  return 0;
}

int sc_resolve_scope(sc_snapshot_reader_t *r, sc_str_t ns, const sc_labels_t *labels, char **scope) {
  pick_t p = {labels, NULL, SC_ECORRUPT}; /* a record must name a scope for every proxy */
  *scope = NULL;
  int rc = sc_snapshot_get(r, SC_TABLE_SELECTORS, ns.ptr, ns.len, pick, &p);
  if (rc == SC_ENOTFOUND) /* a namespace the config does not mention */
    rc = sc_snapshot_get(r, SC_TABLE_SELECTORS, "*", 1, pick, &p);
  if (rc != 0)
    return rc;
  *scope = p.scope;
  return p.rc;
}
