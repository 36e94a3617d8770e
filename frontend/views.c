/* Views of the snapshot per proxy class, following the changelog (see views.h). */
#include "views.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "resolve.h"
#include "scopecast/error.h"
#include "scopecast/snapshot.h"

#define ALL_TYPES ((1u << SC_XDS__TYPES) - 1)

struct sc_views_s {
  char *dir;
  const sc_logger_t *log;
  sc_views_changed_cb changed;
  void *changed_arg;
  sc_snapshot_reader_t *reader; /* NULL until the snapshot exists */
  ino_t ino;                    /* of data.mdb: a snapshot replaced underneath is reopened */
  uint64_t head, instance;
  sc_view_t *views;
  sc_strmap_t by_key;
};

/* ---- bodies --------------------------------------------------------------------------- */

void sc_body_unref(void *body) {
  sc_body_t *b = body;
  if (b != NULL && --b->refs == 0)
    free(b);
}

sc_body_t *sc_body_encode(sc_xds_type_t type, const char *version, sc_resource_t *const *items, size_t n) {
  Google__Protobuf__Any *anys = calloc(n ? n : 1, sizeof(*anys));
  Google__Protobuf__Any **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
  sc_body_t *b = NULL;
  if (anys != NULL && ptrs != NULL) {
    for (size_t i = 0; i < n; i++) {
      google__protobuf__any__init(&anys[i]);
      anys[i].type_url = (char *)sc_xds_types[type].type_url;
      anys[i].value = (ProtobufCBinaryData){items[i]->len, items[i]->bytes};
      ptrs[i] = &anys[i];
    }
    Envoy__Service__Discovery__V3__DiscoveryResponse r = ENVOY__SERVICE__DISCOVERY__V3__DISCOVERY_RESPONSE__INIT;
    r.version_info = (char *)version;
    r.type_url = (char *)sc_xds_types[type].type_url;
    r.n_resources = n;
    r.resources = ptrs;
    size_t len = envoy__service__discovery__v3__discovery_response__get_packed_size(&r);
    if ((b = malloc(sizeof(*b) + len)) != NULL) {
      b->refs = 1;
      b->len = envoy__service__discovery__v3__discovery_response__pack(&r, b->data);
    }
  }
  free(anys);
  free(ptrs);
  return b;
}

sc_body_t *sc_views_body(sc_view_type_t *t, sc_xds_type_t type, const char *version, sc_resource_t *const *items,
                         size_t n) {
  for (unsigned i = 0; i < SC_VIEW_BODIES; i++)
    if (t->bodies[i].body != NULL && strcmp(t->bodies[i].version, version) == 0) {
      t->bodies[i].body->refs++;
      return t->bodies[i].body;
    }
  sc_body_t *b = sc_body_encode(type, version, items, n);
  if (b == NULL)
    return NULL;
  unsigned slot = t->next_body++ % SC_VIEW_BODIES;
  sc_body_unref(t->bodies[slot].body);
  t->bodies[slot].body = b;
  memcpy(t->bodies[slot].version, version, sizeof(t->bodies[slot].version));
  b->refs++;
  return b;
}

/* ---- views ----------------------------------------------------------------------------- */

void sc_views_set_listener(sc_views_t *vs, sc_views_changed_cb changed, void *arg) {
  vs->changed = changed;
  vs->changed_arg = arg;
}

int sc_views_new(const char *snapshot_dir, const sc_logger_t *log, sc_views_t **out) {
  sc_views_t *vs = calloc(1, sizeof(*vs));
  if (vs == NULL || (vs->dir = strdup(snapshot_dir)) == NULL) {
    free(vs);
    return SC_ENOMEM;
  }
  vs->log = log;
  sc__strmap_init(&vs->by_key);
  *out = vs;
  return 0;
}

static void type_clear(sc_view_type_t *t) {
  sc_resource_list_free(&t->list);
  sc__strmap_free(&t->by_name, NULL);
  sc__strmap_init(&t->by_name);
  for (unsigned i = 0; i < SC_VIEW_BODIES; i++) {
    sc_body_unref(t->bodies[i].body);
    t->bodies[i].body = NULL;
  }
  t->valid = t->present = false;
  t->version[0] = 0;
}

