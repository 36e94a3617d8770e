/* The published EDS state (see endpoints.h). */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "store/mem.h"
#include "xds/eds.h"
#include "publish/endpoints.h"

struct sc_eds_ref_s {
  char *key;        /* "CLUSTER#ID" */
  char *cluster;    /* CLUSTER */
  char *recipe;     /* what the assignment is made of (eds.h) */
  sc_str_t ns;      /* the record's namespace: the recipe's third line */
  uint64_t refs;
  XXH128_hash_t hash; /* of the bytes last built */
  bool built;
  bool staged;      /* in put */
  uint8_t *bytes;   /* staged bytes (owned) */
  size_t len;
};

void sc__endpoints_init(sc_endpoints_t *eps) {
  memset(eps, 0, sizeof(*eps));
  sc__strmap_init(&eps->by_key);
  sc__strmap_init(&eps->by_ns);
}

/* The refs of one namespace; the map's key is the copy of the namespace held here. */
typedef struct {
  sc_vec_t refs;
  uint32_t len;
  char ns[];
} ns_refs_t;

static void free_ns_refs(void *p) {
  ns_refs_t *n = p;
  sc__vec_free(&n->refs);
  sc__free(n);
}

static void ref_free(void *p) {
  sc_eds_ref_t *r = p;
  sc__free(r->key);
  sc__free(r->cluster);
  sc__free(r->recipe);
  sc__free(r->bytes);
  sc__free(r);
}

static void free_keys(sc_vec_t *v) {
  for (uint32_t i = 0; i < v->n; i++)
    sc__free(v->items[i]);
  v->n = 0;
}

void sc__endpoints_reset(sc_endpoints_t *eps) {
  sc__strmap_free(&eps->by_ns, free_ns_refs);
  sc__strmap_init(&eps->by_ns);
  sc__strmap_free(&eps->by_key, ref_free);
  sc__strmap_init(&eps->by_key);
  eps->fresh.n = 0;
  eps->put.n = 0;
  free_keys(&eps->del);
}

void sc__endpoints_free(sc_endpoints_t *eps) {
  sc__endpoints_reset(eps);
  sc__strmap_free(&eps->by_key, NULL);
  sc__strmap_free(&eps->by_ns, NULL);
  sc__vec_free(&eps->fresh);
  sc__vec_free(&eps->put);
  sc__vec_free(&eps->del);
}

static void vec_drop(sc_vec_t *v, const void *p) {
  for (uint32_t i = 0; i < v->n; i++)
    if (v->items[i] == p) {
      v->items[i] = v->items[--v->n];
      return;
    }
}

/* The namespace line of a recipe: hostname, port, namespace, ... */
static sc_str_t recipe_ns(const char *recipe) {
  const char *a = strchr(recipe, '\n');
  a = a ? strchr(a + 1, '\n') : NULL;
  const char *b = a ? strchr(a + 1, '\n') : NULL;
  return b ? (sc_str_t){a + 1, (uint32_t)(b - a - 1)} : (sc_str_t){"", 0};
}

