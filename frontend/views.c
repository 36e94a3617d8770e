/* Views of the snapshot per proxy class, following the changelog (see views.h). */
#include "store/mem.h"
#include "frontend/views.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "scopecast/reader.h"
#include "wire/registry.h"
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
  sc_strmap_t lists;    /* key -> sc_view_type_t alive (weak: they remove themselves) */
  sc_strmap_t records;  /* scope -> sc_scope_records_t parsed at records_head */
  sc_records_cache_t *parses; /* entries parsed at records_head, records by content */
  uint64_t records_head;
  sc_views_stats_t stats;
  sc_blob_cache_t *blobs; /* stored resources' bytes, shared by every list */
};

/* ---- bodies --------------------------------------------------------------------------- */

void sc__views_body_unref(void *body) {
  sc_body_t *b = body;
  if (b != NULL && --b->refs == 0)
    sc__free(b);
}

sc_body_t *sc__views_body_encode(sc_xds_type_t type, const char *version, sc_resource_t *const *items, size_t n) {
  Google__Protobuf__Any *anys = sc__calloc(n ? n : 1, sizeof(*anys));
  Google__Protobuf__Any **ptrs = sc__calloc(n ? n : 1, sizeof(*ptrs));
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
    if ((b = sc__malloc(sizeof(*b) + len)) != NULL) {
      b->refs = 1;
      b->len = envoy__service__discovery__v3__discovery_response__pack(&r, b->data);
    }
  }
  sc__free(anys);
  sc__free(ptrs);
  return b;
}

sc_body_t *sc__views_body(sc_view_type_t *t, sc_xds_type_t type, const char *version, bool changes,
                         sc_resource_t *const *items, size_t n) {
  for (unsigned i = 0; i < SC_VIEW_BODIES; i++)
    if (t->bodies[i].body != NULL && t->bodies[i].changes == changes && strcmp(t->bodies[i].version, version) == 0) {
      t->bodies[i].body->refs++;
      return t->bodies[i].body;
    }
  sc_body_t *b = sc__views_body_encode(type, version, items, n);
  if (b == NULL)
    return NULL;
  unsigned slot = t->next_body++ % SC_VIEW_BODIES;
  sc__views_body_unref(t->bodies[slot].body);
  t->bodies[slot].body = b;
  t->bodies[slot].changes = changes;
  memcpy(t->bodies[slot].version, version, sizeof(t->bodies[slot].version));
  b->refs++;
  return b;
}

/* ---- views ----------------------------------------------------------------------------- */

void sc__views_set_listener(sc_views_t *vs, sc_views_changed_cb changed, void *arg) {
  vs->changed = changed;
  vs->changed_arg = arg;
}

int sc__views_new(const char *snapshot_dir, const sc_logger_t *log, sc_views_t **out) {
  sc_views_t *vs = sc__calloc(1, sizeof(*vs));
  if (vs == NULL || (vs->dir = sc__strdup(snapshot_dir)) == NULL) {
    sc__free(vs);
    return SC_ENOMEM;
  }
  vs->log = log;
  sc__strmap_init(&vs->by_key);
  sc__strmap_init(&vs->lists);
  sc__strmap_init(&vs->records);
  vs->parses = sc_records_cache_new();
  if ((vs->blobs = sc_blob_cache_new()) == NULL || vs->parses == NULL) {
    sc_blob_cache_free(vs->blobs);
    sc_records_cache_free(vs->parses);
    sc__free(vs->dir);
    sc__free(vs);
    return SC_ENOMEM;
  }
  *out = vs;
  return 0;
}

static void free_records_entry(void *arg, sc_str_t key, void *value) {
  (void)arg;
  sc__free((char *)key.ptr);
  sc_scope_records_free(value);
}

static void records_clear(sc_views_t *vs) {
  sc__strmap_foreach(&vs->records, free_records_entry, NULL);
  sc__strmap_free(&vs->records, NULL);
  sc__strmap_init(&vs->records);
  sc_records_cache_new_head(vs->parses);
}