static void view_free(sc_view_t *v) {
  for (int t = 0; t < SC_XDS__TYPES; t++)
    type_clear(&v->types[t]);
  for (uint32_t i = 0; i < v->label_set.n; i++) {
    free((char *)v->labels[i].key.ptr);
    free((char *)v->labels[i].value.ptr);
  }
  free(v->labels);
  free(v->key);
  free(v->scope);
  free(v->content_id);
  free(v);
}

void sc_views_free(sc_views_t *vs) {
  if (vs == NULL)
    return;
  for (sc_view_t *v = vs->views, *next; v != NULL; v = next) {
    next = v->next;
    view_free(v);
  }
  sc__strmap_free(&vs->by_key, NULL);
  sc_snapshot_reader_close(vs->reader);
  free(vs->dir);
  free(vs);
}

uint64_t sc_views_head(const sc_views_t *vs) { return vs->head; }
bool sc_views_ready(const sc_views_t *vs) { return vs->reader != NULL && vs->head > 0; }

int sc_views_resolve(sc_views_t *vs, sc_str_t ns, const sc_labels_t *labels, char **scope) {
  if (vs->reader == NULL)
    return SC_ENOTFOUND;
  return sc_resolve_scope(vs->reader, ns, labels, scope);
}

/* The key of a proxy class: scope NUL k=v NUL ... mode. */
static char *view_key(const char *scope, const sc_labels_t *labels, bool no_capture) {
  size_t len = strlen(scope) + 4;
  for (uint32_t i = 0; labels && i < labels->n; i++)
    len += labels->items[i].key.len + labels->items[i].value.len + 2;
  char *k = malloc(len), *p = k;
  if (k == NULL)
    return NULL;
  p += sprintf(p, "%s|", scope);
  for (uint32_t i = 0; labels && i < labels->n; i++)
    p += sprintf(p, "%.*s=%.*s,", (int)labels->items[i].key.len, labels->items[i].key.ptr,
                 (int)labels->items[i].value.len, labels->items[i].value.ptr);
  sprintf(p, "|%c", no_capture ? 'N' : 'R');
  return k;
}

static char *dupn(sc_str_t s) {
  char *d = malloc(s.len + 1);
  if (d != NULL) {
    memcpy(d, s.ptr, s.len);
    d[s.len] = 0;
  }
  return d;
}

int sc_views_acquire(sc_views_t *vs, const char *scope, const sc_labels_t *labels, bool no_capture, sc_view_t **out) {
  char *key = view_key(scope, labels, no_capture);
  if (key == NULL)
    return SC_ENOMEM;
  sc_view_t *v = sc__strmap_get(&vs->by_key, sc_str(key));
  if (v != NULL) {
    free(key);
    v->refs++;
    *out = v;
    return 0;
  }
  v = calloc(1, sizeof(*v));
  uint32_t n = labels ? labels->n : 0;
  if (v == NULL || (v->labels = calloc(n ? n : 1, sizeof(*v->labels))) == NULL ||
      (v->scope = strdup(scope)) == NULL) {
    free(key);
    if (v != NULL)
      free(v->labels);
    free(v);
    return SC_ENOMEM;
  }
  v->key = key;
  for (uint32_t i = 0; i < n; i++) {
    v->labels[i].key = sc_str(dupn(labels->items[i].key));
    v->labels[i].value = sc_str(dupn(labels->items[i].value));
    v->label_set.n = i + 1;
    if (v->labels[i].key.ptr == NULL || v->labels[i].value.ptr == NULL) {
      view_free(v);
      return SC_ENOMEM;
    }
  }
  v->label_set.items = v->labels;
  v->no_capture = no_capture;
  for (int t = 0; t < SC_XDS__TYPES; t++)
    sc__strmap_init(&v->types[t].by_name);
  if (sc__strmap_put(&vs->by_key, sc_str(v->key), v) != 0) {
    view_free(v);
    return SC_ENOMEM;
  }
  v->refs = 1;
  v->next = vs->views;
  vs->views = v;
  *out = v;
  return 0;
}

