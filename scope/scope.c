/* SidecarScope computation (docs/semantics.md "Egress listeners and imported services"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/mem.h"
#include "model/host.h"
#include "store/array.h"
#include "scope/scope.h"

typedef struct {
  const sc_world_t *w;
  sc_scope_t *s;
  const sc_scope_patch_t *patch; /* NULL: the whole scope */
} ctx_t;

/* A patch with VirtualService positions reuses the scope's listeners as they were;
 * without, it computes them (a scope whose entries are only some hostnames). */
static bool reuses_listeners(const ctx_t *c) {
  return c->patch != NULL && c->patch->vs_positions != NULL;
}

static bool in_patch(const ctx_t *c, sc_str_t host) {
  return c->patch == NULL || sc__strmap_get(c->patch->host_set, host) != NULL;
}

static sc_vec_t *new_vec(sc_scope_t *s) {
  sc_vec_t *v = sc__arena_alloc(s->arena, sizeof(*v));
  if (v != NULL && sc__vec_push(&s->vecs, v) != 0)
    return NULL;
  return v;
}

/* Registers an embedded vector so that it is freed with the scope. */
static int own_vec(sc_scope_t *s, sc_vec_t *v) { return sc__vec_push(&s->vecs, v); }

static bool strp_in(const sc_vec_t *v, sc_str_t x) {
  for (uint32_t i = 0; i < v->n; i++)
    if (sc_str_eq(*(const sc_str_t *)v->items[i], x))
      return true;
  return false;
}

static sc_str_t *str_in_arena(sc_scope_t *s, sc_str_t v) {
  sc_str_t *p = sc__arena_alloc(s->arena, sizeof(*p));
  if (p != NULL)
    *p = v;
  return p;
}

/* ---- dependencies --------------------------------------------------------------- */

static int add_dep(sc_scope_t *s, const char *kind, sc_str_t ns, sc_str_t name) {
  size_t n = strlen(kind) + ns.len + name.len + 3;
  char *d = sc__arena_alloc(s->arena, n);
  if (d == NULL)
    return SC_ENOMEM;
  snprintf(d, n, "%s/%s/%s", kind, ns.ptr, name.ptr);
  return sc__vec_push(&s->deps, d);
}

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void finish_deps(sc_scope_t *s) {
  sc__vec_sort(&s->deps, cmp_cstr);
  uint32_t out = 0;
  for (uint32_t i = 0; i < s->deps.n; i++)
    if (out == 0 || strcmp(s->deps.items[out - 1], s->deps.items[i]) != 0)
      s->deps.items[out++] = s->deps.items[i];
  s->deps.n = out;
}

static int add_key(sc_scope_t *s, sc_dep_kind_t kind, sc_str_t a, sc_str_t b) {
  return sc__deps_keys_add(&s->keys, sc__deps_key(kind, a, b));
}

static const sc_str_t none = {"", 0};

/* ---- host classification -------------------------------------------------------- */

static sc_host_class_t *class_of(const sc_listener_t *l, sc_str_t ns) {
  for (uint32_t i = 0; i < l->classes.n; i++) {
    sc_host_class_t *hc = l->classes.items[i];
    if (sc_str_eq(hc->ns, ns))
      return hc;
  }
  return NULL;
}

static sc_host_class_t *class_at(sc_scope_t *s, sc_listener_t *l, sc_str_t ns) {
  sc_host_class_t *hc = class_of(l, ns);
  if (hc != NULL)
    return hc;
  hc = sc__arena_alloc(s->arena, sizeof(*hc));
  if (hc == NULL || own_vec(s, &hc->all) != 0 || own_vec(s, &hc->exact) != 0 ||
      own_vec(s, &hc->excluded) != 0 || sc__vec_push(&l->classes, hc) != 0)
    return NULL;
  hc->ns = ns;
  return hc;
}

static int classify_hosts(sc_scope_t *s, sc_listener_t *l, const sc_strlist_t *hosts) {
  l->all_exact = true;
  for (uint32_t i = 0; i < hosts->n; i++) {
    sc_str_t h = hosts->items[i];
    const char *slash = memchr(h.ptr, '/', h.len);
    if (slash == NULL || memchr(slash + 1, '/', h.len - (size_t)(slash - h.ptr) - 1) != NULL)
      continue; /* illegal: validation rejects these already */
    sc_str_t ns = {h.ptr, (uint32_t)(slash - h.ptr)};
    sc_str_t name = {slash + 1, h.len - ns.len - 1};
    bool excluded = ns.len > 0 && ns.ptr[0] == '~';
    if (excluded) {
      ns.ptr++, ns.len--;
      if (ns.len == 0)
        ns = sc_str("*");
    }
    if (sc_str_eqz(ns, "."))
      ns = s->namespace_;
    sc_host_class_t *hc = class_at(s, l, ns);
    sc_str_t *np = str_in_arena(s, name);
    if (hc == NULL || np == NULL)
      return SC_ENOMEM;
    if (excluded) {
      if (sc__vec_push(&hc->excluded, np) != 0)
        return SC_ENOMEM;
      continue;
    }
    if (sc__vec_push(&hc->all, np) != 0)
      return SC_ENOMEM;
    if (!sc__host_is_wildcard(name) && !strp_in(&hc->exact, name) &&
        sc__vec_push(&hc->exact, np) != 0)
      return SC_ENOMEM;
    if (sc__host_is_wildcard(name) || sc_str_eqz(ns, "*"))
      l->all_exact = false;
  }
  return 0;
}

