/* From text to typed objects: YAML/JSON documents, Lists, watch events, and the
 * metadata every object shares. Kind-specific fields are decoded by the schema_*.c files. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/doc.h"
#include "store/mem.h"
#include "store/object.h"
#include "store/schema.h"
#include "store/validate.h"

typedef struct {
  const sc_parse_opts_t *opts;
  sc_parse_cb cb;
  void *arg;
  sc_event_type_t event;
  bool key_only; /* DELETED events need only the key */
  /* Warnings about the object being decoded, reported with it. */
  sc_diag_t warnings[SC_PARSE_MAX_WARNINGS];
  uint32_t nwarnings;
} parse_ctx_t;

#define SC_MAX_LIST_DEPTH 4

typedef int (*decode_fn)(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj);

typedef struct {
  const char *group; /* apiVersion without the version, "" for the core group */
  const char *kind;
  sc_kind_t id;
  decode_fn decode;
} kind_entry_t;

static const kind_entry_t kind_table[] = {
    {"", "Service", SC_KIND_SERVICE, sc__decode_service},
    {"", "Namespace", SC_KIND_NAMESPACE, sc__decode_namespace},
    {"", "Pod", SC_KIND_POD, sc__decode_pod},
    {"discovery.k8s.io", "EndpointSlice", SC_KIND_ENDPOINT_SLICE, sc__decode_endpoint_slice},
    {"networking.istio.io", "ServiceEntry", SC_KIND_SERVICE_ENTRY, sc__decode_service_entry},
    {"networking.istio.io", "VirtualService", SC_KIND_VIRTUAL_SERVICE, sc__decode_virtual_service},
    {"networking.istio.io", "DestinationRule", SC_KIND_DESTINATION_RULE,
     sc__decode_destination_rule},
    {"networking.istio.io", "Sidecar", SC_KIND_SIDECAR, sc__decode_sidecar},
};

/* The API versions scopecast reads for each group. */
static bool version_supported(const char *group, const char *version) {
  if (group[0] == '\0' || strcmp(group, "discovery.k8s.io") == 0)
    return strcmp(version, "v1") == 0;
  return strcmp(version, "v1") == 0 || strcmp(version, "v1beta1") == 0 ||
         strcmp(version, "v1alpha3") == 0;
}

static const char *opt_default_ns(const sc_parse_opts_t *o) {
  return o->default_namespace ? o->default_namespace : "default";
}

static const char *opt_system_ns(const sc_parse_opts_t *o) {
  return o->system_namespace ? o->system_namespace : "istio-system";
}

static void diag_init(sc_diag_t *diag, const sc_parse_opts_t *o, const sc_node_t *at) {
  memset(diag, 0, sizeof(*diag));
  snprintf(diag->source, sizeof(diag->source), "%s", o->source ? o->source : "input");
  if (at != NULL) {
    diag->line = at->line;
    diag->column = at->column;
    diag->offset = at->offset;
  }
}

static int report(parse_ctx_t *c, sc_item_status_t status, sc_obj_t *obj, const sc_diag_t *diag,
                  bool key_known, sc_kind_t kind) {
  sc_parse_item_t item = {status, c->event, obj, diag, key_known, kind, {"", 0}, {"", 0},
                          false, NULL, 0, 0};
  if (obj != NULL) {
    item.key_namespace = obj->namespace_;
    item.key_name = obj->name;
    item.warnings = c->warnings;
    item.nwarnings_total = c->nwarnings;
    item.nwarnings = c->nwarnings < SC_PARSE_MAX_WARNINGS ? c->nwarnings : SC_PARSE_MAX_WARNINGS;
    c->nwarnings = 0;
  }
  return c->cb(c->arg, &item);
}

/* A rejection without a usable key: nothing may be keyed on it. */
static int reject(parse_ctx_t *c, const sc_diag_t *diag, bool key_known, sc_kind_t kind) {
  return report(c, SC_ITEM_REJECTED, NULL, diag, key_known, kind);
}

/* A rejection of an object whose exact key is known (kind, ns, name: never truncated). */
static int reject_key(parse_ctx_t *c, const sc_diag_t *diag, sc_kind_t kind, sc_str_t ns,
                      sc_str_t name) {
  sc_parse_item_t item = {SC_ITEM_REJECTED, c->event, NULL, diag, true, kind, ns, name,
                          false, NULL, 0, 0};
  return c->cb(c->arg, &item);
}