void sc_views_release(sc_views_t *vs, sc_view_t *view) {
  if (view == NULL || --view->refs > 0)
    return;
  sc__strmap_remove(&vs->by_key, sc_str(view->key));
  for (sc_view_t **p = &vs->views; *p != NULL; p = &(*p)->next)
    if (*p == view) {
      *p = view->next;
      break;
    }
  view_free(view);
}

/* Which scope's content the view has and whether it shares the base (for the changelog). */
static void learn_content(sc_view_t *v, const sc_scope_records_t *rec) {
  const char *id = sc_scope_records_content_id(rec);
  char *copy = id ? strdup(id) : NULL;
  if (copy != NULL) {
    free(v->content_id);
    v->content_id = copy;
  }
  v->uses_base = sc_scope_records_use_base(rec);
}

/* The records of a scope, loaded once per read transaction however many views of it are
 * gathered (records: scope -> sc_scope_records_t). NULL with rc set when they cannot be. */
static sc_scope_records_t *records_for(sc_snapshot_view_t *sv, sc_strmap_t *records, const char *scope, int *rc,
                                       char *err, size_t errlen) {
  sc_scope_records_t *rec = sc__strmap_get(records, sc_str(scope));
  if (rec != NULL)
    return rec;
  char *key = strdup(scope);
  if (key == NULL) {
    *rc = SC_ENOMEM;
    return NULL;
  }
  *rc = sc_scope_records_load(sv, scope, 0, &rec, err, errlen);
  if (*rc != 0 || sc__strmap_put(records, sc_str(key), rec) != 0) {
    *rc = *rc ? *rc : SC_ENOMEM;
    sc_scope_records_free(rec);
    free(key);
    return NULL;
  }
  return rec;
}

typedef struct {
  sc_strmap_t map; /* scope -> records; the keys are owned copies */
} records_cache_t;

static void free_records_key(void *arg, sc_str_t key, void *value) {
  (void)arg;
  (void)value;
  free((char *)key.ptr);
}

static void records_cache_free(sc_strmap_t *records) {
  sc__strmap_foreach(records, free_records_key, NULL);
  sc__strmap_free(records, (void (*)(void *))sc_scope_records_free);
}

/* Gathers one type of a view within sv; true when its version changed. Names repeat in
 * no list (the first of a name wins); `dropped` says whether names went since the last. */
static bool gather_type(sc_views_t *vs, sc_snapshot_view_t *sv, sc_strmap_t *records, sc_view_t *v,
                        sc_xds_type_t type) {
  sc_view_type_t *t = &v->types[type], next = {0};
  sc__strmap_init(&next.by_name);
  char err[512] = "";
  int rc = 0;
  sc_scope_records_t *rec = records_for(sv, records, v->scope, &rc, err, sizeof(err));
  if (rec != NULL)
    learn_content(v, rec);
  sc_gather_query_t q = {v->scope, type, 0, &v->label_set, v->no_capture};
  if (rec != NULL)
    rc = sc_gather_from(sv, rec, &q, &next.list, err, sizeof(err));
  next.valid = true;
  if (rc != 0 && rc != SC_ENOTFOUND) { /* never serve a partial configuration: keep the last */
    sc_log(vs->log, SC_LOG_ERROR, "scope %s: cannot read %s: %s", v->scope, sc_xds_types[type].name,
           err[0] ? err : sc_strerror(rc));
    type_clear(&next);
    sc__strmap_free(&next.by_name, NULL);
    return false;
  }
  if (rc == 0) {
    next.present = true;
    size_t kept = 0;
    for (size_t i = 0; i < next.list.n; i++) {
      sc_resource_t *r = &next.list.items[i];
      if (sc__strmap_get(&next.by_name, sc_str(r->name)) != NULL) {
        free(r->name);
        free(r->bytes);
        free(r->endpoints_key);
        continue;
      }
      next.list.items[kept] = *r; /* kept <= i: moving down never overwrites what is ahead */
      sc__strmap_put(&next.by_name, sc_str(next.list.items[kept].name), &next.list.items[kept]);
      kept++;
    }
    next.list.n = kept;
    sc_resource_list_version(&next.list, next.version);
  } else {
    sc_resource_list_free(&next.list);
  }
  for (size_t i = 0; i < t->list.n && !next.dropped; i++)
    next.dropped = sc__strmap_get(&next.by_name, sc_str(t->list.items[i].name)) == NULL;
  bool changed = (t->valid && t->present) != next.present || strcmp(t->version, next.version) != 0;
  type_clear(t);
  sc__strmap_free(&t->by_name, NULL);
  *t = next;
  return changed;
}