static bool class_matches(const sc_host_class_t *hc, sc_str_t x) {
  if (strp_in(&hc->exact, x))
    return true;
  for (uint32_t i = 0; i < hc->all.n; i++) {
    sc_str_t h = *(const sc_str_t *)hc->all.items[i];
    if (!sc__host_is_wildcard(x) && !sc__host_is_wildcard(h))
      continue;
    if (sc__host_subset_of(x, h))
      return true;
  }
  return false;
}

static bool class_excludes(const sc_host_class_t *hc, sc_str_t x) {
  for (uint32_t i = 0; hc && i < hc->excluded.n; i++)
    if (sc__host_subset_of(x, *(const sc_str_t *)hc->excluded.items[i]))
      return true;
  return false;
}

/* ---- port trimming -------------------------------------------------------- */

static const sc_svc_t *copy_with_ports(sc_scope_t *s, const sc_svc_t *svc,
                                       const sc_svc_port_t *ports, uint32_t n) {
  sc_svc_t *c = sc__arena_alloc(s->arena, sizeof(*c));
  sc_svc_port_t *p = sc__arena_alloc(s->arena, (n ? n : 1) * sizeof(*p));
  if (c == NULL || p == NULL)
    return NULL;
  *c = *svc;
  memcpy(p, ports, n * sizeof(*p));
  c->ports = p;
  c->nports = n;
  return c;
}

/* The service reduced to the listener's port; NULL when it has no such port. A
 * single-port service is used as is. *oom is set when a copy could not be made. */
static const sc_svc_t *listener_port_trim(sc_scope_t *s, const sc_listener_t *l,
                                          const sc_svc_t *svc, bool *oom) {
  for (uint32_t i = 0; i < svc->nports; i++) {
    if (svc->ports[i].port != l->port)
      continue;
    if (svc->nports == 1)
      return svc;
    const sc_svc_t *c = copy_with_ports(s, svc, &svc->ports[i], 1);
    *oom |= c == NULL;
    return c;
  }
  return NULL;
}

static const sc_svc_t *port_trim(sc_scope_t *s, const sc_listener_t *l, const sc_host_class_t *hc,
                                 const sc_svc_t *svc, bool *oom) {
  if (!class_matches(hc, svc->hostname))
    return NULL;
  return l->match_port ? listener_port_trim(s, l, svc, oom) : svc;
}

/* matchingAliasService: only the aliases this import also matches. */
static const sc_svc_t *alias_trim(sc_scope_t *s, const sc_host_class_t *hc, const sc_svc_t *svc,
                                  bool *oom) {
  if (svc == NULL || svc->naliases == 0)
    return svc;
  uint32_t kept = 0;
  for (uint32_t i = 0; i < svc->naliases; i++)
    kept += class_matches(hc, svc->aliases[i].hostname);
  if (kept == svc->naliases)
    return svc;
  sc_svc_t *c = sc__arena_alloc(s->arena, sizeof(*c));
  sc_alias_t *a = sc__arena_alloc(s->arena, (kept + 1) * sizeof(*a));
  if (c == NULL || a == NULL) {
    *oom = true;
    return NULL;
  }
  *c = *svc;
  c->aliases = a;
  c->naliases = 0;
  for (uint32_t i = 0; i < svc->naliases; i++)
    if (class_matches(hc, svc->aliases[i].hostname))
      a[c->naliases++] = svc->aliases[i];
  return c;
}

/* ---- selecting services ------------------------------------------------------- */

static int cmp_creation(const void *a, const void *b) {
  return sc__world_cmp_records(*(const sc_svc_t *const *)a, *(const sc_svc_t *const *)b);
}

/* The candidates of the patch's hostnames in the order servicesExportedToNamespace(n)
 * lists them: for each hostname, its records exported to n by name, then its public
 * ones. Only the order among records of one hostname matters. */
static int patch_candidates(ctx_t *c, sc_vec_t *out) {
  sc_str_t n = c->s->namespace_;
  for (uint32_t h = 0; h < c->patch->hosts->n; h++) {
    const sc_vec_t *recs = sc__world_records_of_host(c->w, *(const sc_str_t *)c->patch->hosts->items[h]);
    for (int pass = 0; pass < 2; pass++) {
      for (uint32_t i = 0; recs && i < recs->n; i++) {
        bool is_public;
        uint32_t times = sc__world_times_exported_to(c->w, recs->items[i], n, &is_public);
        if (pass == 1)
          times = is_public;
        for (uint32_t t = 0; t < times; t++)
          if (sc__vec_push(out, recs->items[i]) != 0)
            return SC_ENOMEM;
      }
    }
  }
  return 0;
}