/* A string scalar usable as part of a key: no embedded NUL (C strings would cut it). */
static bool key_part(const sc_node_t *n, sc_str_t *out) {
  if (n == NULL || n->type != SC_NODE_SCALAR || strcmp(sc__decode_scalar_type_name(n), "a string") != 0 ||
      memchr(n->text, '\0', n->len) != NULL)
    return false;
  *out = (sc_str_t){n->text, n->len};
  return true;
}

/* The exact key of an object that failed to decode, as the store would key it, or false
 * when its metadata gives none (no name, not strings, embedded NUL). */
static bool rejected_key(const parse_ctx_t *c, const sc_node_t *root, sc_kind_t kind, sc_str_t *ns,
                         sc_str_t *name) {
  const sc_node_t *meta = sc__doc_map_get(root, "metadata");
  if (!key_part(sc__doc_map_get(meta, "name"), name) || name->len == 0)
    return false;
  *ns = sc_str("");
  if (!sc_kind_is_namespaced(kind))
    return true;
  const sc_node_t *n = sc__doc_map_get(meta, "namespace");
  if (sc__doc_node_is_null(n) || (n->type == SC_NODE_SCALAR && n->len == 0)) {
    *ns = sc_str(opt_default_ns(c->opts));
    return true;
  }
  return key_part(n, ns);
}

/* ---- metadata ------------------------------------------------------------------------ */

typedef struct {
  sc_str_t name;
  sc_str_t namespace_;
  sc_labels_t labels;
  sc_str_t creation;
} meta_t;

static const sc_field_t meta_fields[] = {
    F_STR("name", meta_t, name), F_LABELS("labels", meta_t, labels),
    F_STR("creationTimestamp", meta_t, creation), F_END};
static const sc_schema_t meta_schema = {meta_fields, NULL, NULL, NULL};
/* The namespace is part of the key, and may be defaulted: it stays out of the spec hash so
 * that a manifest with and without "namespace: default" is the same object. */
static const sc_field_t meta_ns_fields[] = {F_STR("namespace", meta_t, namespace_), F_END};
static const sc_schema_t meta_ns_schema = {meta_ns_fields, NULL, NULL, NULL};

/* Annotations scopecast reads; everything else (last-applied-configuration, ...) is
 * ignored so that it neither costs memory nor defeats no-op detection. */
static const char *const known_annotations[] = {"networking.istio.io/exportTo",
                                                "internal.istio.io/route-semantics", NULL};

static int decode_annotations(sc_dec_t *d, const sc_node_t *map, sc_obj_t *obj) {
  if (sc__doc_node_is_null(map))
    return 0;
  if (map->type != SC_NODE_MAP)
    return sc__decode_fail(d, map, "expected a map of strings, got %s", sc__decode_scalar_type_name(map));
  sc_labels_t *out = &obj->annotations;
  out->items = sc__arena_alloc(d->arena, sizeof(sc_label_t) * 2);
  if (out->items == NULL)
    return SC_ENOMEM;
  for (const char *const *k = known_annotations; *k != NULL; k++) {
    const sc_node_t *v = sc__doc_map_get(map, *k);
    if (sc__doc_node_is_null(v))
      continue;
    size_t saved = sc__decode_push_key(d, *k);
    if (v->type != SC_NODE_SCALAR || strcmp(sc__decode_scalar_type_name(v), "a string") != 0)
      return sc__decode_fail(d, v, "expected a string, got %s", sc__decode_scalar_type_name(v));
    sc_label_t *l = &out->items[out->n++];
    if (sc__arena_str(d->arena, *k, strlen(*k), &l->key) != 0 ||
        sc__arena_str(d->arena, v->text, v->len, &l->value) != 0)
      return SC_ENOMEM;
    sc__decode_hash(d, *k, strlen(*k) + 1);
    sc__decode_hash(d, v->text, v->len + 1);
    sc__decode_pop(d, saved);
  }
  /* known_annotations is sorted, so the result is too. */
  return 0;
}