int sc__endpoints_ref(sc_endpoints_t *eps, const sc_resource_t *r) {
  if (r->eds_id == 0)
    return 0;
  char key[1300];
  size_t klen = sc__eds_key(r->name, r->eds_id, key, sizeof(key));
  if (klen == 0)
    return SC_EINVAL;
  sc_eds_ref_t *ref = sc__strmap_get(&eps->by_key, (sc_str_t){key, (uint32_t)klen});
  if (ref != NULL) {
    ref->refs++;
    return 0;
  }
  if (r->eds == NULL || (ref = sc__calloc(1, sizeof(*ref))) == NULL)
    return SC_ENOMEM; /* a first reference always comes with its recipe */
  ref->key = sc__strdup(key);
  ref->cluster = sc__strdup(r->name);
  ref->recipe = sc__strdup(r->eds);
  ref->refs = 1;
  if (ref->key == NULL || ref->cluster == NULL || ref->recipe == NULL ||
      sc__strmap_put(&eps->by_key, (sc_str_t){ref->key, (uint32_t)klen}, ref) != 0) {
    ref_free(ref);
    return SC_ENOMEM;
  }
  ref->ns = recipe_ns(ref->recipe);
  ns_refs_t *in_ns = sc__strmap_get(&eps->by_ns, ref->ns);
  if (in_ns == NULL && (in_ns = sc__calloc(1, sizeof(*in_ns) + ref->ns.len + 1)) != NULL) {
    memcpy(in_ns->ns, ref->ns.ptr, ref->ns.len);
    in_ns->len = ref->ns.len;
    if (sc__strmap_put(&eps->by_ns, (sc_str_t){in_ns->ns, in_ns->len}, in_ns) != 0) {
      sc__free(in_ns);
      in_ns = NULL;
    }
  }
  if (in_ns == NULL || sc__vec_push(&in_ns->refs, ref) != 0) {
    sc__strmap_remove(&eps->by_key, (sc_str_t){ref->key, (uint32_t)klen});
    ref_free(ref);
    return SC_ENOMEM;
  }
  if (sc__vec_push(&eps->fresh, ref) != 0) {
    vec_drop(&in_ns->refs, ref);
    sc__strmap_remove(&eps->by_key, (sc_str_t){ref->key, (uint32_t)klen});
    ref_free(ref);
    return SC_ENOMEM;
  }
  return 0;
}

int sc__endpoints_unref(sc_endpoints_t *eps, const sc_resource_t *r) {
  if (r->eds_id == 0)
    return 0;
  char key[1300];
  size_t klen = sc__eds_key(r->name, r->eds_id, key, sizeof(key));
  sc_eds_ref_t *ref = klen ? sc__strmap_get(&eps->by_key, (sc_str_t){key, (uint32_t)klen}) : NULL;
  if (ref == NULL)
    return 0; /* counted from nothing after a reset */
  if (--ref->refs > 0)
    return 0;
  /* The key goes (deleting one never written is harmless). */
  char *k = sc__strdup(ref->key);
  if (k == NULL || sc__vec_push(&eps->del, k) != 0) {
    sc__free(k);
    ref->refs = 1;
    return SC_ENOMEM;
  }
  vec_drop(&eps->fresh, ref);
  vec_drop(&eps->put, ref);
  ns_refs_t *in_ns = sc__strmap_get(&eps->by_ns, ref->ns);
  if (in_ns != NULL) {
    vec_drop(&in_ns->refs, ref);
    if (in_ns->refs.n == 0)
      free_ns_refs(sc__strmap_remove(&eps->by_ns, ref->ns));
  }
  sc__strmap_remove(&eps->by_key, (sc_str_t){ref->key, (uint32_t)klen});
  ref_free(ref);
  return 0;
}

/* Builds ref's assignment; stages it when its bytes changed (or were never built). */
static int build(sc_endpoints_t *eps, const sc_store_t *store, const sc_world_t *w, sc_eds_ref_t *ref) {
  sc_resources_t out = {0};
  int rc = sc__eds_from_recipe(store, w, ref->recipe, ref->cluster, &out);
  if (rc == 0 && out.n != 1)
    rc = SC_EINVAL;
  if (rc != 0) {
    sc__resources_free(&out);
    return rc;
  }
  eps->built++;
  XXH128_hash_t h = XXH3_128bits(out.items[0].bytes, out.items[0].len);
  if (ref->built && XXH128_isEqual(h, ref->hash)) {
    sc__resources_free(&out);
    return 0;
  }
  if (!ref->staged && sc__vec_push(&eps->put, ref) != 0) {
    sc__resources_free(&out);
    return SC_ENOMEM;
  }
  ref->staged = true;
  sc__free(ref->bytes);
  ref->bytes = out.items[0].bytes;
  ref->len = out.items[0].len;
  out.items[0].bytes = NULL;
  ref->hash = h;
  ref->built = true;
  sc__resources_free(&out);
  return 0;
}

