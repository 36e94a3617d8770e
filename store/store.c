/* The in-memory config store: objects by ConfigKey, and indexes by kind, by
 * (kind, namespace) and by (kind, hostname), so that no lookup scans. */
#include <string.h>
#include <xxhash.h>

#include "store/array.h"
#include "store/hashmap.h"
#include "store/mem.h"
#include "scopecast/store.h"

typedef struct {
  sc_obj_t **items;
  size_t n, cap;
} obj_vec_t;

/* Objects of one kind filed under one string (a namespace or a hostname). Buckets whose
 * 64-bit hashes collide are chained; the string decides. */
typedef struct bucket_s {
  struct bucket_s *next;
  sc_kind_t kind;
  char *key;
  size_t key_len;
  obj_vec_t objs;
} bucket_t;

typedef struct entry_s {
  struct entry_s *next; /* entries whose key hashes collide */
  sc_obj_t *obj;
  size_t kind_pos; /* index in store->by_kind[kind] */
  size_t ns_pos;   /* index in ns_bucket->objs */
  bucket_t *ns_bucket;
} entry_t;

struct sc_store_s {
  sc_hashmap_t by_key;  /* key_hash -> entry_t chain */
  sc_hashmap_t by_ns;   /* hash(kind, namespace) -> bucket_t chain */
  sc_hashmap_t by_host; /* hash(kind, hostname) -> bucket_t chain */
  obj_vec_t by_kind[SC_KIND__COUNT];
};

static int vec_reserve(obj_vec_t *v, size_t extra) {
  return SC__ARRAY_RESERVE(v, extra);
}

static uint64_t bucket_hash(sc_kind_t kind, const char *key, size_t len) {
  return XXH3_64bits_withSeed(key, len, (uint64_t)kind + 1);
}

static bucket_t *bucket_find(const sc_hashmap_t *m, sc_kind_t kind, const char *key, size_t len) {
  for (bucket_t *b = sc__hashmap_get(m, bucket_hash(kind, key, len)); b; b = b->next)
    if (b->kind == kind && b->key_len == len && memcmp(b->key, key, len) == 0)
      return b;
  return NULL;
}

static bucket_t *bucket_get_or_add(sc_hashmap_t *m, sc_kind_t kind, const char *key, size_t len) {
  bucket_t *b = bucket_find(m, kind, key, len);
  if (b != NULL)
    return b;
  b = sc__calloc(1, sizeof(*b));
  if (b == NULL)
    return NULL;
  b->key = sc__malloc(len + 1);
  if (b->key == NULL) {
    sc__free(b);
    return NULL;
  }
  memcpy(b->key, key, len);
  b->key[len] = '\0';
  b->key_len = len;
  b->kind = kind;
  uint64_t h = bucket_hash(kind, key, len);
  b->next = sc__hashmap_get(m, h);
  if (sc__hashmap_put(m, h, b) != 0) {
    sc__free(b->key);
    sc__free(b);
    return NULL;
  }
  return b;
}

static void bucket_free(bucket_t *b) {
  sc__free(b->objs.items);
  sc__free(b->key);
  sc__free(b);
}

/* Unlinks an empty bucket from its chain and frees it. */
static void bucket_drop_if_empty(sc_hashmap_t *m, bucket_t *b) {
  if (b->objs.n > 0)
    return;
  uint64_t h = bucket_hash(b->kind, b->key, b->key_len);
  bucket_t *head = sc__hashmap_get(m, h);
  if (head == b) {
    if (b->next)
      sc__hashmap_put(m, h, b->next); /* replaces in place: cannot fail */
    else
      sc__hashmap_remove(m, h);
  } else {
    for (bucket_t *p = head; p; p = p->next) {
      if (p->next == b) {
        p->next = b->next;
        break;
      }
    }
  }
  bucket_free(b);
}

/* ---- hostnames ------------------------------------------------------------------------- */

typedef int (*host_fn)(sc_store_t *s, sc_obj_t *obj, sc_str_t host);

static int for_each_host(sc_store_t *s, sc_obj_t *obj, host_fn fn) {
  int rc = 0;
  switch (obj->kind) {
  case SC_KIND_SERVICE:
    return fn(s, obj, obj->u.service.hostname);
  case SC_KIND_SERVICE_ENTRY:
    for (uint32_t i = 0; i < obj->u.service_entry.hosts.n && rc == 0; i++)
      rc = fn(s, obj, obj->u.service_entry.hosts.items[i]);
    return rc;
  case SC_KIND_VIRTUAL_SERVICE:
    for (uint32_t i = 0; i < obj->u.virtual_service.hosts.n && rc == 0; i++)
      rc = fn(s, obj, obj->u.virtual_service.hosts.items[i]);
    return rc;
  case SC_KIND_DESTINATION_RULE:
    return fn(s, obj, obj->u.destination_rule.host);
  default:
    return 0;
  }
}

