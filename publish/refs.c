/* Resource reference counts (see refs.h). */
#include <string.h>

#include "publish/refs.h"
#include "store/mem.h"
#include "scopecast/error.h"

void sc__refs_init(sc_refs_t *r) {
  memset(r, 0, sizeof(*r));
  sc__hashmap_init(&r->by_hash);
}

static void free_del(sc_refs_t *r) {
  for (uint32_t i = 0; i < r->del.n; i++)
    sc__free(r->del.items[i]);
  r->del.n = 0;
}

static void drop_all(sc_refs_t *r) {
  for (size_t i = 0; i < r->by_hash.cap; i++) {
    sc_res_ref_t *x = r->by_hash.values[i];
    while (x != NULL) {
      sc_res_ref_t *next = x->next;
      sc__free(x);
      x = next;
    }
  }
  sc__hashmap_free(&r->by_hash);
  r->n = 0;
  r->put.n = 0;
  free_del(r);
}

void sc__refs_reset(sc_refs_t *r) {
  drop_all(r);
  sc__hashmap_init(&r->by_hash);
}

void sc__refs_free(sc_refs_t *r) {
  drop_all(r);
  sc__vec_free(&r->put);
  sc__vec_free(&r->del);
}

static uint64_t res_key(const uint8_t hash[16]) {
  uint64_t k;
  memcpy(&k, hash, sizeof(k));
  return k;
}

static sc_res_ref_t *find(const sc_refs_t *r, const uint8_t hash[16]) {
  for (sc_res_ref_t *x = sc__hashmap_get(&r->by_hash, res_key(hash)); x != NULL; x = x->next)
    if (memcmp(x->hash, hash, 16) == 0)
      return x;
  return NULL;
}

const sc_res_ref_t *sc__refs_find(const sc_refs_t *r, const uint8_t hash[16]) { return find(r, hash); }

int sc__refs_ref(sc_refs_t *refs, const sc_resource_t *x) {
  sc_res_ref_t *r = find(refs, x->hash);
  if (r != NULL) {
    r->refs++;
    return 0;
  }
  if (x->bytes == NULL || (r = sc__calloc(1, sizeof(*r))) == NULL)
    return SC_ENOMEM; /* a new resource always comes with its bytes */
  memcpy(r->hash, x->hash, 16);
  r->refs = 1;
  r->bytes = x->bytes;
  r->len = x->len;
  r->put_pending = true;
  refs->n++;
  r->next = sc__hashmap_get(&refs->by_hash, res_key(x->hash));
  if (sc__hashmap_put(&refs->by_hash, res_key(x->hash), r) != 0 || sc__vec_push(&refs->put, r) != 0) {
    if (sc__hashmap_get(&refs->by_hash, res_key(x->hash)) == r) { /* undo */
      if (r->next != NULL)
        sc__hashmap_put(&refs->by_hash, res_key(x->hash), r->next);
      else
        sc__hashmap_remove(&refs->by_hash, res_key(x->hash));
    }
    refs->n--;
    sc__free(r);
    return SC_ENOMEM;
  }
  return 0;
}

static void forget(sc_refs_t *refs, sc_res_ref_t *r) {
  refs->n--;
  uint64_t k = res_key(r->hash);
  sc_res_ref_t *head = sc__hashmap_get(&refs->by_hash, k);
  if (head == r) {
    if (r->next != NULL)
      sc__hashmap_put(&refs->by_hash, k, r->next); /* replaces: cannot fail */
    else
      sc__hashmap_remove(&refs->by_hash, k);
  } else {
    for (sc_res_ref_t *p = head; p != NULL; p = p->next)
      if (p->next == r) {
        p->next = r->next;
        break;
      }
  }
  sc__free(r);
}

int sc__refs_unref(sc_refs_t *refs, const uint8_t hash[16], sc_history_t *history, uint64_t head_next) {
  int rc = 0;
  sc_res_ref_t *r = find(refs, hash);
  if (r == NULL || --r->refs > 0)
    return 0;
  if (r->put_pending) {
    for (uint32_t j = 0; j < refs->put.n; j++)
      if (refs->put.items[j] == r) {
        refs->put.items[j] = refs->put.items[--refs->put.n];
        break;
      }
  } else if (history->keep > 0) { /* retained versions may name it: later */
    if (sc__history_bury(history, r->hash, head_next) != 0)
      rc = SC_ENOMEM;
  } else {
    uint8_t *h = sc__malloc(16);
    if (h == NULL || sc__vec_push(&refs->del, h) != 0) {
      sc__free(h);
      rc = SC_ENOMEM;
    } else {
      memcpy(h, r->hash, 16);
    }
  }
  forget(refs, r);
  return rc;
}

size_t sc__refs_count(const sc_refs_t *r) { return r->n; }
size_t sc__refs_added(const sc_refs_t *r) { return r->put.n; }
size_t sc__refs_removed(const sc_refs_t *r) { return r->del.n; }

void sc__refs_foreach(const sc_refs_t *r, void (*fn)(void *arg, const sc_res_ref_t *ref), void *arg) {
  for (size_t i = 0; i < r->by_hash.cap; i++)
    for (const sc_res_ref_t *x = r->by_hash.values[i]; x != NULL; x = x->next)
      fn(arg, x);
}

int sc__refs_write(const sc_refs_t *r, sc_snapshot_txn_t *txn, bool resync) {
  int rc = 0;
  for (uint32_t i = 0; i < r->del.n && rc == 0 && !resync; i++)
    rc = sc_snapshot_txn_del(txn, SC_TABLE_RESOURCES, r->del.items[i], 16);
  for (uint32_t i = 0; i < r->put.n && rc == 0; i++) {
    const sc_res_ref_t *x = r->put.items[i];
    rc = sc_snapshot_txn_put(txn, SC_TABLE_RESOURCES, x->hash, 16, x->bytes, x->len);
  }
  return rc;
}

void sc__refs_commit(sc_refs_t *r) {
  for (uint32_t i = 0; i < r->put.n; i++)
    ((sc_res_ref_t *)r->put.items[i])->put_pending = false;
  r->put.n = 0;
  free_del(r);
}
