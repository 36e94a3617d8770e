/* The changelog (include/scopecast/reader.h; records: snapshot/FORMAT.md "changelog"):
 * its records after a version, and what they say changed, merged. */
#include "store/mem.h"

#include <jansson.h>
#include <string.h>

#include "scopecast/reader.h"
#include "wire/registry.h"

#define ALL_TYPES ((1u << SC_XDS__TYPES) - 1)

typedef struct {
  uint64_t since;
  sc_changelog_cb cb;
  void *arg;
} change_scan_t;

static int visit_change(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  change_scan_t *s = arg;
  if (klen != 8)
    return 0;
  uint64_t version = 0;
  for (int i = 0; i < 8; i++)
    version = version << 8 | ((const uint8_t *)key)[i];
  if (version <= s->since)
    return 0;
  return s->cb(s->arg, version, val, vlen);
}

int sc_changelog_foreach(sc_snapshot_view_t *v, uint64_t since, sc_changelog_cb cb, void *arg) {
  change_scan_t s = {since, cb, arg};
  return sc_snapshot_view_scan(v, SC_TABLE_CHANGELOG, NULL, 0, visit_change, &s);
}


struct sc_changelog_s {
  uint64_t since;   /* versions after this one */
  uint64_t first;   /* the first record seen (0: none) */
  bool resync, selectors, base;
  unsigned base_types;
  json_t *types;     /* id -> mask (integer) */
  json_t *endpoints; /* keys written or deleted -> true */
};

void sc_changelog_free(sc_changelog_t *c) {
  if (c == NULL)
    return;
  json_decref(c->types);
  json_decref(c->endpoints);
  sc__free(c);
}

static unsigned type_mask(json_t *names) {
  unsigned m = 0;
  size_t i;
  json_t *x;
  json_array_foreach(names, i, x) {
    int t = json_is_string(x) ? sc_xds_type_by_name(json_string_value(x)) : -1;
    if (t >= 0)
      m |= 1u << t;
  }
  return m;
}

static void add_types(json_t *types, const char *id, unsigned mask) {
  json_int_t have = json_integer_value(json_object_get(types, id));
  json_object_set_new(types, id, json_integer(have | (json_int_t)mask));
}

static int merge_change(void *arg, uint64_t version, const char *val, size_t vlen) {
  sc_changelog_t *c = arg;
  if (c->first == 0)
    c->first = version;
  json_t *rec = json_loadb(val, vlen, 0, NULL);
  if (rec == NULL) {
    c->resync = true;
    return 0;
  }
  c->resync |= json_is_true(json_object_get(rec, "resync"));
  c->selectors |= json_is_true(json_object_get(rec, "selectors"));
  json_t *types = json_object_get(rec, "types"), *x;
  size_t i;
  const char *lists[] = {"scopes", "removed"};
  for (int l = 0; l < 2; l++)
    json_array_foreach(json_object_get(rec, lists[l]), i, x) {
      const char *id = json_string_value(x);
      json_t *t = json_object_get(types, id ? id : "");
      if (id != NULL)
        add_types(c->types, id, l == 1 || t == NULL ? ALL_TYPES : type_mask(t));
    }
  if (json_is_true(json_object_get(rec, "base"))) {
    json_t *t = json_object_get(types, SC_BASE_KEY);
    c->base = true;
    c->base_types |= t == NULL ? ALL_TYPES : type_mask(t);
  }
  const char *eps[] = {"endpoints", "endpointsRemoved"};
  for (int l = 0; l < 2; l++)
    json_array_foreach(json_object_get(rec, eps[l]), i, x) if (json_is_string(x))
        json_object_set(c->endpoints, json_string_value(x), json_true());
  json_decref(rec);
  return 0;
}

int sc_changelog_read(sc_snapshot_view_t *v, uint64_t since, sc_changelog_t **out) {
  *out = NULL;
  sc_changelog_t *c = sc__calloc(1, sizeof(*c));
  if (c == NULL)
    return SC_ENOMEM;
  c->since = since;
  c->types = json_object();
  c->endpoints = json_object();
  if (c->types == NULL || c->endpoints == NULL) {
    sc_changelog_free(c);
    return SC_ENOMEM;
  }
  int rc = sc_changelog_foreach(v, since, merge_change, c);
  if (rc != 0) {
    sc_changelog_free(c);
    return rc;
  }
  if (c->first != since + 1) /* the records do not start right after since */
    c->resync = true;
  *out = c;
  return 0;
}

bool sc_changelog_resync(const sc_changelog_t *c) { return c->resync; }

bool sc_changelog_selectors(const sc_changelog_t *c) { return c->selectors || c->resync; }

unsigned sc_changelog_types(const sc_changelog_t *c, const char *scope, const char *content_id, bool uses_base) {
  if (c->resync)
    return ALL_TYPES;
  unsigned m = (unsigned)json_integer_value(json_object_get(c->types, scope));
  if (content_id != NULL)
    m |= (unsigned)json_integer_value(json_object_get(c->types, content_id));
  if (c->base && (uses_base || content_id == NULL))
    m |= c->base_types;
  if (m & (1u << SC_XDS_CLUSTERS)) /* the assignments a proxy gets follow from its clusters */
    m |= 1u << SC_XDS_ENDPOINTS;
  return m;
}

bool sc_changelog_endpoint(const sc_changelog_t *c, const char *key) {
  return json_object_get(c->endpoints, key) != NULL;
}

bool sc_changelog_any_endpoint(const sc_changelog_t *c) { return json_object_size(c->endpoints) > 0; }