static int host_add(sc_store_t *s, sc_obj_t *obj, sc_str_t host) {
  bucket_t *b = bucket_get_or_add(&s->by_host, obj->kind, host.ptr, host.len);
  if (b == NULL)
    return SC_ENOMEM;
  for (size_t i = 0; i < b->objs.n; i++)
    if (b->objs.items[i] == obj)
      return 0; /* the same host listed twice */
  if (vec_reserve(&b->objs, 1) != 0) {
    bucket_drop_if_empty(&s->by_host, b);
    return SC_ENOMEM;
  }
  b->objs.items[b->objs.n++] = obj;
  return 0;
}

static int host_remove(sc_store_t *s, sc_obj_t *obj, sc_str_t host) {
  bucket_t *b = bucket_find(&s->by_host, obj->kind, host.ptr, host.len);
  if (b == NULL)
    return 0;
  for (size_t i = 0; i < b->objs.n; i++) {
    if (b->objs.items[i] == obj) {
      b->objs.items[i] = b->objs.items[--b->objs.n];
      break;
    }
  }
  bucket_drop_if_empty(&s->by_host, b);
  return 0;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

int sc_store_new(sc_store_t **out) {
  sc_store_t *s = sc__calloc(1, sizeof(*s));
  if (s == NULL)
    return SC_ENOMEM;
  sc__hashmap_init(&s->by_key);
  sc__hashmap_init(&s->by_ns);
  sc__hashmap_init(&s->by_host);
  *out = s;
  return 0;
}

static void free_buckets(sc_hashmap_t *m) {
  for (size_t i = 0; i < m->cap; i++) {
    bucket_t *b = m->values[i];
    while (b != NULL) {
      bucket_t *next = b->next;
      bucket_free(b);
      b = next;
    }
  }
  sc__hashmap_free(m);
}

void sc_store_del(sc_store_t *s) {
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->by_key.cap; i++) {
    entry_t *e = s->by_key.values[i];
    while (e != NULL) {
      entry_t *next = e->next;
      sc_obj_unref(e->obj);
      sc__free(e);
      e = next;
    }
  }
  sc__hashmap_free(&s->by_key);
  free_buckets(&s->by_ns);
  free_buckets(&s->by_host);
  for (int k = 0; k < SC_KIND__COUNT; k++)
    sc__free(s->by_kind[k].items);
  sc__free(s);
}

void sc_change_release(sc_change_t *change) {
  sc_obj_unref(change->old_obj);
  sc_obj_unref(change->new_obj);
  change->old_obj = change->new_obj = NULL;
}

/* ---- lookups ------------------------------------------------------------------------- */

static entry_t *entry_find(const sc_store_t *s, sc_kind_t kind, sc_str_t ns, sc_str_t name,
                           uint64_t key_hash) {
  for (entry_t *e = sc__hashmap_get(&s->by_key, key_hash); e; e = e->next)
    if (e->obj->kind == kind && sc_str_eq(e->obj->namespace_, ns) && sc_str_eq(e->obj->name, name))
      return e;
  return NULL;
}

const sc_obj_t *sc_store_get(const sc_store_t *s, sc_kind_t kind, sc_str_t ns, sc_str_t name) {
  entry_t *e = entry_find(s, kind, ns, name, sc_config_key_hash(kind, ns, name));
  return e ? e->obj : NULL;
}

static sc_obj_list_t bucket_list(const bucket_t *b) {
  sc_obj_list_t l = {NULL, 0};
  if (b != NULL) {
    l.items = b->objs.items;
    l.n = b->objs.n;
  }
  return l;
}

sc_obj_list_t sc_store_list(const sc_store_t *s, sc_kind_t kind) {
  sc_obj_list_t l = {s->by_kind[kind].items, s->by_kind[kind].n};
  return l;
}

sc_obj_list_t sc_store_list_namespace(const sc_store_t *s, sc_kind_t kind, sc_str_t ns) {
  return bucket_list(bucket_find(&s->by_ns, kind, ns.ptr, ns.len));
}

sc_obj_list_t sc_store_list_hostname(const sc_store_t *s, sc_kind_t kind, sc_str_t host) {
  return bucket_list(bucket_find(&s->by_host, kind, host.ptr, host.len));
}

size_t sc_store_count(const sc_store_t *s, sc_kind_t kind) { return s->by_kind[kind].n; }

const sc_mesh_config_t *sc_store_mesh(const sc_store_t *s) {
  const obj_vec_t *v = &s->by_kind[SC_KIND_MESH_CONFIG];
  return v->n > 0 ? &v->items[0]->u.mesh : sc_mesh_config_defaults();
}

/* ---- mutation ------------------------------------------------------------------------ */

