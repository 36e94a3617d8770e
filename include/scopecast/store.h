/* scopecast store: parsing manifests and watch events into typed objects, and the
 * in-memory config store with its indexes.
 *
 * store/ implements it and is the bottom of the tree: documents (libyaml, jansson),
 * schema-driven decoding and validation, reference-counted objects, the store, and the
 * helpers everything uses (the allocator wrappers of mem.h, arrays, arenas, hash maps). It
 * calls nothing of scopecast's other folders.
 *
 * Nothing here prints. Parse functions report each object through a callback, together
 * with a diagnostic (sc_diag_t) when it was rejected or skipped, and with warnings when it
 * was accepted in spite of fields scopecast does not know; the caller decides how to log
 * them.
 */
#ifndef SCOPECAST_STORE_H
#define SCOPECAST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scopecast/config.h"
#include "scopecast/error.h"

/* ---- diagnostics --------------------------------------------------------------------- */

/* Why an object was rejected or skipped, or what is wrong with an accepted one (a
 * warning), and where it came from. Fixed-size, so filling
 * one never allocates; over-long parts are truncated with "...". */
typedef struct {
  char source[192];   /* "file examples/a.yaml", "watch tcp:127.0.0.1:9000", ... */
  uint64_t line;      /* 1-based line in the source, 0 when unknown */
  uint64_t column;    /* 1-based column, 0 when unknown */
  uint64_t offset;    /* byte offset in the source */
  char kind[64];      /* "Sidecar", or the unknown kind as written, or "" */
  char namespace_[64];
  char name[256];
  char field[256];    /* "spec.egress[0].hosts[1]", or "" for the whole value */
  char reason[320];
} sc_diag_t;

/* One line, no trailing newline:
 * "file a.yaml:12:5: Sidecar prod/default: spec.egress[0].hosts[1]: <reason>". */
void sc_diag_format(const sc_diag_t *diag, char *buf, size_t len);

/* ---- parsing -------------------------------------------------------------------------- */

typedef struct {
  const char *source;            /* label for diagnostics (required) */
  uint64_t base_line;            /* line of buf[0] within the source (0 means 1) */
  uint64_t base_offset;          /* byte offset of buf[0] within the source */
  const char *domain_suffix;     /* NULL: "cluster.local" */
  const char *default_namespace; /* NULL: "default"; given to namespaced objects without one */
  const char *system_namespace;  /* NULL: "istio-system"; where ConfigMap "istio" is read */
  size_t max_object_bytes;       /* 0: SC_PARSE_DEFAULT_MAX_OBJECT_BYTES */
  unsigned max_depth;            /* 0: SC_PARSE_DEFAULT_MAX_DEPTH */
  bool ignore_mesh_configmap;    /* the mesh config comes from a file instead */
} sc_parse_opts_t;

#define SC_PARSE_DEFAULT_MAX_OBJECT_BYTES (4u << 20)
#define SC_PARSE_DEFAULT_MAX_DEPTH 64u

typedef enum {
  SC_EVENT_ADDED = 0,
  SC_EVENT_MODIFIED,
  SC_EVENT_DELETED,
  SC_EVENT_BOOKMARK,
  SC_EVENT_ERROR
} sc_event_type_t;

typedef enum {
  SC_ITEM_OBJECT = 0, /* accepted: obj is set */
  SC_ITEM_REJECTED,   /* invalid or unparsable: diag says why */
  SC_ITEM_SKIPPED     /* unknown or ignored kind: diag says which */
} sc_item_status_t;

typedef struct {
  sc_item_status_t status;
  sc_event_type_t event; /* SC_EVENT_ADDED for manifests */
  /* OBJECT: a new reference owned by the callback. For DELETED events only the key
   * fields (kind, namespace, name) are meaningful. */
  sc_obj_t *obj;
  const sc_diag_t *diag; /* REJECTED and SKIPPED */
  /* REJECTED: whether kind/namespace/name of the rejected object are known exactly (they
   * are then in key_kind, key_namespace and key_name; diag's copies are for display and
   * may be truncated). A name or namespace that is not a string, or holds a NUL byte,
   * gives no key. */
  bool key_known;
  sc_kind_t key_kind;
  /* OBJECT, and REJECTED with key_known: the object's exact key, valid during the
   * callback only (NUL-terminated; "" for cluster-scoped kinds' namespace). */
  sc_str_t key_namespace, key_name;
  /* A BOOKMARK that ends a watch's initial events (sendInitialEvents=true): its object's
   * metadata.annotations["k8s.io/initial-events-end"] is "true". */
  bool initial_events_end;
  /* OBJECT: warnings about an object accepted all the same, each naming its field: fields
   * that are not in the API (ignored), names Kubernetes' admission would refuse. The
   * first SC_PARSE_MAX_WARNINGS are in warnings[0..nwarnings); nwarnings_total counts
   * all. Valid during the callback only. */
  const sc_diag_t *warnings;
  uint32_t nwarnings, nwarnings_total;
} sc_parse_item_t;