static void list_unref(sc_views_t *vs, sc_view_type_t *t) {
  if (t == NULL || --t->refs > 0)
    return;
  if (sc__strmap_get(&vs->lists, sc_str(t->key)) == t)
    sc__strmap_remove(&vs->lists, sc_str(t->key));
  sc_resource_list_free(&t->list);
  sc__strmap_free(&t->by_name, NULL);
  for (unsigned i = 0; i < SC_VIEW_BODIES; i++)
    sc__views_body_unref(t->bodies[i].body);
  sc__free(t->changes);
  for (size_t i = 0; i < t->ngone; i++)
    sc__free(t->gone[i]);
  sc__free(t->gone);
  sc__free(t->subset);
  sc__free(t->key);
  sc__free(t);
}

static void view_free(sc_views_t *vs, sc_view_t *v) {
  for (int t = 0; t < SC_XDS__TYPES; t++)
    list_unref(vs, v->types[t]);
  for (uint32_t i = 0; i < v->label_set.n; i++) {
    sc__free((char *)v->labels[i].key.ptr);
    sc__free((char *)v->labels[i].value.ptr);
  }
  sc__free(v->labels);
  sc__free(v->key);
  sc__free(v->scope);
  sc__free(v->content_id);
  sc__free(v);
}

void sc__views_free(sc_views_t *vs) {
  if (vs == NULL)
    return;
  for (sc_view_t *v = vs->views, *next; v != NULL; v = next) {
    next = v->next;
    view_free(vs, v);
  }
  records_clear(vs);
  sc__strmap_free(&vs->records, NULL);
  sc__strmap_free(&vs->lists, NULL);
  sc__strmap_free(&vs->by_key, NULL);
  sc_blob_cache_free(vs->blobs);
  sc_records_cache_free(vs->parses);
  sc_snapshot_reader_close(vs->reader);
  sc__free(vs->dir);
  sc__free(vs);
}

uint64_t sc__views_head(const sc_views_t *vs) { return vs->head; }

void sc__views_stats(const sc_views_t *vs, sc_views_stats_t *out) {
  *out = vs->stats;
  out->views = vs->by_key.n;
  out->lists = vs->lists.n;
}
bool sc__views_ready(const sc_views_t *vs) { return vs->reader != NULL && vs->head > 0; }

int sc__views_resolve(sc_views_t *vs, sc_str_t ns, const sc_labels_t *labels, char **scope) {
  if (vs->reader == NULL)
    return SC_ENOTFOUND;
  return sc_resolve_scope(vs->reader, ns, labels, scope);
}

/* The key of a proxy class: scope NUL k=v NUL ... mode. */
static char *view_key(const char *scope, const sc_labels_t *labels, bool no_capture) {
  size_t len = strlen(scope) + 4;
  for (uint32_t i = 0; labels && i < labels->n; i++)
    len += labels->items[i].key.len + labels->items[i].value.len + 2;
  char *k = sc__malloc(len), *p = k;
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
  char *d = sc__malloc(s.len + 1);
  if (d != NULL) {
    memcpy(d, s.ptr, s.len);
    d[s.len] = 0;
  }
  return d;
}

int sc__views_acquire(sc_views_t *vs, const char *scope, const sc_labels_t *labels, bool no_capture, sc_view_t **out) {
  char *key = view_key(scope, labels, no_capture);
  if (key == NULL)
    return SC_ENOMEM;
  sc_view_t *v = sc__strmap_get(&vs->by_key, sc_str(key));
  if (v != NULL) {
    sc__free(key);
    v->refs++;
    *out = v;
    return 0;
  }
  v = sc__calloc(1, sizeof(*v));
  uint32_t n = labels ? labels->n : 0;
  if (v == NULL || (v->labels = sc__calloc(n ? n : 1, sizeof(*v->labels))) == NULL ||
      (v->scope = sc__strdup(scope)) == NULL) {
    sc__free(key);
    if (v != NULL)
      sc__free(v->labels);
    sc__free(v);
    return SC_ENOMEM;
  }
  v->key = key;
  for (uint32_t i = 0; i < n; i++) {
    v->labels[i].key = sc_str(dupn(labels->items[i].key));
    v->labels[i].value = sc_str(dupn(labels->items[i].value));
    v->label_set.n = i + 1;
    if (v->labels[i].key.ptr == NULL || v->labels[i].value.ptr == NULL) {
      view_free(vs, v);
      return SC_ENOMEM;
    }
  }
  v->label_set.items = v->labels;
  v->no_capture = no_capture;
  if (sc__strmap_put(&vs->by_key, sc_str(v->key), v) != 0) {
    view_free(vs, v);
    return SC_ENOMEM;
  }
  v->refs = 1;
  v->next = vs->views;
  vs->views = v;
  *out = v;
  return 0;
}