static bool is_string(const sc_node_t *n) {
  return n != NULL && n->type == SC_NODE_SCALAR && strcmp(sc__decode_scalar_type_name(n), "a string") == 0;
}

static int decode_metadata(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj, bool key_only) {
  const sc_node_t *meta = sc__doc_map_get(root, "metadata");
  size_t saved = sc__decode_push_key(d, "metadata");
  if (sc__doc_node_is_null(meta))
    return sc__decode_fail(d, root, "is required");
  if (meta->type != SC_NODE_MAP)
    return sc__decode_fail(d, meta, "expected an object, got %s", sc__decode_scalar_type_name(meta));
  const sc_parse_opts_t *o = d->opts;
  /* Name the object in any message about its metadata, so fill these in first. */
  const sc_node_t *name = sc__doc_map_get(meta, "name"), *ns = sc__doc_map_get(meta, "namespace");
  if (is_string(name))
    snprintf(d->diag->name, sizeof(d->diag->name), "%s", name->text);
  if (sc_kind_is_namespaced(obj->kind))
    snprintf(d->diag->namespace_, sizeof(d->diag->namespace_), "%s",
             is_string(ns) && ns->len > 0 ? ns->text : opt_default_ns(o));
  meta_t m;
  int rc = sc__decode_struct(d, meta, &meta_schema, &m);
  if (rc != 0)
    return rc;
  XXH3_state_t *hash = d->hash;
  d->hash = NULL;
  rc = sc__decode_struct(d, meta, &meta_ns_schema, &m);
  d->hash = hash;
  if (rc != 0)
    return rc;
  if (sc_kind_is_namespaced(obj->kind)) {
    if (m.namespace_.len == 0 &&
        sc__arena_str(d->arena, opt_default_ns(o), strlen(opt_default_ns(o)), &m.namespace_) != 0)
      return SC_ENOMEM;
    const char *why = sc__validate_dns_label(m.namespace_.ptr, m.namespace_.len);
    if (why != NULL) {
      sc__decode_push_key(d, "namespace");
      return sc__decode_fail(d, sc__doc_map_get(meta, "namespace"), "\"%.60s\" %s", m.namespace_.ptr, why);
    }
  } else {
    m.namespace_ = (sc_str_t){"", 0};
  }
  if (m.name.len == 0) {
    sc__decode_push_key(d, "name");
    return sc__decode_fail(d, meta, "is required");
  }
  const char *why = sc__validate_dns_subdomain(m.name.ptr, m.name.len);
  if (why != NULL) {
    sc__decode_push_key(d, "name");
    return sc__decode_fail(d, sc__doc_map_get(meta, "name"), "\"%.60s\" %s", m.name.ptr, why);
  }
  obj->name = m.name;
  obj->namespace_ = m.namespace_;
  obj->key_hash = sc_config_key_hash(obj->kind, obj->namespace_, obj->name);
  if (key_only)
    return 0;
  obj->labels = m.labels;
  if (m.creation.len > 0) {
    bool ok;
    obj->creation_time = sc__decode_rfc3339(m.creation.ptr, m.creation.len, &ok);
    if (!ok) {
      sc__decode_push_key(d, "creationTimestamp");
      return sc__decode_fail(d, sc__doc_map_get(meta, "creationTimestamp"),
                          "\"%.60s\" is not an RFC 3339 timestamp", m.creation.ptr);
    }
  }
  size_t saved_ann = sc__decode_push_key(d, "annotations");
  rc = decode_annotations(d, sc__doc_map_get(meta, "annotations"), obj);
  if (rc != 0)
    return rc;
  sc__decode_pop(d, saved_ann);
  sc__decode_pop(d, saved);
  return 0;
}

/* ---- objects ------------------------------------------------------------------------- */

static int scalar_field(const sc_node_t *root, const char *key, const sc_node_t **out) {
  const sc_node_t *n = sc__doc_map_get(root, key);
  *out = n;
  if (sc__doc_node_is_null(n))
    return 1;
  if (n->type != SC_NODE_SCALAR || strcmp(sc__decode_scalar_type_name(n), "a string") != 0)
    return -1;
  return 0;
}

