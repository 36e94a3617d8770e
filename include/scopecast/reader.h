/* The scopecast reader library: what a proxy gets, read from a snapshot (snapshot.h,
 * snapshot/FORMAT.md). The frontends serve it; scopecast-dump prints it. It reads the
 * snapshot only (read transactions, never the engine), and owns the rules of
 * FORMAT.md that put a proxy's configuration together from stored records:
 *
 *   who a proxy is    its Node (Istio's conventions): namespace, labels, addresses,
 *                     interception mode (sc_proxy_t, sc_proxy_node_*)
 *   resolve           proxy -> scope through the selector records (sc_resolve_scope)
 *   gather            the resources of one xDS type a proxy of a scope gets, with its
 *                     labels and interception mode, at the head or a retained version:
 *                     variants picked, route configurations and virtualInbound composed
 *                     (sc_gather*, sc_scope_records_*)
 *   scopes            a scope put together from its head and entries, the list of scopes,
 *                     the DestinationRules a proxy gets (sc_reader_scope_json, ...)
 *   versions          the head versions the snapshot retains (sc_reader_retained)
 *   changelog         what each head version changed (sc_changelog_foreach,
 *                     sc_changelog_*)
 *
 * Documents the library hands out whole (a scope, the list of scopes, a changelog record)
 * are JSON text in the shapes FORMAT.md gives; nothing here exposes a JSON or protobuf
 * library's types. Text the library allocates is released with sc_reader_free.
 *
 * Ownership: handles come in new/free (load/free) pairs; free(NULL) is a no-op. Functions
 * that can fail return 0 or a negative SC_E* code (error.h); those taking err/errlen also
 * say why there (err may be NULL). */
#ifndef SCOPECAST_READER_H
#define SCOPECAST_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scopecast/config.h"
#include "scopecast/error.h"
#include "scopecast/snapshot.h"
#include "scopecast/xds.h"

/* Releases text (or any buffer) the reader library allocated. NULL is a no-op. */
void sc_reader_free(void *p);

/* ---- who a proxy is ------------------------------------------------------------------ */

/* From the Node of its first xDS request: node.id "TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.DOMAIN"
 * (TYPE sidecar or router) and the metadata NAMESPACE, LABELS, INSTANCE_IPS and
 * INTERCEPTION_MODE. This is what picks its scope and its per-proxy variants. */
typedef enum { SC_INTERCEPT_REDIRECT = 0, SC_INTERCEPT_TPROXY, SC_INTERCEPT_NONE } sc_interception_t;

#define SC_PROXY_MAX_LABELS 64
#define SC_PROXY_MAX_IPS 8

/* Strings borrow from the Node it was read from: keep that alive as long as the proxy. */
typedef struct {
  bool router;                /* TYPE "router" (a gateway) rather than "sidecar" */
  sc_str_t id;                /* the whole node.id */
  sc_str_t namespace_;        /* metadata NAMESPACE, else the id's POD.NAMESPACE part */
  sc_str_t ips[SC_PROXY_MAX_IPS]; /* metadata INSTANCE_IPS, else the id's IP */
  size_t nips;
  sc_label_t labels[SC_PROXY_MAX_LABELS]; /* metadata LABELS (string values), sorted by key */
  sc_labels_t label_set;      /* points at labels */
  sc_interception_t interception;
} sc_proxy_t;

/* A decoded Node (envoy.config.core.v3.Node, protobuf encoding) and the proxy it says. */
typedef struct sc_proxy_node_s sc_proxy_node_t;

/* Decodes an encoded Node and reads who the proxy is, as the frontend does. A Node
 * scopecast cannot serve (no or malformed id, no namespace, non-string labels, too many
 * labels or addresses, an unknown interception mode) fails with SC_EINVAL and a message
 * in err; bytes that are not a Node with SC_EINVAL; SC_ENOMEM. */
int sc_proxy_node_parse(const void *bytes, size_t len, sc_proxy_node_t **out, char *err, size_t errlen);
/* The proxy (its strings borrow from n). */
const sc_proxy_t *sc_proxy_node_proxy(const sc_proxy_node_t *n);
void sc_proxy_node_free(sc_proxy_node_t *n);

/* ---- resolve ------------------------------------------------------------------------- */

/* Proxy -> scope (the snapshot's selector records, FORMAT.md "selectors"): the record of
 * the proxy's namespace, or "*" for a namespace the config does not mention; its first
 * scope whose selector labels the proxy carries. The scope id is malloc'd into *scope
 * (sc_reader_free), read in one short read transaction. SC_ENOTFOUND when the snapshot has
 * no selector data for it, SC_ECORRUPT for a record that does not parse. */
int sc_resolve_scope(sc_snapshot_reader_t *r, sc_str_t ns, const sc_labels_t *labels, char **scope);

/* ---- gather: the resources a proxy gets ------------------------------------------------ */

/* The resources of one xDS type for a proxy of a scope, with its labels and interception
 * mode, at the head or at a retained version, put together from the records of one read
 * transaction (FORMAT.md "Composed resources"). Resources come in the order Envoy's
 * config_dump shows them, each with the version a Delta response carries, and the list's
 * version is the type's version_info. */

#define SC_RESOURCE_VERSION_MAX 33 /* 32 hex digits (XXH3-128) or 16 (XXH3-64), and a NUL */