void sc__views_release(sc_views_t *vs, sc_view_t *view) {
  if (view == NULL || --view->refs > 0)
    return;
  sc__strmap_remove(&vs->by_key, sc_str(view->key));
  for (sc_view_t **p = &vs->views; *p != NULL; p = &(*p)->next)
    if (*p == view) {
      *p = view->next;
      break;
    }
  view_free(vs, view);
}

/* Which scope's content the view has and whether it shares the base (for the changelog). */
static void learn_content(sc_view_t *v, const sc_scope_records_t *rec) {
  const char *id = sc_scope_records_content_id(rec);
  char *copy = id ? sc__strdup(id) : NULL;
  if (copy != NULL) {
    sc__free(v->content_id);
    v->content_id = copy;
  }
  v->uses_base = sc_scope_records_use_base(rec);
}

void sc__views_list_ref(sc_view_type_t *t) { t->refs++; }
void sc__views_list_unref(sc_views_t *vs, sc_view_type_t *t) { list_unref(vs, t); }

/* ---- gathering ------------------------------------------------------------------------- */

/* The records of a scope as the read transaction sv sees them: parsed once per head
 * however many views of the scope are gathered. NULL with *rc set when they cannot be. */
static sc_scope_records_t *records_for(sc_views_t *vs, sc_snapshot_view_t *sv, uint64_t head, const char *scope,
                                       int *rc, char *err, size_t errlen) {
  if (head != vs->records_head) {
    records_clear(vs);
    vs->records_head = head;
  }
  sc_scope_records_t *rec = sc__strmap_get(&vs->records, sc_str(scope));
  if (rec != NULL)
    return rec;
  char *key = sc__strdup(scope);
  *rc = key == NULL ? SC_ENOMEM : sc_scope_records_load(sv, scope, 0, vs->parses, &rec, err, errlen);
  if (*rc == 0 && sc__strmap_put(&vs->records, sc_str(key), rec) != 0)
    *rc = SC_ENOMEM;
  if (*rc != 0) {
    sc_scope_records_free(rec);
    sc__free(key);
    return NULL;
  }
  return rec;
}

/* Gathers what a class gets of a type: a new list (names once each, the first wins). */
static sc_view_type_t *gather_list(sc_views_t *vs, sc_snapshot_view_t *sv, sc_scope_records_t *rec,
                                   const sc_gather_query_t *q, const char *key, uint64_t head) {
  sc_view_type_t *t = sc__calloc(1, sizeof(*t));
  if (t == NULL || (t->key = sc__strdup(key)) == NULL) {
    sc__free(t);
    return NULL;
  }
  t->refs = 1;
  t->head = head;
  vs->stats.gathers++;
  sc__strmap_init(&t->by_name);
  char err[512] = "";
  int rc = rec ? sc_gather_from(sv, rec, q, &t->list, err, sizeof(err)) : SC_ENOTFOUND;
  if (rc != 0 && rc != SC_ENOTFOUND) { /* never serve a partial configuration */
    sc__log(vs->log, SC_LOG_ERROR, "scope %s: cannot read %s: %s", q->scope, sc_xds_types[q->type].name,
           err[0] ? err : sc_strerror(rc));
    list_unref(vs, t);
    return NULL;
  }
  t->present = rc == 0;
  size_t kept = 0;
  for (size_t i = 0; i < t->list.n; i++) {
    sc_resource_t *r = &t->list.items[i];
    if (sc__strmap_get(&t->by_name, sc_str(r->name)) != NULL) {
      sc_resource_clear(r);
      continue;
    }
    t->list.items[kept] = *r; /* kept <= i: moving down never overwrites what is ahead */
    sc__strmap_put(&t->by_name, sc_str(t->list.items[kept].name), &t->list.items[kept]);
    kept++;
  }
  t->list.n = kept;
  if (t->present)
    sc_resource_list_version(&t->list, t->version);
  return t;
}

