/* What a proxy gets (snapshot/FORMAT.md "Composed resources"): the resources of one xDS
 * type for a proxy of a scope, with its labels and interception mode, at the head or at a
 * retained version, put together from the records of one read transaction. The dump tool
 * prints them; the frontends serve them. Resources come in the order Envoy's config_dump
 * shows them, each with the version a Delta response carries, and the list's version is
 * the type's version_info. */
#ifndef SC_GATHER_H
#define SC_GATHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/registry.h"
#include "scopecast/config.h"
#include "scopecast/snapshot.h"

#define SC_RESOURCE_VERSION_MAX 33 /* 32 hex digits (XXH3-128) or 16 (XXH3-64), and a NUL */

/* A resource's content hash as records name it (32 hex digits) into the 16 bytes of its key
 * in the resources table; -1 when hex is not that. */
int sc_gather_parse_hash(const char *hex, uint8_t out[16]);

/* Bytes of a stored resource shared by the lists that hold it (counted). A resource's key
 * is its content hash, so its bytes never change: a cache of them stays valid. */
typedef struct {
  int refs;
  size_t len;
  uint8_t key[16];
  uint8_t data[];
} sc_blob_t;

typedef struct sc_blob_cache_s sc_blob_cache_t;
sc_blob_cache_t *sc_blob_cache_new(void);
void sc_blob_cache_free(sc_blob_cache_t *c);
/* Drops what no list holds any more. */
void sc_blob_cache_sweep(sc_blob_cache_t *c);
size_t sc_blob_cache_size(const sc_blob_cache_t *c);

typedef struct {
  char *name;                           /* owned */
  char version[SC_RESOURCE_VERSION_MAX]; /* the content hash, hex */
  uint8_t *bytes;                       /* the encoded resource (owned, or blob's) */
  size_t len;
  sc_blob_t *blob;                      /* when the bytes are shared: a reference */
  char *endpoints_key;                  /* endpoints only: its key in table endpoints (owned) */
} sc_resource_t;

typedef struct {
  sc_resource_t *items;
  size_t n, cap;
} sc_resource_list_t;

typedef struct {
  const char *scope;           /* the scope id */
  sc_xds_type_t type;
  uint64_t version;            /* a retained head version; 0: the latest */
  const sc_labels_t *labels;   /* the proxy's labels (may be NULL: none) */
  bool no_capture;             /* interception mode NONE */
  sc_blob_cache_t *blobs;      /* share stored resources' bytes through it (may be NULL) */
} sc_gather_query_t;

/* Frees what r owns (its name, bytes or blob reference, endpoints key). */
void sc_resource_clear(sc_resource_t *r);

/* Appends what a proxy of q->scope gets of q->type to out (which the caller owns: free it
 * with sc_resource_list_free). Returns 0; SC_ENOTFOUND when the scope does not exist (at
 * that version); SC_ECORRUPT for records that do not parse or name missing resources;
 * SC_ENOMEM; or an LMDB failure (SC_ESTORAGE). err says which record and why. */
int sc_gather(sc_snapshot_view_t *v, const sc_gather_query_t *q, sc_resource_list_t *out, char *err,
              size_t errlen);

/* The records a scope's resources are put together from (its head, the head whose content
 * it has, its entries and the base's), parsed once: several proxy classes of one scope
 * gather from them within one read transaction. */
typedef struct sc_scope_records_s sc_scope_records_t;

/* Parses kept for the next loads: each id's entries at one head (cleared with
 * sc_records_cache_new_head when the head moves), and each record's parse by the hash
 * of its bytes, across heads (most records do not change; swept of what no load holds). */
typedef struct {
  json_t *entries; /* id -> entries by hostname */
  json_t *parsed;  /* XXH3-128 of a record's bytes -> its parse */
} sc_records_cache_t;

void sc_records_cache_init(sc_records_cache_t *c);
void sc_records_cache_free(sc_records_cache_t *c);
void sc_records_cache_new_head(sc_records_cache_t *c);
void sc_records_cache_sweep(sc_records_cache_t *c);

/* Loads the records of scope at version (0: the latest), through cache (may be NULL;
 * the latest version only, read in transactions of one head until new_head). Errors as
 * sc_gather. */
int sc_scope_records_load(sc_snapshot_view_t *v, const char *scope, uint64_t version, sc_records_cache_t *cache,
                          sc_scope_records_t **out, char *err, size_t errlen);
void sc_scope_records_free(sc_scope_records_t *rec);
/* The id of the scope whose content these are ("sameAs", else the scope's own; borrowed),
 * and whether that content shares the base: what the changelog names when it changes. */
const char *sc_scope_records_content_id(const sc_scope_records_t *rec);
bool sc_scope_records_use_base(const sc_scope_records_t *rec);

/* As sc_gather, from records loaded in the same read transaction (q->scope and
 * q->version are those of the records). */
int sc_gather_from(sc_snapshot_view_t *v, const sc_scope_records_t *rec, const sc_gather_query_t *q,
                   sc_resource_list_t *out, char *err, size_t errlen);

/* Which of what the records hold the labels and interception mode of q pick for q->type
 * (variants, inbound of the services the proxy serves), as a hash: two proxies whose
 * classes are equal get the same resources of that type from these records. */
uint64_t sc_gather_class(const sc_scope_records_t *rec, const sc_gather_query_t *q);

void sc_resource_list_free(sc_resource_list_t *list);

/* The type's version_info: XXH3-64 of the names and versions in order, 16 hex digits. It
 * changes exactly when what the proxy gets of that type does. */
void sc_resource_list_version(const sc_resource_list_t *list, char out[17]);

/* A scope's head at version (0: the latest), NULL in *out when it has none; 0, SC_ECORRUPT,
 * or an LMDB failure. */
int sc_scope_head_at(sc_snapshot_view_t *v, const char *id, uint64_t version, json_t **out);

/* The entries of content_id and of the base it refers to (may be NULL) at version (0: the
 * latest), added to by_host by hostname; a scope's own entries replace the base's. */
int sc_scope_entries_at(sc_snapshot_view_t *v, const char *content_id, const char *base, uint64_t version,
                        json_t *by_host);

#endif