static int candidates(ctx_t *c, const sc_listener_t *l, sc_vec_t *out) {
  const sc_world_t *w = c->w;
  sc_str_t n = c->s->namespace_;
  if (l->all_exact) {
    for (uint32_t i = 0; i < l->classes.n; i++) {
      const sc_host_class_t *hc = l->classes.items[i];
      for (uint32_t j = 0; j < hc->exact.n; j++) {
        if (!in_patch(c, *(const sc_str_t *)hc->exact.items[j]))
          continue;
        const sc_svc_t *svc = sc__world_service(w, *(const sc_str_t *)hc->exact.items[j], hc->ns);
        if (svc != NULL && sc__world_service_visible(w, svc, n) &&
            sc__vec_push(out, (void *)svc) != 0)
          return SC_ENOMEM;
      }
    }
    sc__vec_sort(out, cmp_creation);
    return 0;
  }
  if (c->patch != NULL)
    return patch_candidates(c, out);
  const sc_vec_t *own = sc__strmap_get(&w->exported_to, n);
  for (uint32_t i = 0; own && i < own->n; i++)
    if (sc__vec_push(out, own->items[i]) != 0)
      return SC_ENOMEM;
  for (uint32_t i = 0; i < w->public_svcs.n; i++)
    if (sc__vec_push(out, w->public_svcs.items[i]) != 0)
      return SC_ENOMEM;
  return 0;
}

static int select_services(ctx_t *c, sc_listener_t *l) {
  sc_scope_t *s = c->s;
  sc_vec_t cands = {0}, imported = {0};
  sc_strmap_t chosen; /* hostname -> the imported record whose namespace wins */
  sc__strmap_init(&chosen);
  int rc = candidates(c, l, &cands);
  const sc_host_class_t *whc = class_of(l, sc_str("*"));
  bool oom = false;
  for (uint32_t i = 0; i < cands.n && rc == 0 && !oom; i++) {
    const sc_svc_t *svc = cands.items[i];
    const sc_host_class_t *nhc = class_of(l, svc->namespace_);
    if (class_excludes(nhc, svc->hostname) || class_excludes(whc, svc->hostname))
      continue;
    const sc_svc_t *t = NULL;
    if (nhc != NULL)
      t = alias_trim(s, nhc, port_trim(s, l, nhc, svc, &oom), &oom);
    if (t == NULL && whc != NULL)
      t = alias_trim(s, whc, port_trim(s, l, whc, svc, &oom), &oom);
    if (t != NULL)
      rc = sc__vec_push(&imported, (void *)t);
  }
  /* One namespace per hostname: the config namespace wins, then Kubernetes over others. */
  for (uint32_t i = 0; i < imported.n && rc == 0 && !oom; i++) {
    const sc_svc_t *t = imported.items[i];
    const sc_svc_t *prev = sc__strmap_get(&chosen, t->hostname);
    bool take = prev == NULL || sc_str_eq(t->namespace_, s->namespace_) ||
                (prev->registry != SC_REGISTRY_KUBERNETES && t->registry == SC_REGISTRY_KUBERNETES &&
                 !sc_str_eq(prev->namespace_, s->namespace_));
    if (take)
      rc = sc__strmap_put(&chosen, t->hostname, (void *)t);
  }
  for (uint32_t i = 0; i < imported.n && rc == 0 && !oom; i++) {
    const sc_svc_t *t = imported.items[i];
    const sc_svc_t *won = sc__strmap_get(&chosen, t->hostname);
    if (sc_str_eq(won->namespace_, t->namespace_))
      rc = sc__vec_push(&l->services, (void *)t);
  }
  sc__strmap_free(&chosen, NULL);
  sc__vec_free(&cands);
  sc__vec_free(&imported);
  return oom ? SC_ENOMEM : rc;
}

/* ---- selecting VirtualServices ---------------------------------------------------- */

static bool vs_matches(const sc_host_class_t *hc, sc_str_t h) {
  if (strp_in(&hc->exact, h))
    return true;
  for (uint32_t i = 0; i < hc->all.n; i++) {
    sc_str_t imp = *(const sc_str_t *)hc->all.items[i];
    if (!sc__host_is_wildcard(h) && !sc__host_is_wildcard(imp))
      continue;
    if (sc__host_matches(h, imp)) /* user VSs match symmetrically */
      return true;
  }
  return false;
}

/* Adds vs if one of its hosts matches hc and is not excluded; *added says whether it did.
 * A VS is seen at most twice in a row here (once per class, or twice in one list when
 * its exportTo names a namespace twice), so "already added" is a look at the last one. */
