/* scopecast-dump check: the whole snapshot verified in one read transaction (see
 * dump_check.h). */
#include "dump_check.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "dump_common.h"
#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route_components.pb-c.h"
#include "scopecast/reader.h"
#include "wire/registry.h"

/* `check` reads everything in one read transaction and verifies it. Its digest covers what
 * decides what a proxy can receive — the selector records, the scope heads without their
 * version and changedAt, the entries, the resources and assignments they name (verified
 * against their content hashes), and what each scope's base proxy gets — and never head
 * versions, commit times or the engine's instance id: two snapshots of the same content
 * have the same digest whatever their histories. */
#define CHECK_MAX_ERRORS 100 /* listed; the rest are counted */

typedef struct {
  sc_snapshot_view_t *v;
  XXH3_state_t *digest;
  json_t *ids;         /* scope ids, in scope_index order */
  json_t *index;       /* scope id -> the version its scope_index record gives */
  json_t *contents;    /* id of a head in table scopes -> whether it holds content (no sameAs) */
  json_t *selectors;   /* scope or content id -> {canonical text: selector}: classes of proxies */
  json_t *verified;    /* "TYPE/HASH" of stored and served bytes decoded as TYPE -> true */
  json_t *stored;      /* hashes of the resources the records name -> true */
  json_t *assignments; /* keys of the assignments the records name -> true */
  json_t *versions;    /* content id -> [its version, the XXH3 of its head's content, of its entries] */
  json_t *errors;
  size_t nerrors, nindex, nendpoints;
  bool other_namespaces; /* the selector record "*" is there */
  uint64_t resources[SC_XDS__TYPES], bytes;
  sc_records_cache_t *cache;
  sc_blob_cache_t *blobs;
} check_t;

static json_t *string_or_null(const char *s) {
  json_t *j = s ? json_string(s) : NULL;
  return j ? j : json_null();
}