static entry_t *entry_of(const sc_store_t *s, const sc_obj_t *obj) {
  return entry_find(s, obj->kind, obj->namespace_, obj->name, obj->key_hash);
}

static int insert(sc_store_t *s, sc_obj_t *obj) {
  obj_vec_t *kv = &s->by_kind[obj->kind];
  entry_t *e = sc__calloc(1, sizeof(*e));
  bucket_t *nb = NULL;
  if (e == NULL || vec_reserve(kv, 1) != 0)
    goto fail;
  nb = bucket_get_or_add(&s->by_ns, obj->kind, obj->namespace_.ptr, obj->namespace_.len);
  if (nb == NULL || vec_reserve(&nb->objs, 1) != 0)
    goto fail;
  e->next = sc__hashmap_get(&s->by_key, obj->key_hash);
  if (sc__hashmap_put(&s->by_key, obj->key_hash, e) != 0)
    goto fail;
  if (for_each_host(s, obj, host_add) != 0) {
    for_each_host(s, obj, host_remove);
    if (e->next)
      sc__hashmap_put(&s->by_key, obj->key_hash, e->next);
    else
      sc__hashmap_remove(&s->by_key, obj->key_hash);
    goto fail;
  }
  e->obj = obj;
  e->kind_pos = kv->n;
  kv->items[kv->n++] = obj;
  e->ns_bucket = nb;
  e->ns_pos = nb->objs.n;
  nb->objs.items[nb->objs.n++] = obj;
  return 0;
fail:
  if (nb != NULL)
    bucket_drop_if_empty(&s->by_ns, nb);
  sc__free(e);
  return SC_ENOMEM;
}

static void unlink_entry(sc_store_t *s, entry_t *e) {
  sc_obj_t *obj = e->obj;
  for_each_host(s, obj, host_remove);
  obj_vec_t *kv = &s->by_kind[obj->kind];
  sc_obj_t *moved = kv->items[--kv->n];
  if (moved != obj) {
    kv->items[e->kind_pos] = moved;
    entry_of(s, moved)->kind_pos = e->kind_pos;
  }
  bucket_t *nb = e->ns_bucket;
  moved = nb->objs.items[--nb->objs.n];
  if (moved != obj) {
    nb->objs.items[e->ns_pos] = moved;
    entry_of(s, moved)->ns_pos = e->ns_pos;
  }
  bucket_drop_if_empty(&s->by_ns, nb);
  entry_t *head = sc__hashmap_get(&s->by_key, obj->key_hash);
  if (head == e) {
    if (e->next)
      sc__hashmap_put(&s->by_key, obj->key_hash, e->next);
    else
      sc__hashmap_remove(&s->by_key, obj->key_hash);
  } else {
    for (entry_t *p = head; p; p = p->next)
      if (p->next == e) {
        p->next = e->next;
        break;
      }
  }
  sc__free(e);
}

int sc_store_put(sc_store_t *s, sc_obj_t *obj, sc_change_t *change) {
  memset(change, 0, sizeof(*change));
  entry_t *e = entry_of(s, obj);
  if (e != NULL && e->obj->spec_hash == obj->spec_hash) {
    sc_obj_unref(obj);
    return 0;
  }
  if (e == NULL) {
    int rc = insert(s, obj);
    if (rc != 0) {
      sc_obj_unref(obj);
      return rc;
    }
    change->op = SC_CHANGE_ADDED;
    change->new_obj = sc_obj_ref(obj);
    return 0;
  }
  /* Replace in place: same kind and namespace, so only the hostname index moves. */
  sc_obj_t *old = e->obj;
  for_each_host(s, old, host_remove);
  if (for_each_host(s, obj, host_add) != 0) {
    for_each_host(s, obj, host_remove);
    for_each_host(s, old, host_add); /* buckets were just freed: may fail only on OOM */
    sc_obj_unref(obj);
    return SC_ENOMEM;
  }
  e->obj = obj;
  s->by_kind[obj->kind].items[e->kind_pos] = obj;
  e->ns_bucket->objs.items[e->ns_pos] = obj;
  change->op = SC_CHANGE_UPDATED;
  change->old_obj = old; /* the store's reference moves to the change */
  change->new_obj = sc_obj_ref(obj);
  return 0;
}

int sc_store_delete(sc_store_t *s, sc_kind_t kind, sc_str_t ns, sc_str_t name,
                    sc_change_t *change) {
  memset(change, 0, sizeof(*change));
  entry_t *e = entry_find(s, kind, ns, name, sc_config_key_hash(kind, ns, name));
  if (e == NULL)
    return 0;
  sc_obj_t *obj = e->obj;
  unlink_entry(s, e);
  change->op = SC_CHANGE_DELETED;
  change->old_obj = obj;
  return 0;
}
