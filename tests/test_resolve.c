/* Proxy -> scope through selector records (reader/resolve.c, through reader.h): the namespace's record,
 * "*" for unmentioned namespaces, the first selector the proxy's labels hold, the
 * catch-all, and a record naming nothing. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "scopecast/reader.h"
#include "scopecast/error.h"

static int write_selectors(void *arg, sc_snapshot_txn_t *txn) {
  (void)arg;
  static const char prod[] =
      "{\"namespace\":\"prod\",\"scopes\":[{\"scope\":\"prod/canary\",\"selector\":{\"app\":\"api\",\"track\":\"canary\"}},"
      "{\"scope\":\"prod/api\",\"selector\":{\"app\":\"api\"}},{\"scope\":\"prod/default\",\"selector\":null}]}";
  static const char other[] = "{\"namespace\":\"*\",\"scopes\":[{\"scope\":\"*/@default\",\"selector\":null}]}";
  static const char broken[] = "{\"namespace\":\"odd\",\"scopes\":[]}";
  int rc = sc_snapshot_txn_put(txn, SC_TABLE_SELECTORS, "prod", 4, prod, sizeof(prod) - 1);
  if (rc == 0)
    rc = sc_snapshot_txn_put(txn, SC_TABLE_SELECTORS, "*", 1, other, sizeof(other) - 1);
  if (rc == 0)
    rc = sc_snapshot_txn_put(txn, SC_TABLE_SELECTORS, "odd", 3, broken, sizeof(broken) - 1);
  return rc;
}

static char *resolve(sc_snapshot_reader_t *r, const char *ns, const sc_label_t *labels, uint32_t n, int *rc) {
  sc_labels_t l = {n, (sc_label_t *)labels};
  char *scope = NULL;
  *rc = sc_resolve_scope(r, sc_str(ns), &l, &scope);
  return scope;
}

TEST(proxy_to_scope) {
  char dir[] = "/tmp/sc-resolve-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  sc_snapshot_writer_t *w;
  sc_snapshot_writer_opts_t wo = {.no_sync = true};
  ASSERT_EQ_INT(sc_snapshot_writer_open(dir, &wo, &w, NULL, 0), 0);
  sc_snapshot_meta_t meta = {0};
  ASSERT_EQ_INT(sc_snapshot_publish(w, &meta, write_selectors, NULL), 0);
  sc_snapshot_writer_close(w);
  sc_snapshot_reader_t *r;
  ASSERT_EQ_INT(sc_snapshot_reader_open(dir, &r, NULL, 0), 0);
  int rc;
  const sc_label_t canary[] = {{{"app", 3}, {"api", 3}}, {{"track", 5}, {"canary", 6}}};
  const sc_label_t api[] = {{{"app", 3}, {"api", 3}}, {{"version", 7}, {"v1", 2}}};
  const sc_label_t web[] = {{{"app", 3}, {"web", 3}}};
  char *s = resolve(r, "prod", canary, 2, &rc);
  ASSERT(rc == 0 && strcmp(s, "prod/canary") == 0);
  sc_reader_free(s);
  s = resolve(r, "prod", api, 2, &rc);
  ASSERT(rc == 0 && strcmp(s, "prod/api") == 0);
  sc_reader_free(s);
  s = resolve(r, "prod", web, 1, &rc);
  ASSERT(rc == 0 && strcmp(s, "prod/default") == 0);
  sc_reader_free(s);
  s = resolve(r, "prod", NULL, 0, &rc);
  ASSERT(rc == 0 && strcmp(s, "prod/default") == 0);
  sc_reader_free(s);
  s = resolve(r, "elsewhere", api, 2, &rc); /* not mentioned: the "*" record */
  ASSERT(rc == 0 && strcmp(s, "*/@default") == 0);
  sc_reader_free(s);
  s = resolve(r, "odd", api, 2, &rc); /* a record naming no scope for this proxy */
  ASSERT_EQ_INT(rc, SC_ECORRUPT);
  ASSERT(s == NULL);
  sc_snapshot_reader_close(r);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  ASSERT_EQ_INT(system(cmd), 0);
}

TEST_LIST = {
    TEST_ENTRY(proxy_to_scope),
    TEST_LIST_END,
};