sc_view_type_t *sc_views_type(sc_views_t *vs, sc_view_t *view, sc_xds_type_t type) {
  sc_view_type_t *t = &view->types[type];
  if (t->valid)
    return t;
  if (vs->reader == NULL)
    return NULL;
  sc_snapshot_view_t *sv;
  if (sc_snapshot_view_begin(vs->reader, &sv) != 0) {
    sc_log(vs->log, SC_LOG_ERROR, "snapshot: %s", sc_snapshot_reader_errmsg(vs->reader));
    return NULL;
  }
  sc_strmap_t records;
  sc__strmap_init(&records);
  gather_type(vs, sv, &records, view, type);
  records_cache_free(&records);
  sc_snapshot_view_end(sv);
  return t->valid ? t : NULL;
}

/* ---- following the snapshot ------------------------------------------------------------- */

/* What the changelog since the version served says changed. */
typedef struct {
  uint64_t from;    /* versions after this one */
  uint64_t first;   /* the first record seen (0: none) */
  bool resync, selectors, base;
  unsigned base_types;
  json_t *types;     /* id -> mask (integer) */
  json_t *endpoints; /* keys written or deleted -> true */
} changes_t;

static unsigned type_mask(json_t *names) {
  unsigned m = 0;
  size_t i;
  json_t *x;
  json_array_foreach(names, i, x) {
    int t = json_is_string(x) ? sc_xds_type_by_name(json_string_value(x)) : -1;
    if (t >= 0)
      m |= 1u << t;
  }
  return m;
}

static void add_types(json_t *types, const char *id, unsigned mask) {
  json_int_t have = json_integer_value(json_object_get(types, id));
  json_object_set_new(types, id, json_integer(have | (json_int_t)mask));
}

static int collect_change(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  changes_t *c = arg;
  if (klen != 8)
    return 0;
  uint64_t version = 0;
  for (int i = 0; i < 8; i++)
    version = version << 8 | ((const uint8_t *)key)[i];
  if (version <= c->from)
    return 0;
  if (c->first == 0)
    c->first = version;
  json_t *rec = json_loadb(val, vlen, 0, NULL);
  if (rec == NULL) {
    c->resync = true;
    return 0;
  }
  c->resync |= json_is_true(json_object_get(rec, "resync"));
  c->selectors |= json_is_true(json_object_get(rec, "selectors"));
  json_t *types = json_object_get(rec, "types"), *x;
  size_t i;
  const char *lists[] = {"scopes", "removed"};
  for (int l = 0; l < 2; l++)
    json_array_foreach(json_object_get(rec, lists[l]), i, x) {
      const char *id = json_string_value(x);
      json_t *t = json_object_get(types, id ? id : "");
      if (id != NULL)
        add_types(c->types, id, l == 1 || t == NULL ? ALL_TYPES : type_mask(t));
    }
  if (json_is_true(json_object_get(rec, "base"))) {
    json_t *t = json_object_get(types, SC_BASE_KEY);
    c->base = true;
    c->base_types |= t == NULL ? ALL_TYPES : type_mask(t);
  }
  const char *eps[] = {"endpoints", "endpointsRemoved"};
  for (int l = 0; l < 2; l++)
    json_array_foreach(json_object_get(rec, eps[l]), i, x) if (json_is_string(x))
        json_object_set(c->endpoints, json_string_value(x), json_true());
  json_decref(rec);
  return 0;
}

static unsigned stale_types(const changes_t *c, const sc_view_t *v) {
  if (c->resync)
    return ALL_TYPES;
  unsigned m = (unsigned)json_integer_value(json_object_get(c->types, v->scope));
  if (v->content_id != NULL)
    m |= (unsigned)json_integer_value(json_object_get(c->types, v->content_id));
  if (c->base && (v->uses_base || v->content_id == NULL))
    m |= c->base_types;
  if (m & (1u << SC_XDS_CLUSTERS)) /* the assignments a proxy gets follow from its clusters */
    m |= 1u << SC_XDS_ENDPOINTS;
  const sc_view_type_t *eds = &v->types[SC_XDS_ENDPOINTS];
  if (!(m & (1u << SC_XDS_ENDPOINTS)) && eds->valid && json_object_size(c->endpoints) > 0)
    for (size_t i = 0; i < eds->list.n; i++)
      if (eds->list.items[i].endpoints_key && json_object_get(c->endpoints, eds->list.items[i].endpoints_key)) {
        m |= 1u << SC_XDS_ENDPOINTS;
        break;
      }
  return m;
}