#define SC_PARSE_MAX_WARNINGS 8u

/* Return 0 to continue, anything else to stop parsing (returned by the parse call). */
typedef int (*sc_parse_cb)(void *arg, const sc_parse_item_t *item);

/* Parses YAML (multi-document, `kind: List` too; JSON is YAML) and reports every object.
 * A syntax error rejects only the document it is in. Returns 0, or the callback's
 * non-zero value, or SC_ENOMEM. */
int sc_parse_yaml(const char *buf, size_t len, const sc_parse_opts_t *opts, sc_parse_cb cb,
                  void *arg);

/* Parses one or more concatenated JSON values (objects or Lists) with a strict JSON parser. */
int sc_parse_json(const char *buf, size_t len, const sc_parse_opts_t *opts, sc_parse_cb cb,
                  void *arg);

/* Parses one Kubernetes watch event {"type": ..., "object": {...}} held in buf.
 * BOOKMARK and ERROR events are reported as SKIPPED with the event type set. */
int sc_parse_watch_event(const char *buf, size_t len, const sc_parse_opts_t *opts,
                         sc_parse_cb cb, void *arg);

/* Parses a MeshConfig YAML document (the content of `--mesh-config FILE` or of the istio
 * ConfigMap's `mesh` key). On success *out holds a new MeshConfig object. */
int sc_parse_mesh_config(const char *buf, size_t len, const sc_parse_opts_t *opts,
                         sc_obj_t **out, sc_diag_t *diag);

/* ---- the store ------------------------------------------------------------------------ */

typedef struct sc_store_s sc_store_t;

typedef enum {
  SC_CHANGE_NOOP = 0, /* same spec hash, or delete of an unknown object */
  SC_CHANGE_ADDED,
  SC_CHANGE_UPDATED,
  SC_CHANGE_DELETED
} sc_change_op_t;

/* What a put or delete changed. The change holds one reference to each object it names;
 * release them with sc_change_release once the dependency tracker has seen them. */
typedef struct {
  sc_change_op_t op;
  sc_obj_t *old_obj; /* UPDATED, DELETED */
  sc_obj_t *new_obj; /* ADDED, UPDATED */
} sc_change_t;

void sc_change_release(sc_change_t *change);

/* A borrowed view of objects; valid until the next put or delete. Order is unspecified. */
typedef struct {
  sc_obj_t *const *items;
  size_t n;
} sc_obj_list_t;

int sc_store_new(sc_store_t **out);
void sc_store_del(sc_store_t *store); /* NULL is a no-op */

/* Inserts or replaces obj, taking over the caller's reference. An object whose spec hash
 * equals the stored one is a no-op (the stored object stays). */
int sc_store_put(sc_store_t *store, sc_obj_t *obj, sc_change_t *change);
/* Removes the object with that key; an unknown key is a no-op, not an error. */
int sc_store_delete(sc_store_t *store, sc_kind_t kind, sc_str_t ns, sc_str_t name,
                    sc_change_t *change);

/* Borrowed; valid until the object is replaced or deleted. */
const sc_obj_t *sc_store_get(const sc_store_t *store, sc_kind_t kind, sc_str_t ns,
                             sc_str_t name);
sc_obj_list_t sc_store_list(const sc_store_t *store, sc_kind_t kind);
sc_obj_list_t sc_store_list_namespace(const sc_store_t *store, sc_kind_t kind, sc_str_t ns);
/* Objects of a kind that carry this hostname: a Service's FQDN, a ServiceEntry host, a
 * VirtualService host or a DestinationRule host (short names resolved). */
sc_obj_list_t sc_store_list_hostname(const sc_store_t *store, sc_kind_t kind, sc_str_t host);
size_t sc_store_count(const sc_store_t *store, sc_kind_t kind);
/* The effective mesh config: the stored MeshConfig object's, or the defaults. */
const sc_mesh_config_t *sc_store_mesh(const sc_store_t *store);

#endif