/* Records in t what is new or different since old (when both exist). */
static void note_changes(sc_view_type_t *t, const sc_view_type_t *old) {
  if (old == NULL || !old->present || !t->present || (t->changes = sc__calloc(t->list.n + 1, sizeof(*t->changes))) == NULL)
    return;
  for (size_t i = 0; i < t->list.n; i++) {
    const sc_resource_t *was = sc__strmap_get(&old->by_name, sc_str(t->list.items[i].name));
    if (was == NULL || strcmp(was->version, t->list.items[i].version) != 0)
      t->changes[t->nchanges++] = &t->list.items[i];
  }
  if ((t->gone = sc__calloc(old->list.n + 1, sizeof(*t->gone))) == NULL)
    return;
  for (size_t i = 0; i < old->list.n; i++)
    if (sc__strmap_get(&t->by_name, sc_str(old->list.items[i].name)) == NULL &&
        (t->gone[t->ngone] = sc__strdup(old->list.items[i].name)) != NULL)
      t->ngone++;
    else if (sc__strmap_get(&t->by_name, sc_str(old->list.items[i].name)) == NULL)
      return; /* out of memory: no changes to offer, readers compare everything */
  memcpy(t->prev_version, old->version, sizeof(t->prev_version));
  t->has_changes = true;
}

/* Gathers one type of a view within sv (at head), sharing the list of any view of the same
 * class gathered at that head; true when the view's version of it changed. */
static bool gather_type(sc_views_t *vs, sc_snapshot_view_t *sv, uint64_t head, sc_view_t *v, sc_xds_type_t type) {
  char err[512] = "";
  int rc = 0;
  sc_scope_records_t *rec = records_for(vs, sv, head, v->scope, &rc, err, sizeof(err));
  if (rec == NULL && rc != SC_ENOTFOUND) {
    sc__log(vs->log, SC_LOG_ERROR, "scope %s: %s", v->scope, err[0] ? err : sc_strerror(rc));
    return false;
  }
  if (rec != NULL)
    learn_content(v, rec);
  sc_gather_query_t q = {v->scope, type, 0, &v->label_set, v->no_capture, vs->blobs};
  char key[1200];
  snprintf(key, sizeof(key), "%s|%d|%016llx", v->scope, (int)type,
           (unsigned long long)(rec ? sc_gather_class(rec, &q) : 0));
  sc_view_type_t *old = v->types[type], *t = sc__strmap_get(&vs->lists, sc_str(key));
  if (t != NULL && t->head == head) {
    t->refs++;
  } else {
    if ((t = gather_list(vs, sv, rec, &q, key, head)) == NULL)
      return false; /* the last list stays */
    for (size_t i = 0; old != NULL && i < old->list.n && !t->dropped; i++)
      t->dropped = sc__strmap_get(&t->by_name, sc_str(old->list.items[i].name)) == NULL;
    note_changes(t, old);
    /* The map keeps the key of the entry it replaces, which the old list owns: remove
     * that entry first (the old list stays with the views that hold it). */
    sc__strmap_remove(&vs->lists, sc_str(t->key));
    sc__strmap_put(&vs->lists, sc_str(t->key), t);
  }
  bool changed = old == NULL || old->present != t->present || strcmp(old->version, t->version) != 0;
  v->types[type] = t;
  list_unref(vs, old);
  return changed;
}

sc_view_type_t *sc__views_type(sc_views_t *vs, sc_view_t *view, sc_xds_type_t type) {
  if (view->types[type] != NULL)
    return view->types[type];
  if (vs->reader == NULL)
    return NULL;
  sc_snapshot_view_t *sv;
  if (sc_snapshot_view_begin(vs->reader, &sv) != 0) {
    sc__log(vs->log, SC_LOG_ERROR, "snapshot: %s", sc_snapshot_reader_errmsg(vs->reader));
    return NULL;
  }
  gather_type(vs, sv, sc_snapshot_view_head(sv), view, type);
  sc_snapshot_view_end(sv);
  return view->types[type];
}

