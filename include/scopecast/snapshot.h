/* The scopecast snapshot: an LMDB environment in a directory, written by the engine and
 * read by everyone else (MDB_RDONLY). The layout is a documented contract:
 * snapshot/FORMAT.md.
 *
 * Ownership: handles come in open/close pairs; close(NULL) is a no-op. Error details
 * (the LMDB call and its message) are kept in the handle and returned by *_errmsg(). */
#ifndef SCOPECAST_SNAPSHOT_H
#define SCOPECAST_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scopecast/config.h"
#include "scopecast/error.h"

#define SC_SNAPSHOT_MAGIC "scopecast-snapshot"
#define SC_SNAPSHOT_FORMAT_VERSION 4u
/* The writer's lock file in the snapshot directory (one writer per directory). */
#define SC_SNAPSHOT_LOCK_NAME "writer.lock"

/* Tables (snapshot/FORMAT.md). */
#define SC_TABLE_SCOPES "scopes"       /* scope id -> JSON scope head */
#define SC_TABLE_SCOPE_ENTRIES "scope_entries" /* scope id NUL hostname -> JSON entry */
#define SC_TABLE_RESOURCES "resources" /* XXH3-128 (16 bytes) -> an encoded Envoy resource */
#define SC_TABLE_ENDPOINTS "endpoints" /* "CLUSTER#ID" -> an encoded ClusterLoadAssignment */
#define SC_TABLE_CHANGELOG "changelog" /* head version (u64 big-endian) -> JSON: what changed */
#define SC_TABLE_HISTORY "history"     /* id NUL version (u64 BE) 'h'|'e' [host] -> the record
                                          that version replaced ("" when there was none) */
#define SC_TABLE_SELECTORS "selectors" /* namespace (or "*") -> JSON selector record */
#define SC_TABLE_SCOPE_INDEX "scope_index" /* scope id -> JSON summary of the scope */
/* The base: entries every scope importing all namespaces shares; its head in "scopes" holds
 * its version and changedAt (it is not a scope, and not in "scope_index"). */
#define SC_BASE_KEY "@base"

/* The version of a scope that shares the base (its head has "base"): its own version
 * combined with the base's, so that it changes when either does (FORMAT.md). */
static inline uint64_t sc_snapshot_effective_version(uint64_t own, uint64_t base) {
  return own ^ ((base << 17) | (base >> 47));
}

/* Skipped objects of one kind (the kind as written, "AuthorizationPolicy"). */
#define SC_SNAPSHOT_MAX_SKIPPED_KINDS 32
typedef struct {
  char kind[64];
  uint64_t count;
} sc_snapshot_kind_count_t;

typedef struct {
  uint32_t format_version;
  uint64_t head_version;       /* increases by one with every published batch */
  uint64_t instance_id;        /* random per engine run */
  uint64_t last_publish_ms;    /* unix time of the last commit, milliseconds */
  uint64_t objects_total;      /* accepted config objects */
  uint64_t objects_by_kind[SC_KIND__COUNT];
  uint64_t scopes;
  uint64_t resources;          /* distinct Envoy resources stored */
  uint64_t endpoints;          /* ClusterLoadAssignments stored (table endpoints) */
  uint64_t history_versions;   /* head versions the history table covers (FORMAT.md) */
  uint64_t rejected_total;     /* objects rejected by this engine run */
  uint64_t skipped_total;      /* unknown kinds skipped by this engine run */
  uint64_t warnings_total;     /* warnings about accepted objects, this engine run */
  /* skipped_total by kind, in the order first seen; past the cap the last entry is
   * "(other kinds)". */
  sc_snapshot_kind_count_t skipped_by_kind[SC_SNAPSHOT_MAX_SKIPPED_KINDS];
  size_t nskipped_kinds;
} sc_snapshot_meta_t;

/* ---- writer (the engine) ------------------------------------------------------------ */

typedef struct sc_snapshot_writer_s sc_snapshot_writer_t;
typedef struct sc_snapshot_txn_s sc_snapshot_txn_t;

typedef struct {
  size_t initial_map_size; /* 0: 64 MiB */
  size_t max_map_size;     /* 0: 64 GiB; growth beyond it fails with SC_EMAPFULL */
  bool no_sync;            /* skip fsync on commit (tests, benchmarks) */
} sc_snapshot_writer_opts_t;

/* Creates dir if needed, takes its writer lock (SC_SNAPSHOT_LOCK_NAME, held until close;
 * SC_EBUSY, with the holder's pid in errbuf, when another writer holds it), opens (or
 * creates) the environment, clears stale reader slots and reads the head version a
 * previous engine left. A snapshot of another format version fails with SC_EVERSION. On
 * failure errbuf (if not NULL) says why. */