/* (Re)opens the snapshot when it appeared or was replaced underneath. True when reopened. */
static bool open_snapshot(sc_views_t *vs) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof(path), "%s/data.mdb", vs->dir);
  if (stat(path, &st) != 0)
    return false; /* not there (yet): keep serving what was read */
  if (vs->reader != NULL && st.st_ino == vs->ino)
    return false;
  /* One environment per file per process (LMDB's locks are per process): the old one
   * goes first. What was read stays in the views meanwhile. */
  if (vs->reader != NULL) {
    sc_log(vs->log, SC_LOG_WARN, "snapshot %s was replaced: reopening, everything is read again", vs->dir);
    sc_snapshot_reader_close(vs->reader);
    vs->reader = NULL;
  }
  char err[256] = "";
  int rc = sc_snapshot_reader_open(vs->dir, &vs->reader, err, sizeof(err));
  if (rc != 0) {
    vs->reader = NULL;
    if (rc != SC_ENOTFOUND)
      sc_log(vs->log, SC_LOG_WARN, "snapshot %s: %s", vs->dir, err[0] ? err : sc_strerror(rc));
    return false;
  }
  vs->ino = st.st_ino;
  return true;
}

int sc_views_refresh(sc_views_t *vs) {
  bool reopened = open_snapshot(vs);
  if (vs->reader == NULL)
    return 0;
  sc_snapshot_meta_t meta;
  int rc = sc_snapshot_read_meta(vs->reader, &meta);
  if (rc == SC_ENOTFOUND)
    return 0; /* created, nothing published yet */
  if (rc != 0) {
    sc_log(vs->log, SC_LOG_ERROR, "snapshot: %s", sc_snapshot_reader_errmsg(vs->reader));
    return rc;
  }
  if (meta.head_version == vs->head && meta.instance_id == vs->instance && !reopened)
    return 0;
  changes_t c = {vs->head, 0, false, false, false, 0, json_object(), json_object()};
  /* A new engine run, a snapshot going back, or a reader behind the changelog: compare all. */
  c.resync = reopened || meta.instance_id != vs->instance || meta.head_version < vs->head;
  sc_snapshot_view_t *sv;
  if ((rc = sc_snapshot_view_begin(vs->reader, &sv)) != 0) {
    sc_log(vs->log, SC_LOG_ERROR, "snapshot: %s", sc_snapshot_reader_errmsg(vs->reader));
    json_decref(c.types);
    json_decref(c.endpoints);
    return rc;
  }
  uint64_t head = meta.head_version;
  if (!c.resync) {
    sc_snapshot_view_scan(sv, SC_TABLE_CHANGELOG, NULL, 0, collect_change, &c);
    if (c.first != vs->head + 1)
      c.resync = true;
  }
  c.selectors |= c.resync;
  sc_strmap_t records;
  sc__strmap_init(&records);
  for (sc_view_t *v = vs->views; v != NULL; v = v->next) {
    unsigned stale = stale_types(&c, v), changed = 0;
    for (int t = 0; t < SC_XDS__TYPES; t++) {
      if (!(stale & (1u << t)) || !v->types[t].valid)
        continue;
      if (gather_type(vs, sv, &records, v, (sc_xds_type_t)t))
        changed |= 1u << t;
    }
    if (changed && vs->changed != NULL)
      vs->changed(vs->changed_arg, v, changed);
  }
  records_cache_free(&records);
  sc_snapshot_view_end(sv);
  vs->head = head;
  vs->instance = meta.instance_id;
  if (c.selectors && vs->changed != NULL)
    vs->changed(vs->changed_arg, NULL, 0);
  json_decref(c.types);
  json_decref(c.endpoints);
  return 0;
}