/* Decodes one object whose kind is known into a new object; fills diag on failure. */
static int decode_object(parse_ctx_t *c, const sc_node_t *root, sc_kind_t kind, decode_fn fn,
                         sc_diag_t *diag, sc_obj_t **out) {
  sc_obj_t *obj = sc__obj_new(kind, root->len * 64u);
  if (obj == NULL)
    return SC_ENOMEM;
  XXH3_state_t hash;
  XXH3_64bits_reset(&hash);
  sc_dec_t d = {.arena = obj->arena_, .hash = &hash, .diag = diag, .opts = c->opts, .ctx = obj,
               .warnings = c->warnings, .max_warnings = SC_PARSE_MAX_WARNINGS};
  c->nwarnings = 0;
  int rc = decode_metadata(&d, root, obj, c->key_only);
  if (rc == 0 && !c->key_only)
    rc = fn(&d, root, obj);
  c->nwarnings = rc == 0 ? d.nwarnings : 0;
  if (rc != 0) {
    sc_obj_unref(obj);
    return rc;
  }
  obj->spec_hash = XXH3_64bits_digest(&hash);
  *out = obj;
  return 0;
}

static int process_node(parse_ctx_t *c, const sc_node_t *root, unsigned list_depth,
                        const sc_node_t *list_api, const char *item_kind);

/* The API server leaves apiVersion and kind out of the items of a typed list
 * ("ServiceList"): they inherit them from the list. */