static void check_error(check_t *c, const char *scope, const char *type, const char *resource, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void check_error(check_t *c, const char *scope, const char *type, const char *resource, const char *fmt, ...) {
  if (c->nerrors++ >= CHECK_MAX_ERRORS)
    return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  json_t *e = json_object();
  json_object_set_new(e, "scope", string_or_null(scope));
  json_object_set_new(e, "type", string_or_null(type));
  json_object_set_new(e, "resource", string_or_null(resource));
  json_object_set_new(e, "error", string_or_null(msg));
  json_array_append_new(c->errors, e);
}

/* One field of the digest, its length first, so that no two sequences of fields feed the
 * same bytes. */
static void digest_put(check_t *c, const void *p, size_t n) {
  uint8_t len[8];
  for (int i = 0; i < 8; i++)
    len[i] = (uint8_t)((uint64_t)n >> (8 * i));
  XXH3_128bits_update(c->digest, len, sizeof(len));
  XXH3_128bits_update(c->digest, p, n);
}

static void digest_str(check_t *c, const char *s) { digest_put(c, s, strlen(s)); }

/* ---- check: stored bytes -- */

/* Field 1 of m when it is a string: the name of every xDS resource type (cluster_name of an
 * assignment). NULL for types whose field 1 is something else. */
static const char *message_name(const ProtobufCMessage *m) {
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(m->descriptor, 1);
  if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED ||
      (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
    return NULL;
  return *(const char *const *)((const uint8_t *)m + f->offset);
}

/* Whether the bytes of resource name decode as d (and carry that name). */
static void verify_decodes(check_t *c, const char *scope, const char *type, const char *name,
                           const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len) {
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, data);
  if (m == NULL) {
    check_error(c, scope, type, name, "%zu bytes that do not decode as %s", len, d->name);
    return;
  }
  const char *decoded = message_name(m);
  if (decoded != NULL && strcmp(decoded, name) != 0)
    check_error(c, scope, type, name, "decodes as a %s named \"%s\"", d->short_name, decoded);
  protobuf_c_message_free_unpacked(m, NULL);
}

/* What the records say a stored resource or assignment is. */
typedef struct {
  check_t *c;
  const char *scope, *type, *name;
  const ProtobufCMessageDescriptor *d;
  bool hashed; /* its key is the XXH3-128 of its bytes (resources, not assignments) */
} stored_ref_t;

/* "TYPE/HASH": what verified holds for bytes of hash h decoded as d. */
static void verified_tag(const ProtobufCMessageDescriptor *d, const uint8_t h[16], char *out, size_t len) {
  int n = snprintf(out, len, "%s/", d->name);
  for (int i = 0; i < 16 && n > 0 && (size_t)n + 2 < len; i++)
    n += snprintf(out + n, len - (size_t)n, "%02x", h[i]);
}

static int verify_stored(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  stored_ref_t *s = arg;
  XXH128_canonical_t h;
  XXH128_canonicalFromHash(&h, XXH3_128bits(val, vlen));
  if (s->hashed && (klen != 16 || memcmp(h.digest, key, 16) != 0)) {
    check_error(s->c, s->scope, s->type, s->name, "its bytes do not match their content hash (corrupt record)");
    return 0;
  }
  verify_decodes(s->c, s->scope, s->type, s->name, s->d, val, vlen);
  char tag[160]; /* served as they are stored (not composed): not decoded again */
  verified_tag(s->d, h.digest, tag, sizeof(tag));
  json_object_set_new(s->c->verified, tag, json_true());
  return 0;
}

/* Verifies, once per key and type, the record of table under key. */
static int verify_record(stored_ref_t *s, const char *table, const void *key, size_t klen, const char *shown) {
  char tag[1400];
  snprintf(tag, sizeof(tag), "%s/%s", s->d->name, shown);
  if (json_object_get(s->c->verified, tag) != NULL)
    return 0;
  json_object_set_new(s->c->verified, tag, json_true());
  int rc = sc_snapshot_view_get(s->c->v, table, key, klen, verify_stored, s);
  if (rc == SC_ENOTFOUND)
    check_error(s->c, s->scope, s->type, s->name, "%s %s is missing from the snapshot", table, shown);
  else if (rc != 0)
    return rc;
  return 0;
}

/* The assignment of EDS cluster name (FORMAT.md "endpoints": NAME#ID). */
static int verify_assignment(check_t *c, const char *scope, const char *name, const char *id) {
  char key[1300];
  if ((size_t)snprintf(key, sizeof(key), "%s#%s", name, id) >= sizeof(key)) {
    check_error(c, scope, "endpoints", name, "assignment key too long");
    return 0;
  }
  json_object_set_new(c->assignments, key, json_true());
  stored_ref_t s = {c, scope, "endpoints", name, &envoy__config__endpoint__v3__cluster_load_assignment__descriptor,
                    false};
  return verify_record(&s, SC_TABLE_ENDPOINTS, key, strlen(key), key);
}

/* A list of references in a record and what its resources are. */
typedef struct {
  const char *field;
  sc_xds_type_t type;
  const ProtobufCMessageDescriptor *d;
} ref_field_t;

static const ref_field_t head_refs[] = {
    {"clusters", SC_XDS_CLUSTERS, &envoy__config__cluster__v3__cluster__descriptor},
    {"routes", SC_XDS_ROUTES, &envoy__config__route__v3__virtual_host__descriptor},
    {"listeners", SC_XDS_LISTENERS, &envoy__config__listener__v3__listener__descriptor},
    {"listenersNoCapture", SC_XDS_LISTENERS, &envoy__config__listener__v3__listener__descriptor},
};
static const ref_field_t entry_refs[] = {
    {"clusters", SC_XDS_CLUSTERS, &envoy__config__cluster__v3__cluster__descriptor},
    {"routes", SC_XDS_ROUTES, &envoy__config__route__v3__virtual_host__descriptor},
    {"outboundListeners", SC_XDS_LISTENERS, &envoy__config__listener__v3__listener__descriptor},
    {"outboundListenersNoCapture", SC_XDS_LISTENERS, &envoy__config__listener__v3__listener__descriptor},
};
static const ref_field_t inbound_refs[] = {
    {"clusters", SC_XDS_CLUSTERS, &envoy__config__cluster__v3__cluster__descriptor},
    {"chains", SC_XDS_LISTENERS, &envoy__config__listener__v3__filter_chain__descriptor},
};

/* Every [name, hash(, eds id)] of list: the resource is there, matches its hash and
 * decodes; an EDS cluster's assignment is there and decodes. */
static int verify_refs(check_t *c, const char *scope, json_t *list, const ref_field_t *f) {
  const char *type = sc_xds_types[f->type].name;
  if (list != NULL && !json_is_array(list))
    check_error(c, scope, type, NULL, "\"%s\" is not a list", f->field);
  size_t i;
  json_t *ref;
  int rc = 0;
  json_array_foreach(list, i, ref) {
    const char *name = json_string_value(json_array_get(ref, 0)), *hash = json_string_value(json_array_get(ref, 1));
    const char *eds = json_string_value(json_array_get(ref, 2));
    uint8_t key[16];
    if (name == NULL || sc_gather_parse_hash(hash, key) != 0) {
      check_error(c, scope, type, name, "a corrupt reference in \"%s\"", f->field);
      continue;
    }
    json_object_set_new(c->stored, hash, json_true());
    stored_ref_t s = {c, scope, type, name, f->d, true};
    rc = verify_record(&s, SC_TABLE_RESOURCES, key, sizeof(key), hash);
    if (rc == 0 && eds != NULL)
      rc = verify_assignment(c, scope, name, eds);
    if (rc != 0)
      break;
  }
  return rc;
}

static int verify_ref_fields(check_t *c, const char *scope, json_t *rec, const ref_field_t *fields, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = verify_refs(c, scope, json_object_get(rec, fields[i].field), &fields[i]);
  return rc;
}

/* ---- check: records -- */

/* A selector recorded for id (a proxy class to gather for). */
static void add_selector(check_t *c, const char *id, json_t *selector) {
  if (!json_is_object(selector) || json_object_size(selector) == 0)
    return;
  char *text = json_dumps(selector, JSON_COMPACT | JSON_SORT_KEYS);
  json_t *set = json_object_get(c->selectors, id);
  if (set == NULL) {
    set = json_object();
    json_object_set_new(c->selectors, id, set);
  }
  if (text != NULL)
    json_object_set(set, text, selector);
  free(text);
}

static int check_index_record(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  check_t *c = arg;
  char *id = strndup(key, klen);
  if (id == NULL)
    return SC_ENOMEM;
  json_t *o = json_loadb(val, vlen, 0, NULL);
  c->nindex++;
  const char *rec_id = json_string_value(json_object_get(o, "id"));
  if (rec_id == NULL || strcmp(rec_id, id) != 0 || !json_is_string(json_object_get(o, "version"))) {
    check_error(c, id, NULL, NULL, "its scope_index record does not parse as this scope's summary");
  } else {
    json_object_set(c->index, id, json_object_get(o, "version"));
    json_array_append_new(c->ids, json_string(id));
  }
  json_decref(o);
  free(id);
  return 0;
}

/* A head without what changes when nothing else does (version, changedAt), canonical. */
static int digest_head(check_t *c, const char *id, json_t *head) {
  json_t *content = json_copy(head);
  json_object_del(content, "version");
  json_object_del(content, "changedAt");
  char *text = json_dumps(content, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(content);
  if (text == NULL)
    return SC_ENOMEM;
  digest_str(c, "head");
  digest_str(c, id);
  digest_str(c, text);
  free(text);
  return 0;
}

/* Whether s[0..n) ends with a member that follows a head's content (FORMAT.md: "base" and
 * "changedAt" come after it), name then a value of the characters of value; if so, cut it. */
static bool cut_member(char *s, size_t *n, const char *name, const char *value) {
  size_t k = strlen(name), at = *n - 1; /* the closing brace */
  while (at > k && strchr(value, s[at - 1]) != NULL)
    at--;
  if (*n < k + 2 || s[*n - 1] != '}' || at < k || at == *n - 1 || memcmp(s + at - k, name, k) != 0)
    return false;
  s[at - k] = '}';
  *n = at - k + 1;
  return true;
}

/* The XXH3 of a content head as the engine hashed it (FORMAT.md: the head's content with
 * its version zeroed); false when the record is not of that shape. */
static bool head_content_hash(const void *val, size_t vlen, uint64_t *out) {
  static const char field[] = "\"version\":\"";
  char *s = malloc(vlen + 1);
  if (s == NULL)
    return false;
  memcpy(s, val, vlen);
  s[vlen] = 0;
  char *at = strstr(s, field);
  bool ok = at != NULL && strlen(at) >= sizeof(field) - 1 + 16;
  size_t n = vlen;
  if (ok) {
    memset(at + sizeof(field) - 1, '0', 16);
    cut_member(s, &n, ",\"changedAt\":", "0123456789");
    cut_member(s, &n, ",\"base\":", "\"@base");
    *out = XXH3_64bits(s, n);
  }
  free(s);
  return ok;
}

/* A head's place among the records: scope_index has it (the base aside) with its version;
 * a content head's version is what its content and entries hash to (checked once the
 * entries are read). */
static void check_head_fields(check_t *c, const char *id, json_t *o, const void *val, size_t vlen) {
  json_t *indexed = json_object_get(c->index, id), *version = json_object_get(o, "version");
  bool base = strcmp(id, SC_BASE_KEY) == 0, content = json_object_get(o, "sameAs") == NULL;
  uint64_t hash = 0;
  if (!base && indexed == NULL)
    check_error(c, id, NULL, NULL, "a head in table scopes without a scope_index record");
  else if (!base && !json_equal(indexed, version))
    check_error(c, id, NULL, NULL, "scope_index says version %s, its head %s", json_string_value(indexed),
                sc_dump_or_none(version));
  if (content && !head_content_hash(val, vlen, &hash))
    check_error(c, id, NULL, NULL, "its head has no version");
  else if (content)
    json_object_set_new(c->versions, id, json_pack("[O, I, I]", version, (json_int_t)hash, (json_int_t)0));
}

static int check_head_record(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  check_t *c = arg;
  char *id = strndup(key, klen);
  if (id == NULL)
    return SC_ENOMEM;
  json_t *o = json_loadb(val, vlen, 0, NULL);
  const char *rec_id = json_string_value(json_object_get(o, "id"));
  int rc = 0;
  if (rec_id == NULL || strcmp(rec_id, id) != 0) {
    check_error(c, id, NULL, NULL, "its head does not parse as this scope's");
  } else {
    check_head_fields(c, id, o, val, vlen);
    json_object_set_new(c->contents, id, json_boolean(json_object_get(o, "sameAs") == NULL));
    rc = verify_ref_fields(c, id, o, head_refs, sizeof(head_refs) / sizeof(head_refs[0]));
    if (rc == 0)
      rc = digest_head(c, id, o);
  }
  json_decref(o);
  free(id);
  return rc;
}

/* An entry's references, and the selectors of its variants and inbound: classes of proxies. */
static int check_entry(check_t *c, const char *id, json_t *e) {
  int rc = verify_ref_fields(c, id, e, entry_refs, sizeof(entry_refs) / sizeof(entry_refs[0]));
  const char *variant_lists[2] = {"clusterVariants", "routeVariants"};
  for (int k = 0; k < 2 && rc == 0; k++) {
    size_t i;
    json_t *variant;
    json_array_foreach(json_object_get(e, variant_lists[k]), i, variant) {
      add_selector(c, id, json_object_get(variant, "selector"));
      if ((rc = verify_ref_fields(c, id, variant, &entry_refs[k], 1)) != 0)
        break;
    }
  }
  json_t *in = json_object_get(e, "inbound");
  if (rc == 0 && in != NULL) {
    add_selector(c, id, json_object_get(in, "selector"));
    rc = verify_ref_fields(c, id, in, inbound_refs, sizeof(inbound_refs) / sizeof(inbound_refs[0]));
  }
  return rc;
}

static int check_entry_record(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  check_t *c = arg;
  digest_str(c, "entry");
  digest_put(c, key, klen);
  digest_put(c, val, vlen);
  const char *nul = memchr(key, 0, klen);
  if (nul == NULL) {
    check_error(c, NULL, NULL, NULL, "an entry key without a NUL byte");
    return 0;
  }
  size_t idlen = (size_t)(nul - (const char *)key);
  char *id = strndup(key, idlen), *host = strndup(nul + 1, klen - idlen - 1);
  if (id == NULL || host == NULL) {
    free(id);
    free(host);
    return SC_ENOMEM;
  }
  json_t *e = json_loadb(val, vlen, 0, NULL), *owner = json_object_get(c->contents, id);
  json_t *version = json_object_get(c->versions, id);
  if (version != NULL) /* the XOR of the entries' XXH3 */
    json_array_set_new(version, 2, json_integer(json_integer_value(json_array_get(version, 2)) ^
                                                (json_int_t)XXH3_64bits(val, vlen)));
  if (!json_is_true(owner))
    check_error(c, id, NULL, host, "%s", owner ? "an entry of a scope that shares another's content" : "an entry of no scope");
  const char *hostname = json_string_value(json_object_get(e, "hostname"));
  int rc = 0;
  if (hostname == NULL || strcmp(hostname, host) != 0)
    check_error(c, id, NULL, host, "its entry does not parse as this hostname's");
  else
    rc = check_entry(c, id, e);
  json_decref(e);
  free(id);
  free(host);
  return rc;
}

static int check_selector_record(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  check_t *c = arg;
  digest_str(c, "selectors");
  digest_put(c, key, klen);
  digest_put(c, val, vlen);
  char *ns = strndup(key, klen);
  if (ns == NULL)
    return SC_ENOMEM;
  json_t *o = json_loadb(val, vlen, 0, NULL), *scopes = json_object_get(o, "scopes"), *e;
  size_t n = json_array_size(scopes);
  c->other_namespaces |= strcmp(ns, "*") == 0;
  if (n == 0)
    check_error(c, NULL, NULL, NULL, "the selector record of namespace %s does not parse or names no scope", ns);
  size_t i;
  json_array_foreach(scopes, i, e) {
    const char *id = json_string_value(json_object_get(e, "scope"));
    if (id == NULL || json_object_get(c->index, id) == NULL)
      check_error(c, id, NULL, NULL, "the selector record of namespace %s names a scope that does not exist", ns);
    else
      add_selector(c, id, json_object_get(e, "selector"));
  }
  if (n > 0 && !json_is_null(json_object_get(json_array_get(scopes, n - 1), "selector")))
    check_error(c, NULL, NULL, NULL, "the selector record of namespace %s ends with a selector: some proxies get no scope",
                ns);
  json_decref(o);
  free(ns);
  return 0;
}

static int check_endpoint_record(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  check_t *c = arg;
  c->nendpoints++;
  digest_str(c, "endpoints");
  digest_put(c, key, klen);
  digest_put(c, val, vlen);
  char *k = strndup(key, klen);
  if (k == NULL)
    return SC_ENOMEM;
  if (json_object_get(c->assignments, k) == NULL)
    check_error(c, NULL, "endpoints", k, "an assignment no record names");
  free(k);
  return 0;
}

/* ---- check: what proxies get -- */

static int cmp_label(const void *pa, const void *pb) {
  const sc_label_t *a = pa, *b = pb;
  int c = memcmp(a->key.ptr, b->key.ptr, a->key.len < b->key.len ? a->key.len : b->key.len);
  return c ? c : (a->key.len > b->key.len) - (a->key.len < b->key.len);
}

/* The labels of a selector (borrowed from it), sorted by key. */
static void labels_of(json_t *selector, sc_labels_t *out, size_t cap) {
  const char *k;
  json_t *v;
  out->n = 0;
  json_object_foreach(selector, k, v) {
    if (json_is_string(v) && out->n < cap)
      out->items[out->n++] = (sc_label_t){sc_str(k), sc_str(json_string_value(v))};
  }
  qsort(out->items, out->n, sizeof(*out->items), cmp_label);
}

/* Served bytes: verified once per content (shared resources are shared by scopes). */
static void verify_served(check_t *c, const char *id, sc_xds_type_t type, const sc_resource_t *r,
                          const uint8_t h[16]) {
  const sc_xds_type_info_t *t = &sc_xds_types[type];
  char tag[160];
  verified_tag(t->descriptor, h, tag, sizeof(tag));
  if (json_object_get(c->verified, tag) != NULL)
    return;
  json_object_set_new(c->verified, tag, json_true());
  verify_decodes(c, id, t->name, r->name, t->descriptor, r->bytes, r->len);
}

/* Who a class is, for messages. */
static void describe_proxy(json_t *selector, bool no_capture, char *out, size_t len) {
  char *text = selector ? json_dumps(selector, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  snprintf(out, len, "a proxy with %s%s%s", text ? "labels " : "no labels", text ? text : "",
           no_capture ? ", interception mode NONE" : "");
  free(text);
}

/* What a proxy of scope id with the labels of selector (NULL: none) and interception mode
 * gets of type, as `resources` prints it: every resource verified; digested and counted
 * for the base proxy (no labels, captured), whose lists are what the counts and bytes
 * report. The records decide the other classes' lists, so they are verified, not digested.
 * A class whose picks equal one checked before (classes) is skipped. */
static int check_class(check_t *c, const sc_scope_records_t *rec, const char *id, sc_xds_type_t type,
                       json_t *selector, bool no_capture, json_t *classes) {
  sc_label_t items[64];
  sc_labels_t labels = {0, items};
  labels_of(selector, &labels, sizeof(items) / sizeof(items[0]));
  sc_gather_query_t q = {id, type, 0, &labels, no_capture, c->blobs};
  char cls[17];
  snprintf(cls, sizeof(cls), "%016" PRIx64, sc_gather_class(rec, &q));
  if (json_object_get(classes, cls) != NULL)
    return 0;
  json_object_set_new(classes, cls, json_true());
  bool base = selector == NULL && !no_capture;
  sc_resource_list_t list = {NULL, 0, 0};
  char err[512] = "", who[256];
  int rc = sc_gather_from(c->v, rec, &q, &list, err, sizeof(err));
  if (rc == SC_ECORRUPT || rc == SC_ENOTFOUND) {
    describe_proxy(selector, no_capture, who, sizeof(who));
    check_error(c, id, sc_xds_types[type].name, NULL, "for %s: %s", who, err[0] ? err : sc_strerror(rc));
    rc = 0;
  }
  if (base) {
    digest_str(c, id);
    digest_str(c, sc_xds_types[type].name);
  }
  for (size_t i = 0; i < list.n && rc == 0; i++) {
    XXH128_canonical_t h;
    XXH128_canonicalFromHash(&h, XXH3_128bits(list.items[i].bytes, list.items[i].len));
    verify_served(c, id, type, &list.items[i], h.digest);
    if (!base)
      continue;
    digest_str(c, list.items[i].name);
    digest_put(c, h.digest, sizeof(h.digest));
    c->resources[type]++;
    c->bytes += list.items[i].len;
  }
  sc_resource_list_free(&list);
  return rc;
}

/* The classes of proxies of a scope: the base proxy, interception mode NONE (listeners
 * only: nothing else depends on it), and the labels of every selector recorded for the
 * scope, its content and the base (selector records, variants, inbound). */
static int check_scope(check_t *c, const char *id) {
  sc_scope_records_t *rec = NULL;
  char err[512] = "";
  int rc = sc_scope_records_load(c->v, id, 0, c->cache, &rec, err, sizeof(err));
  if (rc == SC_ECORRUPT || rc == SC_ENOTFOUND) {
    check_error(c, id, NULL, NULL, "%s", err[0] ? err : sc_strerror(rc));
    return 0;
  }
  const char *owners[3] = {id, sc_scope_records_content_id(rec), sc_scope_records_use_base(rec) ? SC_BASE_KEY : NULL};
  for (int t = 0; t < SC_XDS__TYPES && rc == 0; t++) {
    json_t *classes = json_object();
    rc = check_class(c, rec, id, (sc_xds_type_t)t, NULL, false, classes);
    if (rc == 0 && t == SC_XDS_LISTENERS)
      rc = check_class(c, rec, id, (sc_xds_type_t)t, NULL, true, classes);
    for (int o = 0; o < 3 && rc == 0; o++) {
      const char *text;
      json_t *selector;
      json_object_foreach(owners[o] ? json_object_get(c->selectors, owners[o]) : NULL, text, selector) {
        if ((rc = check_class(c, rec, id, (sc_xds_type_t)t, selector, false, classes)) != 0)
          break;
      }
    }
    json_decref(classes);
  }
  sc_scope_records_free(rec);
  return rc;
}

/* ---- check: the whole -- */

typedef struct {
  uint8_t bytes[32];
  size_t len;
} meta_value_t;

static int copy_meta_value(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  meta_value_t *m = arg;
  m->len = vlen;
  memcpy(m->bytes, val, vlen < sizeof(m->bytes) ? vlen : sizeof(m->bytes));
  return 0;
}

/* A meta value of n bytes, little-endian; false when absent or of another size. */
static bool meta_uint(sc_snapshot_view_t *v, const char *key, size_t n, uint64_t *out) {
  meta_value_t m = {{0}, 0};
  if (sc_snapshot_view_get(v, "meta", key, strlen(key), copy_meta_value, &m) != 0 || m.len != n)
    return false;
  *out = 0;
  for (size_t i = n; i > 0; i--)
    *out = *out << 8 | m.bytes[i - 1];
  return true;
}

/* The meta record: magic, format version and head (0: nothing committed yet). */
static void check_meta(check_t *c, uint64_t *head) {
  meta_value_t magic = {{0}, 0};
  uint64_t format = 0;
  *head = 0;
  int rc = sc_snapshot_view_get(c->v, "meta", "magic", 5, copy_meta_value, &magic);
  if (rc == SC_ENOTFOUND)
    return; /* an environment the engine opened but never committed to */
  if (rc != 0 || magic.len != strlen(SC_SNAPSHOT_MAGIC) || memcmp(magic.bytes, SC_SNAPSHOT_MAGIC, magic.len) != 0)
    check_error(c, NULL, NULL, NULL, "not a scopecast snapshot (meta magic)");
  else if (!meta_uint(c->v, "format_version", 4, &format) || format != SC_SNAPSHOT_FORMAT_VERSION)
    check_error(c, NULL, NULL, NULL, "format version %" PRIu64 ", this tool knows %u", format,
                SC_SNAPSHOT_FORMAT_VERSION);
  else if (!meta_uint(c->v, "head_version", 8, head) || *head == 0)
    check_error(c, NULL, NULL, NULL, "meta has no head version");
}

static int changelog_version(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  json_t *o = json_loadb(val, vlen, 0, NULL);
  *(json_int_t *)arg = json_integer_value(json_object_get(o, "version"));
  json_decref(o);
  return 0;
}

/* The meta counts against what the tables hold, and the head's changelog record. */
static void check_counts(check_t *c, uint64_t head) {
  struct {
    const char *key;
    uint64_t actual;
  } counts[] = {{"scopes", c->nindex}, {"resources", json_object_size(c->stored)}, {"endpoints", c->nendpoints}};
  for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
    uint64_t n = 0;
    if (!meta_uint(c->v, counts[i].key, 8, &n) || n != counts[i].actual)
      check_error(c, NULL, NULL, NULL, "meta says %" PRIu64 " %s, the tables hold %" PRIu64, n, counts[i].key,
                  counts[i].actual);
  }
  uint8_t key[8];
  for (int i = 0; i < 8; i++)
    key[i] = (uint8_t)(head >> (56 - 8 * i));
  json_int_t logged = 0;
  if (sc_snapshot_view_get(c->v, SC_TABLE_CHANGELOG, key, sizeof(key), changelog_version, &logged) != 0 ||
      logged != (json_int_t)head)
    check_error(c, NULL, NULL, NULL, "no changelog record of head version %" PRIu64, head);
}

/* Each content head's version against its content and entries: an entry missing, left
 * over or changed, or a head of another version, shows here. */
static void check_versions(check_t *c) {
  const char *id;
  json_t *v;
  json_object_foreach(c->versions, id, v) {
    uint64_t content = (uint64_t)json_integer_value(json_array_get(v, 1));
    uint64_t entries = (uint64_t)json_integer_value(json_array_get(v, 2));
    char hex[17];
    snprintf(hex, sizeof(hex), "%016" PRIx64, content ^ entries);
    if (strcmp(hex, sc_dump_or_none(json_array_get(v, 0))) != 0)
      check_error(c, id, NULL, NULL, "its version is %s, its head and entries hash to %s",
                  sc_dump_or_none(json_array_get(v, 0)), hex);
  }
}

/* Every table, in an order where each step knows what the ones before found. */
static int check_tables(check_t *c, uint64_t *head) {
  check_meta(c, head);
  int rc = sc_snapshot_view_scan(c->v, SC_TABLE_SCOPE_INDEX, NULL, 0, check_index_record, c);
  if (rc == 0)
    rc = sc_snapshot_view_scan(c->v, SC_TABLE_SCOPES, NULL, 0, check_head_record, c);
  const char *id;
  json_t *x;
  json_object_foreach(c->index, id, x) {
    if (json_object_get(c->contents, id) == NULL)
      check_error(c, id, NULL, NULL, "in scope_index but without a head that parses");
  }
  if (rc == 0)
    rc = sc_snapshot_view_scan(c->v, SC_TABLE_SCOPE_ENTRIES, NULL, 0, check_entry_record, c);
  if (rc == 0)
    check_versions(c);
  if (rc == 0)
    rc = sc_snapshot_view_scan(c->v, SC_TABLE_SELECTORS, NULL, 0, check_selector_record, c);
  if (rc == 0 && c->nindex > 0 && !c->other_namespaces)
    check_error(c, NULL, NULL, NULL,
                "no selector record \"*\": proxies of namespaces the config does not name get no scope");
  size_t i;
  json_array_foreach(c->ids, i, x) {
    if (rc != 0)
      break;
    rc = check_scope(c, json_string_value(x));
  }
  if (rc == 0)
    rc = sc_snapshot_view_scan(c->v, SC_TABLE_ENDPOINTS, NULL, 0, check_endpoint_record, c);
  if (rc == 0 && *head > 0)
    check_counts(c, *head);
  if (rc == 0 && *head == 0 && (c->nindex > 0 || json_object_size(c->contents) > 0))
    check_error(c, NULL, NULL, NULL, "scope records without a committed head version");
  return rc;
}

static json_t *check_result(check_t *c, uint64_t head) {
  XXH128_canonical_t d;
  XXH128_canonicalFromHash(&d, XXH3_128bits_digest(c->digest));
  char hex[33];
  for (int i = 0; i < 16; i++)
    snprintf(hex + 2 * i, 3, "%02x", d.digest[i]);
  if (c->nerrors > CHECK_MAX_ERRORS)
    check_error(c, NULL, NULL, NULL, "%zu more errors not listed", c->nerrors - CHECK_MAX_ERRORS);
  json_t *types = json_object();
  for (int t = 0; t < SC_XDS__TYPES; t++)
    json_object_set_new(types, sc_xds_types[t].name, json_integer((json_int_t)c->resources[t]));
  return json_pack("{s:I, s:I, s:o, s:I, s:s, s:O}", "headVersion", (json_int_t)head, "scopes",
                   (json_int_t)c->nindex, "resources", types, "bytes", (json_int_t)c->bytes, "digest", hex,
                   "errors", c->errors);
}

static void print_check_text(json_t *o) {
  printf("%-14s %lld\n", "head version", (long long)json_integer_value(json_object_get(o, "headVersion")));
  printf("%-14s %lld\n", "scopes", (long long)json_integer_value(json_object_get(o, "scopes")));
  const char *type;
  json_t *n;
  json_object_foreach(json_object_get(o, "resources"), type, n) {
    printf("%-14s %lld\n", type, (long long)json_integer_value(n));
  }
  printf("%-14s %lld\n", "bytes", (long long)json_integer_value(json_object_get(o, "bytes")));
  printf("%-14s %s\n", "digest", sc_dump_or_none(json_object_get(o, "digest")));
}

/* One line per error: what is wrong where. */
static void print_check_errors(json_t *errors) {
  size_t i;
  json_t *e;
  json_array_foreach(errors, i, e) {
    const char *scope = json_string_value(json_object_get(e, "scope"));
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *resource = json_string_value(json_object_get(e, "resource"));
    char where[1024];
    snprintf(where, sizeof(where), "%s%s%s%s%s%s%s", scope ? "scope " : "", scope ? scope : "",
             scope && (type || resource) ? ", " : "", type ? type : "", type && resource ? " " : "",
             resource ? resource : "", scope || type || resource ? ": " : "");
    fprintf(stderr, "scopecast-dump: check: %s%s\n", where, sc_dump_or_none(json_object_get(e, "error")));
  }
}

static void check_free(check_t *c) {
  json_decref(c->ids);
  json_decref(c->index);
  json_decref(c->contents);
  json_decref(c->selectors);
  json_decref(c->verified);
  json_decref(c->stored);
  json_decref(c->assignments);
  json_decref(c->versions);
  json_decref(c->errors);
  sc_records_cache_free(c->cache);
  sc_blob_cache_free(c->blobs);
  if (c->digest != NULL)
    XXH3_freeState(c->digest);
}

int sc_dump_check(sc_snapshot_reader_t *r, bool json) {
  check_t c = {.ids = json_array(), .index = json_object(), .contents = json_object(), .selectors = json_object(),
               .verified = json_object(), .stored = json_object(), .assignments = json_object(),
               .versions = json_object(), .errors = json_array(), .blobs = sc_blob_cache_new(),
               .digest = XXH3_createState(), .cache = sc_records_cache_new()};
  bool allocated = c.ids && c.index && c.contents && c.selectors && c.verified && c.stored && c.assignments &&
                   c.versions && c.errors && c.blobs && c.digest && c.cache;
  int rc = allocated ? 0 : SC_ENOMEM;
  if (rc == 0) {
    XXH3_128bits_reset(c.digest);
    rc = sc_snapshot_view_begin(r, &c.v);
  }
  uint64_t head = 0;
  if (rc == 0) {
    rc = check_tables(&c, &head);
    sc_snapshot_view_end(c.v);
  }
  if (rc != 0) {
    fprintf(stderr, "scopecast-dump: check: %s%s%s\n", sc_strerror(rc), rc == SC_ENOMEM ? "" : ": ",
            rc == SC_ENOMEM ? "" : sc_snapshot_reader_errmsg(r));
    check_free(&c);
    return 1;
  }
  json_t *result = check_result(&c, head);
  size_t nerrors = c.nerrors;
  check_free(&c);
  if (result == NULL)
    return 1;
  if (json) {
    sc_dump_print_json(result);
  } else {
    print_check_text(result);
    print_check_errors(json_object_get(result, "errors"));
    json_decref(result);
    if (nerrors == 0)
      printf("ok\n");
  }
  if (nerrors > 0)
    fprintf(stderr, "scopecast-dump: check: %zu error%s\n", nerrors, nerrors == 1 ? "" : "s");
  return nerrors > 0 ? 1 : 0;
}