typedef struct {
  sc_endpoints_t *eps;
  const sc_store_t *store;
  const sc_world_t *w;
  int rc;
} rebuild_t;

static void rebuild_one(void *arg, sc_str_t key, void *value) {
  (void)key;
  rebuild_t *rb = arg;
  sc_eds_ref_t *ref = value;
  if (rb->rc == 0 && ref->built) /* a fresh one is built apart */
    rb->rc = build(rb->eps, rb->store, rb->w, ref);
}

static void rebuild_namespace(void *arg, sc_str_t ns, void *value) {
  (void)value;
  rebuild_t *rb = arg;
  const ns_refs_t *n = sc__strmap_get(&rb->eps->by_ns, ns);
  for (uint32_t i = 0; n && i < n->refs.n && rb->rc == 0; i++)
    rebuild_one(rb, ns, n->refs.items[i]);
}

int sc__endpoints_update(sc_endpoints_t *eps, const sc_store_t *store, const sc_world_t *w,
                        const sc_strmap_t *namespaces, bool all) {
  eps->built = 0;
  rebuild_t rb = {eps, store, w, 0};
  if (all)
    sc__strmap_foreach(&eps->by_key, rebuild_one, &rb);
  else if (namespaces != NULL)
    sc__strmap_foreach(namespaces, rebuild_namespace, &rb);
  while (rb.rc == 0 && eps->fresh.n > 0) {
    sc_eds_ref_t *ref = eps->fresh.items[eps->fresh.n - 1];
    if ((rb.rc = build(eps, store, w, ref)) == 0)
      eps->fresh.n--;
  }
  return rb.rc;
}

int sc__endpoints_write(const sc_endpoints_t *eps, sc_snapshot_txn_t *txn) {
  int rc = 0;
  /* Deletes first: a key deleted and named again within one update is written back. */
  for (uint32_t i = 0; i < eps->del.n && rc == 0; i++) {
    const char *k = eps->del.items[i];
    rc = sc_snapshot_txn_del(txn, SC_TABLE_ENDPOINTS, k, strlen(k));
  }
  for (uint32_t i = 0; i < eps->put.n && rc == 0; i++) {
    const sc_eds_ref_t *ref = eps->put.items[i];
    rc = sc_snapshot_txn_put(txn, SC_TABLE_ENDPOINTS, ref->key, strlen(ref->key), ref->bytes, ref->len);
  }
  return rc;
}

void sc__endpoints_commit(sc_endpoints_t *eps) {
  for (uint32_t i = 0; i < eps->put.n; i++) {
    sc_eds_ref_t *ref = eps->put.items[i];
    sc__free(ref->bytes); /* written: the hash is all that is needed now */
    ref->bytes = NULL;
    ref->staged = false;
  }
  eps->put.n = 0;
  free_keys(&eps->del);
}

typedef struct {
  void (*cb)(void *arg, const char *key, const char *recipe, uint64_t refs, const uint8_t hash[16]);
  void *arg;
} visit_t;

static void visit_one(void *arg, sc_str_t key, void *value) {
  (void)key;
  visit_t *v = arg;
  const sc_eds_ref_t *ref = value;
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, ref->hash);
  v->cb(v->arg, ref->key, ref->recipe, ref->refs, canon.digest);
}

void sc__endpoints_foreach(const sc_endpoints_t *eps,
                          void (*cb)(void *arg, const char *key, const char *recipe, uint64_t refs,
                                     const uint8_t hash[16]),
                          void *arg) {
  visit_t v = {cb, arg};
  sc__strmap_foreach(&eps->by_key, visit_one, &v);
}

const char *sc__endpoints_key(const sc_eds_ref_t *ref) { return ref->key; }

size_t sc__endpoints_count(const sc_endpoints_t *eps) { return eps->by_key.n; }