static int try_add_vs(sc_listener_t *l, const sc_obj_t *vs, const sc_host_class_t *hc,
                      bool *added) {
  if (l->vss.n > 0 && l->vss.items[l->vss.n - 1] == vs) {
    *added = true;
    return 0;
  }
  const sc_host_class_t *nhc = class_of(l, vs->namespace_), *whc = class_of(l, sc_str("*"));
  const sc_strlist_t *hosts = &vs->u.virtual_service.hosts;
  for (uint32_t i = 0; i < hosts->n; i++) {
    sc_str_t h = hosts->items[i];
    if (!vs_matches(hc, h) || class_excludes(nhc, h) || class_excludes(whc, h))
      continue;
    *added = true;
    return sc__vec_push(&l->vss, (void *)vs);
  }
  return 0;
}

static int select_virtual_services(ctx_t *c, sc_listener_t *l) {
  const sc_world_t *w = c->w;
  sc_str_t n = c->s->namespace_;
  const sc_vec_t *lists[3] = {sc__strmap_get(&w->vs_private, n),
                              sc__strmap_get(&w->vs_exported, n), &w->vs_public};
  const sc_host_class_t *whc = class_of(l, sc_str("*"));
  for (int k = 0; k < 3; k++) {
    for (uint32_t i = 0; lists[k] && i < lists[k]->n; i++) {
      const sc_obj_t *vs = lists[k]->items[i];
      const sc_host_class_t *nhc = class_of(l, vs->namespace_);
      bool added = false;
      int rc = 0;
      if (nhc != NULL)
        rc = try_add_vs(l, vs, nhc, &added);
      if (rc == 0 && !added && whc != NULL)
        rc = try_add_vs(l, vs, whc, &added);
      if (rc != 0)
        return rc;
    }
  }
  return 0;
}

/* ---- collecting the scope's services -------------------------------------------------- */

static bool ports_equal(const sc_svc_t *a, const sc_svc_t *b) {
  if (a->nports != b->nports)
    return false;
  for (uint32_t i = 0; i < a->nports; i++)
    if (!sc_str_eq(a->ports[i].name, b->ports[i].name) || a->ports[i].port != b->ports[i].port ||
        a->ports[i].protocol != b->ports[i].protocol)
      return false;
  return true;
}

static bool can_merge(const sc_svc_t *e, const sc_svc_t *s) {
  return sc_str_eq(e->namespace_, s->namespace_) && e->resolution == s->resolution &&
         e->registry == s->registry && sc_labels_equal(e->labels, s->labels) &&
         sc_labels_equal(e->selector, s->selector) && sc_strlist_set_equal(&e->export_to, &s->export_to);
}

/* append: dedupe and merge by hostname. added maps hostname -> index + 1. */
static int append_service(sc_scope_t *s, sc_strmap_t *added, const sc_svc_t *svc) {
  uintptr_t at = (uintptr_t)sc__strmap_get(added, svc->hostname);
  if (at == 0) {
    if (sc__vec_push(&s->services, (void *)svc) != 0)
      return SC_ENOMEM;
    return sc__strmap_put(added, svc->hostname, (void *)(uintptr_t)s->services.n);
  }
  const sc_svc_t *e = s->services.items[at - 1];
  if (e == svc)
    return 0;
  bool ek = e->registry == SC_REGISTRY_KUBERNETES, sk = svc->registry == SC_REGISTRY_KUBERNETES;
  if (ek && !sk)
    return 0;
  if (!ek && sk) {
    s->services.items[at - 1] = (void *)svc;
    return 0;
  }
  if (ports_equal(e, svc) || !can_merge(e, svc))
    return 0;
  uint32_t extra = 0;
  for (uint32_t i = 0; i < svc->nports; i++) {
    bool have = false;
    for (uint32_t j = 0; j < e->nports && !have; j++)
      have = e->ports[j].port == svc->ports[i].port;
    extra += !have;
  }
  sc_svc_port_t *ports = sc__arena_alloc(s->arena, (e->nports + extra + 1) * sizeof(*ports));
  if (ports == NULL)
    return SC_ENOMEM;
  memcpy(ports, e->ports, e->nports * sizeof(*ports));
  uint32_t n = e->nports;
  for (uint32_t i = 0; i < svc->nports; i++) {
    bool have = false;
    for (uint32_t j = 0; j < e->nports && !have; j++)
      have = e->ports[j].port == svc->ports[i].port;
    if (!have)
      ports[n++] = svc->ports[i];
  }
  const sc_svc_t *merged = copy_with_ports(s, e, ports, n);
  if (merged == NULL)
    return SC_ENOMEM;
  s->services.items[at - 1] = (void *)merged;
  return 0;
}

/* A destination host of a VirtualService with the ports it names (0: none named). */
typedef struct {
  sc_str_t host;
  sc_vec_t ports; /* port numbers stored as pointers */
} vs_dest_t;

static int add_dest(sc_scope_t *s, sc_vec_t *dests, const sc_destination_t *d) {
  vs_dest_t *found = NULL;
  for (uint32_t i = 0; i < dests->n && found == NULL; i++)
    if (sc_str_eq(((vs_dest_t *)dests->items[i])->host, d->host))
      found = dests->items[i];
  if (found == NULL) {
    found = sc__arena_alloc(s->arena, sizeof(*found));
    if (found == NULL || own_vec(s, &found->ports) != 0 || sc__vec_push(dests, found) != 0)
      return SC_ENOMEM;
    found->host = d->host;
  }
  for (uint32_t i = 0; i < found->ports.n; i++)
    if ((uintptr_t)found->ports.items[i] == d->port)
      return 0;
  return sc__vec_push(&found->ports, (void *)(uintptr_t)d->port);
}

