/* Building the world's indexes from the store (see world.h). */
#include <stdlib.h>
#include <string.h>

#include "store/mem.h"
#include "model/host.h"
#include "model/world.h"

/* ---- helpers ------------------------------------------------------------------------ */

/* Creation order: creationTimestamp, then name, then namespace. */
static int cmp_creation(const sc_obj_t *a, const sc_obj_t *b) {
  if (a->creation_time != b->creation_time)
    return a->creation_time < b->creation_time ? -1 : 1;
  int c = sc_str_cmp(a->name, b->name);
  return c ? c : sc_str_cmp(a->namespace_, b->namespace_);
}

static sc_vec_t *new_vec(sc_world_t *w) {
  sc_vec_t *v = sc__arena_alloc(w->arena, sizeof(*v));
  if (v != NULL && sc__vec_push(w->vecs, v) != 0)
    return NULL;
  return v;
}

/* The vector filed under key in m, created on first use. The key is copied into the
 * part: the services part outlives the objects it first got keys from. */
static sc_vec_t *vec_at(sc_world_t *w, sc_strmap_t *m, sc_str_t key) {
  sc_vec_t *v = sc__strmap_get(m, key);
  if (v == NULL) {
    v = new_vec(w);
    char *copy = sc__arena_alloc(w->arena, key.len + 1);
    if (v == NULL || copy == NULL)
      return NULL;
    memcpy(copy, key.ptr, key.len);
    copy[key.len] = '\0';
    if (sc__strmap_put(m, (sc_str_t){copy, key.len}, v) != 0)
      return NULL;
  }
  return v;
}

/* Namespaces are collected in a map (value: the key itself) then sorted. */
static int note_namespace(sc_world_t *w, sc_strmap_t *seen, sc_str_t ns) {
  if (ns.len == 0 || sc_str_eqz(ns, "*") || sc_str_eqz(ns, ".") || sc_str_eqz(ns, "~") ||
      sc__strmap_get(seen, ns) != NULL)
    return 0;
  /* A copy: the part outlives batches in which the naming object may go away. */
  sc_str_t *copy = sc__arena_alloc(w->arena, sizeof(*copy));
  char *text = sc__arena_alloc(w->arena, ns.len + 1);
  if (copy == NULL || text == NULL)
    return SC_ENOMEM;
  memcpy(text, ns.ptr, ns.len);
  text[ns.len] = '\0';
  *copy = (sc_str_t){text, ns.len};
  return sc__strmap_put(seen, *copy, copy);
}

static void collect_ns(void *arg, sc_str_t key, void *value) {
  (void)key;
  sc_vec_t *v = arg;
  sc__vec_push(v, value); /* reserved beforehand: cannot fail */
}

static int cmp_strp(const void *a, const void *b) {
  return sc_str_cmp(**(sc_str_t *const *)a, **(sc_str_t *const *)b);
}

/* ---- services --------------------------------------------------------------------- */

