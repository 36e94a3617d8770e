/* The documents and the changelog of the reader library (include/scopecast/reader.h) on a
 * snapshot written by hand: the scope list and a scope with the base's version combined,
 * a scope sharing another's content, the DestinationRules a proxy gets, the retained
 * versions, the changelog's records and what they say changed. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "scopecast/reader.h"

typedef struct {
  const char *table, *key;
  size_t klen; /* 0: strlen(key) */
  const char *val;
} rec_t;

static const rec_t first[] = {
    {SC_TABLE_SCOPES, "ns/a", 0,
     "{\"id\":\"ns/a\",\"namespace\":\"ns\",\"sidecar\":null,\"version\":\"0000000000000001\",\"kind\":\"default\","
     "\"egressListeners\":[{\"port\":null,\"hosts\":[\"*/*\"]}],\"ingressListeners\":[],"
     "\"outboundTrafficPolicy\":\"ALLOW_ANY\",\"dependencies\":[\"d2\",\"d1\"],\"base\":\"@base\",\"changedAt\":5}"},
    {SC_TABLE_SCOPES, "ns/b", 0, "{\"id\":\"ns/b\",\"namespace\":\"ns\",\"sameAs\":\"ns/a\",\"changedAt\":7}"},
    {SC_TABLE_SCOPES, SC_BASE_KEY, 0, "{\"version\":\"0000000000000002\",\"changedAt\":9}"},
    {SC_TABLE_SCOPE_ENTRIES, "ns/a\0h1.ns", 10,
     "{\"hostname\":\"h1.ns\",\"namespace\":\"ns\",\"ports\":[{\"port\":80,\"protocol\":\"HTTP\"}],\"listeners\":[0],"
     "\"destinationRules\":[\"ns/dr\",\"ns/dr-x\"],\"destinationRuleEntries\":[{\"namespace\":\"ns\","
     "\"selector\":{\"app\":\"x\"},\"from\":[\"ns/dr-x\"]},{\"namespace\":\"ns\",\"selector\":null,\"from\":[\"ns/dr\"]}],"
     "\"dependencies\":[\"d3\",\"d1\"]}"},
    {SC_TABLE_SCOPE_ENTRIES, "@base\0h0.other", 14,
     "{\"hostname\":\"h0.other\",\"namespace\":\"other\",\"ports\":[],\"listeners\":[0],\"destinationRules\":[]}"},
    {SC_TABLE_SCOPE_INDEX, "ns/a", 0,
     "{\"id\":\"ns/a\",\"namespace\":\"ns\",\"sidecar\":null,\"version\":\"0000000000000001\",\"base\":\"@base\","
     "\"changedAt\":5}"},
    {SC_TABLE_SCOPE_INDEX, "ns/b", 0,
     "{\"id\":\"ns/b\",\"namespace\":\"ns\",\"sidecar\":null,\"version\":\"0000000000000003\",\"sameAs\":\"ns/a\","
     "\"changedAt\":7}"},
    {SC_TABLE_CHANGELOG, "\0\0\0\0\0\0\0\1", 8,
     "{\"version\":1,\"scopes\":[\"ns/a\",\"ns/b\"],\"types\":{\"ns/a\":[\"routes\"],\"@base\":[\"listeners\"]},"
     "\"base\":true,\"endpoints\":[\"c#1\"],\"endpointsRemoved\":[]}"},
    {NULL, NULL, 0, NULL},
};

static const rec_t second[] = {
    {SC_TABLE_CHANGELOG, "\0\0\0\0\0\0\0\2", 8, "{\"version\":2,\"scopes\":[],\"removed\":[\"ns/c\"],\"selectors\":true}"},
    {NULL, NULL, 0, NULL},
};

static int write_records(void *arg, sc_snapshot_txn_t *txn) {
  int rc = 0;
  for (const rec_t *r = arg; rc == 0 && r->table != NULL; r++)
    rc = sc_snapshot_txn_put(txn, r->table, r->key, r->klen ? r->klen : strlen(r->key), r->val, strlen(r->val));
  return rc;
}

static json_t *parsed(char *text) {
  json_t *o = json_loads(text, 0, NULL);
  sc_reader_free(text);
  return o;
}