/* ---- following the snapshot ------------------------------------------------------------- */

/* The types of v the changes make stale: what the changelog names for its scope, its
 * content and the base, and endpoints when an assignment it holds changed. */
static unsigned stale_types(const sc_changelog_t *c, const sc_view_t *v) {
  if (c == NULL || sc_changelog_resync(c))
    return ALL_TYPES;
  unsigned m = sc_changelog_types(c, v->scope, v->content_id, v->uses_base);
  const sc_view_type_t *eds = v->types[SC_XDS_ENDPOINTS];
  if (!(m & (1u << SC_XDS_ENDPOINTS)) && eds != NULL && sc_changelog_any_endpoint(c))
    for (size_t i = 0; i < eds->list.n; i++)
      if (eds->list.items[i].endpoints_key && sc_changelog_endpoint(c, eds->list.items[i].endpoints_key)) {
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
    sc__log(vs->log, SC_LOG_WARN, "snapshot %s was replaced: reopening, everything is read again", vs->dir);
    sc_snapshot_reader_close(vs->reader);
    vs->reader = NULL;
  }
  char err[256] = "";
  int rc = sc_snapshot_reader_open(vs->dir, &vs->reader, err, sizeof(err));
  if (rc != 0) {
    vs->reader = NULL;
    if (rc != SC_ENOTFOUND)
      sc__log(vs->log, SC_LOG_WARN, "snapshot %s: %s", vs->dir, err[0] ? err : sc_strerror(rc));
    return false;
  }
  vs->ino = st.st_ino;
  return true;
}

int sc__views_refresh(sc_views_t *vs) {
  bool reopened = open_snapshot(vs);
  if (vs->reader == NULL)
    return 0;
  sc_snapshot_meta_t meta;
  int rc = sc_snapshot_read_meta(vs->reader, &meta);
  if (rc == SC_ENOTFOUND)
    return 0; /* created, nothing published yet */
  if (rc != 0) {
    sc__log(vs->log, SC_LOG_ERROR, "snapshot: %s", sc_snapshot_reader_errmsg(vs->reader));
    return rc;
  }
  if (meta.head_version == vs->head && meta.instance_id == vs->instance && !reopened)
    return 0;
  uint64_t started = uv_hrtime();
  /* A new engine run, a snapshot going back, or a reader behind the changelog: compare all. */
  bool resync = reopened || meta.instance_id != vs->instance || meta.head_version < vs->head;
  sc_snapshot_view_t *sv;
  if ((rc = sc_snapshot_view_begin(vs->reader, &sv)) != 0) {
    sc__log(vs->log, SC_LOG_ERROR, "snapshot: %s", sc_snapshot_reader_errmsg(vs->reader));
    return rc;
  }
  uint64_t head = meta.head_version;
  sc_changelog_t *c = NULL; /* NULL: compare all */
  if (!resync)
    sc_changelog_read(sv, vs->head, &c);
  bool selectors = c == NULL || sc_changelog_selectors(c);
  uint64_t seen = sc_snapshot_view_head(sv);
  for (sc_view_t *v = vs->views; v != NULL; v = v->next) {
    unsigned stale = stale_types(c, v), changed = 0;
    for (int t = 0; t < SC_XDS__TYPES; t++) {
      if (!(stale & (1u << t)) || v->types[t] == NULL)
        continue;
      if (gather_type(vs, sv, seen, v, (sc_xds_type_t)t))
        changed |= 1u << t;
    }
    if (changed && vs->changed != NULL)
      vs->changed(vs->changed_arg, v, changed);
  }
  sc_snapshot_view_end(sv);
  sc_changelog_free(c);
  vs->head = seen > head ? seen : head; /* a commit after the meta read is served already */
  vs->instance = meta.instance_id;
  if (selectors && vs->changed != NULL)
    vs->changed(vs->changed_arg, NULL, 0);
  sc_blob_cache_sweep(vs->blobs); /* bytes no list holds any more */
  sc_records_cache_sweep(vs->parses);
  vs->stats.refreshes++;
  vs->stats.last_refresh_ms = (double)(uv_hrtime() - started) / 1e6;
  return 0;
}