/* destinations: http routes filtered by sourceNamespace; tcp and tls not. */
static int vs_destinations(sc_scope_t *s, const sc_obj_t *obj, sc_vec_t *dests) {
  const sc_virtual_service_t *vs = &obj->u.virtual_service;
  int rc = 0;
  for (uint32_t i = 0; i < vs->nhttp && rc == 0; i++) {
    const sc_http_route_t *r = &vs->http[i];
    bool matched = true;
    for (uint32_t m = 0; m < r->nmatch; m++) {
      sc_str_t src = r->match[m].source_namespace;
      if (src.len == 0)
        continue;
      if (sc_str_eq(src, s->namespace_)) {
        matched = true;
        break;
      }
      matched = false;
    }
    if (!matched)
      continue;
    for (uint32_t j = 0; j < r->nroute && rc == 0; j++)
      rc = add_dest(s, dests, &r->route[j].destination);
    if (r->has_mirror && rc == 0)
      rc = add_dest(s, dests, &r->mirror);
    for (uint32_t j = 0; j < r->nmirrors && rc == 0; j++)
      rc = add_dest(s, dests, &r->mirrors[j].destination);
  }
  const sc_l4_route_t *l4[2] = {vs->tcp, vs->tls};
  uint32_t nl4[2] = {vs->ntcp, vs->ntls};
  for (int k = 0; k < 2; k++)
    for (uint32_t i = 0; i < nl4[k] && rc == 0; i++)
      for (uint32_t j = 0; j < l4[k][i].nroute && rc == 0; j++)
        rc = add_dest(s, dests, &l4[k][i].route[j].destination);
  return rc;
}

/* pickBestVisibleNamespace; ties in creation time go to the smaller namespace. */
static const sc_svc_t *pick_best(const sc_world_t *w, const sc_vec_t *recs, sc_str_t n) {
  const sc_svc_t *best = NULL;
  for (uint32_t i = 0; i < recs->n; i++) {
    const sc_svc_t *svc = recs->items[i];
    if (!sc__world_service_visible(w, svc, n))
      continue;
    if (svc->registry == SC_REGISTRY_KUBERNETES)
      return svc;
    if (best == NULL || svc->creation_time < best->creation_time ||
        (svc->creation_time == best->creation_time && sc_str_cmp(svc->namespace_, best->namespace_) < 0))
      best = svc;
  }
  return best;
}

/* Port trimming for a VS destination without a port listener. */
static const sc_svc_t *vs_port_trim(sc_scope_t *s, const sc_svc_t *svc, const sc_vec_t *ports,
                                    bool *oom) {
  for (uint32_t i = 0; i < ports->n; i++)
    if ((uintptr_t)ports->items[i] == 0)
      return svc;
  sc_svc_port_t *keep = sc__arena_alloc(s->arena, (svc->nports + 1) * sizeof(*keep));
  if (keep == NULL) {
    *oom = true;
    return NULL;
  }
  uint32_t n = 0;
  for (uint32_t i = 0; i < svc->nports; i++)
    for (uint32_t j = 0; j < ports->n; j++)
      if ((uintptr_t)ports->items[j] == svc->ports[i].port) {
        keep[n++] = svc->ports[i];
        break;
      }
  if (n == 0)
    return NULL;
  if (n == svc->nports)
    return svc;
  const sc_svc_t *c = copy_with_ports(s, svc, keep, n);
  *oom |= c == NULL;
  return c;
}

typedef struct {
  uintptr_t pos;
  const sc_obj_t *vs;
} vs_at_t;

static int cmp_vs_at(const void *a, const void *b) {
  uintptr_t x = ((const vs_at_t *)a)->pos, y = ((const vs_at_t *)b)->pos;
  return (x > y) - (x < y);
}

/* The VirtualServices of listener li that route to a hostname of the patch, in the
 * listener's order: the world's index by destination, filtered by the positions the
 * scope's last full computation recorded. */
