/* The published selector records (see selectors.h). */
#include <string.h>

#include "publish/selectors.h"
#include "store/mem.h"
#include "scopecast/error.h"

void sc__selectors_init(sc_selectors_t *s) { memset(s, 0, sizeof(*s)); }

static void free_deleted(sc_selectors_t *s) {
  for (uint32_t i = 0; i < s->deleted.n; i++)
    sc__free(s->deleted.items[i]);
  s->deleted.n = 0;
}

static void free_items(sc_selectors_t *s) {
  for (size_t i = 0; i < s->n; i++)
    sc__plan_selector_free(&s->items[i]);
  sc__free(s->items);
  s->items = NULL;
  s->n = 0;
}

void sc__selectors_free(sc_selectors_t *s) {
  free_items(s);
  free_deleted(s);
  sc__vec_free(&s->deleted);
  sc__vec_free(&s->write);
}

static const sc_selector_t *find(const sc_selector_t *r, size_t n, const char *key) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(r[mid].key, key);
    if (c == 0)
      return &r[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

int sc__selectors_take(sc_selectors_t *s, sc_scope_plan_t *plan, bool write_all, uint64_t *written) {
  for (size_t i = 0; i < s->n; i++) {
    if (find(plan->selectors, plan->nselectors, s->items[i].key) == NULL) {
      char *k = sc__strdup(s->items[i].key);
      if (k == NULL || sc__vec_push(&s->deleted, k) != 0) {
        sc__free(k);
        return SC_ENOMEM;
      }
    }
  }
  s->write.n = 0;
  for (size_t i = 0; i < plan->nselectors; i++) {
    const sc_selector_t *old = find(s->items, s->n, plan->selectors[i].key);
    if (old != NULL && old->hash == plan->selectors[i].hash && !write_all)
      continue;
    (*written)++;
    /* Points into plan->selectors, which become s->items below. */
    if (sc__vec_push(&s->write, &plan->selectors[i]) != 0)
      return SC_ENOMEM;
  }
  free_items(s);
  s->items = plan->selectors;
  s->n = plan->nselectors;
  plan->selectors = NULL;
  plan->nselectors = 0;
  return 0;
}

bool sc__selectors_staged(const sc_selectors_t *s) { return s->write.n > 0 || s->deleted.n > 0; }

int sc__selectors_write(const sc_selectors_t *s, sc_snapshot_txn_t *txn, bool resync) {
  int rc = 0;
  for (uint32_t i = 0; i < s->write.n && rc == 0; i++) {
    const sc_selector_t *r = s->write.items[i];
    rc = sc_snapshot_txn_put(txn, SC_TABLE_SELECTORS, r->key, strlen(r->key), r->json, r->len);
  }
  for (uint32_t i = 0; i < s->deleted.n && rc == 0 && !resync; i++) {
    const char *k = s->deleted.items[i];
    rc = sc_snapshot_txn_del(txn, SC_TABLE_SELECTORS, k, strlen(k));
  }
  return rc;
}

void sc__selectors_commit(sc_selectors_t *s) {
  s->write.n = 0;
  free_deleted(s);
}
