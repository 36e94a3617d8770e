/* History of the scope records (see history.h). */
#include <stdlib.h>
#include <string.h>

#include "store/mem.h"
#include "publish/history.h"

/* A history record: its key in SC_TABLE_HISTORY and the version it belongs to. */
typedef struct {
  uint64_t version;
  size_t klen;
  char key[];
} record_t;

/* A resource no current record names since version. */
typedef struct {
  uint8_t hash[16];
  uint64_t version;
} grave_t;

static void free_all(sc_vec_t *v) {
  for (uint32_t i = 0; i < v->n; i++)
    sc__free(v->items[i]);
  v->n = 0;
}

void sc__history_init(sc_history_t *h, uint32_t keep) {
  memset(h, 0, sizeof(*h));
  h->keep = keep;
}

void sc__history_reset(sc_history_t *h) {
  free_all(&h->committed);
  free_all(&h->written);
  free_all(&h->graveyard);
}

void sc__history_free(sc_history_t *h) {
  sc__history_reset(h);
  sc__vec_free(&h->committed);
  sc__vec_free(&h->written);
  sc__vec_free(&h->graveyard);
}

void sc__history_begin(sc_history_t *h) { free_all(&h->written); }

int sc__history_remember(sc_history_t *h, sc_snapshot_txn_t *txn, const char *table, const void *key,
                        size_t klen, const char *id, char kind, const char *host) {
  if (h->keep == 0)
    return 0;
  uint64_t version = sc_snapshot_txn_version(txn);
  size_t idlen = strlen(id), hlen = host ? strlen(host) : 0, hklen = 8 + idlen + 2 + hlen;
  record_t *r = sc__malloc(sizeof(*r) + hklen);
  if (r == NULL)
    return SC_ENOMEM;
  r->version = version;
  r->klen = hklen;
  /* Version first: a write appends its records at the end of the table (few pages). */
  for (int i = 0; i < 8; i++)
    r->key[i] = (char)(version >> (56 - 8 * i));
  memcpy(r->key + 8, id, idlen + 1);
  r->key[idlen + 9] = kind;
  if (hlen)
    memcpy(r->key + idlen + 10, host, hlen);
  /* (A write changes each record once: its states' staged puts and deletes are unique.) */
  const void *old = NULL;
  size_t olen = 0;
  char *copy = NULL;
  int rc = sc_snapshot_txn_get(txn, table, key, klen, &old, &olen);
  if (rc == 0 && (copy = sc__malloc(olen ? olen : 1)) != NULL)
    memcpy(copy, old, olen); /* the next write may move the bytes */
  if (rc == SC_ENOTFOUND)
    rc = 0, olen = 0; /* there was none: an empty value */
  else if (rc == 0 && copy == NULL)
    rc = SC_ENOMEM;
  if (rc == 0)
    rc = sc_snapshot_txn_put(txn, SC_TABLE_HISTORY, r->key, hklen, copy ? copy : "", olen);
  sc__free(copy);
  if (rc == 0 && (rc = sc__vec_push(&h->written, r)) == 0)
    return 0;
  sc__free(r);
  return rc;
}

int sc__history_bury(sc_history_t *h, const uint8_t hash[16], uint64_t version) {
  grave_t *g = sc__malloc(sizeof(*g));
  if (g == NULL || sc__vec_push(&h->graveyard, g) != 0) {
    sc__free(g);
    return SC_ENOMEM;
  }
  memcpy(g->hash, hash, 16);
  g->version = version;
  return 0;
}

/* Whether a later burial of the same resource keeps it when grave i expires. */
static bool buried_again(const sc_history_t *h, uint32_t i) {
  const grave_t *g = h->graveyard.items[i];
  for (uint32_t j = i + 1; j < h->graveyard.n; j++)
    if (memcmp(((const grave_t *)h->graveyard.items[j])->hash, g->hash, 16) == 0)
      return true;
  return false;
}

/* The newest version that leaves the window when `version` is written; 0: none. */
static uint64_t leaving(const sc_history_t *h, uint64_t version) {
  return h->keep && version > h->keep ? version - h->keep : 0;
}

int sc__history_expire(sc_history_t *h, sc_snapshot_txn_t *txn, bool (*named)(void *arg, const uint8_t hash[16]),
                      void *arg) {
  uint64_t oldest = leaving(h, sc_snapshot_txn_version(txn));
  int rc = 0;
  for (uint32_t i = 0; i < h->committed.n && rc == 0; i++) {
    const record_t *r = h->committed.items[i];
    if (r->version > oldest)
      break;
    rc = sc_snapshot_txn_del(txn, SC_TABLE_HISTORY, r->key, r->klen);
  }
  for (uint32_t i = 0; i < h->graveyard.n && rc == 0; i++) {
    const grave_t *g = h->graveyard.items[i];
    if (g->version > oldest)
      break;
    if (!named(arg, g->hash) && !buried_again(h, i))
      rc = sc_snapshot_txn_del(txn, SC_TABLE_RESOURCES, g->hash, 16);
  }
  return rc;
}

/* Drops the items of v (oldest first) whose version is at most oldest. */
static void drop_until(sc_vec_t *v, uint64_t oldest, bool graves) {
  uint32_t n = 0;
  while (n < v->n && (graves ? ((const grave_t *)v->items[n])->version : ((const record_t *)v->items[n])->version) <= oldest)
    sc__free(v->items[n++]);
  if (n > 0) /* (an empty vector has no array) */
    memmove(v->items, v->items + n, (v->n - n) * sizeof(void *));
  v->n -= n;
}

void sc__history_commit(sc_history_t *h, uint64_t version) {
  uint64_t oldest = leaving(h, version);
  drop_until(&h->committed, oldest, false);
  for (uint32_t i = 0; i < h->written.n; i++)
    if (sc__vec_push(&h->committed, h->written.items[i]) != 0)
      sc__free(h->written.items[i]); /* its record stays until a resync: harmless */
  h->written.n = 0;
  drop_until(&h->graveyard, oldest, true);
}