static int patch_vss(ctx_t *c, uint32_t li, sc_vec_t *out) {
  const sc_hashmap_t *pos = li < c->patch->nlisteners ? &c->patch->vs_positions[li] : NULL;
  if (pos == NULL || pos->n == 0)
    return 0;
  SC__ARRAY(vs_at_t) found = {0};
  for (uint32_t h = 0; h < c->patch->hosts->n; h++) {
    const sc_vec_t *vss = sc__strmap_get(&c->w->vs_by_dest, *(const sc_str_t *)c->patch->hosts->items[h]);
    for (uint32_t i = 0; vss && i < vss->n; i++) {
      const sc_obj_t *vs = vss->items[i];
      uintptr_t at = (uintptr_t)sc__hashmap_get(pos, vs->key_hash);
      if (at == 0)
        continue;
      if (SC__ARRAY_PUSH(&found, ((vs_at_t){at, vs})) != 0) {
        SC__ARRAY_FREE(&found);
        return SC_ENOMEM;
      }
    }
  }
  if (found.n > 1)
    qsort(found.items, found.n, sizeof(*found.items), cmp_vs_at);
  int rc = 0;
  for (size_t i = 0; i < found.n && rc == 0; i++)
    if (i == 0 || found.items[i].pos != found.items[i - 1].pos) /* a VS routing to two patched hosts */
      rc = sc__vec_push(out, (void *)found.items[i].vs);
  SC__ARRAY_FREE(&found);
  return rc;
}

static int collect_services(ctx_t *c) {
  sc_scope_t *s = c->s;
  sc_strmap_t added;
  sc__strmap_init(&added);
  int rc = 0;
  bool oom = false;
  for (uint32_t li = 0; li < s->nlisteners && rc == 0; li++) {
    sc_listener_t *l = &s->listeners[li];
    for (uint32_t i = 0; i < l->services.n && rc == 0; i++)
      rc = append_service(s, &added, l->services.items[i]);
    sc_vec_t patched = {0};
    const sc_vec_t *vss = &l->vss;
    if (reuses_listeners(c) && rc == 0) {
      rc = patch_vss(c, li, &patched);
      vss = &patched;
    }
    for (uint32_t v = 0; v < vss->n && rc == 0; v++) {
      const sc_obj_t *vs = vss->items[v];
      if (!reuses_listeners(c))
        rc = add_dep(s, "VirtualService", vs->namespace_, vs->name);
      sc_vec_t dests = {0};
      if (rc == 0)
        rc = vs_destinations(s, vs, &dests);
      for (uint32_t d = 0; d < dests.n && rc == 0; d++) {
        const vs_dest_t *dest = dests.items[d];
        if (!in_patch(c, dest->host))
          continue;
        rc = add_key(s, SC_DEP_SVC_HOST, dest->host, none); /* also when it does not exist */
        const sc_vec_t *recs = sc__world_services_by_host(c->w, dest->host);
        if (recs == NULL || recs->n == 0)
          continue;
        const sc_svc_t *cand = sc__world_service(c->w, dest->host, s->namespace_);
        if (cand == NULL)
          cand = pick_best(c->w, recs, s->namespace_);
        if (cand == NULL)
          continue;
        const sc_svc_t *t = l->match_port ? listener_port_trim(s, l, cand, &oom)
                                          : vs_port_trim(s, cand, &dest->ports, &oom);
        if (t != NULL)
          rc = append_service(s, &added, t);
      }
      sc__vec_free(&dests);
    }
    sc__vec_free(&patched);
  }
  sc__strmap_free(&added, NULL);
  return oom ? SC_ENOMEM : rc;
}

/* ---- DestinationRules ---------------------------------------------------------------- */

static bool exported_to(const sc_cdr_t *cdr, sc_str_t n) {
  const sc_strlist_t *x = &cdr->export_to;
  if (x->n == 0)
    return true;
  for (uint32_t i = 0; i < x->n; i++)
    if (sc_str_eqz(x->items[i], "*") || sc_str_eq(x->items[i], n))
      return true;
  return false;
}

static const sc_vec_t *exported_from(ctx_t *c, sc_str_t ns, sc_str_t host) {
  const sc_vec_t *m = sc__world_dr_index_lookup(sc__world_dr_index(&c->w->dr_exported, ns), host);
  if (m == NULL)
    return NULL;
  sc_vec_t *out = new_vec(c->s);
  bool oom = out == NULL;
  for (uint32_t i = 0; i < m->n && !oom; i++)
    oom = exported_to(m->items[i], c->s->namespace_) && sc__vec_push(out, m->items[i]) != 0;
  if (oom) { /* "no rule" would be a wrong answer: fail the computation */
    c->s->oom = true;
    return NULL;
  }
  return out->n ? out : NULL;
}

/* The DestinationRule indexes a lookup consults: the proxy namespace's local index
 * (the root's private one for the root namespace), and the exported indexes of the
 * service's namespace and of the root. Wildcard-host keys are per index, not per host:
 * wild_ns collects the service namespaces whose exported index was consulted. */
static int dr_keys(sc_scope_t *s, const sc_world_t *w, const sc_svc_t *svc, sc_strmap_t *wild_ns) {
  sc_str_t h = svc->hostname;
  bool root = sc_str_eq(s->namespace_, w->root_ns);
  int rc = root ? add_key(s, SC_DEP_DR_ROOT_HOST, h, none)
                : add_key(s, SC_DEP_DR_LOCAL_HOST, s->namespace_, h);
  if (rc == 0)
    rc = add_key(s, SC_DEP_DR_EXP_HOST, svc->namespace_, h);
  if (rc == 0)
    rc = add_key(s, SC_DEP_DR_EXP_HOST, w->root_ns, h);
  if (rc == 0 && sc__strmap_get(wild_ns, svc->namespace_) == NULL)
    rc = sc__strmap_put(wild_ns, svc->namespace_, (void *)svc);
  return rc;
}