static int process_list(parse_ctx_t *c, const sc_node_t *root, const sc_node_t *api,
                        const sc_node_t *kind, unsigned list_depth) {
  const sc_node_t *items = sc__doc_map_get(root, "items");
  if (sc__doc_node_is_null(items))
    return 0;
  if (items->type != SC_NODE_SEQ) {
    sc_diag_t diag;
    diag_init(&diag, c->opts, items);
    snprintf(diag.kind, sizeof(diag.kind), "List");
    snprintf(diag.field, sizeof(diag.field), "items");
    snprintf(diag.reason, sizeof(diag.reason), "expected a list, got %s",
             sc__decode_scalar_type_name(items));
    return reject(c, &diag, false, SC_KIND_SERVICE);
  }
  char item_kind[128];
  snprintf(item_kind, sizeof(item_kind), "%.*s", (int)(kind->len - 4), kind->text);
  for (uint32_t i = 0; i < items->len; i++) {
    int rc = process_node(c, items->items[i], list_depth + 1, item_kind[0] ? api : NULL,
                          item_kind);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int process_configmap(parse_ctx_t *c, const sc_node_t *root, sc_diag_t *diag) {
  const sc_parse_opts_t *o = c->opts;
  const sc_node_t *meta = sc__doc_map_get(root, "metadata");
  const sc_node_t *name = sc__doc_map_get(meta, "name"), *ns = sc__doc_map_get(meta, "namespace");
  const char *ns_text = sc__doc_node_is_null(ns) ? opt_default_ns(o) : ns->text;
  bool is_mesh = name != NULL && name->type == SC_NODE_SCALAR && strcmp(name->text, "istio") == 0 &&
                 strcmp(ns_text, opt_system_ns(o)) == 0;
  snprintf(diag->kind, sizeof(diag->kind), "ConfigMap");
  snprintf(diag->namespace_, sizeof(diag->namespace_), "%s", ns_text);
  snprintf(diag->name, sizeof(diag->name), "%s",
           name && name->type == SC_NODE_SCALAR ? name->text : "");
  if (!is_mesh || o->ignore_mesh_configmap) {
    snprintf(diag->reason, sizeof(diag->reason), "%s",
             is_mesh ? "ignored: the mesh config comes from --mesh-config"
                     : "ignored: only the istio ConfigMap of the system namespace is read");
    return report(c, SC_ITEM_SKIPPED, NULL, diag, false, SC_KIND_MESH_CONFIG);
  }
  sc_str_t key_ns = sc_str(opt_system_ns(o)), key_name = sc_str("istio");
  if (c->key_only) {
    sc_obj_t *obj = sc_obj_new_key(SC_KIND_MESH_CONFIG, key_ns, key_name);
    if (obj == NULL)
      return SC_ENOMEM;
    return report(c, SC_ITEM_OBJECT, obj, NULL, true, SC_KIND_MESH_CONFIG);
  }
  const sc_node_t *mesh = sc__doc_map_get(sc__doc_map_get(root, "data"), "mesh");
  sc_obj_t *obj = NULL;
  int rc;
  if (sc__doc_node_is_null(mesh) || mesh->type != SC_NODE_SCALAR) {
    snprintf(diag->field, sizeof(diag->field), "data.mesh");
    snprintf(diag->reason, sizeof(diag->reason), "%s",
             mesh ? "expected a string holding MeshConfig YAML" : "is required");
    return reject_key(c, diag, SC_KIND_MESH_CONFIG, key_ns, key_name);
  }
  sc_parse_opts_t inner = *o;
  inner.base_line = mesh->line + 1; /* a block scalar starts on the next line */
  inner.base_offset = mesh->offset;
  rc = sc_parse_mesh_config(mesh->text, mesh->len, &inner, &obj, diag);
  if (rc == SC_ENOMEM)
    return rc;
  if (rc != 0) {
    char field[sizeof(diag->field)];
    snprintf(field, sizeof(field), "%s", diag->field);
    snprintf(diag->field, sizeof(diag->field), "data.mesh%s%.240s", field[0] ? "." : "", field);
    snprintf(diag->kind, sizeof(diag->kind), "ConfigMap");
    snprintf(diag->namespace_, sizeof(diag->namespace_), "%s", ns_text);
    snprintf(diag->name, sizeof(diag->name), "istio");
    return reject_key(c, diag, SC_KIND_MESH_CONFIG, key_ns, key_name);
  }
  return report(c, SC_ITEM_OBJECT, obj, NULL, true, SC_KIND_MESH_CONFIG);
}

static int process_node(parse_ctx_t *c, const sc_node_t *root, unsigned list_depth,
                        const sc_node_t *list_api, const char *item_kind) {
  sc_diag_t diag;
  diag_init(&diag, c->opts, root);
  if (root == NULL || sc__doc_node_is_null(root))
    return 0; /* an empty document */
  if (root->type != SC_NODE_MAP) {
    snprintf(diag.reason, sizeof(diag.reason), "expected an object, got %s",
             sc__decode_scalar_type_name(root));
    return reject(c, &diag, false, SC_KIND_SERVICE);
  }
  const sc_node_t *api, *kind;
  int api_rc = scalar_field(root, "apiVersion", &api), kind_rc = scalar_field(root, "kind", &kind);
  sc_node_t inherited_kind;
  if (kind_rc > 0 && api_rc > 0 && list_api != NULL) {
    inherited_kind = (sc_node_t){.type = SC_NODE_SCALAR, .quoted = true, .text = item_kind,
                                 .len = (uint32_t)strlen(item_kind)};
    kind = &inherited_kind;
    api = list_api;
    kind_rc = api_rc = 0;
  }
  if (kind_rc != 0 || api_rc != 0) {
    const char *field = kind_rc != 0 ? "kind" : "apiVersion";
    int bad = kind_rc != 0 ? kind_rc : api_rc;
    const sc_node_t *at = kind_rc != 0 ? kind : api;
    if (at != NULL)
      diag_init(&diag, c->opts, at);
    snprintf(diag.field, sizeof(diag.field), "%s", field);
    snprintf(diag.reason, sizeof(diag.reason), "%s",
             bad > 0 ? "is required" : "expected a string");
    return reject(c, &diag, false, SC_KIND_SERVICE);
  }
  snprintf(diag.kind, sizeof(diag.kind), "%s", kind->text);

  /* "v1" is the core group; "group/version" otherwise. */
  char group[128];
  const char *slash = strchr(api->text, '/');
  const char *version = slash ? slash + 1 : api->text;
  snprintf(group, sizeof(group), "%.*s", slash ? (int)(slash - api->text) : 0, api->text);

  size_t klen = kind->len;
  if (klen >= 4 && strcmp(kind->text + klen - 4, "List") == 0 && sc__doc_map_get(root, "items")) {
    if (list_depth >= SC_MAX_LIST_DEPTH) {
      snprintf(diag.reason, sizeof(diag.reason), "%s",
               list_depth > SC_MAX_LIST_DEPTH ? "a watch event carries one object, not a List"
                                              : "Lists nested too deeply");
      return reject(c, &diag, false, SC_KIND_SERVICE);
    }
    return process_list(c, root, api, kind, list_depth);
  }
  if (group[0] == '\0' && strcmp(version, "v1") == 0 && strcmp(kind->text, "ConfigMap") == 0)
    return process_configmap(c, root, &diag);

  const kind_entry_t *entry = NULL;
  for (size_t i = 0; i < sizeof(kind_table) / sizeof(kind_table[0]); i++)
    if (strcmp(kind_table[i].group, group) == 0 && strcmp(kind_table[i].kind, kind->text) == 0)
      entry = &kind_table[i];
  if (entry == NULL || !version_supported(group, version)) {
    snprintf(diag.kind, sizeof(diag.kind), "%.30s/%.30s", api->text, kind->text);
    snprintf(diag.reason, sizeof(diag.reason), "%s",
             entry ? "unsupported API version" : "unknown kind");
    const sc_node_t *meta = sc__doc_map_get(root, "metadata");
    const sc_node_t *name = sc__doc_map_get(meta, "name"), *ns = sc__doc_map_get(meta, "namespace");
    if (name != NULL && name->type == SC_NODE_SCALAR)
      snprintf(diag.name, sizeof(diag.name), "%s", name->text);
    if (ns != NULL && ns->type == SC_NODE_SCALAR)
      snprintf(diag.namespace_, sizeof(diag.namespace_), "%s", ns->text);
    return report(c, SC_ITEM_SKIPPED, NULL, &diag, false, SC_KIND_SERVICE);
  }

  sc_obj_t *obj = NULL;
  int rc = decode_object(c, root, entry->id, entry->decode, &diag, &obj);
  if (rc == SC_ENOMEM)
    return rc;
  if (rc != 0) {
    sc_str_t key_ns, key_name;
    if (rejected_key(c, root, entry->id, &key_ns, &key_name))
      return reject_key(c, &diag, entry->id, key_ns, key_name);
    return reject(c, &diag, false, entry->id);
  }
  return report(c, SC_ITEM_OBJECT, obj, NULL, true, entry->id);
}

/* ---- entry points -------------------------------------------------------------------- */

static sc_doc_opts_t doc_opts(const sc_parse_opts_t *o, uint64_t line, uint64_t offset) {
  sc_doc_opts_t d = {line, offset, o->max_depth ? o->max_depth : SC_PARSE_DEFAULT_MAX_DEPTH};
  return d;
}

static int reject_syntax(parse_ctx_t *c, const sc_doc_error_t *err) {
  sc_diag_t diag;
  diag_init(&diag, c->opts, NULL);
  diag.line = err->line;
  diag.column = err->column;
  diag.offset = err->offset;
  snprintf(diag.reason, sizeof(diag.reason), "%s", err->reason);
  return reject(c, &diag, false, SC_KIND_SERVICE);
}

static int yaml_chunk(void *arg, const char *p, size_t n, uint64_t line, uint64_t offset) {
  parse_ctx_t *c = arg;
  /* Chunk positions are relative to the buffer; shift them into the source. */
  uint64_t base_line = c->opts->base_line ? c->opts->base_line : 1;
  sc_doc_opts_t o = doc_opts(c->opts, line + base_line - 1, offset + c->opts->base_offset);
  sc_doc_t doc;
  sc_doc_error_t err;
  int rc = sc__doc_parse_yaml(p, n, &o, &doc, &err);
  if (rc == SC_ENOMEM)
    return rc;
  if (rc != 0)
    return reject_syntax(c, &err);
  rc = process_node(c, doc.root, 0, NULL, NULL);
  sc__doc_free(&doc);
  return rc;
}

int sc_parse_yaml(const char *buf, size_t len, const sc_parse_opts_t *opts, sc_parse_cb cb,
                  void *arg) {
  parse_ctx_t c = {.opts = opts, .cb = cb, .arg = arg, .event = SC_EVENT_ADDED};
  return sc__doc_yaml_split(buf, len, yaml_chunk, &c);
}

int sc_parse_json(const char *buf, size_t len, const sc_parse_opts_t *opts, sc_parse_cb cb,
                  void *arg) {
  parse_ctx_t c = {.opts = opts, .cb = cb, .arg = arg, .event = SC_EVENT_ADDED};
  size_t pos = 0;
  uint64_t line = opts->base_line ? opts->base_line : 1;
  while (pos < len) {
    size_t ws = pos;
    while (ws < len && (buf[ws] == ' ' || buf[ws] == '\t' || buf[ws] == '\n' || buf[ws] == '\r'))
      ws++;
    if (ws == len)
      break;
    sc_doc_opts_t o = doc_opts(opts, line, opts->base_offset + pos);
    sc_doc_t doc;
    sc_doc_error_t err;
    size_t used = 0;
    int rc = sc__doc_parse_json(buf + pos, len - pos, &o, &doc, &used, &err);
    if (rc == SC_ENOMEM)
      return rc;
    if (rc != 0)
      return reject_syntax(&c, &err); /* no resynchronisation inside one file */
    rc = process_node(&c, doc.root, 0, NULL, NULL);
    sc__doc_free(&doc);
    if (rc != 0)
      return rc;
    for (size_t i = pos; i < pos + used; i++)
      line += buf[i] == '\n';
    pos += used;
  }
  return 0;
}

static const char *const event_names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR",
                                          NULL};

int sc_parse_watch_event(const char *buf, size_t len, const sc_parse_opts_t *opts,
                         sc_parse_cb cb, void *arg) {
  parse_ctx_t c = {.opts = opts, .cb = cb, .arg = arg, .event = SC_EVENT_ADDED};
  size_t max = opts->max_object_bytes ? opts->max_object_bytes : SC_PARSE_DEFAULT_MAX_OBJECT_BYTES;
  sc_diag_t diag;
  diag_init(&diag, opts, NULL);
  diag.line = opts->base_line ? opts->base_line : 1;
  diag.offset = opts->base_offset;
  if (len > max) {
    snprintf(diag.reason, sizeof(diag.reason),
             "event of %zu bytes exceeds the limit of %zu bytes", len, max);
    return reject(&c, &diag, false, SC_KIND_SERVICE);
  }
  sc_doc_opts_t o = doc_opts(opts, diag.line, opts->base_offset);
  sc_doc_t doc;
  sc_doc_error_t err;
  size_t used;
  int rc = sc__doc_parse_json(buf, len, &o, &doc, &used, &err);
  if (rc == SC_ENOMEM)
    return rc;
  if (rc != 0)
    return reject_syntax(&c, &err);
  for (size_t i = used; i < len && rc == 0; i++) {
    if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') {
      snprintf(diag.reason, sizeof(diag.reason), "unexpected text after the event's JSON value");
      diag.offset = opts->base_offset + i;
      sc__doc_free(&doc);
      return reject(&c, &diag, false, SC_KIND_SERVICE);
    }
  }
  const sc_node_t *root = doc.root, *type = sc__doc_map_get(root, "type");
  const sc_node_t *object = sc__doc_map_get(root, "object");
  int event = -1;
  if (root->type == SC_NODE_MAP && type != NULL && type->type == SC_NODE_SCALAR)
    for (int i = 0; event_names[i] != NULL; i++)
      if (strcmp(type->text, event_names[i]) == 0)
        event = i;
  if (event < 0) {
    snprintf(diag.field, sizeof(diag.field), "type");
    snprintf(diag.reason, sizeof(diag.reason), "%s",
             type ? "must be ADDED, MODIFIED, DELETED, BOOKMARK or ERROR"
                  : "a watch event needs {\"type\": ..., \"object\": ...}");
    rc = reject(&c, &diag, false, SC_KIND_SERVICE);
  } else if (event == SC_EVENT_BOOKMARK || event == SC_EVENT_ERROR) {
    c.event = (sc_event_type_t)event;
    const sc_node_t *msg = sc__doc_map_get(object, "message");
    snprintf(diag.kind, sizeof(diag.kind), "%s", event_names[event]);
    snprintf(diag.reason, sizeof(diag.reason), "%s%.200s",
             event == SC_EVENT_ERROR ? "watch ERROR event: " : "bookmark",
             event == SC_EVENT_ERROR && msg && msg->type == SC_NODE_SCALAR ? msg->text : "");
    sc_parse_item_t item = {SC_ITEM_SKIPPED, c.event, NULL, &diag, false, SC_KIND_SERVICE,
                            {"", 0}, {"", 0}, false, NULL, 0, 0};
    if (event == SC_EVENT_BOOKMARK) {
      const sc_node_t *end = sc__doc_map_get(
          sc__doc_map_get(sc__doc_map_get(object, "metadata"), "annotations"), "k8s.io/initial-events-end");
      item.initial_events_end = end != NULL && end->type == SC_NODE_SCALAR &&
                                strcmp(end->text, "true") == 0;
    }
    rc = c.cb(c.arg, &item);
  } else if (sc__doc_node_is_null(object) || object->type != SC_NODE_MAP) {
    snprintf(diag.field, sizeof(diag.field), "object");
    snprintf(diag.reason, sizeof(diag.reason), "%s",
             object ? "expected an object" : "is required");
    rc = reject(&c, &diag, false, SC_KIND_SERVICE);
  } else {
    c.event = (sc_event_type_t)event;
    c.key_only = event == SC_EVENT_DELETED;
    rc = process_node(&c, object, SC_MAX_LIST_DEPTH + 1, NULL, NULL); /* no Lists here */
  }
  sc__doc_free(&doc);
  return rc;
}

