/* The read-only side of the snapshot: short read transactions, nothing held between calls. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "snapshot/common.h"
#include "store/mem.h"

struct sc_snapshot_reader_s {
  MDB_env *env;
  char errmsg[320];
};

static int fail(sc_snapshot_reader_t *r, const char *what, int mdb_rc) {
  snprintf(r->errmsg, sizeof(r->errmsg), "%s: %s", what, mdb_strerror(mdb_rc));
  return sc__mdb_error(mdb_rc);
}

int sc_snapshot_reader_open(const char *dir, sc_snapshot_reader_t **out, char *errbuf,
                            size_t errlen) {
  sc_snapshot_reader_t *r = sc__calloc(1, sizeof(*r));
  int rc, mrc;
  if (r == NULL)
    return SC_ENOMEM;
  char data[4096];
  struct stat st;
  snprintf(data, sizeof(data), "%s/data.mdb", dir);
  if (stat(data, &st) != 0) {
    snprintf(r->errmsg, sizeof(r->errmsg), "no snapshot in %.250s (%s)", dir, strerror(errno));
    rc = SC_ENOTFOUND;
    goto fail_alloc;
  }
  if (st.st_size == 0) { /* a writer killed while it created the file (before writers made it whole) */
    snprintf(r->errmsg, sizeof(r->errmsg), "no snapshot in %.250s (an empty data.mdb)", dir);
    rc = SC_ENOTFOUND;
    goto fail_alloc;
  }
  if ((mrc = mdb_env_create(&r->env)) != 0) {
    rc = fail(r, "mdb_env_create", mrc);
    goto fail_alloc;
  }
  mdb_env_set_maxdbs(r->env, SC_SNAPSHOT_MAX_TABLES);
  if ((mrc = mdb_env_open(r->env, dir, MDB_RDONLY | MDB_NOTLS, 0644)) != 0) {
    char what[300];
    snprintf(what, sizeof(what), "mdb_env_open(%.250s, read-only)", dir);
    rc = fail(r, what, mrc);
    goto fail_env;
  }
  int dead = 0;
  mdb_reader_check(r->env, &dead);
  *out = r;
  return 0;
fail_env:
  mdb_env_close(r->env);
fail_alloc:
  if (errbuf != NULL && errlen > 0)
    snprintf(errbuf, errlen, "%s", r->errmsg);
  sc__free(r);
  return rc;
}

void sc_snapshot_reader_close(sc_snapshot_reader_t *r) {
  if (r == NULL)
    return;
  mdb_env_close(r->env);
  sc__free(r);
}

const char *sc_snapshot_reader_errmsg(const sc_snapshot_reader_t *r) { return r->errmsg; }

/* Begins a read transaction, adopting a map the writer has grown meanwhile. */
static int begin_read(sc_snapshot_reader_t *r, MDB_txn **txn) {
  for (int attempt = 0; attempt < 3; attempt++) {
    int rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) {
      mdb_env_set_mapsize(r->env, 0);
      continue;
    }
    if (rc != 0)
      return fail(r, "mdb_txn_begin(read-only)", rc);
    return 0;
  }
  return fail(r, "mdb_txn_begin(read-only)", MDB_MAP_RESIZED);
}

static uint64_t get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, bool *ok) {
  MDB_val k = {strlen(key), (void *)key}, v;
  if (mdb_get(txn, dbi, &k, &v) != 0 || v.mv_size != 8) {
    *ok = false;
    return 0;
  }
  return sc__get_u64le(v.mv_data);
}

/* The "skipped/KIND" records, in key order (older snapshots have none). */
static void read_skipped_by_kind(MDB_txn *txn, MDB_dbi dbi, sc_snapshot_meta_t *meta) {
  MDB_cursor *c;
  if (mdb_cursor_open(txn, dbi, &c) != 0)
    return;
  size_t plen = strlen(SC_META_SKIPPED_PREFIX);
  MDB_val k = {plen, (void *)SC_META_SKIPPED_PREFIX}, v;
  int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && k.mv_size > plen && memcmp(k.mv_data, SC_META_SKIPPED_PREFIX, plen) == 0 &&
         meta->nskipped_kinds < SC_SNAPSHOT_MAX_SKIPPED_KINDS) {
    if (v.mv_size == 8) {
      sc_snapshot_kind_count_t *kc = &meta->skipped_by_kind[meta->nskipped_kinds++];
      snprintf(kc->kind, sizeof(kc->kind), "%.*s", (int)(k.mv_size - plen),
               (const char *)k.mv_data + plen);
      kc->count = sc__get_u64le(v.mv_data);
    }
    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(c);
}