static int count_change(void *arg, uint64_t version, const char *json, size_t len) {
  uint64_t *seen = arg;
  if (len == 0 || json[0] != '{')
    return -1;
  *seen = *seen * 10 + version;
  return 0;
}

TEST(documents_and_changelog) {
  char dir[] = "/tmp/sc-reader-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  sc_snapshot_writer_t *w;
  sc_snapshot_writer_opts_t wo = {.no_sync = true};
  ASSERT_EQ_INT(sc_snapshot_writer_open(dir, &wo, &w, NULL, 0), 0);
  sc_snapshot_meta_t meta = {0};
  meta.history_versions = 1;
  ASSERT_EQ_INT(sc_snapshot_publish(w, &meta, write_records, (void *)first), 0);
  ASSERT_EQ_INT(sc_snapshot_publish(w, &meta, write_records, (void *)second), 0);
  sc_snapshot_writer_close(w);
  sc_snapshot_reader_t *r;
  ASSERT_EQ_INT(sc_snapshot_reader_open(dir, &r, NULL, 0), 0);

  uint64_t oldest = 0, head = 0;
  ASSERT_EQ_INT(sc_reader_retained(r, &oldest, &head), 0);
  ASSERT_EQ_U64(head, 2);
  ASSERT_EQ_U64(oldest, 1);

  sc_snapshot_view_t *v;
  ASSERT_EQ_INT(sc_snapshot_view_begin(r, &v), 0);
  char *text = NULL, err[256] = "";
  char combined[17];
  snprintf(combined, sizeof(combined), "%016llx", (unsigned long long)sc_snapshot_effective_version(1, 2));

  /* The list: the base's version and changedAt combined into a scope that shares it. */
  ASSERT_EQ_INT(sc_reader_scopes_json(v, &text, err, sizeof(err)), 0);
  json_t *list = parsed(text);
  ASSERT(json_array_size(list) == 2);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(list, 0), "version")), combined);
  ASSERT(json_integer_value(json_object_get(json_array_get(list, 0), "changedAt")) == 9);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(list, 1), "version")), "0000000000000003");
  json_decref(list);

  /* One scope: its entries and the base's by hostname, listeners with their services,
   * dependencies sorted and each once. */
  ASSERT_EQ_INT(sc_reader_scope_json(v, "ns/a", &text, err, sizeof(err)), 0);
  json_t *a = parsed(text);
  ASSERT(a != NULL);
  json_t *svcs = json_object_get(a, "services");
  ASSERT(json_array_size(svcs) == 2);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(svcs, 0), "hostname")), "h0.other");
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(svcs, 1), "hostname")), "h1.ns");
  json_t *l0 = json_array_get(json_object_get(a, "egressListeners"), 0);
  ASSERT(json_array_size(json_object_get(l0, "services")) == 2);
  json_t *deps = json_object_get(a, "dependencies");
  ASSERT(json_array_size(deps) == 3);
  ASSERT_EQ_STR(json_string_value(json_array_get(deps, 0)), "d1");
  ASSERT_EQ_STR(json_string_value(json_array_get(deps, 2)), "d3");
  ASSERT_EQ_STR(json_string_value(json_object_get(a, "version")), combined);
  ASSERT(json_integer_value(json_object_get(a, "changedAt")) == 9);
  ASSERT(json_object_get(json_object_get(a, "destinationRuleEntries"), "h1.ns") != NULL);
  json_decref(a);

  /* A scope sharing another's content shows it under its own id. */
  ASSERT_EQ_INT(sc_reader_scope_json(v, "ns/b", &text, err, sizeof(err)), 0);
  json_t *b = parsed(text);
  ASSERT_EQ_STR(json_string_value(json_object_get(b, "id")), "ns/b");
  ASSERT_EQ_STR(json_string_value(json_object_get(b, "sameAs")), "ns/a");
  ASSERT(json_array_size(json_object_get(b, "services")) == 2);
  json_decref(b);
  text = NULL;
  ASSERT_EQ_INT(sc_reader_scope_json(v, "ns/none", &text, err, sizeof(err)), SC_ENOTFOUND);
  ASSERT(text == NULL);

  /* The DestinationRules a proxy gets: the selector entry its labels hold, else the
   * catch-all, else none. */
  const sc_label_t x[] = {{{"app", 3}, {"x", 1}}};
  sc_labels_t with_x = {1, (sc_label_t *)x};
  ASSERT_EQ_INT(sc_reader_rules_for_proxy_json(v, "ns/a", &with_x, &text, err, sizeof(err)), 0);
  json_t *rules = parsed(text);
  ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(rules, "h1.ns"), 0)), "ns/dr-x");
  ASSERT(json_is_array(json_object_get(rules, "h0.other")) && json_array_size(json_object_get(rules, "h0.other")) == 0);
  json_decref(rules);
  ASSERT_EQ_INT(sc_reader_rules_for_proxy_json(v, "ns/a", NULL, &text, err, sizeof(err)), 0);
  rules = parsed(text);
  ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(rules, "h1.ns"), 0)), "ns/dr");
  json_decref(rules);

  /* The changelog's records after a version. */
  uint64_t seen = 0;
  ASSERT_EQ_INT(sc_changelog_foreach(v, 0, count_change, &seen), 0);
  ASSERT_EQ_U64(seen, 12);
  seen = 0;
  ASSERT_EQ_INT(sc_changelog_foreach(v, 1, count_change, &seen), 0);
  ASSERT_EQ_U64(seen, 2);

  /* What they say changed, merged. */
  sc_changelog_t *c = NULL;
  ASSERT_EQ_INT(sc_changelog_read(v, 0, &c), 0);
  ASSERT(!sc_changelog_resync(c));
  ASSERT(sc_changelog_selectors(c));
  unsigned all = (1u << SC_XDS__TYPES) - 1;
  ASSERT_EQ_INT(sc_changelog_types(c, "ns/a", "ns/a", false), 1u << SC_XDS_ROUTES);
  ASSERT_EQ_INT(sc_changelog_types(c, "ns/a", "ns/a", true), (1u << SC_XDS_ROUTES) | (1u << SC_XDS_LISTENERS));
  ASSERT_EQ_INT(sc_changelog_types(c, "ns/b", "ns/a", false), all); /* written, no types: all */
  ASSERT_EQ_INT(sc_changelog_types(c, "ns/c", NULL, false), all);  /* removed */
  ASSERT_EQ_INT(sc_changelog_types(c, "ns/d", "ns/d", false), 0);
  ASSERT(sc_changelog_any_endpoint(c));
  ASSERT(sc_changelog_endpoint(c, "c#1") && !sc_changelog_endpoint(c, "c#2"));
  sc_changelog_free(c);
  ASSERT_EQ_INT(sc_changelog_read(v, 1, &c), 0);
  ASSERT(!sc_changelog_resync(c) && !sc_changelog_any_endpoint(c));
  ASSERT_EQ_INT(sc_changelog_types(c, "ns/a", "ns/a", true), 0);
  sc_changelog_free(c);
  ASSERT_EQ_INT(sc_changelog_read(v, 5, &c), 0); /* no records start right after: compare all */
  ASSERT(sc_changelog_resync(c) && sc_changelog_selectors(c));
  ASSERT_EQ_INT(sc_changelog_types(c, "ns/d", NULL, false), all);
  sc_changelog_free(c);
  sc_changelog_free(NULL);

  /* The records cache and the blobs of the public API: handles in new/free pairs. */
  sc_records_cache_t *cache = sc_records_cache_new();
  ASSERT(cache != NULL);
  sc_scope_records_t *rec = NULL;
  ASSERT_EQ_INT(sc_scope_records_load(v, "ns/b", 0, cache, &rec, err, sizeof(err)), 0);
  ASSERT_EQ_STR(sc_scope_records_content_id(rec), "ns/a");
  ASSERT(sc_scope_records_use_base(rec));
  sc_scope_records_free(rec);
  sc_records_cache_new_head(cache);
  sc_records_cache_sweep(cache);
  sc_records_cache_free(cache);
  sc_records_cache_free(NULL);

  sc_snapshot_view_end(v);
  sc_snapshot_reader_close(r);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  ASSERT_EQ_INT(system(cmd), 0);
}

TEST_LIST = {
    TEST_ENTRY(documents_and_changelog),
    TEST_LIST_END,
};