int sc_parse_mesh_config(const char *buf, size_t len, const sc_parse_opts_t *opts,
                         sc_obj_t **out, sc_diag_t *diag) {
  diag_init(diag, opts, NULL);
  snprintf(diag->kind, sizeof(diag->kind), "MeshConfig");
  sc_doc_opts_t o = doc_opts(opts, opts->base_line ? opts->base_line : 1, opts->base_offset);
  sc_doc_t doc;
  sc_doc_error_t err;
  int rc = sc__doc_parse_yaml(buf, len, &o, &doc, &err);
  if (rc == SC_ENOMEM)
    return rc;
  if (rc != 0) {
    diag->line = err.line;
    diag->column = err.column;
    diag->offset = err.offset;
    snprintf(diag->reason, sizeof(diag->reason), "%s", err.reason);
    return rc;
  }
  sc_obj_t *obj = sc__obj_new(SC_KIND_MESH_CONFIG, len * 2);
  if (obj == NULL) {
    sc__doc_free(&doc);
    return SC_ENOMEM;
  }
  XXH3_state_t hash;
  XXH3_64bits_reset(&hash);
  sc_dec_t d = {.arena = obj->arena_, .hash = &hash, .diag = diag, .opts = opts, .ctx = obj};
  const char *ns = opt_system_ns(opts);
  rc = sc__arena_str(obj->arena_, ns, strlen(ns), &obj->namespace_);
  if (rc == 0)
    rc = sc__arena_str(obj->arena_, "istio", 5, &obj->name);
  if (rc == 0)
    rc = sc__decode_mesh(&d, doc.root, obj);
  sc__doc_free(&doc);
  if (rc != 0) {
    sc_obj_unref(obj);
    return rc;
  }
  obj->key_hash = sc_config_key_hash(SC_KIND_MESH_CONFIG, obj->namespace_, obj->name);
  obj->spec_hash = XXH3_64bits_digest(&hash);
  *out = obj;
  return 0;
}

void sc_diag_format(const sc_diag_t *d, char *buf, size_t len) {
  char pos[64] = "";
  if (d->line > 0 && d->column > 0)
    snprintf(pos, sizeof(pos), ":%" PRIu64 ":%" PRIu64, d->line, d->column);
  else if (d->line > 0)
    snprintf(pos, sizeof(pos), ":%" PRIu64 " (byte %" PRIu64 ")", d->line, d->offset);
  else
    snprintf(pos, sizeof(pos), " (byte %" PRIu64 ")", d->offset);
  char who[400] = "";
  if (d->kind[0] != '\0')
    snprintf(who, sizeof(who), " %s %s%s%s:", d->kind, d->namespace_, d->namespace_[0] ? "/" : "",
             d->name[0] ? d->name : "(unnamed)");
  snprintf(buf, len, "%s%s:%s %s%s%s", d->source, pos, who, d->field, d->field[0] ? ": " : "",
           d->reason);
}