static sc_svc_t *svc_new(sc_world_t *w, const sc_obj_t *obj, uint32_t nports) {
  sc_svc_t *s = sc__arena_alloc(w->arena, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->ports = sc__arena_alloc(w->arena, (nports ? nports : 1) * sizeof(sc_svc_port_t));
  if (s->ports == NULL)
    return NULL;
  s->nports = nports;
  s->namespace_ = obj->namespace_;
  s->object_name = obj->name;
  s->labels = &obj->labels;
  s->creation_time = obj->creation_time;
  s->obj = obj;
  s->address = sc_str("0.0.0.0");
  return s;
}

static sc_svc_t *from_k8s(sc_world_t *w, const sc_obj_t *obj) {
  const sc_k8s_service_t *k = &obj->u.service;
  sc_svc_t *s = svc_new(w, obj, k->nports);
  if (s == NULL)
    return NULL;
  s->hostname = k->hostname;
  s->name = obj->name;
  s->registry = SC_REGISTRY_KUBERNETES;
  s->selector = &k->selector;
  s->export_to = k->export_to;
  s->resolution = SC_RES_CLIENT_SIDE_LB;
  if (k->type == SC_SVC_EXTERNAL_NAME && k->external_name.len > 0) {
    s->resolution = SC_RES_ALIAS;
    s->mesh_external = true;
    s->external_name = k->external_name;
  }
  if (k->headless)
    s->resolution = SC_RES_PASSTHROUGH;
  else if (k->cluster_ip.len > 0)
    s->address = k->cluster_ip;
  for (uint32_t i = 0; i < k->nports; i++)
    s->ports[i] = (sc_svc_port_t){k->ports[i].name, k->ports[i].port, k->ports[i].protocol};
  return s;
}

static const sc_svc_resolution_t se_resolutions[] = {
    [SC_RESOLUTION_NONE] = SC_RES_PASSTHROUGH, [SC_RESOLUTION_STATIC] = SC_RES_CLIENT_SIDE_LB,
    [SC_RESOLUTION_DNS] = SC_RES_DNS_LB, [SC_RESOLUTION_DNS_ROUND_ROBIN] = SC_RES_DNS_ROUND_ROBIN_LB,
    [SC_RESOLUTION_DYNAMIC_DNS] = SC_RES_DYNAMIC_DNS};

uint32_t sc__world_plain_address_len(sc_str_t a) {
  const char *slash = a.len ? memchr(a.ptr, '/', a.len) : NULL;
  if (slash == NULL)
    return a.len;
  uint32_t at = (uint32_t)(slash - a.ptr);
  bool v6 = memchr(a.ptr, ':', at) != NULL;
  sc_str_t bits = {slash + 1, a.len - at - 1};
  return sc_str_eqz(bits, v6 ? "128" : "32") ? at : a.len;
}

/* One record per (host, address) of a ServiceEntry (docs/semantics.md "Inputs, normalised");
 * an address with a full-length prefix (/32, /128) is the plain address, as istiod's. */
static int add_service_entry(sc_world_t *w, const sc_obj_t *obj, sc_vec_t *out) {
  const sc_service_entry_t *se = &obj->u.service_entry;
  for (uint32_t h = 0; h < se->hosts.n; h++) {
    uint32_t naddr = se->addresses.n ? se->addresses.n : 1;
    for (uint32_t a = 0; a < naddr; a++) {
      sc_svc_t *s = svc_new(w, obj, se->nports);
      if (s == NULL)
        return SC_ENOMEM;
      s->hostname = se->hosts.items[h];
      s->name = s->hostname;
      s->registry = SC_REGISTRY_EXTERNAL;
      s->resolution = se_resolutions[se->resolution];
      s->mesh_external = se->location == SC_LOCATION_MESH_EXTERNAL;
      s->export_to = se->export_to;
      s->selector = &se->workload_selector;
      if (se->addresses.n > 0) {
        s->address = se->addresses.items[a];
        uint32_t plain = sc__world_plain_address_len(s->address);
        if (plain != s->address.len && sc__arena_str(w->arena, s->address.ptr, plain, &s->address) != 0)
          return SC_ENOMEM;
      }
      for (uint32_t i = 0; i < se->nports; i++)
        s->ports[i] = (sc_svc_port_t){se->ports[i].name, se->ports[i].number, se->ports[i].protocol};
      if (sc__vec_push(out, s) != 0)
        return SC_ENOMEM;
    }
  }
  return 0;
}

static int cmp_svc(const void *pa, const void *pb) {
  const sc_svc_t *a = *(sc_svc_t *const *)pa, *b = *(sc_svc_t *const *)pb;
  if (a->creation_time != b->creation_time)
    return a->creation_time < b->creation_time ? -1 : 1;
  int c = sc_str_cmp(a->name, b->name);
  if (c == 0)
    c = sc_str_cmp(a->namespace_, b->namespace_);
  if (c == 0)
    c = sc_str_cmp(a->object_name, b->object_name);
  if (c == 0)
    c = sc_str_cmp(a->address, b->address);
  return c;
}

/* The effective exportTo E. */
static const sc_strlist_t *svc_exports(const sc_world_t *w, const sc_svc_t *s) {
  return s->export_to.n ? &s->export_to : &w->mesh->default_service_export_to;
}

/* A set with "~" but not "*" hides the service everywhere: Istio's own
 * IsServiceVisible would call {~, b} visible to b, while its index hides it. Only the
 * unvalidated Kubernetes annotation can say that. */
static bool hidden(const sc_strlist_t *e) {
  return sc_strlist_hasz(e, "~") && !sc_strlist_hasz(e, "*");
}

bool sc__world_service_visible(const sc_world_t *w, const sc_svc_t *s, sc_str_t ns) {
  const sc_strlist_t *e = svc_exports(w, s);
  return !hidden(e) && sc__host_export_visible(e, s->namespace_, ns);
}

static int resolve_aliases(sc_world_t *w, const sc_vec_t *all);

/* The namespace whose exported list an exportTo value v files s under; empty when it
 * files nothing (the own namespace named a second time). */
static sc_str_t export_target(const sc_svc_t *s, sc_str_t v, bool *own_added) {
  bool own = sc_str_eqz(v, ".") || sc_str_eq(v, s->namespace_);
  if (own && *own_added)
    return (sc_str_t){"", 0};
  *own_added |= own;
  return own ? s->namespace_ : v;
}

/* The records of one object, and the reference that keeps its strings alive. */
typedef struct {
  sc_obj_t *obj;
  sc_vec_t recs; /* sc_svc_t * */
} held_t;

/* Creates the records of a Service or ServiceEntry and holds the object. */
static int hold_object(sc_world_t *w, const sc_obj_t *obj, sc_vec_t *out) {
  held_t *h = sc__arena_alloc(w->arena, sizeof(*h));
  if (h == NULL || sc__vec_push(w->vecs, &h->recs) != 0)
    return SC_ENOMEM;
  memset(h, 0, sizeof(*h));
  int rc = 0;
  if (obj->kind == SC_KIND_SERVICE) {
    sc_svc_t *r = from_k8s(w, obj);
    rc = r ? sc__vec_push(&h->recs, r) : SC_ENOMEM;
  } else {
    rc = add_service_entry(w, obj, &h->recs);
  }
  for (uint32_t i = 0; i < h->recs.n && rc == 0; i++)
    rc = sc__vec_push(out, h->recs.items[i]);
  if (rc == 0)
    rc = sc__hashmap_put(&w->svc_objects, obj->key_hash, h);
  if (rc == 0)
    h->obj = sc_obj_ref((sc_obj_t *)obj);
  return rc;
}

static void release_objects(sc_world_t *w) {
  for (size_t i = 0; i < w->svc_objects.cap; i++) {
    held_t *h = w->svc_objects.values[i];
    if (h != NULL && h->obj != NULL)
      sc_obj_unref(h->obj);
  }
  sc__hashmap_free(&w->svc_objects);
}

/* byHost[host][ns] from every record of host: first in creation order per namespace, but
 * Kubernetes replaces others. */
static int place_winners(sc_world_t *w, sc_str_t host) {
  const sc_vec_t *all = sc__strmap_get(&w->all_by_host, host);
  sc_vec_t *recs = sc__strmap_get(&w->by_host, host);
  if (all == NULL || all->n == 0) {
    if (recs != NULL)
      sc__strmap_remove(&w->by_host, host);
    if (all != NULL)
      sc__strmap_remove(&w->all_by_host, host);
    return 0;
  }
  if (recs == NULL && (recs = vec_at(w, &w->by_host, host)) == NULL)
    return SC_ENOMEM;
  recs->n = 0;
  for (uint32_t i = 0; i < all->n; i++) {
    sc_svc_t *s = all->items[i];
    bool placed = false;
    for (uint32_t j = 0; j < recs->n && !placed; j++) {
      sc_svc_t *o = recs->items[j];
      if (!sc_str_eq(o->namespace_, s->namespace_))
        continue;
      if (o->registry != SC_REGISTRY_KUBERNETES && s->registry == SC_REGISTRY_KUBERNETES)
        recs->items[j] = s;
      placed = true;
    }
    if (!placed && sc__vec_push(recs, s) != 0)
      return SC_ENOMEM;
  }
  return 0;
}

/* Inserts item into v (sorted by cmp, a qsort comparator) after any equal item: where a
 * build in that order would have pushed it. */
static int insert_sorted(sc_vec_t *v, void *item, int (*cmp)(const void *, const void *)) {
  if (sc__vec_push(v, item) != 0)
    return SC_ENOMEM;
  uint32_t lo = 0, hi = v->n - 1;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (cmp(&v->items[mid], &item) <= 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  memmove(&v->items[lo + 1], &v->items[lo], (v->n - 1 - lo) * sizeof(void *));
  v->items[lo] = item;
  return 0;
}

/* Adds a record to a list: at its place in creation order, or at the end (a build
 * walks records in that order). */
static int put_record(sc_vec_t *v, sc_svc_t *s, bool sorted) {
  return sorted ? insert_sorted(v, s, cmp_svc) : sc__vec_push(v, s);
}

static void remove_all(sc_vec_t *v, const void *s) {
  uint32_t kept = 0;
  for (uint32_t i = 0; v != NULL && i < v->n; i++)
    if (v->items[i] != s)
      v->items[kept++] = v->items[i];
  if (v != NULL)
    v->n = kept;
}

/* Files a record in the lists by namespace and exportTo; add false removes it. */
static int file_record(sc_world_t *w, sc_svc_t *s, bool add, bool sorted) {
  sc_vec_t *lists[2] = {vec_at(w, &w->all_by_host, s->hostname), vec_at(w, &w->svcs_by_ns, s->namespace_)};
  for (int l = 0; l < 2; l++) {
    if (lists[l] == NULL || (add && put_record(lists[l], s, sorted) != 0))
      return SC_ENOMEM;
    if (!add)
      remove_all(lists[l], s);
  }
  const sc_strlist_t *e = svc_exports(w, s);
  if (sc_strlist_hasz(e, "*")) {
    if (!add)
      remove_all(&w->public_svcs, s);
    else if (put_record(&w->public_svcs, s, sorted) != 0)
      return SC_ENOMEM;
  } else if (!sc_strlist_hasz(e, "~")) {
    bool own_added = false;
    for (uint32_t j = 0; j < e->n; j++) {
      sc_str_t to_ns = export_target(s, e->items[j], &own_added);
      sc_vec_t *to = to_ns.len ? vec_at(w, &w->exported_to, to_ns) : NULL;
      if (to_ns.len && to == NULL)
        return SC_ENOMEM;
      if (to != NULL && !add)
        remove_all(to, s);
      else if (to != NULL && put_record(to, s, sorted) != 0)
        return SC_ENOMEM;
    }
  }
  return 0;
}

static int build_services(sc_world_t *w) {
  sc_vec_t *all = new_vec(w);
  int rc = all ? 0 : SC_ENOMEM;
  sc__hashmap_init(&w->svc_objects);
  sc_kind_t kinds[2] = {SC_KIND_SERVICE, SC_KIND_SERVICE_ENTRY};
  for (int k = 0; k < 2 && rc == 0; k++) {
    sc_obj_list_t l = sc_store_list(w->store, kinds[k]);
    for (size_t i = 0; i < l.n && rc == 0; i++)
      rc = hold_object(w, l.items[i], all);
  }
  if (rc != 0)
    return rc;
  sc__vec_sort(all, cmp_svc);
  if ((rc = resolve_aliases(w, all)) != 0)
    return rc;
  for (uint32_t i = 0; i < all->n && rc == 0; i++)
    rc = file_record(w, all->items[i], true, false);
  for (uint32_t i = 0; i < all->n && rc == 0; i++)
    if (sc__strmap_get(&w->by_host, ((sc_svc_t *)all->items[i])->hostname) == NULL)
      rc = place_winners(w, ((sc_svc_t *)all->items[i])->hostname);
  return rc;
}

int sc__world_cmp_records(const sc_svc_t *a, const sc_svc_t *b) { return cmp_svc(&a, &b); }

const sc_vec_t *sc__world_records_of_host(const sc_world_t *w, sc_str_t host) {
  return sc__strmap_get(&w->all_by_host, host);
}

uint32_t sc__world_times_exported_to(const sc_world_t *w, const sc_svc_t *s, sc_str_t ns,
                                    bool *is_public) {
  const sc_strlist_t *e = svc_exports(w, s);
  *is_public = sc_strlist_hasz(e, "*");
  if (*is_public || sc_strlist_hasz(e, "~"))
    return 0;
  bool own_added = false;
  uint32_t n = 0;
  for (uint32_t j = 0; j < e->n; j++)
    n += sc_str_eq(export_target(s, e->items[j], &own_added), ns);
  return n;
}

/* ---- ExternalName aliases (resolveServiceAliases) ------------------------------------- */

static int cmp_alias(const void *pa, const void *pb) {
  const sc_alias_t *a = pa, *b = pb;
  int c = sc_str_cmp(a->namespace_, b->namespace_);
  return c ? c : sc_str_cmp(a->hostname, b->hostname);
}

/* Follows alias -> alias -> ... to the concrete hostname; false for a loop. */
static bool resolve_alias(const sc_strmap_t *targets, sc_str_t start, sc_str_t first,
                          sc_str_t *out) {
  sc_str_t cur = first;
  for (uint32_t hops = 0; hops <= targets->n; hops++) {
    const sc_svc_t *next = sc__strmap_get(targets, cur);
    if (next == NULL) {
      *out = cur;
      return true;
    }
    if (sc_str_eq(next->external_name, start) || sc_str_eq(next->external_name, cur))
      return false;
    cur = next->external_name;
  }
  return false; /* a loop not through the start */
}

/* The aliases of a concrete hostname, sorted (shared by its records). */
typedef struct {
  sc_alias_t *items;
  uint32_t n;
} alias_list_t;

typedef struct {
  sc_world_t *w;
  int rc;
} alias_lists_t;

static void add_alias_list(void *arg, sc_str_t host, void *value) {
  alias_lists_t *al = arg;
  const sc_vec_t *v = value;
  sc_world_t *w = al->w;
  if (al->rc != 0)
    return;
  alias_list_t *l = sc__arena_alloc(w->arena, sizeof(*l));
  char *key = sc__arena_alloc(w->arena, host.len + 1);
  if (l == NULL || key == NULL || (l->items = sc__arena_alloc(w->arena, v->n * sizeof(sc_alias_t))) == NULL) {
    al->rc = SC_ENOMEM;
    return;
  }
  for (uint32_t j = 0; j < v->n; j++) {
    const sc_svc_t *a = v->items[j];
    l->items[j] = (sc_alias_t){a->hostname, a->namespace_};
  }
  l->n = v->n;
  qsort(l->items, l->n, sizeof(sc_alias_t), cmp_alias);
  memcpy(key, host.ptr, host.len);
  key[host.len] = '\0';
  al->rc = sc__strmap_put(&w->aliases_of, (sc_str_t){key, host.len}, l);
}

static int resolve_aliases(sc_world_t *w, const sc_vec_t *all) {
  sc_strmap_t targets;  /* alias hostname -> alias service (namespaces ignored, as in Istio) */
  sc_strmap_t concrete; /* concrete hostname -> sc_vec_t of alias services */
  sc__strmap_init(&targets);
  sc__strmap_init(&concrete);
  int rc = 0;
  sc_svc_t **svcs = (sc_svc_t **)all->items;
  for (uint32_t i = 0; i < all->n && rc == 0; i++)
    if (svcs[i]->resolution == SC_RES_ALIAS)
      rc = sc__strmap_put(&targets, svcs[i]->hostname, svcs[i]);
  for (uint32_t i = 0; i < all->n && rc == 0 && targets.n > 0; i++) {
    sc_svc_t *a = svcs[i];
    sc_str_t end;
    if (a->resolution != SC_RES_ALIAS || !resolve_alias(&targets, a->hostname, a->external_name, &end))
      continue;
    sc_vec_t *v = vec_at(w, &concrete, end);
    rc = v ? sc__vec_push(v, a) : SC_ENOMEM;
  }
  /* Every concrete hostname gets its list, also one no record has yet: a record of it
   * may come later, one object at a time. */
  alias_lists_t al = {w, rc};
  sc__strmap_foreach(&concrete, add_alias_list, &al);
  rc = al.rc;
  for (uint32_t i = 0; i < all->n && rc == 0 && concrete.n > 0; i++) {
    sc_svc_t *s = svcs[i];
    const alias_list_t *l = sc__strmap_get(&w->aliases_of, s->hostname);
    if (l != NULL)
      s->aliases = l->items, s->naliases = l->n;
  }
  sc__strmap_free(&targets, NULL);
  sc__strmap_free(&concrete, NULL);
  return rc;
}

/* ---- services, one object at a time ------------------------------------------------------ */

typedef struct {
  sc_kind_t kind;
  char *ns, *name;
} pending_t;

/* Beyond this many pending changes, the parts are rebuilt: no need to note more. */
#define MAX_PENDING 256

int sc__world_note_object(sc_world_t *w, sc_kind_t kind, sc_str_t ns, sc_str_t name) {
  if (w->pending.n > MAX_PENDING)
    return 0;
  pending_t *p = sc__calloc(1, sizeof(*p));
  if (p == NULL || (p->ns = sc__strndup(ns.ptr, ns.len)) == NULL ||
      (p->name = sc__strndup(name.ptr, name.len)) == NULL || sc__vec_push(&w->pending, p) != 0) {
    if (p != NULL) {
      sc__free(p->ns);
      sc__free(p->name);
    }
    sc__free(p);
    return SC_ENOMEM;
  }
  p->kind = kind;
  return 0;
}

static void drop_pending(sc_world_t *w) {
  for (uint32_t i = 0; i < w->pending.n; i++) {
    pending_t *p = w->pending.items[i];
    sc__free(p->ns);
    sc__free(p->name);
    sc__free(p);
  }
  sc__vec_free(&w->pending);
  for (uint32_t i = 0; i < w->pending_rules.n; i++)
    sc__free(w->pending_rules.items[i]);
  sc__vec_free(&w->pending_rules);
}

static uint64_t object_key(sc_kind_t kind, sc_str_t ns, sc_str_t name) {
  return sc_config_key_hash(kind, ns, name);
}

/* Whether the pending changes can be applied one object at a time: the part exists, they
 * are few next to it, and no ExternalName service is involved (aliases are global). */
static bool can_apply(const sc_world_t *w) {
  if (w->parts[SC_WORLD_PART_SERVICES].arena == NULL || w->pending.n > MAX_PENDING ||
      w->svc_garbage > 4096 + w->svc_objects.n)
    return false;
  for (uint32_t i = 0; i < w->pending.n; i++) {
    const pending_t *p = w->pending.items[i];
    if (p->kind != SC_KIND_SERVICE && p->kind != SC_KIND_SERVICE_ENTRY)
      continue;
    sc_str_t ns = sc_str(p->ns), name = sc_str(p->name);
    const held_t *h = sc__hashmap_get(&w->svc_objects, object_key(p->kind, ns, name));
    for (uint32_t j = 0; h && j < h->recs.n; j++)
      if (((const sc_svc_t *)h->recs.items[j])->resolution == SC_RES_ALIAS)
        return false;
    const sc_obj_t *o = sc_store_get(w->store, p->kind, ns, name);
    if (o != NULL && o->kind == SC_KIND_SERVICE && o->u.service.external_name.len > 0)
      return false;
  }
  return true;
}

/* Replaces the records of one object by those of its current version in the store. */
static int apply_one(sc_world_t *w, const pending_t *p) {
  sc_str_t ns = sc_str(p->ns), name = sc_str(p->name);
  uint64_t key = object_key(p->kind, ns, name);
  held_t *h = sc__hashmap_remove(&w->svc_objects, key);
  sc_vec_t hosts = {0}; /* hostnames whose winners to recompute */
  int rc = 0;
  for (uint32_t i = 0; h && i < h->recs.n && rc == 0; i++) {
    sc_svc_t *s = h->recs.items[i];
    rc = file_record(w, s, false, true) || sc__vec_push(&hosts, &s->hostname) ? SC_ENOMEM : 0;
    w->svc_garbage++;
  }
  const sc_obj_t *o = sc_store_get(w->store, p->kind, ns, name);
  sc_vec_t added = {0};
  if (o != NULL && rc == 0)
    rc = hold_object(w, o, &added);
  for (uint32_t i = 0; i < added.n && rc == 0; i++) {
    sc_svc_t *s = added.items[i];
    const alias_list_t *l = sc__strmap_get(&w->aliases_of, s->hostname);
    if (l != NULL)
      s->aliases = l->items, s->naliases = l->n;
    rc = file_record(w, s, true, true) || sc__vec_push(&hosts, &s->hostname) ? SC_ENOMEM : 0;
  }
  for (uint32_t i = 0; i < hosts.n && rc == 0; i++)
    rc = place_winners(w, *(const sc_str_t *)hosts.items[i]);
  sc__vec_free(&hosts);
  sc__vec_free(&added);
  if (h != NULL)
    sc_obj_unref(h->obj); /* its strings are no longer needed */
  return rc;
}

/* Applies the pending changes of objects of kind (and kind2) to a part with fn. */
static int apply_pending(sc_world_t *w, int part, sc_kind_t kind, sc_kind_t kind2,
                         int (*fn)(sc_world_t *, const pending_t *)) {
  w->arena = w->parts[part].arena;
  w->vecs = &w->parts[part].vecs;
  int rc = 0;
  for (uint32_t i = 0; i < w->pending.n && rc == 0; i++) {
    const pending_t *p = w->pending.items[i];
    if (p->kind == kind || p->kind == kind2)
      rc = fn(w, p);
  }
  return rc;
}

const sc_vec_t *sc__world_services_by_host(const sc_world_t *w, sc_str_t host) {
  return sc__strmap_get(&w->by_host, host);
}

const sc_svc_t *sc__world_service(const sc_world_t *w, sc_str_t host, sc_str_t ns) {
  const sc_vec_t *recs = sc__strmap_get(&w->by_host, host);
  for (uint32_t i = 0; recs && i < recs->n; i++) {
    const sc_svc_t *s = recs->items[i];
    if (sc_str_eq(s->namespace_, ns))
      return s;
  }
  return NULL;
}

/* ---- VirtualServices ------------------------------------------------------------ */

static int cmp_obj_creation(const void *a, const void *b) {
  return cmp_creation(*(const sc_obj_t *const *)a, *(const sc_obj_t *const *)b);
}

/* Whether a VirtualService applies to sidecars (bound to the "mesh" gateway). */
static bool world_vs_on_mesh(const sc_obj_t *vs) {
  const sc_strlist_t *g = &vs->u.virtual_service.gateways;
  return g->n == 0 || sc_strlist_hasz(g, "mesh");
}

/* exportTo with "." replaced by the VS's namespace; empty: the mesh default. */
static int normalise_vs_export(sc_world_t *w, const sc_obj_t *vs, sc_strlist_t *out) {
  const sc_strlist_t *src = vs->u.virtual_service.export_to.n
                                ? &vs->u.virtual_service.export_to
                                : &w->mesh->default_virtual_service_export_to;
  out->items = sc__arena_alloc(w->arena, (src->n ? src->n : 1) * sizeof(sc_str_t));
  if (out->items == NULL)
    return SC_ENOMEM;
  out->n = src->n;
  for (uint32_t i = 0; i < src->n; i++)
    out->items[i] = sc_str_eqz(src->items[i], ".") ? vs->namespace_ : src->items[i];
  return 0;
}

/* The store's objects of a kind, sorted; the vector is freed with the world. */
static sc_vec_t *sorted_objects(sc_world_t *w, sc_kind_t kind, int (*cmp)(const void *, const void *)) {
  sc_obj_list_t l = sc_store_list(w->store, kind);
  sc_vec_t *v = new_vec(w);
  if (v == NULL)
    return NULL;
  for (size_t i = 0; i < l.n; i++)
    if (sc__vec_push(v, l.items[i]) != 0)
      return NULL;
  sc__vec_sort(v, cmp);
  return v;
}

/* How a VirtualService is filed: added at the end (a build in creation order), inserted
 * at its place, or removed. */
typedef enum { VS_APPEND, VS_INSERT, VS_REMOVE } vs_filing_t;

static int file_in(sc_vec_t *v, const sc_obj_t *vs, vs_filing_t how) {
  if (v == NULL)
    return SC_ENOMEM;
  if (how == VS_REMOVE) {
    remove_all(v, vs);
    return 0;
  }
  return how == VS_APPEND ? sc__vec_push(v, (void *)vs) : insert_sorted(v, (void *)vs, cmp_obj_creation);
}

static bool contains(const sc_vec_t *v, const void *p) {
  for (uint32_t i = 0; i < v->n; i++)
    if (v->items[i] == p)
      return true;
  return false;
}

static int index_destination(sc_world_t *w, const sc_obj_t *vs, sc_str_t host, vs_filing_t how) {
  sc_vec_t *v = vec_at(w, &w->vs_by_dest, host);
  if (v != NULL && how != VS_REMOVE && contains(v, vs))
    return 0; /* each VS once per host */
  return file_in(v, vs, how);
}

/* Files vs under every host its routes send traffic or mirrors to. */
static int index_destinations(sc_world_t *w, const sc_obj_t *obj, vs_filing_t how) {
  const sc_virtual_service_t *vs = &obj->u.virtual_service;
  int rc = 0;
  for (uint32_t i = 0; i < vs->nhttp && rc == 0; i++) {
    const sc_http_route_t *r = &vs->http[i];
    for (uint32_t j = 0; j < r->nroute && rc == 0; j++)
      rc = index_destination(w, obj, r->route[j].destination.host, how);
    if (r->has_mirror && rc == 0)
      rc = index_destination(w, obj, r->mirror.host, how);
    for (uint32_t j = 0; j < r->nmirrors && rc == 0; j++)
      rc = index_destination(w, obj, r->mirrors[j].destination.host, how);
  }
  const sc_l4_route_t *l4[2] = {vs->tcp, vs->tls};
  uint32_t nl4[2] = {vs->ntcp, vs->ntls};
  for (int k = 0; k < 2; k++)
    for (uint32_t i = 0; i < nl4[k] && rc == 0; i++)
      for (uint32_t j = 0; j < l4[k][i].nroute && rc == 0; j++)
        rc = index_destination(w, obj, l4[k][i].route[j].destination.host, how);
  return rc;
}

/* The vs_export_sets key of a VirtualService: its key hash as text. */
static void vs_key(const sc_obj_t *vs, char buf[17]) {
  for (int b = 0; b < 16; b++)
    buf[b] = "0123456789abcdef"[(vs->key_hash >> (60 - 4 * b)) & 15];
  buf[16] = '\0';
}

/* Files a VirtualService into (or out of) its exportTo set and the lists of 3.2. */
static int file_vs(sc_world_t *w, const sc_obj_t *vs, vs_filing_t how) {
  char text[17];
  vs_key(vs, text);
  sc_strlist_t *x;
  if (how == VS_REMOVE) {
    x = sc__strmap_remove(&w->vs_export_sets, (sc_str_t){text, 16});
    if (x == NULL)
      return 0;
  } else {
    x = sc__arena_alloc(w->arena, sizeof(*x));
    char *buf = sc__arena_alloc(w->arena, 17);
    if (x == NULL || buf == NULL || normalise_vs_export(w, vs, x) != 0)
      return SC_ENOMEM;
    memcpy(buf, text, 17);
    if (sc__strmap_put(&w->vs_export_sets, (sc_str_t){buf, 16}, x) != 0)
      return SC_ENOMEM;
  }
  if (!world_vs_on_mesh(vs) || vs->u.virtual_service.hosts.n == 0)
    return 0; /* gateways only, or a delegate */
  int rc = index_destinations(w, vs, how);
  if (rc == 0 && sc_strlist_hasz(x, "*")) {
    rc = file_in(&w->vs_public, vs, how);
  } else if (rc == 0 && !sc_strlist_hasz(x, "~")) {
    for (uint32_t j = 0; j < x->n && rc == 0; j++) {
      bool own = sc_str_eq(x->items[j], vs->namespace_);
      sc_vec_t *v = vec_at(w, own ? &w->vs_private : &w->vs_exported, x->items[j]);
      /* a namespace named twice files it twice: remove_all takes both out at once */
      rc = v != NULL && how == VS_REMOVE && !contains(v, vs) ? 0 : file_in(v, vs, how);
    }
  }
  return rc;
}

static int build_virtual_services(sc_world_t *w) {
  sc_vec_t *sorted = sorted_objects(w, SC_KIND_VIRTUAL_SERVICE, cmp_obj_creation);
  if (sorted == NULL)
    return SC_ENOMEM;
  sc__hashmap_init(&w->vs_objects);
  int rc = 0;
  for (uint32_t i = 0; i < sorted->n && rc == 0; i++) {
    sc_obj_t *vs = sorted->items[i];
    rc = file_vs(w, vs, VS_APPEND);
    if (rc == 0 && (rc = sc__hashmap_put(&w->vs_objects, vs->key_hash, vs)) == 0)
      sc_obj_ref(vs); /* its strings are in the lists until it is filed out */
  }
  return rc;
}

static bool can_refile_vss(const sc_world_t *w) {
  return w->parts[SC_WORLD_PART_VIRTUAL_SERVICES].arena != NULL && w->pending.n <= MAX_PENDING &&
         w->vs_garbage <= 4096 + w->vs_objects.n;
}

static void release_virtual_services(sc_world_t *w) {
  for (size_t i = 0; i < w->vs_objects.cap; i++)
    if (w->vs_objects.values[i] != NULL)
      sc_obj_unref(w->vs_objects.values[i]);
  sc__hashmap_free(&w->vs_objects);
}

/* One VirtualService changed: file the old version out and the new one in. */
static int refile_vs(sc_world_t *w, const pending_t *p) {
  sc_str_t ns = sc_str(p->ns), name = sc_str(p->name);
  uint64_t key = sc_config_key_hash(SC_KIND_VIRTUAL_SERVICE, ns, name);
  sc_obj_t *old = sc__hashmap_remove(&w->vs_objects, key);
  int rc = old ? file_vs(w, old, VS_REMOVE) : 0;
  sc_obj_t *now = (sc_obj_t *)sc_store_get(w->store, SC_KIND_VIRTUAL_SERVICE, ns, name);
  if (rc == 0 && now != NULL && (rc = file_vs(w, now, VS_INSERT)) == 0 &&
      (rc = sc__hashmap_put(&w->vs_objects, key, now)) == 0)
    sc_obj_ref(now);
  if (old != NULL)
    sc_obj_unref(old);
  w->vs_garbage++;
  return rc;
}

/* The normalised exportTo of a VirtualService. */
static const sc_strlist_t *world_vs_export(const sc_world_t *w, const sc_obj_t *vs) {
  char buf[17];
  vs_key(vs, buf);
  return sc__strmap_get(&w->vs_export_sets, (sc_str_t){buf, 16});
}

/* ---- DestinationRules -------------------------------------------------------- */

static bool superset_of(const sc_strlist_t *a, const sc_strlist_t *b) {
  for (uint32_t i = 0; i < b->n; i++)
    if (!sc_strlist_has(a, b->items[i]))
      return false;
  return true;
}

static sc_cdr_t *cdr_new(sc_world_t *w, const sc_obj_t *dr, const sc_strlist_t *x) {
  sc_cdr_t *c = sc__arena_alloc(w->arena, sizeof(*c));
  if (c == NULL)
    return NULL;
  const sc_destination_rule_t *d = &dr->u.destination_rule;
  c->rule = dr;
  c->export_to = *x;
  c->selector = d->has_workload_selector ? &d->workload_selector : NULL;
  c->traffic_policy = d->has_traffic_policy ? &d->traffic_policy : NULL;
  if (sc__vec_push(w->vecs, &c->from) != 0 || sc__vec_push(w->vecs, &c->subsets) != 0 ||
      sc__vec_push(&c->from, (void *)dr) != 0)
    return NULL;
  for (uint32_t i = 0; i < d->nsubsets; i++)
    if (sc__vec_push(&c->subsets, &d->subsets[i]) != 0)
      return NULL;
  return c;
}

static int cdr_merge(sc_cdr_t *m, const sc_obj_t *dr) {
  const sc_destination_rule_t *d = &dr->u.destination_rule;
  if (sc__vec_push(&m->from, (void *)dr) != 0)
    return SC_ENOMEM;
  for (uint32_t i = 0; i < d->nsubsets; i++) {
    bool dup = false;
    for (uint32_t j = 0; j < m->subsets.n && !dup; j++)
      dup = sc_str_eq(((const sc_subset_t *)m->subsets.items[j])->name, d->subsets[i].name);
    if (!dup && sc__vec_push(&m->subsets, &d->subsets[i]) != 0)
      return SC_ENOMEM;
  }
  if (m->traffic_policy == NULL && d->has_traffic_policy)
    m->traffic_policy = &d->traffic_policy;
  return 0;
}

static sc_dr_index_t *dr_index_new(sc_world_t *w) {
  sc_dr_index_t *idx = sc__arena_alloc(w->arena, sizeof(*idx));
  if (idx == NULL || sc__vec_push(w->vecs, &idx->hosts) != 0)
    return NULL;
  sc__strmap_init(&idx->by_host);
  return idx;
}

/* mergeDestinationRule, with the loop exactly as Istio runs it. */
static int dr_index_add(sc_world_t *w, sc_dr_index_t *idx, const sc_obj_t *dr,
                        const sc_strlist_t *x) {
  sc_str_t host = dr->u.destination_rule.host;
  sc_vec_t *list = sc__strmap_get(&idx->by_host, host);
  if (list == NULL) {
    list = new_vec(w);
    sc_str_t *key = sc__arena_alloc(w->arena, sizeof(*key));
    if (list == NULL || key == NULL)
      return SC_ENOMEM;
    *key = host;
    if (sc__strmap_put(&idx->by_host, host, list) != 0 || sc__vec_push(&idx->hosts, key) != 0)
      return SC_ENOMEM;
  }
  bool has_sel = dr->u.destination_rule.has_workload_selector;
  bool append_separately = true;
  uint32_t existing = list->n;
  for (uint32_t i = 0; i < existing; i++) {
    sc_cdr_t *m = list->items[i];
    if (sc_strlist_set_equal(x, &m->export_to)) {
      append_separately = false;
    } else if (m->export_to.n > 0 && superset_of(x, &m->export_to)) {
      append_separately = true;
    } else {
      append_separately = true;
      continue;
    }
    bool m_sel = m->selector != NULL;
    bool both_without = !has_sel && !m_sel, both_with = has_sel && m_sel;
    bool selectors_match =
        sc_labels_equal(has_sel ? &dr->u.destination_rule.workload_selector : NULL, m->selector);
    if (both_with && !selectors_match) {
      append_separately = true;
      continue;
    }
    if (both_without || both_with)
      append_separately = false;
    if (cdr_merge(m, dr) != 0)
      return SC_ENOMEM;
  }
  if (list->n == 0 || append_separately) {
    sc_cdr_t *c = cdr_new(w, dr, x);
    if (c == NULL || sc__vec_push(list, c) != 0)
      return SC_ENOMEM;
  }
  return 0;
}

static int cmp_dr(const void *pa, const void *pb) {
  const sc_obj_t *a = *(const sc_obj_t *const *)pa, *b = *(const sc_obj_t *const *)pb;
  bool sa = a->u.destination_rule.has_workload_selector;
  bool sb = b->u.destination_rule.has_workload_selector;
  if (sa != sb)
    return sa ? -1 : 1;
  return cmp_creation(a, b);
}

static sc_dr_index_t *dr_index_at(sc_world_t *w, sc_strmap_t *m, sc_str_t ns) {
  sc_dr_index_t *idx = sc__strmap_get(m, ns);
  if (idx == NULL) {
    idx = dr_index_new(w);
    char *key = sc__arena_alloc(w->arena, ns.len + 1); /* outlives the rule it came from */
    if (idx == NULL || key == NULL)
      return NULL;
    memcpy(key, ns.ptr, ns.len);
    key[ns.len] = '\0';
    if (sc__strmap_put(m, (sc_str_t){key, ns.len}, idx) != 0)
      return NULL;
  }
  return idx;
}

void sc__world_dr_placement(const sc_obj_t *dr, const sc_mesh_config_t *mesh, sc_dr_placement_t *out) {
  static sc_str_t private_item = {".", 1};
  static const sc_strlist_t private_set = {1, &private_item};
  const sc_destination_rule_t *d = &dr->u.destination_rule;
  const sc_strlist_t *x = d->has_workload_selector ? &private_set : &d->export_to;
  sc_str_t ns = dr->namespace_;
  out->export_to = x;
  out->local = x->n == 0 || sc_strlist_hasz(x, "*") || sc_strlist_hasz(x, ".") || sc_strlist_has(x, ns);
  bool private_only = (x->n == 0 && sc_strlist_hasz(&mesh->default_destination_rule_export_to, ".")) ||
                      (x->n == 1 && (sc_strlist_hasz(x, ".") || sc_strlist_has(x, ns)));
  out->exported = !private_only;
  out->root_local = private_only && sc_str_eq(ns, mesh->root_namespace);
}

/* Files an exported rule's host under every namespace its exportTo names. */
static int note_named(sc_world_t *w, const sc_obj_t *dr, const sc_strlist_t *x) {
  if (sc_strlist_hasz(x, "*"))
    return 0;
  for (uint32_t i = 0; i < x->n; i++) {
    sc_str_t v = x->items[i];
    if (sc_str_eqz(v, ".") || sc_str_eqz(v, "~"))
      continue;
    /* On the heap, keyed by the rule's own string: dr_named is rebuilt whenever a rule
     * changes, so nothing of it must pile up in the part's arena. */
    sc_vec_t *hosts = sc__strmap_get(&w->dr_named, v);
    if (hosts == NULL) {
      if ((hosts = sc__calloc(1, sizeof(*hosts))) == NULL)
        return SC_ENOMEM;
      if (sc__strmap_put(&w->dr_named, v, hosts) != 0) {
        sc__free(hosts);
        return SC_ENOMEM;
      }
    }
    if (sc__vec_push(hosts, (void *)&dr->u.destination_rule.host) != 0)
      return SC_ENOMEM;
  }
  return 0;
}

/* Files a rule in the indexes its placement says; rules come in creation order. */
static int file_rule(sc_world_t *w, const sc_obj_t *dr) {
  sc_dr_placement_t p;
  sc__world_dr_placement(dr, w->mesh, &p);
  if (p.local) {
    sc_dr_index_t *idx = dr_index_at(w, &w->dr_local, dr->namespace_);
    if (idx == NULL || dr_index_add(w, idx, dr, p.export_to) != 0)
      return SC_ENOMEM;
  }
  if (p.exported) {
    sc_dr_index_t *idx = dr_index_at(w, &w->dr_exported, dr->namespace_);
    if (idx == NULL || dr_index_add(w, idx, dr, p.export_to) != 0)
      return SC_ENOMEM;
  } else if (p.root_local && dr_index_add(w, w->dr_root_local, dr, p.export_to) != 0) {
    return SC_ENOMEM;
  }
  return 0;
}

static void free_vec(void *p) {
  sc__vec_free(p);
  sc__free(p);
}

/* dr_named from every rule (its order does not matter). */
static int index_named(sc_world_t *w) {
  sc__strmap_free(&w->dr_named, free_vec);
  sc__strmap_init(&w->dr_named);
  sc_obj_list_t l = sc_store_list(w->store, SC_KIND_DESTINATION_RULE);
  int rc = 0;
  for (size_t i = 0; i < l.n && rc == 0; i++) {
    sc_dr_placement_t p;
    sc__world_dr_placement(l.items[i], w->mesh, &p);
    if (p.exported)
      rc = note_named(w, l.items[i], p.export_to);
  }
  return rc;
}

static int build_destination_rules(sc_world_t *w) {
  sc_vec_t *sorted = sorted_objects(w, SC_KIND_DESTINATION_RULE, cmp_dr);
  if (sorted == NULL)
    return SC_ENOMEM;
  w->dr_root_local = dr_index_new(w);
  if (w->dr_root_local == NULL)
    return SC_ENOMEM;
  int rc = 0;
  for (uint32_t i = 0; i < sorted->n && rc == 0; i++)
    rc = file_rule(w, sorted->items[i]);
  return rc == 0 ? index_named(w) : rc;
}

static void free_dr_index(void *p) { sc__strmap_free(&((sc_dr_index_t *)p)->by_host, NULL); }

#define MAX_PENDING_RULES 64

int sc__world_note_rule(sc_world_t *w, sc_str_t ns) {
  if (w->pending_rules.n > MAX_PENDING_RULES)
    return 0;
  char *copy = sc__strndup(ns.ptr, ns.len);
  if (copy == NULL || sc__vec_push(&w->pending_rules, copy) != 0) {
    sc__free(copy);
    return SC_ENOMEM;
  }
  return 0;
}

/* Rebuilds the indexes of one namespace from its rules: every other namespace's indexes
 * are untouched by them. */
static int refile_namespace(sc_world_t *w, sc_str_t ns) {
  sc_dr_index_t *idx;
  if ((idx = sc__strmap_remove(&w->dr_local, ns)) != NULL)
    free_dr_index(idx);
  if ((idx = sc__strmap_remove(&w->dr_exported, ns)) != NULL)
    free_dr_index(idx);
  if (sc_str_eq(ns, w->root_ns)) {
    free_dr_index(w->dr_root_local);
    if ((w->dr_root_local = dr_index_new(w)) == NULL)
      return SC_ENOMEM;
  }
  sc_obj_list_t l = sc_store_list_namespace(w->store, SC_KIND_DESTINATION_RULE, ns);
  sc_vec_t sorted = {0};
  int rc = 0;
  for (size_t i = 0; i < l.n && rc == 0; i++)
    rc = sc__vec_push(&sorted, l.items[i]);
  sc__vec_sort(&sorted, cmp_dr);
  for (uint32_t i = 0; i < sorted.n && rc == 0; i++)
    rc = file_rule(w, sorted.items[i]);
  w->dr_garbage += sorted.n;
  sc__vec_free(&sorted);
  return rc;
}

/* A few namespaces' rules changed: refile those namespaces only. */
static bool can_refile(const sc_world_t *w) {
  return w->parts[SC_WORLD_PART_DESTINATION_RULES].arena != NULL &&
         w->pending_rules.n <= MAX_PENDING_RULES &&
         w->dr_garbage <= 4096 + sc_store_count(w->store, SC_KIND_DESTINATION_RULE);
}

static int refile_pending(sc_world_t *w) {
  w->arena = w->parts[SC_WORLD_PART_DESTINATION_RULES].arena;
  w->vecs = &w->parts[SC_WORLD_PART_DESTINATION_RULES].vecs;
  int rc = 0;
  for (uint32_t i = 0; i < w->pending_rules.n && rc == 0; i++)
    rc = refile_namespace(w, sc_str(w->pending_rules.items[i]));
  return rc == 0 ? index_named(w) : rc;
}

const sc_dr_index_t *sc__world_dr_index(const sc_strmap_t *m, sc_str_t ns) {
  return sc__strmap_get(m, ns);
}

/* Whether the index key k (a rule host) is a candidate for host. */
static bool dr_key_covers(sc_str_t k, sc_str_t host) {
  if (!sc__host_is_wildcard(k))
    return sc_str_eq(k, host);
  if (sc_str_eq(k, host))
    return true;
  sc_str_t t = {k.ptr + 1, k.len - 1};
  sc_str_t n = sc__host_is_wildcard(host) ? (sc_str_t){host.ptr + 1, host.len - 1} : host;
  return n.len >= t.len && memcmp(n.ptr + n.len - t.len, t.ptr, t.len) == 0;
}

const sc_vec_t *sc__world_dr_index_lookup(const sc_dr_index_t *idx, sc_str_t host) {
  if (idx == NULL)
    return NULL;
  if (!sc__host_is_wildcard(host)) {
    const sc_vec_t *exact = sc__strmap_get(&idx->by_host, host);
    if (exact != NULL)
      return exact;
  }
  /* Most specific wildcard key; an exact key never matches a wildcard needle. */
  const sc_str_t *best = NULL;
  for (uint32_t i = 0; i < idx->hosts.n; i++) {
    const sc_str_t *k = idx->hosts.items[i];
    if (!sc__host_is_wildcard(*k))
      continue;
    if (sc_str_eq(*k, host))
      return sc__strmap_get(&idx->by_host, *k);
    if (dr_key_covers(*k, host) && (best == NULL || sc__host_cmp_specificity(*k, *best) < 0))
      best = k;
  }
  return best ? sc__strmap_get(&idx->by_host, *best) : NULL;
}

/* ---- Sidecars ---------------------------------------------------------------------- */

static int cmp_sidecar(const void *pa, const void *pb) {
  const sc_obj_t *a = *(const sc_obj_t *const *)pa, *b = *(const sc_obj_t *const *)pb;
  bool sa = a->u.sidecar.has_workload_selector, sb = b->u.sidecar.has_workload_selector;
  if (sa != sb)
    return sa ? -1 : 1;
  return cmp_creation(a, b);
}

static int build_sidecars(sc_world_t *w) {
  sc_obj_list_t l = sc_store_list(w->store, SC_KIND_SIDECAR);
  for (size_t i = 0; i < l.n; i++)
    if (sc__vec_push(&w->sidecars, l.items[i]) != 0)
      return SC_ENOMEM;
  sc__vec_sort(&w->sidecars, cmp_sidecar);
  for (uint32_t i = 0; i < w->sidecars.n; i++) {
    const sc_obj_t *sc = w->sidecars.items[i];
    if (w->root_sidecar == NULL && sc_str_eq(sc->namespace_, w->root_ns) &&
        !sc->u.sidecar.has_workload_selector)
      w->root_sidecar = sc;
    sc_vec_t *v = vec_at(w, &w->sidecars_by_ns, sc->namespace_);
    if (v == NULL || sc__vec_push(v, (void *)sc) != 0)
      return SC_ENOMEM;
  }
  return 0;
}

/* ---- namespaces --------------------------------------------------------------------------- */

/* Every namespace the config mentions: of any object, Namespace objects, and every
 * namespace named in an exportTo, a mesh default or a sourceNamespace match. Any other
 * namespace sees the same scope content as every other unmentioned one. */
static int build_namespaces(sc_world_t *w) {
  sc_strmap_t seen;
  sc__strmap_init(&seen);
  int rc = note_namespace(w, &seen, w->root_ns);
  if (rc == 0)
    rc = note_namespace(w, &w->rich_ns, w->root_ns);
  for (int k = 0; k < SC_KIND__COUNT && rc == 0; k++) {
    sc_obj_list_t l = sc_store_list(w->store, (sc_kind_t)k);
    for (size_t i = 0; i < l.n && rc == 0; i++) {
      const sc_obj_t *o = l.items[i];
      rc = note_namespace(w, &seen, k == SC_KIND_NAMESPACE ? o->name : o->namespace_);
      bool content = k == SC_KIND_SERVICE || k == SC_KIND_SERVICE_ENTRY ||
                     k == SC_KIND_VIRTUAL_SERVICE || k == SC_KIND_DESTINATION_RULE ||
                     k == SC_KIND_SIDECAR;
      if (rc == 0 && content)
        rc = note_namespace(w, &w->rich_ns, o->namespace_);
      const sc_strlist_t *lists[2] = {NULL, NULL};
      if (k == SC_KIND_SERVICE)
        lists[0] = &o->u.service.export_to;
      else if (k == SC_KIND_SERVICE_ENTRY)
        lists[0] = &o->u.service_entry.export_to;
      else if (k == SC_KIND_DESTINATION_RULE)
        lists[0] = &o->u.destination_rule.export_to;
      else if (k == SC_KIND_VIRTUAL_SERVICE)
        lists[0] = &o->u.virtual_service.export_to;
      else if (k == SC_KIND_MESH_CONFIG)
        lists[0] = &o->u.mesh.default_service_export_to,
        lists[1] = &o->u.mesh.default_virtual_service_export_to;
      /* Namespaces named by config: mentioned, and not plain. */
      sc_strmap_t *sets[2] = {&seen, &w->rich_ns};
      for (int t = 0; t < 2 && rc == 0; t++) {
        for (int j = 0; j < 2 && rc == 0; j++)
          for (uint32_t e = 0; lists[j] && e < lists[j]->n && rc == 0; e++)
            rc = note_namespace(w, sets[t], lists[j]->items[e]);
        if (k == SC_KIND_MESH_CONFIG)
          for (uint32_t e = 0; e < o->u.mesh.default_destination_rule_export_to.n && rc == 0; e++)
            rc = note_namespace(w, sets[t], o->u.mesh.default_destination_rule_export_to.items[e]);
        if (k == SC_KIND_VIRTUAL_SERVICE)
          for (uint32_t r = 0; r < o->u.virtual_service.nhttp && rc == 0; r++)
            for (uint32_t m = 0; m < o->u.virtual_service.http[r].nmatch && rc == 0; m++)
              rc = note_namespace(w, sets[t], o->u.virtual_service.http[r].match[m].source_namespace);
      }
    }
  }
  if (rc == 0) {
    for (uint32_t i = 0; i < seen.n && rc == 0; i++)
      rc = sc__vec_push(&w->namespaces, NULL); /* reserve */
    w->namespaces.n = 0;
    sc__strmap_foreach(&seen, collect_ns, &w->namespaces);
    sc__vec_sort(&w->namespaces, cmp_strp);
  }
  sc__strmap_free(&seen, NULL);
  return rc;
}

typedef struct {
  sc_vec_t *hosts;
  sc_strmap_t *set;
  sc_str_t rule_host;
  bool wildcards;
  int rc;
} specific_t;

static void add_specific(specific_t *sp, const sc_str_t *host) {
  if (sp->rc == 0 && sc__strmap_get(sp->set, *host) == NULL)
    sp->rc = sc__strmap_put(sp->set, *host, (void *)host) || sc__vec_push(sp->hosts, (void *)host);
}

static void add_covered(void *arg, sc_str_t key, void *value) {
  specific_t *sp = arg;
  const sc_vec_t *recs = value;
  (void)key;
  if (dr_key_covers(sp->rule_host, ((const sc_svc_t *)recs->items[0])->hostname))
    add_specific(sp, &((const sc_svc_t *)recs->items[0])->hostname);
}

/* Hostnames a rule host can apply to: itself, or those a wildcard covers. */
static void add_rule_host(const sc_world_t *w, specific_t *sp, const sc_str_t *host) {
  if (!sc__host_is_wildcard(*host)) {
    add_specific(sp, host);
    return;
  }
  sp->rule_host = *host;
  sp->wildcards = true;
  sc__strmap_foreach(&w->all_by_host, add_covered, sp);
}

static void add_vs_covered(void *arg, sc_str_t key, void *value) {
  specific_t *sp = arg;
  const sc_vec_t *recs = value;
  (void)key;
  if (sc__host_matches(sp->rule_host, ((const sc_svc_t *)recs->items[0])->hostname))
    add_specific(sp, &((const sc_svc_t *)recs->items[0])->hostname);
}

typedef struct {
  const sc_world_t *w;
  specific_t *sp;
  sc_str_t ns;
} alias_ns_t;

/* A hostname with an alias in the namespace: its virtual host has the alias's short names. */
static void add_aliased(void *arg, sc_str_t key, void *value) {
  alias_ns_t *a = arg;
  const alias_list_t *l = value;
  for (uint32_t i = 0; i < l->n; i++)
    if (sc_str_eq(l->items[i].namespace_, a->ns)) {
      const sc_vec_t *recs = sc__strmap_get(&a->w->all_by_host, key);
      if (recs != NULL && recs->n > 0)
        add_specific(a->sp, &((const sc_svc_t *)recs->items[0])->hostname);
      return;
    }
}

typedef struct {
  const sc_world_t *w;
  specific_t *sp;
  sc_str_t ns;
  sc_str_t pattern; /* a wildcard rule host */
} routing_t;

static const sc_strlist_t *world_vs_export(const sc_world_t *w, const sc_obj_t *vs);

/* The hosts of the VirtualServices of vss visible to rt->ns (a wildcard host: the
 * hostnames it covers). */
static void add_routing_vss(routing_t *rt, const sc_vec_t *vss) {
  specific_t *sp = rt->sp;
  for (uint32_t v = 0; vss && v < vss->n; v++) {
    const sc_strlist_t *x = world_vs_export(rt->w, vss->items[v]);
    if (x == NULL || sc_strlist_hasz(x, "~") || !(x->n == 0 || sc_strlist_hasz(x, "*") || sc_strlist_has(x, rt->ns)))
      continue; /* not visible to the namespace */
    const sc_strlist_t *vh = &((const sc_obj_t *)vss->items[v])->u.virtual_service.hosts;
    for (uint32_t k = 0; k < vh->n; k++) {
      if (!sc__host_is_wildcard(vh->items[k])) {
        add_specific(sp, &vh->items[k]);
        continue;
      }
      sp->rule_host = vh->items[k];
      sp->wildcards = true;
      sc__strmap_foreach(&rt->w->all_by_host, add_vs_covered, sp);
    }
  }
}

static void add_routing_covered(void *arg, sc_str_t dest, void *value) {
  routing_t *rt = arg;
  if (dr_key_covers(rt->pattern, dest))
    add_routing_vss(rt, value);
}

/* The VirtualServices routing to a rule host (a wildcard: to any destination it covers). */
static void add_routing_to(routing_t *rt, sc_str_t rule_host) {
  if (!sc__host_is_wildcard(rule_host)) {
    add_routing_vss(rt, sc__strmap_get(&rt->w->vs_by_dest, rule_host));
    return;
  }
  rt->pattern = rule_host;
  rt->sp->wildcards = true;
  sc__strmap_foreach(&rt->w->vs_by_dest, add_routing_covered, rt);
}

int sc__world_ns_specific_hosts(const sc_world_t *w, sc_str_t ns, sc_vec_t *hosts,
                               sc_strmap_t *set, bool *wildcards) {
  specific_t sp = {hosts, set, {"", 0}, false, 0};
  const sc_vec_t *lists[2] = {sc__strmap_get(&w->exported_to, ns), sc__strmap_get(&w->svcs_by_ns, ns)};
  for (int l = 0; l < 2; l++)
    for (uint32_t i = 0; lists[l] && i < lists[l]->n; i++) {
      const sc_svc_t *svc = lists[l]->items[i];
      add_specific(&sp, &svc->hostname);
      /* An alias of the namespace names its target: whether the target exists yet or not,
       * its entry (aliases, short names) is the namespace's own. */
      if (l == 1 && svc->resolution == SC_RES_ALIAS && svc->external_name.len > 0)
        add_specific(&sp, &svc->external_name);
    }
  const sc_dr_index_t *local = sc__strmap_get(&w->dr_local, ns);
  for (uint32_t i = 0; local && i < local->hosts.n; i++)
    add_rule_host(w, &sp, local->hosts.items[i]);
  const sc_vec_t *named = sc__strmap_get(&w->dr_named, ns);
  for (uint32_t i = 0; named && i < named->n; i++)
    add_rule_host(w, &sp, named->items[i]);
  /* The hosts of the VirtualServices visible to ns that route to a host such a rule names
   * (or covers): their routes carry the rule's consistent-hash policy (xds/rds.c). By
   * destination as written, whether a service has it or not. */
  routing_t rt = {w, &sp, ns, {"", 0}};
  for (uint32_t i = 0; local && i < local->hosts.n; i++)
    add_routing_to(&rt, *(const sc_str_t *)local->hosts.items[i]);
  for (uint32_t i = 0; named && i < named->n; i++)
    add_routing_to(&rt, *(const sc_str_t *)named->items[i]);
  alias_ns_t an = {w, &sp, ns};
  sc__strmap_foreach(&w->aliases_of, add_aliased, &an);
  const sc_vec_t *vs_hosts = sc__strmap_get(&w->vs_specific, ns);
  for (uint32_t i = 0; vs_hosts && i < vs_hosts->n; i++) {
    const sc_str_t *h = vs_hosts->items[i];
    if (!sc__host_is_wildcard(*h)) {
      add_specific(&sp, h);
      continue;
    }
    sp.rule_host = *h;
    sp.wildcards = true;
    sc__strmap_foreach(&w->all_by_host, add_vs_covered, &sp);
  }
  *wildcards = sp.wildcards;
  return sp.rc ? SC_ENOMEM : 0;
}

bool sc__world_ns_plain(const sc_world_t *w, sc_str_t ns) {
  return sc__strmap_get(&w->rich_ns, ns) == NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* Frees what a part holds and leaves it empty. */
static void part_reset(sc_world_t *w, int part) {
  sc_world_part_t *p = &w->parts[part];
  switch (part) {
  case SC_WORLD_PART_SERVICES:
    sc__strmap_free(&w->by_host, NULL);
    sc__strmap_free(&w->all_by_host, NULL);
    sc__strmap_free(&w->svcs_by_ns, NULL);
    sc__strmap_free(&w->exported_to, NULL);
    sc__strmap_free(&w->aliases_of, NULL);
    sc__vec_free(&w->public_svcs);
    release_objects(w);
    w->svc_garbage = 0;
    break;
  case SC_WORLD_PART_VIRTUAL_SERVICES:
    release_virtual_services(w);
    w->vs_garbage = 0;
    sc__strmap_free(&w->vs_private, NULL);
    sc__strmap_free(&w->vs_exported, NULL);
    sc__strmap_free(&w->vs_export_sets, NULL);
    sc__strmap_free(&w->vs_by_dest, NULL);
    sc__vec_free(&w->vs_public);
    sc__strmap_free(&w->vs_specific, free_vec);
    sc__strmap_init(&w->vs_specific);
    break;
  case SC_WORLD_PART_DESTINATION_RULES:
    sc__strmap_free(&w->dr_local, free_dr_index);
    sc__strmap_free(&w->dr_exported, free_dr_index);
    sc__strmap_free(&w->dr_named, free_vec);
    if (w->dr_root_local != NULL)
      free_dr_index(w->dr_root_local);
    w->dr_root_local = NULL;
    w->dr_garbage = 0;
    break;
  case SC_WORLD_PART_SIDECARS:
    sc__strmap_free(&w->sidecars_by_ns, NULL);
    sc__vec_free(&w->sidecars);
    w->root_sidecar = NULL;
    break;
  default:
    sc__strmap_free(&w->rich_ns, NULL);
    sc__vec_free(&w->namespaces);
    break;
  }
  for (uint32_t i = 0; i < p->vecs.n; i++)
    sc__vec_free(p->vecs.items[i]);
  sc__vec_free(&p->vecs);
  sc__arena_del(p->arena);
  p->arena = NULL;
}

static int part_build(sc_world_t *w, int part) {
  part_reset(w, part);
  sc_world_part_t *p = &w->parts[part];
  if ((p->arena = sc__arena_new(1 << 16)) == NULL)
    return SC_ENOMEM;
  w->arena = p->arena;
  w->vecs = &p->vecs;
  switch (part) {
  case SC_WORLD_PART_SERVICES:
    return build_services(w);
  case SC_WORLD_PART_VIRTUAL_SERVICES:
    return build_virtual_services(w);
  case SC_WORLD_PART_DESTINATION_RULES:
    return build_destination_rules(w);
  case SC_WORLD_PART_SIDECARS:
    return build_sidecars(w);
  default:
    return build_namespaces(w);
  }
}

unsigned sc__world_parts_of_kind(sc_kind_t kind) {
  switch (kind) {
  case SC_KIND_SERVICE:
  case SC_KIND_SERVICE_ENTRY:
    return 1u << SC_WORLD_PART_SERVICES;
  case SC_KIND_VIRTUAL_SERVICE:
    return 1u << SC_WORLD_PART_VIRTUAL_SERVICES;
  case SC_KIND_DESTINATION_RULE:
    return 1u << SC_WORLD_PART_DESTINATION_RULES;
  case SC_KIND_SIDECAR:
    return 1u << SC_WORLD_PART_SIDECARS;
  case SC_KIND_MESH_CONFIG:
    return SC_WORLD_ALL; /* every part reads the mesh config */
  default:
    return 0; /* Pods, EndpointSlices and Namespaces: only which namespaces exist */
  }
}

static int vs_specific_add(sc_world_t *w, sc_str_t ns, const sc_obj_t *vs) {
  sc_vec_t *v = sc__strmap_get(&w->vs_specific, ns);
  if (v == NULL) {
    if ((v = sc__calloc(1, sizeof(*v))) == NULL)
      return SC_ENOMEM;
    if (sc__strmap_put(&w->vs_specific, ns, v) != 0) {
      sc__free(v);
      return SC_ENOMEM;
    }
  }
  const sc_strlist_t *hosts = &vs->u.virtual_service.hosts;
  for (uint32_t h = 0; h < hosts->n; h++)
    if (sc__vec_push(v, &hosts->items[h]) != 0)
      return SC_ENOMEM;
  return 0;
}

/* Rebuilds vs_specific from every VirtualService held. */
static int build_vs_specific(sc_world_t *w) {
  sc__strmap_free(&w->vs_specific, free_vec);
  sc__strmap_init(&w->vs_specific);
  int rc = 0;
  for (size_t i = 0; i < w->vs_objects.cap && rc == 0; i++) {
    const sc_obj_t *vs = w->vs_objects.values[i];
    if (vs == NULL || !world_vs_on_mesh(vs))
      continue;
    /* Only namespaces that see it: a scope registers on what it sees. */
    const sc_strlist_t *x = world_vs_export(w, vs);
    bool public = x != NULL && sc_strlist_hasz(x, "*");
    if (public || (x != NULL && sc_strlist_has(x, vs->namespace_)))
      rc = vs_specific_add(w, vs->namespace_, vs);
    for (uint32_t j = 0; x && !public && j < x->n && rc == 0; j++)
      if (!sc_str_eq(x->items[j], vs->namespace_) && !sc_str_eqz(x->items[j], "~"))
        rc = vs_specific_add(w, x->items[j], vs);
    const sc_virtual_service_t *v = &vs->u.virtual_service;
    for (uint32_t r = 0; r < v->nhttp && rc == 0; r++)
      for (uint32_t m = 0; m < v->http[r].nmatch && rc == 0; m++) {
        sc_str_t src = v->http[r].match[m].source_namespace;
        if (src.len > 0 && (public || (x != NULL && sc_strlist_has(x, src))))
          rc = vs_specific_add(w, src, vs);
      }
  }
  return rc;
}

int sc__world_update(sc_world_t *w, unsigned parts) {
  unsigned asked = parts;
  w->mesh = sc_store_mesh(w->store);
  w->root_ns = w->mesh->root_namespace;
  int rc = 0;
  /* A few Services, ServiceEntries or VirtualServices: one object at a time. */
  unsigned services = 1u << SC_WORLD_PART_SERVICES, vss = 1u << SC_WORLD_PART_VIRTUAL_SERVICES;
  if ((parts & services) && parts != SC_WORLD_ALL && can_apply(w)) {
    rc = apply_pending(w, SC_WORLD_PART_SERVICES, SC_KIND_SERVICE, SC_KIND_SERVICE_ENTRY, apply_one);
    parts &= ~services;
  }
  if (rc == 0 && (parts & vss) && parts != SC_WORLD_ALL && can_refile_vss(w)) {
    rc = apply_pending(w, SC_WORLD_PART_VIRTUAL_SERVICES, SC_KIND_VIRTUAL_SERVICE,
                       SC_KIND_VIRTUAL_SERVICE, refile_vs);
    parts &= ~vss;
  }
  unsigned rules = 1u << SC_WORLD_PART_DESTINATION_RULES;
  if (rc == 0 && (parts & rules) && parts != SC_WORLD_ALL && can_refile(w)) {
    rc = refile_pending(w); /* a few namespaces' DestinationRules */
    parts &= ~rules;
  }
  drop_pending(w);
  for (int part = 0; part < SC_WORLD__PARTS && rc == 0; part++)
    if (parts & (1u << part))
      rc = part_build(w, part);
  if (rc == 0 && (asked & vss))
    rc = build_vs_specific(w);
  w->arena = NULL;
  w->vecs = NULL;
  if (rc != 0) /* a half-built part must not be used: next time, build everything */
    for (int part = 0; part < SC_WORLD__PARTS; part++)
      part_reset(w, part);
  return rc;
}

int sc__world_new(const sc_store_t *store, sc_world_t **out) {
  sc_world_t *w = sc__calloc(1, sizeof(*w));
  if (w == NULL)
    return SC_ENOMEM;
  w->store = store;
  sc_strmap_t *maps[] = {&w->by_host,        &w->all_by_host, &w->svcs_by_ns,
                         &w->exported_to,    &w->aliases_of,  &w->vs_private,
                         &w->vs_exported,    &w->vs_export_sets, &w->vs_by_dest,
                         &w->dr_local,       &w->dr_exported, &w->dr_named,
                         &w->sidecars_by_ns, &w->rich_ns,     &w->vs_specific};
  for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
    sc__strmap_init(maps[i]);
  *out = w;
  return 0;
}

int sc__world_build(const sc_store_t *store, sc_world_t **out) {
  int rc = sc__world_new(store, out);
  if (rc == 0 && (rc = sc__world_update(*out, SC_WORLD_ALL)) != 0) {
    sc__world_free(*out);
    *out = NULL;
  }
  return rc;
}

void sc__world_free(sc_world_t *w) {
  if (w == NULL)
    return;
  for (int part = 0; part < SC_WORLD__PARTS; part++)
    part_reset(w, part);
  drop_pending(w);
  sc__free(w);
}
