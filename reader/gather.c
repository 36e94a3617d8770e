/* What a proxy gets: the assembly rules of snapshot/FORMAT.md ("Composed resources",
 * "history"), one read transaction at a time. */
#include "store/array.h"
#include "store/mem.h"
#include "reader/gather.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "reader/compose.h"
#include "store/hashmap.h"
#include "reader/resolve.h"

/* Bytes of a stored resource shared by the lists that hold it (reader.h). */
struct sc_blob_s {
  int refs;
  size_t len;
  uint8_t key[16];
  uint8_t data[];
};

/* Parses kept for the next loads (reader.h). */
struct sc_records_cache_s {
  json_t *entries; /* id -> entries by hostname */
  json_t *parsed;  /* XXH3-128 of a record's bytes -> its parse */
};

/* Parsed records of a scope (reader.h). */
struct sc_scope_records_s {
  json_t *head, *content; /* the scope's head, and the head whose content it has */
  json_t *by_host;        /* its entries (and the base's) by hostname */
  const char **hosts;     /* their hostnames, sorted (borrowed from by_host) */
  size_t nhosts;
};

int sc__gather_failf(char *err, size_t errlen, int rc, const char *fmt, ...) {
  if (err != NULL && errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* ---- records ------------------------------------------------------------------------- */

static int load_record(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  json_t **out = arg;
  *out = json_loadb(val, vlen, 0, NULL);
  return *out ? 0 : SC_ECORRUPT;
}

typedef struct {
  json_t *by_host;
  json_t *parsed; /* the content hash of a record -> its parse (may be NULL) */
} entry_scan_t;

/* A record parsed, or the parse of equal bytes seen before (a new reference). */
static json_t *parse_once(json_t *parsed, const void *val, size_t vlen) {
  if (parsed == NULL)
    return json_loadb(val, vlen, 0, NULL);
  XXH128_hash_t h = XXH3_128bits(val, vlen);
  char key[33];
  snprintf(key, sizeof(key), "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
  json_t *e = json_object_get(parsed, key);
  if (e != NULL)
    return json_incref(e);
  if ((e = json_loadb(val, vlen, 0, NULL)) != NULL)
    json_object_set(parsed, key, e);
  return e;
}

/* Collects entries by hostname. */
static int collect_entry(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  entry_scan_t *scan = arg;
  json_t *e = parse_once(scan->parsed, val, vlen);
  const char *host = json_string_value(json_object_get(e, "hostname"));
  if (host == NULL) {
    json_decref(e);
    return SC_ECORRUPT;
  }
  json_object_set_new(scan->by_host, host, e);
  return 0;
}

static int scan_entries_parsed(sc_snapshot_view_t *v, const char *id, json_t *by_host, json_t *parsed) {
  size_t plen = strlen(id) + 1; /* the id and its NUL */
  entry_scan_t scan = {by_host, parsed};
  return sc_snapshot_view_scan(v, SC_TABLE_SCOPE_ENTRIES, id, plen, collect_entry, &scan);
}

static int scan_own_entries(sc_snapshot_view_t *v, const char *id, json_t *by_host) {
  return scan_entries_parsed(v, id, by_host, NULL);
}

sc_records_cache_t *sc_records_cache_new(void) {
  sc_records_cache_t *c = sc__calloc(1, sizeof(*c));
  if (c != NULL && ((c->entries = json_object()) == NULL || (c->parsed = json_object()) == NULL)) {
    sc_records_cache_free(c);
    c = NULL;
  }
  return c;
}

void sc_records_cache_free(sc_records_cache_t *c) {
  if (c == NULL)
    return;
  json_decref(c->entries);
  json_decref(c->parsed);
  sc__free(c);
}

void sc_records_cache_new_head(sc_records_cache_t *c) {
  json_object_clear(c->entries);
}

void sc_records_cache_sweep(sc_records_cache_t *c) {
  const char *key;
  json_t *e, *tmp;
  json_object_foreach_safe(c->parsed, tmp, key, e) {
    if (e->refcount == 1) /* only the cache holds it: no record reads so any more */
      json_object_del(c->parsed, key);
  }
}

typedef struct {
  const char *id;
  size_t idlen;
  uint64_t after; /* keep records of versions after this one */
  json_t *list;   /* [[version, kind, host | null, value | null], ...] */
} undo_scan_t;

/* History keys: version (8 bytes big-endian), id, NUL, kind, host (FORMAT.md "history"). */
static int collect_undo(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  undo_scan_t *u = arg;
  const uint8_t *k = key;
  if (klen < 8 + u->idlen + 2 || memcmp(k + 8, u->id, u->idlen) != 0 || k[8 + u->idlen] != 0)
    return 0; /* another record's */
  uint64_t version = 0;
  for (int i = 0; i < 8; i++)
    version = version << 8 | k[i];
  if (version <= u->after)
    return 0;
  size_t at = 8 + u->idlen + 1;
  char kind[2] = {(char)k[at], 0};
  json_t *host = klen > at + 1 ? json_stringn((const char *)k + at + 1, klen - at - 1) : json_null();
  json_t *value = vlen ? json_loadb(val, vlen, 0, NULL) : json_null();
  if (value == NULL) {
    json_decref(host);
    return SC_ECORRUPT;
  }
  json_array_append_new(u->list, json_pack("[I, s, o, o]", (json_int_t)version, kind, host, value));
  return 0;
}

/* The undo records of id newer than version, newest first (the table is in version order
 * and holds only the retained window). */
static int undo_records(sc_snapshot_view_t *v, const char *id, uint64_t version, json_t **out) {
  undo_scan_t u = {id, strlen(id), version, json_array()};
  int rc = sc_snapshot_view_scan(v, SC_TABLE_HISTORY, NULL, 0, collect_undo, &u);
  json_t *reversed = json_array();
  for (size_t i = json_array_size(u.list); i > 0; i--)
    json_array_append(reversed, json_array_get(u.list, i - 1));
  json_decref(u.list);
  *out = reversed;
  return rc;
}

int sc__scope_head_at(sc_snapshot_view_t *v, const char *id, uint64_t version, json_t **out) {
  json_t *head = NULL, *undo = NULL;
  int rc = sc_snapshot_view_get(v, SC_TABLE_SCOPES, id, strlen(id), load_record, &head);
  if (rc == SC_ENOTFOUND)
    rc = 0;
  if (rc == 0 && version != 0)
    rc = undo_records(v, id, version, &undo);
  size_t i;
  json_t *x;
  json_array_foreach(undo, i, x) {
    if (strcmp(json_string_value(json_array_get(x, 1)), "h") != 0)
      continue;
    json_decref(head);
    head = json_is_null(json_array_get(x, 3)) ? NULL : json_incref(json_array_get(x, 3));
  }
  json_decref(undo);
  if (rc != 0) {
    json_decref(head);
    head = NULL;
  }
  *out = head;
  return rc;
}

int sc__scope_entries_at(sc_snapshot_view_t *v, const char *content_id, const char *base, uint64_t version,
                        json_t *by_host) {
  const char *ids[2] = {base, content_id};
  int rc = 0;
  for (int i = 0; i < 2 && rc == 0; i++) {
    if (ids[i] == NULL)
      continue;
    if (version == 0) {
      rc = scan_own_entries(v, ids[i], by_host);
      continue;
    }
    json_t *own = json_object(), *undo = NULL;
    rc = scan_own_entries(v, ids[i], own);
    if (rc == 0)
      rc = undo_records(v, ids[i], version, &undo);
    size_t k;
    json_t *x;
    json_array_foreach(undo, k, x) {
      const char *host = json_string_value(json_array_get(x, 2));
      if (strcmp(json_string_value(json_array_get(x, 1)), "e") != 0 || host == NULL)
        continue;
      if (json_is_null(json_array_get(x, 3)))
        json_object_del(own, host);
      else
        json_object_set(own, host, json_array_get(x, 3));
    }
    json_decref(undo);
    json_object_update(by_host, own);
    json_decref(own);
  }
  return rc;
}

/* ---- resource lists -------------------------------------------------------------------- */

/* ---- shared bytes ------------------------------------------------------------------------ */

struct sc_blob_cache_s {
  sc_hashmap_t map; /* the first 8 bytes of the key -> sc_blob_t (the cache holds a reference) */
};

static void blob_unref(sc_blob_t *b) {
  if (b != NULL && --b->refs == 0)
    sc__free(b);
}

sc_blob_cache_t *sc_blob_cache_new(void) {
  sc_blob_cache_t *c = sc__calloc(1, sizeof(*c));
  if (c != NULL)
    sc__hashmap_init(&c->map);
  return c;
}

static uint64_t blob_slot(const uint8_t key[16]) {
  uint64_t h;
  memcpy(&h, key, sizeof(h));
  return h;
}

void sc_blob_cache_sweep(sc_blob_cache_t *c) {
  if (c == NULL)
    return;
  for (size_t i = 0; i < c->map.cap; i++) {
    sc_blob_t *b = c->map.values[i];
    if (b != NULL && b->refs == 1) {
      sc__hashmap_remove(&c->map, blob_slot(b->key));
      blob_unref(b);
      i--; /* removal may move another entry into this slot */
    }
  }
}

void sc_blob_cache_free(sc_blob_cache_t *c) {
  if (c == NULL)
    return;
  for (size_t i = 0; i < c->map.cap; i++)
    blob_unref(c->map.values[i]);
  sc__hashmap_free(&c->map);
  sc__free(c);
}

size_t sc_blob_cache_size(const sc_blob_cache_t *c) { return c ? c->map.n : 0; }

void sc_resource_clear(sc_resource_t *r) {
  sc__free(r->name);
  if (r->blob != NULL)
    blob_unref(r->blob);
  else
    sc__free(r->bytes);
  sc__free(r->endpoints_key);
  r->name = r->endpoints_key = NULL;
  r->bytes = NULL;
  r->blob = NULL;
}

void sc_resource_list_free(sc_resource_list_t *list) {
  if (list == NULL)
    return;
  for (size_t i = 0; i < list->n; i++)
    sc_resource_clear(&list->items[i]);
  sc__free(list->items);
  *list = (sc_resource_list_t){NULL, 0, 0};
}

void sc_resource_list_version(const sc_resource_list_t *list, char out[17]) {
  XXH3_state_t *st = XXH3_createState();
  if (st == NULL) { /* no memory for 576 bytes: a version no list has, so clients resync */
    snprintf(out, 17, "%016x", 0);
    return;
  }
  XXH3_64bits_reset(st);
  for (size_t i = 0; i < list->n; i++) {
    XXH3_64bits_update(st, list->items[i].name, strlen(list->items[i].name) + 1);
    XXH3_64bits_update(st, list->items[i].version, strlen(list->items[i].version) + 1);
  }
  snprintf(out, 17, "%016llx", (unsigned long long)XXH3_64bits_digest(st));
  XXH3_freeState(st);
}

/* Bytes of a resource: owned, or a reference to shared ones. */
typedef struct {
  uint8_t *bytes;
  size_t len;
  sc_blob_t *blob;
} copy_t;

static void copy_release(copy_t *c) {
  if (c->blob != NULL)
    blob_unref(c->blob);
  else
    sc__free(c->bytes);
  *c = (copy_t){NULL, 0, NULL};
}

/* Appends a resource, taking c. version NULL: the XXH3-64 of the bytes. */
static int list_take(sc_resource_list_t *list, const char *name, const char *version, copy_t c,
                     const char *endpoints_key) {
  if (SC__ARRAY_RESERVE(list, 1) != 0) {
    copy_release(&c);
    return SC_ENOMEM;
  }
  sc_resource_t *r = &list->items[list->n];
  *r = (sc_resource_t){sc__strdup(name), {0}, c.bytes, c.len, c.blob, endpoints_key ? sc__strdup(endpoints_key) : NULL};
  if (r->name == NULL || (endpoints_key != NULL && r->endpoints_key == NULL)) {
    sc_resource_clear(r);
    return SC_ENOMEM;
  }
  size_t vlen = version ? strlen(version) : 0;
  if (version != NULL && vlen < sizeof(r->version))
    memcpy(r->version, version, vlen + 1);
  else
    snprintf(r->version, sizeof(r->version), "%016llx", (unsigned long long)XXH3_64bits(c.bytes, c.len));
  list->n++;
  return 0;
}

static int hex_digit(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int sc_gather_parse_hash(const char *hex, uint8_t out[16]) {
  if (hex == NULL || strlen(hex) != 32)
    return -1;
  for (int i = 0; i < 16; i++) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

static int load_copy(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  copy_t *c = arg;
  if ((c->bytes = sc__malloc(vlen ? vlen : 1)) == NULL)
    return SC_ENOMEM;
  memcpy(c->bytes, val, vlen);
  c->len = vlen;
  return 0;
}

typedef struct {
  const uint8_t *key;
  sc_blob_t *blob;
} blob_load_t;

static int load_blob(void *arg, const void *key, size_t klen, const void *val, size_t vlen) {
  (void)key;
  (void)klen;
  blob_load_t *l = arg;
  if ((l->blob = sc__malloc(sizeof(*l->blob) + vlen)) == NULL)
    return SC_ENOMEM;
  l->blob->refs = 1;
  l->blob->len = vlen;
  memcpy(l->blob->key, l->key, 16);
  memcpy(l->blob->data, val, vlen);
  return 0;
}

/* The stored resource under key: from blobs when it has it (else read and added), or
 * copied when there is no cache. */
static int load_stored(sc_snapshot_view_t *v, const uint8_t key[16], sc_blob_cache_t *blobs, copy_t *out) {
  if (blobs == NULL)
    return sc_snapshot_view_get(v, SC_TABLE_RESOURCES, key, 16, load_copy, out);
  sc_blob_t *b = sc__hashmap_get(&blobs->map, blob_slot(key));
  if (b == NULL || memcmp(b->key, key, 16) != 0) {
    blob_load_t l = {key, NULL};
    int rc = sc_snapshot_view_get(v, SC_TABLE_RESOURCES, key, 16, load_blob, &l);
    if (rc != 0)
      return rc;
    /* A slot taken by another key (64-bit prefixes collide): that one stays, this one is
     * not cached. */
    if (b == NULL && sc__hashmap_put(&blobs->map, blob_slot(key), l.blob) == 0)
      l.blob->refs++;
    b = l.blob;
  } else {
    b->refs++;
  }
  *out = (copy_t){b->data, b->len, b};
  return 0;
}

/* The stored resource of a ["name", "hash"] reference. */
static int load_ref(sc_snapshot_view_t *v, json_t *ref, sc_blob_cache_t *blobs, copy_t *out, char *err,
                    size_t errlen) {
  const char *name = json_string_value(json_array_get(ref, 0));
  const char *hash = json_string_value(json_array_get(ref, 1));
  uint8_t key[16];
  if (name == NULL || sc_gather_parse_hash(hash, key) != 0)
    return sc__gather_failf(err, errlen, SC_ECORRUPT, "corrupt resource reference");
  int rc = load_stored(v, key, blobs, out);
  if (rc == SC_ENOTFOUND)
    return sc__gather_failf(err, errlen, SC_ECORRUPT, "resource %s (%s) is missing from the snapshot", name, hash);
  return rc;
}

typedef struct {
  sc_snapshot_view_t *v;
  const sc_gather_query_t *q;
  sc_resource_list_t *out;
  char *err;
  size_t errlen;
} gather_t;

/* The resources a [["name", "hash"(, "eds id")], ...] cluster list names: the clusters
 * (version: the hash), or for endpoints the assignments of its EDS clusters (table
 * endpoints, key "name#id"; version: XXH3-64 of the bytes). */
static int add_refs(gather_t *g, json_t *refs) {
  size_t i;
  json_t *ref;
  json_array_foreach(refs, i, ref) {
    const char *name = json_string_value(json_array_get(ref, 0));
    const char *hash = json_string_value(json_array_get(ref, 1));
    const char *eds = json_string_value(json_array_get(ref, 2));
    if (name == NULL || hash == NULL)
      return sc__gather_failf(g->err, g->errlen, SC_ECORRUPT, "corrupt resource reference");
    copy_t c = {NULL, 0, NULL};
    int rc;
    if (g->q->type == SC_XDS_ENDPOINTS) {
      if (eds == NULL)
        continue; /* not an EDS cluster */
      char ekey[1300];
      snprintf(ekey, sizeof(ekey), "%s#%s", name, eds);
      rc = sc_snapshot_view_get(g->v, SC_TABLE_ENDPOINTS, ekey, strlen(ekey), load_copy, &c);
      if (rc == SC_ENOTFOUND && g->q->version != 0)
        continue; /* assignments are not versioned: one no cluster names now is gone */
      if (rc == SC_ENOTFOUND)
        return sc__gather_failf(g->err, g->errlen, SC_ECORRUPT, "assignment %s is missing from the snapshot", ekey);
      if (rc == 0)
        rc = list_take(g->out, name, NULL, c, ekey);
    } else {
      rc = load_ref(g->v, ref, g->q->blobs, &c, g->err, g->errlen);
      if (rc == 0)
        rc = list_take(g->out, name, hash, c, NULL);
    }
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* ---- route configurations ------------------------------------------------------------- */

typedef struct {
  const char *vhost;  /* "HOSTNAME:PORT", or a catch-all's name */
  const char *config; /* the route configuration: what follows the last ':'; NULL: every one */
  json_t *ref;
  size_t at;          /* position: head first, then entries by hostname */
} route_ref_t;

static int cmp_route_ref(const void *pa, const void *pb) {
  const route_ref_t *a = pa, *b = pb;
  int c = strcmp(a->vhost, b->vhost);
  return c ? c : (a->at > b->at) - (a->at < b->at);
}

static int cmp_config(const void *pa, const void *pb) {
  const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
  long x = strtol(a, NULL, 10), y = strtol(b, NULL, 10);
  return x != y ? (x > y) - (x < y) : strcmp(a, b);
}

/* One route configuration: the virtual hosts of refs[] (sorted by name) for config, the
 * first of each name kept, then the catch-alls, composed. */
static int add_route_config(gather_t *g, const route_ref_t *refs, size_t nrefs, const char *config) {
  sc_xds_part_t *parts = sc__calloc(nrefs ? nrefs : 1, sizeof(*parts));
  copy_t *copies = sc__calloc(nrefs ? nrefs : 1, sizeof(*copies));
  size_t nparts = 0;
  int rc = parts && copies ? 0 : SC_ENOMEM;
  for (int catch_all = 0; catch_all < 2 && rc == 0; catch_all++)
    for (size_t i = 0; i < nrefs && rc == 0; i++) {
      const route_ref_t *x = &refs[i];
      if ((x->config == NULL) != catch_all || (x->config != NULL && strcmp(x->config, config) != 0))
        continue;
      if (i > 0 && x->config != NULL && strcmp(refs[i - 1].vhost, x->vhost) == 0)
        continue; /* a name already taken: the first wins */
      if ((rc = load_ref(g->v, x->ref, g->q->blobs, &copies[nparts], g->err, g->errlen)) == 0) {
        parts[nparts] = (sc_xds_part_t){copies[nparts].bytes, copies[nparts].len};
        nparts++;
      }
    }
  uint8_t *bytes = NULL;
  size_t len = 0;
  if (rc == 0 && (rc = sc__compose_routes(config, parts, nparts, &bytes, &len)) == 0)
    rc = list_take(g->out, config, NULL, (copy_t){bytes, len, NULL}, NULL);
  for (size_t k = 0; copies && k < nparts; k++)
    copy_release(&copies[k]);
  sc__free(parts);
  sc__free(copies);
  return rc;
}

/* The route configurations of a scope (FORMAT.md "Composed resources"), sorted by name. */
static int add_route_configs(gather_t *g, json_t *head_refs, json_t *entry_refs) {
  size_t n = json_array_size(head_refs) + json_array_size(entry_refs), nrefs = 0, nconfigs = 0;
  route_ref_t *refs = sc__calloc(n ? n : 1, sizeof(*refs));
  const char **configs = sc__calloc(n ? n : 1, sizeof(*configs));
  int rc = refs && configs ? 0 : SC_ENOMEM;
  json_t *lists[2] = {head_refs, entry_refs};
  for (int l = 0; l < 2 && rc == 0; l++) {
    size_t i;
    json_t *ref;
    json_array_foreach(lists[l], i, ref) {
      const char *name = json_string_value(json_array_get(ref, 0));
      if (name == NULL) {
        rc = sc__gather_failf(g->err, g->errlen, SC_ECORRUPT, "corrupt virtual host reference");
        break;
      }
      const char *colon = strrchr(name, ':');
      refs[nrefs] = (route_ref_t){name, colon ? colon + 1 : NULL, ref, nrefs};
      nrefs++;
      bool seen = colon == NULL;
      for (size_t k = 0; k < nconfigs && !seen; k++)
        seen = strcmp(configs[k], colon + 1) == 0;
      if (!seen)
        configs[nconfigs++] = colon + 1;
    }
  }
  if (rc == 0) {
    qsort(refs, nrefs, sizeof(*refs), cmp_route_ref);
    qsort(configs, nconfigs, sizeof(*configs), cmp_config);
  }
  for (size_t c = 0; c < nconfigs && rc == 0; c++)
    rc = add_route_config(g, refs, nrefs, configs[c]);
  sc__free(refs);
  sc__free(configs);
  return rc;
}

/* ---- listeners ------------------------------------------------------------------------- */

/* Appends to list the references of refs whose name it has none of yet (the first of each
 * name wins: an older service's target port over a newer one's). */
static void add_unnamed(json_t *list, json_t *refs) {
  size_t i, j;
  json_t *x, *y;
  json_array_foreach(refs, i, x) {
    bool have = false;
    json_array_foreach(list, j, y) have |= json_equal(json_array_get(x, 0), json_array_get(y, 0));
    if (!have)
      json_array_append(list, x);
  }
}

/* A listener ["name", "hash"] with these filter chains ["name", "hash"] appended (field 3,
 * filter_chains): a proxy's virtualInbound with the chains of the services it serves. */
static int add_composed_listener(gather_t *g, json_t *ref, json_t *chains) {
  size_t n = json_array_size(chains) + 1;
  copy_t *loads = sc__calloc(n, sizeof(*loads));
  sc_xds_part_t *parts = sc__calloc(n, sizeof(*parts));
  int rc = loads && parts ? 0 : SC_ENOMEM;
  for (size_t i = 0; i < n && rc == 0; i++) {
    rc = load_ref(g->v, i == 0 ? ref : json_array_get(chains, i - 1), g->q->blobs, &loads[i], g->err, g->errlen);
    if (rc == 0 && i > 0)
      parts[i - 1] = (sc_xds_part_t){loads[i].bytes, loads[i].len};
  }
  uint8_t *bytes = NULL;
  size_t len = 0;
  if (rc == 0 && (rc = sc__compose_append(loads[0].bytes, loads[0].len, 3, parts, n - 1, &bytes, &len)) == 0)
    rc = list_take(g->out, json_string_value(json_array_get(ref, 0)), NULL, (copy_t){bytes, len, NULL}, NULL);
  for (size_t i = 0; loads && i < n; i++)
    copy_release(&loads[i]);
  sc__free(loads);
  sc__free(parts);
  return rc;
}

typedef struct {
  json_t *ref; /* ["name", "hash", egress listener index] */
  size_t at;   /* position among the entries, by hostname */
} listener_ref_t;

static int cmp_listener_ref(const void *pa, const void *pb) {
  const listener_ref_t *a = pa, *b = pb;
  json_int_t x = json_integer_value(json_array_get(a->ref, 2)), y = json_integer_value(json_array_get(b->ref, 2));
  return x != y ? (x > y) - (x < y) : (a->at > b->at) - (a->at < b->at);
}

static int cmp_listener_name(const void *pa, const void *pb) {
  const listener_ref_t *a = pa, *b = pb;
  return strcmp(json_string_value(json_array_get(a->ref, 0)), json_string_value(json_array_get(b->ref, 0)));
}

/* The entries' outbound listeners: the first of each name with egress listeners in order,
 * sorted by name. */
static int add_outbound_listeners(gather_t *g, json_t *entry_refs) {
  size_t n = json_array_size(entry_refs), kept = 0;
  listener_ref_t *refs = sc__calloc(n ? n : 1, sizeof(*refs));
  if (refs == NULL)
    return SC_ENOMEM;
  for (size_t i = 0; i < n; i++)
    refs[i] = (listener_ref_t){json_array_get(entry_refs, i), i};
  qsort(refs, n, sizeof(*refs), cmp_listener_ref);
  for (size_t i = 0; i < n; i++) {
    bool taken = false;
    for (size_t k = 0; k < kept && !taken; k++)
      taken = cmp_listener_name(&refs[k], &refs[i]) == 0;
    if (!taken)
      refs[kept++] = refs[i];
  }
  qsort(refs, kept, sizeof(*refs), cmp_listener_name);
  json_t *list = json_array();
  for (size_t i = 0; i < kept; i++)
    json_array_append(list, refs[i].ref);
  sc__free(refs);
  int rc = add_refs(g, list);
  json_decref(list);
  return rc;
}

/* The listeners of a scope (lds.h): the outbound ones, then the head's virtual listeners
 * (virtualInbound with the chains of the services the proxy serves) unless the proxy
 * captures nothing, and the ingress ports that are sockets; such a proxy also gets the
 * rest of the ingress ports. */
static int add_listeners(gather_t *g, json_t *content, json_t *entry_refs, json_t *inbound_chains) {
  bool no_capture = g->q->no_capture;
  int rc = add_outbound_listeners(g, entry_refs);
  size_t i;
  json_t *x;
  json_array_foreach(json_object_get(content, "listeners"), i, x) {
    const char *name = json_string_value(json_array_get(x, 0));
    if (rc != 0 || name == NULL)
      break;
    if (no_capture && strncmp(name, "virtual", 7) == 0)
      continue;
    if (!no_capture && strcmp(name, "virtualInbound") == 0 && json_array_size(inbound_chains) > 0) {
      rc = add_composed_listener(g, x, inbound_chains);
      continue;
    }
    json_t *one = json_pack("[O]", x);
    rc = add_refs(g, one);
    json_decref(one);
  }
  if (no_capture && rc == 0)
    rc = add_refs(g, json_object_get(content, "listenersNoCapture"));
  return rc;
}

/* ---- a proxy's configuration ----------------------------------------------------------- */

static bool holds(json_t *selector, const sc_labels_t *labels) {
  static const sc_labels_t none = {0, NULL};
  return sc__resolve_selector_holds(selector, labels ? labels : &none);
}

/* The index of the first of variants whose selector the proxy's labels hold, else -1. */
static int variant_index(json_t *variants, const sc_labels_t *labels) {
  size_t i;
  json_t *variant;
  json_array_foreach(variants, i, variant) if (holds(json_object_get(variant, "selector"), labels)) return (int)i;
  return -1;
}

/* The first of variants whose selector the proxy's labels hold, else NULL. */
static json_t *variant_for(json_t *variants, const sc_labels_t *labels) {
  int i = variant_index(variants, labels);
  return i < 0 ? NULL : json_array_get(variants, (size_t)i);
}

static int cmp_cstrp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Walks the entries in hostname order, adding clusters and endpoints directly and
 * collecting the parts of routes, listeners and inbound that are put together after. */
static int add_entries(gather_t *g, const sc_scope_records_t *rec, json_t *entry_routes, json_t *entry_listeners,
                       json_t *inbound_clusters, json_t *inbound_chains) {
  const sc_gather_query_t *q = g->q;
  bool labelled = q->labels != NULL && q->labels->n > 0;
  int rc = 0;
  for (size_t k = 0; k < rec->nhosts && rc == 0; k++) {
    json_t *e = json_object_get(rec->by_host, rec->hosts[k]);
    json_t *in = json_object_get(e, "inbound"); /* the proxy is a target of this service */
    if (in != NULL && labelled && holds(json_object_get(in, "selector"), q->labels)) {
      add_unnamed(inbound_clusters, json_object_get(in, "clusters"));
      add_unnamed(inbound_chains, json_object_get(in, "chains"));
    }
    json_t *variant;
    switch (q->type) {
    case SC_XDS_ROUTES: /* the first label class the proxy is in, else the default */
      variant = variant_for(json_object_get(e, "routeVariants"), q->labels);
      json_array_extend(entry_routes, json_object_get(variant ? variant : e, "routes"));
      break;
    case SC_XDS_LISTENERS:
      json_array_extend(entry_listeners,
                        json_object_get(e, q->no_capture ? "outboundListenersNoCapture" : "outboundListeners"));
      break;
    default: /* the variant of the first selector rule the labels match, else the default */
      variant = variant_for(json_object_get(e, "clusterVariants"), q->labels);
      rc = add_refs(g, json_object_get(variant ? variant : e, "clusters"));
      break;
    }
  }
  return rc;
}

void sc_scope_records_free(sc_scope_records_t *rec) {
  if (rec == NULL)
    return;
  json_decref(rec->head);
  json_decref(rec->content);
  json_decref(rec->by_host);
  sc__free(rec->hosts);
  sc__free(rec);
}

/* The latest entries of content_id and of its base into by_host, each id's parsed once
 * per head (scopes sharing the base share its parse), each record's bytes once. */
static int cached_entries(sc_snapshot_view_t *v, const char *content_id, const char *base, sc_records_cache_t *cache,
                          json_t *by_host) {
  const char *ids[2] = {base, content_id};
  for (int i = 0; i < 2; i++) {
    if (ids[i] == NULL)
      continue;
    json_t *own = json_object_get(cache->entries, ids[i]);
    if (own == NULL) {
      own = json_object();
      int rc = scan_entries_parsed(v, ids[i], own, cache->parsed);
      if (rc != 0) {
        json_decref(own);
        return rc;
      }
      json_object_set_new(cache->entries, ids[i], own);
    }
    json_object_update(by_host, own); /* references, not copies */
  }
  return 0;
}

int sc_scope_records_load(sc_snapshot_view_t *v, const char *scope, uint64_t version, sc_records_cache_t *cache,
                          sc_scope_records_t **out, char *err, size_t errlen) {
  if (err != NULL && errlen > 0)
    err[0] = 0;
  sc_scope_records_t *rec = sc__calloc(1, sizeof(*rec));
  if (rec == NULL || (rec->by_host = json_object()) == NULL) {
    sc__free(rec);
    return SC_ENOMEM;
  }
  int rc = sc__scope_head_at(v, scope, version, &rec->head);
  if (rc == 0 && rec->head == NULL)
    rc = sc__gather_failf(err, errlen, SC_ENOTFOUND, "no scope \"%s\"", scope);
  /* A scope sharing another's content ("sameAs") gets that content. */
  const char *same = rec->head ? json_string_value(json_object_get(rec->head, "sameAs")) : NULL;
  if (rc == 0 && same != NULL) {
    rc = sc__scope_head_at(v, same, version, &rec->content);
    if (rc == 0 && rec->content == NULL)
      rc = sc__gather_failf(err, errlen, SC_ECORRUPT, "scope \"%s\" shares \"%s\", which does not exist", scope, same);
  } else if (rc == 0) {
    rec->content = json_incref(rec->head);
  }
  const char *base = rec->content ? json_string_value(json_object_get(rec->content, "base")) : NULL;
  if (rc == 0 && version == 0 && cache != NULL)
    rc = cached_entries(v, same ? same : scope, base, cache, rec->by_host);
  else if (rc == 0)
    rc = sc__scope_entries_at(v, same ? same : scope, base, version, rec->by_host);
  if (rc == SC_ECORRUPT && err != NULL && err[0] == 0)
    sc__gather_failf(err, errlen, rc, "a record of scope \"%s\" does not parse", scope);
  size_t n = json_object_size(rec->by_host);
  if (rc == 0 && (rec->hosts = sc__calloc(n ? n : 1, sizeof(*rec->hosts))) == NULL)
    rc = SC_ENOMEM;
  if (rc == 0) {
    const char *host;
    json_t *e;
    json_object_foreach(rec->by_host, host, e) rec->hosts[rec->nhosts++] = host;
    qsort(rec->hosts, rec->nhosts, sizeof(*rec->hosts), cmp_cstrp);
  }
  if (rc != 0) {
    sc_scope_records_free(rec);
    rec = NULL;
  }
  *out = rec;
  return rc;
}

const char *sc_scope_records_content_id(const sc_scope_records_t *rec) {
  const char *same = json_string_value(json_object_get(rec->head, "sameAs"));
  return same ? same : json_string_value(json_object_get(rec->head, "id"));
}

bool sc_scope_records_use_base(const sc_scope_records_t *rec) {
  return json_object_get(rec->content, "base") != NULL;
}

int sc_gather_from(sc_snapshot_view_t *v, const sc_scope_records_t *rec, const sc_gather_query_t *q,
                   sc_resource_list_t *out, char *err, size_t errlen) {
  gather_t g = {v, q, out, err, errlen};
  if (err != NULL && errlen > 0)
    err[0] = 0;
  json_t *entry_routes = json_array(), *entry_listeners = json_array();
  json_t *inbound_clusters = json_array(), *inbound_chains = json_array();
  json_t *content = rec->content;
  int rc = 0;
  if (q->type != SC_XDS_ROUTES && q->type != SC_XDS_LISTENERS)
    rc = add_refs(&g, json_object_get(content, "clusters"));
  if (rc == 0)
    rc = add_entries(&g, rec, entry_routes, entry_listeners, inbound_clusters, inbound_chains);
  if (rc == 0 && q->type == SC_XDS_CLUSTERS)
    rc = add_refs(&g, inbound_clusters);
  if (rc == 0 && q->type == SC_XDS_ROUTES)
    rc = add_route_configs(&g, json_object_get(content, "routes"), entry_routes);
  if (rc == 0 && q->type == SC_XDS_LISTENERS)
    rc = add_listeners(&g, content, entry_listeners, inbound_chains);
  json_decref(inbound_clusters);
  json_decref(inbound_chains);
  json_decref(entry_routes);
  json_decref(entry_listeners);
  return rc;
}

uint64_t sc_gather_class(const sc_scope_records_t *rec, const sc_gather_query_t *q) {
  XXH3_state_t *st = XXH3_createState();
  if (st == NULL)
    return 0;
  XXH3_64bits_reset(st);
  uint32_t head[2] = {(uint32_t)q->type, q->no_capture};
  XXH3_64bits_update(st, head, sizeof(head));
  bool labelled = q->labels != NULL && q->labels->n > 0;
  bool inbound = q->type == SC_XDS_CLUSTERS || q->type == SC_XDS_LISTENERS;
  for (size_t k = 0; k < rec->nhosts; k++) { /* what add_entries picks by the labels */
    json_t *e = json_object_get(rec->by_host, rec->hosts[k]), *in = json_object_get(e, "inbound");
    int32_t pick[3] = {(int32_t)k, -1, -1};
    if (inbound && in != NULL && labelled && holds(json_object_get(in, "selector"), q->labels))
      pick[1] = 1;
    if (q->type == SC_XDS_ROUTES)
      pick[2] = variant_index(json_object_get(e, "routeVariants"), q->labels);
    else if (q->type != SC_XDS_LISTENERS)
      pick[2] = variant_index(json_object_get(e, "clusterVariants"), q->labels);
    if (pick[1] >= 0 || pick[2] >= 0)
      XXH3_64bits_update(st, pick, sizeof(pick));
  }
  uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

int sc_gather(sc_snapshot_view_t *v, const sc_gather_query_t *q, sc_resource_list_t *out, char *err,
              size_t errlen) {
  sc_scope_records_t *rec = NULL;
  int rc = sc_scope_records_load(v, q->scope, q->version, NULL, &rec, err, errlen);
  if (rc == 0)
    rc = sc_gather_from(v, rec, q, out, err, errlen);
  sc_scope_records_free(rec);
  return rc;
}