int sc_snapshot_writer_open(const char *dir, const sc_snapshot_writer_opts_t *opts,
                            sc_snapshot_writer_t **out, char *errbuf, size_t errlen);
void sc_snapshot_writer_close(sc_snapshot_writer_t *w);
/* Message for the last error of w: the LMDB call and its reason. */
const char *sc_snapshot_writer_errmsg(const sc_snapshot_writer_t *w);

uint64_t sc_snapshot_writer_head(const sc_snapshot_writer_t *w);
size_t sc_snapshot_writer_map_size(const sc_snapshot_writer_t *w);
/* Number of stale reader slots cleared so far (at open and before each publish). */
uint64_t sc_snapshot_writer_stale_readers(const sc_snapshot_writer_t *w);

/* Writes what cb writes plus the meta record in one write transaction, as head
 * version head+1. meta supplies the counts; on success its head_version, instance_id,
 * last_publish_ms and format_version are set to what was committed. When the map is
 * full, the transaction is aborted, the map grown and cb run again from the start, so
 * cb must only depend on its arguments. cb may be NULL. */
typedef int (*sc_snapshot_write_cb)(void *arg, sc_snapshot_txn_t *txn);
int sc_snapshot_publish(sc_snapshot_writer_t *w, sc_snapshot_meta_t *meta,
                        sc_snapshot_write_cb cb, void *arg);

/* Within a publish callback: put/delete a record of a named table (created on first use). */
int sc_snapshot_txn_put(sc_snapshot_txn_t *txn, const char *table, const void *key,
                        size_t klen, const void *val, size_t vlen);
int sc_snapshot_txn_del(sc_snapshot_txn_t *txn, const char *table, const void *key,
                        size_t klen);
/* The record of table under key, as the transaction sees it: borrowed bytes, valid until
 * the transaction writes to that table again. SC_ENOTFOUND when there is none. */
int sc_snapshot_txn_get(sc_snapshot_txn_t *txn, const char *table, const void *key, size_t klen,
                        const void **val, size_t *vlen);
/* Empties a table (it stays). */
int sc_snapshot_txn_clear(sc_snapshot_txn_t *txn, const char *table);
/* The head version the transaction will commit. */
uint64_t sc_snapshot_txn_version(const sc_snapshot_txn_t *txn);

/* ---- reader (frontends, the dump tool) ------------------------------------------------ */

typedef struct sc_snapshot_reader_s sc_snapshot_reader_t;

/* Opens dir read-only. SC_ENOTFOUND when there is no snapshot there. */
int sc_snapshot_reader_open(const char *dir, sc_snapshot_reader_t **out, char *errbuf,
                            size_t errlen);
void sc_snapshot_reader_close(sc_snapshot_reader_t *r);
const char *sc_snapshot_reader_errmsg(const sc_snapshot_reader_t *r);

/* Reads the meta record in one short read transaction. */
int sc_snapshot_read_meta(sc_snapshot_reader_t *r, sc_snapshot_meta_t *meta);

/* Record callbacks get borrowed bytes, valid only during the call. Return non-zero to
 * stop; that value is returned. */
typedef int (*sc_snapshot_record_cb)(void *arg, const void *key, size_t klen, const void *val,
                                     size_t vlen);
/* Calls cb with the record of table under key (one short read transaction).
 * SC_ENOTFOUND when there is none. */
int sc_snapshot_get(sc_snapshot_reader_t *r, const char *table, const void *key, size_t klen,
                    sc_snapshot_record_cb cb, void *arg);
/* Calls cb for every record of table in key order, in one read transaction. A missing
 * table has no records. */
int sc_snapshot_foreach(sc_snapshot_reader_t *r, const char *table, sc_snapshot_record_cb cb,
                        void *arg);

/* A view: one read transaction, for reads that must see one version (a scope's head and
 * its entries). End it soon; it pins the pages of that version. */
typedef struct sc_snapshot_view_s sc_snapshot_view_t;
int sc_snapshot_view_begin(sc_snapshot_reader_t *r, sc_snapshot_view_t **out);
void sc_snapshot_view_end(sc_snapshot_view_t *v);
/* The head version the view sees (0: nothing published). */
uint64_t sc_snapshot_view_head(sc_snapshot_view_t *v);
/* As sc_snapshot_get, within the view. */
int sc_snapshot_view_get(sc_snapshot_view_t *v, const char *table, const void *key, size_t klen,
                         sc_snapshot_record_cb cb, void *arg);
/* Calls cb for every record of table whose key starts with prefix (every record when
 * plen is 0), in key order. */
int sc_snapshot_view_scan(sc_snapshot_view_t *v, const char *table, const void *prefix,
                          size_t plen, sc_snapshot_record_cb cb, void *arg);

#endif