/* A resource's content hash as records name it (32 hex digits) into the 16 bytes of its key
 * in the resources table; -1 when hex is not that. */
int sc_gather_parse_hash(const char *hex, uint8_t out[16]);

/* Bytes of a stored resource shared by the lists that hold it (counted). A resource's key
 * is its content hash, so its bytes never change: a cache of them stays valid. */
typedef struct sc_blob_s sc_blob_t;
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
void sc_resource_list_free(sc_resource_list_t *list);

/* The type's version_info: XXH3-64 of the names and versions in order, 16 hex digits. It
 * changes exactly when what the proxy gets of that type does. */
void sc_resource_list_version(const sc_resource_list_t *list, char out[17]);

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
 * of its bytes, across heads (most records do not change; swept of what no load holds).
 * NULL when out of memory. */
typedef struct sc_records_cache_s sc_records_cache_t;
sc_records_cache_t *sc_records_cache_new(void);
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

/* ---- scopes ---------------------------------------------------------------------------- */

/* The scopes (table scope_index), in id order: a JSON array of their summaries (FORMAT.md
 * "scope_index"), the version and changedAt of one that shares the base being those of
 * the whole (its own combined with the base's). *json is allocated (sc_reader_free).
 * SC_ECORRUPT (err says which record) or an LMDB failure. */
int sc_reader_scopes_json(sc_snapshot_view_t *v, char **json, char *err, size_t errlen);

/* Scope id put together from its head and its entries (and the base's) at the head of v,
 * as a JSON object: id, namespace, sidecar, version, kind, sameAs, base (those present),
 * services (hostname, namespace, ports, aliases, registry; by hostname), egressListeners
 * (each with the services it holds), ingressListeners, destinationRules and
 * destinationRuleEntries by hostname, outboundTrafficPolicy, egressProxy (when present),
 * dependencies (sorted, each once), changedAt. A scope sharing another's content
 * ("sameAs") shows that content under its own id, namespace and changedAt; one sharing
 * the base, the version and changedAt of the whole. *json is allocated (sc_reader_free).
 * SC_ENOTFOUND when there is no such scope; SC_ECORRUPT (err says which record), an LMDB
 * failure or SC_ENOMEM. */
int sc_reader_scope_json(sc_snapshot_view_t *v, const char *id, char **json, char *err, size_t errlen);

/* The DestinationRules a proxy with labels (may be NULL: none) gets in scope id
 * (docs/semantics.md "DestinationRules for a service"), as a JSON object: every service
 * of the scope by hostname -> the "from" (the rules merged, "ns/name") of the first of
 * its destinationRuleEntries of the scope's namespace whose selector the labels hold,
 * else of the last entry without a selector, else [].
 * Errors as sc_reader_scope_json. */
int sc_reader_rules_for_proxy_json(sc_snapshot_view_t *v, const char *id, const sc_labels_t *labels, char **json,
                                   char *err, size_t errlen);

/* ---- versions -------------------------------------------------------------------------- */

/* The head versions a read can be put together at: the latest (*head) back to the oldest
 * the history keeps (*oldest; FORMAT.md "history"), from the meta record. SC_ENOTFOUND
 * when nothing was published. */
int sc_reader_retained(sc_snapshot_reader_t *r, uint64_t *oldest, uint64_t *head);

/* ---- changelog ------------------------------------------------------------------------- */

/* Calls cb for each changelog record (FORMAT.md "changelog") of a head version after
 * since, in version order, with its version and its bytes (JSON text; borrowed, valid
 * during the call). Returns cb's non-zero value to stop, 0, or an LMDB failure. */
typedef int (*sc_changelog_cb)(void *arg, uint64_t version, const char *json, size_t len);
int sc_changelog_foreach(sc_snapshot_view_t *v, uint64_t since, sc_changelog_cb cb, void *arg);

/* What the changelog says changed after a version, merged: which xDS types of which scope
 * (and of the base), which endpoint assignments, whether selectors changed, or that a
 * reader must compare everything (resync: a record said so, one does not parse, or the
 * records do not start right after since). */
typedef struct sc_changelog_s sc_changelog_t;

/* Reads the changes after since into *out (sc_changelog_free). SC_ENOMEM or an LMDB
 * failure; a changelog that cannot be followed is a resync, not an error. */
int sc_changelog_read(sc_snapshot_view_t *v, uint64_t since, sc_changelog_t **out);
void sc_changelog_free(sc_changelog_t *c);
bool sc_changelog_resync(const sc_changelog_t *c);
/* Whether selector records changed (always on a resync). */
bool sc_changelog_selectors(const sc_changelog_t *c);
/* The xDS types (a mask of 1 << sc_xds_type_t) that changed for a proxy of scope whose
 * content is content_id's (may be NULL: not known) and shares the base or not: every
 * type on a resync; endpoints whenever clusters changed. */
unsigned sc_changelog_types(const sc_changelog_t *c, const char *scope, const char *content_id, bool uses_base);
/* Whether the endpoint assignment under key (table endpoints) was written or deleted. */
bool sc_changelog_endpoint(const sc_changelog_t *c, const char *key);
/* Whether any endpoint assignment was. */
bool sc_changelog_any_endpoint(const sc_changelog_t *c);

#endif