static void add_wild_key(void *arg, sc_str_t ns, void *value) {
  (void)value;
  sc_scope_t *s = arg;
  if (add_key(s, SC_DEP_DR_EXP_WILD, ns, none) != 0)
    s->oom = true;
}

static int dr_wild_keys(sc_scope_t *s, const sc_world_t *w, sc_strmap_t *wild_ns) {
  bool root = sc_str_eq(s->namespace_, w->root_ns);
  int rc = root ? add_key(s, SC_DEP_DR_ROOT_WILD, none, none)
                : add_key(s, SC_DEP_DR_LOCAL_WILD, s->namespace_, none);
  if (rc == 0)
    rc = add_key(s, SC_DEP_DR_EXP_WILD, w->root_ns, none);
  sc__strmap_foreach(wild_ns, add_wild_key, s);
  return rc != 0 || s->oom ? SC_ENOMEM : 0;
}

static const sc_vec_t *destination_rules(ctx_t *c, const sc_svc_t *svc) {
  const sc_world_t *w = c->w;
  sc_str_t n = c->s->namespace_;
  const sc_vec_t *m;
  if (!sc_str_eq(n, w->root_ns))
    m = sc__world_dr_index_lookup(sc__world_dr_index(&w->dr_local, n), svc->hostname);
  else
    m = sc__world_dr_index_lookup(w->dr_root_local, svc->hostname);
  if (m != NULL && m->n > 0)
    return m;
  if ((m = exported_from(c, svc->namespace_, svc->hostname)) != NULL)
    return m;
  return exported_from(c, w->root_ns, svc->hostname);
}

static int select_destination_rules(ctx_t *c) {
  sc_scope_t *s = c->s;
  s->drs = sc__arena_alloc(s->arena, (s->services.n + 1) * sizeof(*s->drs));
  if (s->drs == NULL)
    return SC_ENOMEM;
  sc_strmap_t wild_ns;
  sc__strmap_init(&wild_ns);
  int rc = 0;
  for (uint32_t i = 0; i < s->services.n && rc == 0; i++) {
    rc = dr_keys(s, c->w, s->services.items[i], &wild_ns);
    const sc_vec_t *list = rc == 0 ? destination_rules(c, s->services.items[i]) : NULL;
    s->drs[i] = list;
  }
  if (rc == 0)
    rc = dr_wild_keys(s, c->w, &wild_ns);
  sc__strmap_free(&wild_ns, NULL);
  return rc;
}

/* ---- the scope --------------------------------------------------------------------------- */

/* What a listener's imports can ever see: services and VirtualServices visible to the
 * scope's namespace, of each imported namespace (or of a host there, when only exact
 * hosts are imported), of any namespace for "*" (or of a host anywhere). */