int sc_snapshot_read_meta(sc_snapshot_reader_t *r, sc_snapshot_meta_t *meta) {
  memset(meta, 0, sizeof(*meta));
  MDB_txn *txn;
  int rc = begin_read(r, &txn);
  if (rc != 0)
    return rc;
  MDB_dbi dbi;
  int mrc = mdb_dbi_open(txn, SC_TABLE_META, 0, &dbi);
  if (mrc != 0) {
    mdb_txn_abort(txn);
    if (mrc == MDB_NOTFOUND) {
      snprintf(r->errmsg, sizeof(r->errmsg), "snapshot has no meta record: nothing published yet");
      return SC_ENOTFOUND;
    }
    return fail(r, "mdb_dbi_open(meta)", mrc);
  }
  MDB_val k = {strlen(SC_META_MAGIC), SC_META_MAGIC}, v;
  if (mdb_get(txn, dbi, &k, &v) != 0 || v.mv_size != strlen(SC_SNAPSHOT_MAGIC) ||
      memcmp(v.mv_data, SC_SNAPSHOT_MAGIC, v.mv_size) != 0) {
    mdb_txn_abort(txn);
    snprintf(r->errmsg, sizeof(r->errmsg), "not a scopecast snapshot (bad magic)");
    return SC_ECORRUPT;
  }
  k = (MDB_val){strlen(SC_META_FORMAT_VERSION), SC_META_FORMAT_VERSION};
  if (mdb_get(txn, dbi, &k, &v) != 0 || v.mv_size != 4) {
    mdb_txn_abort(txn);
    snprintf(r->errmsg, sizeof(r->errmsg), "snapshot meta has no format version");
    return SC_ECORRUPT;
  }
  const unsigned char *fv = v.mv_data;
  meta->format_version = (uint32_t)fv[0] | (uint32_t)fv[1] << 8 | (uint32_t)fv[2] << 16 |
                         (uint32_t)fv[3] << 24;
  if (meta->format_version != SC_SNAPSHOT_FORMAT_VERSION) {
    mdb_txn_abort(txn);
    snprintf(r->errmsg, sizeof(r->errmsg), "snapshot format version %u, this reader knows %u",
             meta->format_version, SC_SNAPSHOT_FORMAT_VERSION);
    return SC_EVERSION;
  }
  bool ok = true;
  meta->head_version = get_u64(txn, dbi, SC_META_HEAD_VERSION, &ok);
  meta->instance_id = get_u64(txn, dbi, SC_META_INSTANCE_ID, &ok);
  meta->last_publish_ms = get_u64(txn, dbi, SC_META_LAST_PUBLISH_MS, &ok);
  meta->objects_total = get_u64(txn, dbi, SC_META_OBJECTS_TOTAL, &ok);
  for (int kind = 0; kind < SC_KIND__COUNT; kind++) {
    char key[64];
    snprintf(key, sizeof(key), "%s%s", SC_META_OBJECTS_PREFIX, sc_kind_name((sc_kind_t)kind));
    meta->objects_by_kind[kind] = get_u64(txn, dbi, key, &ok);
  }
  meta->scopes = get_u64(txn, dbi, SC_META_SCOPES, &ok);
  meta->resources = get_u64(txn, dbi, SC_META_RESOURCES, &ok);
  meta->endpoints = get_u64(txn, dbi, SC_META_ENDPOINTS, &ok);
  meta->history_versions = get_u64(txn, dbi, SC_META_HISTORY, &ok);
  meta->rejected_total = get_u64(txn, dbi, SC_META_REJECTED, &ok);
  meta->skipped_total = get_u64(txn, dbi, SC_META_SKIPPED, &ok);
  bool has_warnings = true; /* absent from snapshots written before it was counted: 0 */
  meta->warnings_total = get_u64(txn, dbi, SC_META_WARNINGS, &has_warnings);
  read_skipped_by_kind(txn, dbi, meta);
  mdb_txn_abort(txn);
  if (!ok) {
    snprintf(r->errmsg, sizeof(r->errmsg), "snapshot meta record is incomplete");
    return SC_ECORRUPT;
  }
  return 0;
}