static int import_keys(sc_scope_t *s, const sc_listener_t *l) {
  sc_str_t n = s->namespace_;
  for (uint32_t i = 0; i < l->classes.n; i++) {
    const sc_host_class_t *hc = l->classes.items[i];
    bool any_ns = sc_str_eqz(hc->ns, "*");
    bool wildcard = hc->exact.n < hc->all.n;
    int rc = any_ns ? add_key(s, SC_DEP_VS_ANY_VIS, n, none) : add_key(s, SC_DEP_VS_NS_VIS, hc->ns, n);
    if (rc == 0)
      rc = any_ns ? add_key(s, SC_DEP_VS_ANY_PUBLIC, none, none)
                  : add_key(s, SC_DEP_VS_NS_PUBLIC, hc->ns, none);
    if (rc == 0 && wildcard)
      rc = any_ns ? add_key(s, SC_DEP_SVC_ANY_VIS, n, none) : add_key(s, SC_DEP_SVC_NS_VIS, hc->ns, n);
    if (rc == 0 && wildcard)
      rc = any_ns ? add_key(s, SC_DEP_SVC_ANY_PUBLIC, none, none)
                  : add_key(s, SC_DEP_SVC_NS_PUBLIC, hc->ns, none);
    for (uint32_t j = 0; j < hc->exact.n && rc == 0 && !wildcard; j++) {
      sc_str_t h = *(const sc_str_t *)hc->exact.items[j];
      rc = any_ns ? add_key(s, SC_DEP_SVC_HOST, h, none) : add_key(s, SC_DEP_SVC_EXACT, hc->ns, h);
    }
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int build_listeners(ctx_t *c) {
  static sc_str_t all_item = {"*/*", 3};
  static const sc_strlist_t all_hosts = {1, &all_item};
  sc_scope_t *s = c->s;
  const sc_sidecar_t *sc = s->sidecar ? &s->sidecar->u.sidecar : NULL;
  uint32_t n = sc && sc->negress ? sc->negress : 1;
  s->listeners = sc__arena_alloc(s->arena, n * sizeof(*s->listeners));
  if (s->listeners == NULL)
    return SC_ENOMEM;
  s->nlisteners = n;
  for (uint32_t i = 0; i < n; i++) {
    sc_listener_t *l = &s->listeners[i];
    if (own_vec(s, &l->classes) != 0 || own_vec(s, &l->services) != 0 || own_vec(s, &l->vss) != 0)
      return SC_ENOMEM;
    l->api = sc && sc->negress ? &sc->egress[i] : NULL;
    if (l->api != NULL && l->api->has_port) {
      l->port = l->api->port.number;
      l->match_port = l->port != 0 && l->api->port.protocol != SC_PROTO_HTTP_PROXY;
    }
    int rc = classify_hosts(s, l, l->api ? &l->api->hosts : &all_hosts);
    if (rc == 0)
      rc = import_keys(s, l);
    if (rc == 0)
      rc = select_services(c, l);
    if (rc == 0 && !reuses_listeners(c))
      rc = select_virtual_services(c, l);
    if (rc != 0)
      return rc;
  }
  return 0;
}

bool sc__scope_imports_all(sc_scope_kind_t kind, const sc_obj_t *sidecar) {
  if (kind == SC_SCOPE_DEFAULT || sidecar == NULL)
    return true;
  const sc_sidecar_t *sc = &sidecar->u.sidecar;
  return sc->negress == 1 && !sc->egress[0].has_port && sc->egress[0].hosts.n == 1 &&
         sc_str_eqz(sc->egress[0].hosts.items[0], "*/*");
}

static int cmp_hostname(const void *a, const void *b) {
  return sc_str_cmp((*(const sc_svc_t *const *)a)->hostname, (*(const sc_svc_t *const *)b)->hostname);
}

int sc__scope_compute(const sc_world_t *w, sc_scope_kind_t kind, const sc_obj_t *sidecar,
                     sc_str_t ns, const sc_scope_patch_t *patch, sc_scope_t **out) {
  sc_arena_t *arena = sc__arena_new(1 << 14);
  if (arena == NULL)
    return SC_ENOMEM;
  sc_scope_t *s = sc__arena_alloc(arena, sizeof(*s));
  if (s == NULL) {
    sc__arena_del(arena);
    return SC_ENOMEM;
  }
  s->arena = arena;
  s->kind = kind;
  s->sidecar = kind == SC_SCOPE_DEFAULT ? NULL : sidecar;
  s->namespace_ = ns;
  ctx_t c = {w, s, patch};
  int rc = sc__deps_keys_add(&s->keys, sc__deps_key(SC_DEP_MESH, none, none));
  if (s->sidecar != NULL && rc == 0) {
    rc = add_dep(s, "Sidecar", s->sidecar->namespace_, s->sidecar->name);
    if (rc == 0)
      rc = sc__deps_keys_add(&s->keys, sc__deps_object(SC_KIND_SIDECAR, s->sidecar->namespace_, s->sidecar->name));
  }
  if (rc == 0)
    rc = build_listeners(&c);
  if (rc == 0)
    rc = collect_services(&c);
  sc__vec_sort(&s->services, cmp_hostname); /* one record per hostname */
  for (uint32_t i = 0; i < s->services.n && rc == 0; i++) {
    const sc_svc_t *svc = s->services.items[i];
    /* Which record holds a hostname, and its aliases, can change by any service of that
     * hostname, or by an ExternalName service pointing at it or at one of its aliases. */
    if (rc == 0)
      rc = add_key(s, SC_DEP_SVC_HOST, svc->hostname, none);
    for (uint32_t a = 0; a < svc->naliases && rc == 0; a++)
      rc = add_key(s, SC_DEP_SVC_HOST, svc->aliases[a].hostname, none);
  }
  if (rc == 0)
    rc = select_destination_rules(&c);
  if (rc == 0 && s->oom)
    rc = SC_ENOMEM;
  if (rc != 0) {
    sc__scope_free(s);
    return rc;
  }
  /* The Sidecar's policy as a whole, else the mesh's mode. */
  const sc_sidecar_t *sc = s->sidecar ? &s->sidecar->u.sidecar : NULL;
  s->has_outbound_policy = true;
  if (sc != NULL && sc->has_outbound_traffic_policy) {
    s->outbound_mode = sc->outbound_mode;
    s->egress_proxy = sc->has_egress_proxy ? &sc->egress_proxy : NULL;
  } else {
    s->outbound_mode = w->mesh->outbound_mode;
  }
  finish_deps(s);
  sc__deps_keys_finish(&s->keys);
  *out = s;
  return 0;
}

void sc__scope_free(sc_scope_t *s) {
  if (s == NULL)
    return;
  for (uint32_t i = 0; i < s->vecs.n; i++)
    sc__vec_free(s->vecs.items[i]);
  sc__vec_free(&s->vecs);
  sc__vec_free(&s->services);
  sc__vec_free(&s->deps);
  sc__deps_keys_free(&s->keys);
  sc__arena_del(s->arena);
}