/* Opens table in txn; *exists is false when the table was never written. */
static int open_table(sc_snapshot_reader_t *r, MDB_txn *txn, const char *table, MDB_dbi *dbi,
                      bool *exists) {
  int rc = mdb_dbi_open(txn, table, 0, dbi);
  *exists = rc == 0;
  if (rc == MDB_NOTFOUND)
    return 0;
  if (rc != 0) {
    char what[96];
    snprintf(what, sizeof(what), "mdb_dbi_open(%.60s)", table);
    return fail(r, what, rc);
  }
  return 0;
}

struct sc_snapshot_view_s {
  sc_snapshot_reader_t *r;
  MDB_txn *txn;
};

int sc_snapshot_view_begin(sc_snapshot_reader_t *r, sc_snapshot_view_t **out) {
  sc_snapshot_view_t *v = sc__calloc(1, sizeof(*v));
  if (v == NULL) {
    snprintf(r->errmsg, sizeof(r->errmsg), "out of memory");
    return SC_ENOMEM;
  }
  int rc = begin_read(r, &v->txn);
  if (rc != 0) {
    sc__free(v);
    return rc;
  }
  v->r = r;
  *out = v;
  return 0;
}

void sc_snapshot_view_end(sc_snapshot_view_t *v) {
  if (v == NULL)
    return;
  mdb_txn_abort(v->txn);
  sc__free(v);
}

uint64_t sc_snapshot_view_head(sc_snapshot_view_t *view) {
  MDB_dbi dbi;
  bool ok = true;
  if (mdb_dbi_open(view->txn, SC_TABLE_META, 0, &dbi) != 0)
    return 0;
  return get_u64(view->txn, dbi, SC_META_HEAD_VERSION, &ok);
}

int sc_snapshot_view_get(sc_snapshot_view_t *view, const char *table, const void *key,
                         size_t klen, sc_snapshot_record_cb cb, void *arg) {
  MDB_dbi dbi;
  bool exists;
  int rc = open_table(view->r, view->txn, table, &dbi, &exists);
  if (rc == 0 && !exists)
    rc = SC_ENOTFOUND;
  if (rc == 0) {
    MDB_val k = {klen, (void *)key}, v;
    int mrc = mdb_get(view->txn, dbi, &k, &v);
    if (mrc == MDB_NOTFOUND)
      rc = SC_ENOTFOUND;
    else if (mrc != 0)
      rc = fail(view->r, "mdb_get", mrc);
    else
      rc = cb(arg, key, klen, v.mv_data, v.mv_size);
  }
  return rc;
}

int sc_snapshot_view_scan(sc_snapshot_view_t *view, const char *table, const void *prefix,
                          size_t plen, sc_snapshot_record_cb cb, void *arg) {
  MDB_dbi dbi;
  bool exists;
  MDB_cursor *cur = NULL;
  int rc = open_table(view->r, view->txn, table, &dbi, &exists);
  if (rc != 0 || !exists)
    return rc;
  int mrc = mdb_cursor_open(view->txn, dbi, &cur);
  if (mrc != 0)
    return fail(view->r, "mdb_cursor_open", mrc);
  MDB_val k = {plen, (void *)prefix}, v;
  mrc = mdb_cursor_get(cur, &k, &v, plen > 0 ? MDB_SET_RANGE : MDB_FIRST);
  while (rc == 0 && mrc == 0) {
    if (plen > 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
      break; /* past the prefix: keys are in order */
    rc = cb(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
    if (rc == 0)
      mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
    rc = fail(view->r, "mdb_cursor_get", mrc);
  mdb_cursor_close(cur);
  return rc;
}

int sc_snapshot_get(sc_snapshot_reader_t *r, const char *table, const void *key, size_t klen,
                    sc_snapshot_record_cb cb, void *arg) {
  sc_snapshot_view_t *v;
  int rc = sc_snapshot_view_begin(r, &v);
  if (rc == 0) {
    rc = sc_snapshot_view_get(v, table, key, klen, cb, arg);
    sc_snapshot_view_end(v);
  }
  return rc;
}

int sc_snapshot_foreach(sc_snapshot_reader_t *r, const char *table, sc_snapshot_record_cb cb,
                        void *arg) {
  sc_snapshot_view_t *v;
  int rc = sc_snapshot_view_begin(r, &v);
  if (rc == 0) {
    rc = sc_snapshot_view_scan(v, table, NULL, 0, cb, arg);
    sc_snapshot_view_end(v);
  }
  return rc;
}
