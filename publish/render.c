/* Rendering every scope into its snapshot records (see render.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <yajl/yajl_gen.h>

#include "store/mem.h"
#include "publish/render.h"
#include "scope/json.h"
#include "scope/scope.h"
#include "model/host.h"
#include "xds/lds.h"
#include "xds/rds.h"

/* Internal stand-in for "any namespace the config does not mention": no object, exportTo
 * or Sidecar host can name it, so the scope computed for it is the one every such
 * namespace gets. */
static const sc_str_t other_ns = {"#other", 6};

static void render_service(yajl_gen g, const sc_svc_t *s) {
  sc__json_key(g, "hostname");
  sc__json_str(g, s->hostname);
  sc__json_key(g, "namespace");
  sc__json_str(g, s->namespace_);
  sc__json_key(g, "ports");
  yajl_gen_array_open(g);
  for (uint32_t p = 0; p < s->nports; p++) {
    yajl_gen_map_open(g);
    sc__json_key(g, "port");
    yajl_gen_integer(g, s->ports[p].port);
    sc__json_key(g, "name");
    sc__json_str(g, s->ports[p].name);
    sc__json_key(g, "protocol");
    sc__json_cstr(g, sc_protocol_name(s->ports[p].protocol));
    yajl_gen_map_close(g);
  }
  yajl_gen_array_close(g);
  if (s->naliases > 0) {
    sc__json_key(g, "aliases");
    yajl_gen_array_open(g);
    for (uint32_t a = 0; a < s->naliases; a++)
      sc__json_ref(g, s->aliases[a].namespace_, s->aliases[a].hostname);
    yajl_gen_array_close(g);
  }
  sc__json_key(g, "registry");
  sc__json_cstr(g, s->registry == SC_REGISTRY_KUBERNETES ? "Kubernetes" : "External");
}

static void render_listener(yajl_gen g, const sc_listener_t *l) {
  const sc_egress_listener_t *api = l->api;
  yajl_gen_map_open(g);
  sc__json_key(g, "port");
  if (api && api->has_port)
    yajl_gen_integer(g, api->port.number);
  else
    yajl_gen_null(g);
  sc__json_key(g, "bind");
  if (api && api->bind.len)
    sc__json_str(g, api->bind);
  else
    yajl_gen_null(g);
  sc__json_key(g, "hosts");
  yajl_gen_array_open(g);
  if (api != NULL)
    for (uint32_t i = 0; i < api->hosts.n; i++)
      sc__json_str(g, api->hosts.items[i]);
  else
    sc__json_cstr(g, "*/*");
  yajl_gen_array_close(g);
  sc__json_key(g, "virtualServices");
  yajl_gen_array_open(g);
  for (uint32_t i = 0; i < l->vss.n; i++)
    sc__json_obj_ref(g, l->vss.items[i]);
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);
}

static bool from_seen_before(const sc_vec_t *list, uint32_t upto_entry, uint32_t upto_from,
                             const sc_obj_t *dr) {
  for (uint32_t j = 0; j <= upto_entry; j++) {
    const sc_cdr_t *c = list->items[j];
    uint32_t n = j == upto_entry ? upto_from : c->from.n;
    for (uint32_t k = 0; k < n; k++)
      if (c->from.items[k] == dr)
        return true;
  }
  return false;
}

/* "destinationRules": every rule found for the host ([] when none); and
 * "destinationRuleEntries": the consolidated entries with their selectors, which
 * `resolve` needs, only when there are any. */
static void render_drs(yajl_gen g, const sc_vec_t *list) {
  sc__json_key(g, "destinationRules");
  yajl_gen_array_open(g);
  for (uint32_t j = 0; list && j < list->n; j++) {
    const sc_cdr_t *c = list->items[j];
    for (uint32_t k = 0; k < c->from.n; k++)
      if (!from_seen_before(list, j, k, c->from.items[k]))
        sc__json_obj_ref(g, c->from.items[k]);
  }
  yajl_gen_array_close(g);
  if (list == NULL || list->n == 0)
    return;
  sc__json_key(g, "destinationRuleEntries");
  yajl_gen_array_open(g);
  for (uint32_t j = 0; j < list->n; j++) {
    const sc_cdr_t *c = list->items[j];
    yajl_gen_map_open(g);
    sc__json_key(g, "namespace");
    sc__json_str(g, c->rule->namespace_);
    sc__json_key(g, "selector");
    if (c->selector)
      sc__json_labels(g, c->selector);
    else
      yajl_gen_null(g);
    sc__json_key(g, "from");
    yajl_gen_array_open(g);
    for (uint32_t k = 0; k < c->from.n; k++)
      sc__json_obj_ref(g, c->from.items[k]);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
  }
  yajl_gen_array_close(g);
}

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Istio's configDependencies of one hostname: the service (as "ServiceEntry", for
 * both registries), its endpoints, and every rule found for it; sorted, unique. */
static int render_entry_deps(yajl_gen g, const sc_svc_t *svc, const sc_vec_t *list) {
  char *deps[64], **all = deps;
  size_t n = 0, cap = 64, total = 2;
  for (uint32_t j = 0; list && j < list->n; j++)
    total += ((const sc_cdr_t *)list->items[j])->from.n;
  if (total > cap && (all = sc__malloc(total * sizeof(*all))) == NULL)
    return SC_ENOMEM;
  int rc = 0;
  char buf[1100];
  for (size_t k = 0; k < total && rc == 0; k++) {
    int len;
    if (k < 2) {
      len = snprintf(buf, sizeof(buf), "%s/%s/%s", k == 0 ? "Endpoints" : "ServiceEntry",
                     svc->namespace_.ptr, svc->hostname.ptr);
    } else {
      size_t at = k - 2;
      const sc_obj_t *dr = NULL;
      for (uint32_t j = 0; dr == NULL; j++) {
        const sc_cdr_t *c = list->items[j];
        if (at < c->from.n)
          dr = c->from.items[at];
        else
          at -= c->from.n;
      }
      len = snprintf(buf, sizeof(buf), "DestinationRule/%s/%s", dr->namespace_.ptr, dr->name.ptr);
    }
    if ((all[n] = sc__strndup(buf, len > 0 ? (size_t)len : 0)) == NULL)
      rc = SC_ENOMEM;
    else
      n++;
  }
  if (rc == 0) {
    qsort(all, n, sizeof(*all), cmp_cstr);
    sc__json_key(g, "dependencies");
    yajl_gen_array_open(g);
    for (size_t k = 0; k < n; k++)
      if (k == 0 || strcmp(all[k], all[k - 1]) != 0)
        sc__json_cstr(g, all[k]);
    yajl_gen_array_close(g);
  }
  for (size_t k = 0; k < n; k++)
    sc__free(all[k]);
  if (all != deps)
    sc__free(all);
  return rc;
}

static void render_ingress(yajl_gen g, const sc_obj_t *sidecar) {
  static const char *const capture[] = {"DEFAULT", "IPTABLES", "NONE"};
  sc__json_key(g, "ingressListeners");
  yajl_gen_array_open(g);
  const sc_sidecar_t *sc = sidecar ? &sidecar->u.sidecar : NULL;
  for (uint32_t i = 0; sc && i < sc->ningress; i++) {
    const sc_ingress_listener_t *in = &sc->ingress[i];
    yajl_gen_map_open(g);
    sc__json_key(g, "port");
    yajl_gen_integer(g, in->port.number);
    sc__json_key(g, "protocol");
    sc__json_cstr(g, sc_protocol_name(in->port.protocol));
    sc__json_key(g, "name");
    sc__json_str(g, in->port.name);
    sc__json_key(g, "bind");
    if (in->bind.len)
      sc__json_str(g, in->bind);
    else
      yajl_gen_null(g);
    sc__json_key(g, "captureMode");
    sc__json_cstr(g, capture[in->capture_mode]);
    sc__json_key(g, "defaultEndpoint");
    if (in->default_endpoint.len)
      sc__json_str(g, in->default_endpoint);
    else
      yajl_gen_null(g);
    yajl_gen_map_close(g);
  }
  yajl_gen_array_close(g);
}

static const char *const kind_names[] = {"resource", "root-derived", "default"};
#define VERSION_PLACEHOLDER "0000000000000000"

static void render_resource_refs(yajl_gen g, const sc_resources_t *res, size_t from);

/* The head of a scope record: everything but the per-hostname entries; with the static
 * clusters every sidecar has and the inbound clusters of the Sidecar's ingress
 * listeners, which res receives. */
static int render_body(yajl_gen g, const sc_scope_t *s, const sc_rds_ctx_t *vs_ctx, const char *id,
                       sc_str_t shown_ns, const sc_mesh_config_t *mesh, sc_resources_t *res) {
  yajl_gen_map_open(g);
  sc__json_key(g, "id");
  sc__json_cstr(g, id);
  sc__json_key(g, "namespace");
  sc__json_str(g, shown_ns);
  sc__json_key(g, "sidecar");
  if (s->sidecar)
    sc__json_obj_ref(g, s->sidecar);
  else
    yajl_gen_null(g);
  sc__json_key(g, "version");
  sc__json_cstr(g, VERSION_PLACEHOLDER);
  sc__json_key(g, "kind");
  sc__json_cstr(g, kind_names[s->kind]);
  sc__json_key(g, "egressListeners");
  yajl_gen_array_open(g);
  for (uint32_t i = 0; i < s->nlisteners; i++)
    render_listener(g, &s->listeners[i]);
  yajl_gen_array_close(g);
  render_ingress(g, s->sidecar);
  sc__json_key(g, "outboundTrafficPolicy");
  sc__json_cstr(g, sc_outbound_mode_name(s->outbound_mode));
  if (s->egress_proxy != NULL) {
    sc__json_key(g, "egressProxy");
    yajl_gen_map_open(g);
    sc__json_key(g, "host");
    sc__json_str(g, s->egress_proxy->host);
    sc__json_key(g, "subset");
    sc__json_str(g, s->egress_proxy->subset);
    sc__json_key(g, "port");
    yajl_gen_integer(g, s->egress_proxy->port);
    yajl_gen_map_close(g);
  }
  sc__json_key(g, "dependencies");
  yajl_gen_array_open(g);
  for (uint32_t i = 0; i < s->deps.n; i++)
    sc__json_cstr(g, s->deps.items[i]);
  yajl_gen_array_close(g);
  int rc = sc__cds_static(mesh, res);
  if (rc == 0 && s->sidecar != NULL)
    rc = sc__cds_inbound(&s->sidecar->u.sidecar, mesh, res);
  sc__json_key(g, "clusters");
  render_resource_refs(g, res, 0);
  size_t from = res->n;
  if (rc == 0 && vs_ctx != NULL)
    rc = sc__rds_virtual_services(vs_ctx, res);
  if (rc == 0)
    rc = sc__rds_catch_all(s, res);
  sc__json_key(g, "routes");
  render_resource_refs(g, res, from);
  from = res->n;
  if (rc == 0)
    rc = sc__lds_virtual(s, mesh, res);
  if (rc == 0)
    rc = sc__lds_ingress(s, false, res);
  sc__json_key(g, "listeners");
  render_resource_refs(g, res, from);
  from = res->n;
  if (rc == 0)
    rc = sc__lds_ingress(s, true, res);
  if (res->n > from) { /* what a proxy capturing nothing gets instead of the virtual ones */
    sc__json_key(g, "listenersNoCapture");
    render_resource_refs(g, res, from);
  }
  yajl_gen_map_close(g);
  return rc;
}

/* A record without version (a shared scope's head before its changedAt). */
static int finish_record(yajl_gen g, const char *key, sc_record_t *out) {
  memset(out, 0, sizeof(*out));
  return sc__json_record(g, key, &out->key, &out->json, &out->len, &out->hash);
}

/* The listeners importing each service of s, as "listeners": [index, ...] (an index once
 * per record the listener holds for the hostname). */
static int listener_memberships(const sc_scope_t *s, sc_vec_t *members) {
  sc_strmap_t at;
  sc__strmap_init(&at);
  int rc = 0;
  for (uint32_t i = 0; i < s->services.n && rc == 0; i++)
    rc = sc__strmap_put(&at, ((const sc_svc_t *)s->services.items[i])->hostname, (void *)(uintptr_t)(i + 1));
  for (uint32_t li = 0; li < s->nlisteners && rc == 0; li++) {
    const sc_listener_t *l = &s->listeners[li];
    for (uint32_t i = 0; i < l->services.n && rc == 0; i++) {
      uintptr_t idx = (uintptr_t)sc__strmap_get(&at, ((const sc_svc_t *)l->services.items[i])->hostname);
      if (idx != 0)
        rc = sc__vec_push(&members[idx - 1], (void *)(uintptr_t)li);
    }
  }
  sc__strmap_free(&at, NULL);
  return rc;
}

/* The 32 hex digits of a content hash. */
static void hash_hex(const uint8_t hash[16], char hex[33]) {
  static const char digits[] = "0123456789abcdef";
  for (int b = 0; b < 16; b++) {
    hex[2 * b] = digits[hash[b] >> 4];
    hex[2 * b + 1] = digits[hash[b] & 15];
  }
  hex[32] = '\0';
}

static void render_resource_range(yajl_gen g, const sc_resources_t *res, size_t from, size_t to);

/* [["name", "hash"], ...] for res[from..); an EDS cluster has its assignment's id third
 * (16 hex digits: its endpoints key is "name#id"). */
static void render_resource_refs(yajl_gen g, const sc_resources_t *res, size_t from) {
  render_resource_range(g, res, from, res->n);
}

static void render_resource_range(yajl_gen g, const sc_resources_t *res, size_t from, size_t to) {
  yajl_gen_array_open(g);
  for (size_t r = from; r < to; r++) {
    char hex[33];
    hash_hex(res->items[r].hash, hex);
    yajl_gen_array_open(g);
    sc__json_cstr(g, res->items[r].name);
    sc__json_cstr(g, hex);
    if (res->items[r].eds_id != 0) {
      char id[17];
      snprintf(id, sizeof(id), "%016llx", (unsigned long long)res->items[r].eds_id);
      sc__json_cstr(g, id);
    }
    yajl_gen_array_close(g);
  }
  yajl_gen_array_close(g);
}

/* "clusters": what a proxy gets for the service when no selector rule of its namespace
 * matches it (docs/semantics.md "DestinationRules for a service": the last rule without selector); "clusterVariants": for each
 * selector rule of the scope's namespace, in precedence order, what a proxy it selects
 * gets instead. */
static int render_entry_clusters(yajl_gen g, const sc_scope_t *s, size_t i, const sc_mesh_config_t *mesh,
                                 sc_cds_cache_t *cache, sc_resources_t *res) {
  const sc_svc_t *svc = s->services.items[i];
  const sc_vec_t *list = s->drs[i];
  const sc_cdr_t *catch_all = NULL;
  bool variants = false;
  for (uint32_t j = 0; list && j < list->n; j++) {
    const sc_cdr_t *c = list->items[j];
    if (c->selector == NULL)
      catch_all = c;
    else if (sc_str_eq(c->rule->namespace_, s->namespace_))
      variants = true;
  }
  size_t from = res->n;
  int rc = sc__cds_service_cached(cache, svc, catch_all, mesh, res);
  sc__json_key(g, "clusters");
  render_resource_refs(g, res, from);
  if (!variants || rc != 0)
    return rc;
  sc__json_key(g, "clusterVariants");
  yajl_gen_array_open(g);
  for (uint32_t j = 0; j < list->n && rc == 0; j++) {
    const sc_cdr_t *c = list->items[j];
    if (c->selector == NULL || !sc_str_eq(c->rule->namespace_, s->namespace_))
      continue;
    from = res->n;
    rc = sc__cds_service_cached(cache, svc, c, mesh, res);
    yajl_gen_map_open(g);
    sc__json_key(g, "selector");
    sc__json_labels(g, c->selector);
    sc__json_key(g, "clusters");
    render_resource_refs(g, res, from);
    yajl_gen_map_close(g);
  }
  yajl_gen_array_close(g);
  return rc;
}

/* "outboundListeners": [["name", "hash", egress listener index], ...]: the listeners the
 * service's ports need through each egress listener importing it (lds.h); and
 * "outboundListenersNoCapture": the same for a proxy whose interception mode is NONE. */
static int service_listeners(const sc_scope_t *s, sc_cds_cache_t *cache, const sc_listener_t *l,
                             const sc_svc_t *svc, bool no_capture, sc_resources_t *res);

static int render_entry_listeners(yajl_gen g, const sc_scope_t *s, sc_cds_cache_t *cache, const sc_svc_t *svc,
                                  const sc_vec_t *members, sc_resources_t *res) {
  int rc = 0;
  for (int no_capture = 0; no_capture < 2 && rc == 0; no_capture++) {
    sc__json_key(g, no_capture ? "outboundListenersNoCapture" : "outboundListeners");
    yajl_gen_array_open(g);
    for (uint32_t m = 0; m < members->n && rc == 0; m++) {
      uint32_t li = (uint32_t)(uintptr_t)members->items[m];
      if (m > 0 && (uint32_t)(uintptr_t)members->items[m - 1] == li)
        continue; /* once per egress listener */
      size_t from = res->n;
      rc = service_listeners(s, cache, &s->listeners[li], svc, no_capture, res);
      for (size_t r = from; r < res->n && rc == 0; r++) {
        char hex[33];
        hash_hex(res->items[r].hash, hex);
        yajl_gen_array_open(g);
        sc__json_cstr(g, res->items[r].name);
        sc__json_cstr(g, hex);
        yajl_gen_integer(g, li);
        yajl_gen_array_close(g);
      }
    }
    yajl_gen_array_close(g);
  }
  return rc;
}

/* "inbound": for a service of the scope's namespace whose selector picks workloads (and
 * a scope whose Sidecar declares no ingress, which would replace them): what a proxy
 * it selects gets for being its target, {"selector", "clusters", "chains"} (FORMAT.md). */
static int render_entry_inbound(yajl_gen g, const sc_scope_t *s, const sc_mesh_config_t *mesh, const sc_svc_t *svc,
                                sc_resources_t *res) {
  if (svc->registry != SC_REGISTRY_KUBERNETES || svc->selector == NULL || svc->selector->n == 0 ||
      svc->resolution == SC_RES_ALIAS || !sc_str_eq(svc->namespace_, s->namespace_) ||
      (s->sidecar != NULL && s->sidecar->u.sidecar.ningress > 0))
    return 0;
  size_t from = res->n;
  int rc = sc__cds_inbound_service(svc, mesh, res);
  size_t chains = res->n;
  if (rc == 0)
    rc = sc__lds_inbound_chains(svc, res);
  if (rc != 0)
    return rc;
  sc__json_key(g, "inbound");
  yajl_gen_map_open(g);
  sc__json_key(g, "selector");
  sc__json_labels(g, svc->selector);
  sc__json_key(g, "clusters");
  render_resource_range(g, res, from, chains);
  sc__json_key(g, "chains");
  render_resource_range(g, res, chains, res->n);
  yajl_gen_map_close(g);
  return 0;
}

/* Cache keys: bytes naming everything a service's routes or listeners are built from. */
typedef struct {
  uint8_t buf[4096];
  size_t n;
  bool overflow;
} cache_key_t;

static void key_bytes(cache_key_t *k, const void *p, size_t n) {
  if (k->n + n + 4 > sizeof(k->buf)) {
    k->overflow = true;
    return;
  }
  uint32_t len = (uint32_t)n; /* length-prefixed: no two keys run together alike */
  memcpy(k->buf + k->n, &len, 4);
  if (n > 0) /* an empty string may have no pointer */
    memcpy(k->buf + k->n + 4, p, n);
  k->n += n + 4;
}

static void key_str(cache_key_t *k, sc_str_t s) { key_bytes(k, s.ptr, s.len); }

static void key_record(cache_key_t *k, const sc_svc_t *svc) {
  key_bytes(k, &svc->obj, sizeof(svc->obj));
  key_str(k, svc->hostname);
  key_str(k, svc->namespace_);
  key_str(k, svc->address);
  key_str(k, svc->external_name);
  uint32_t fixed[3] = {svc->registry, svc->resolution, svc->nports};
  key_bytes(k, fixed, sizeof(fixed));
  for (uint32_t i = 0; i < svc->nports; i++) {
    uint32_t p[2] = {svc->ports[i].port, svc->ports[i].protocol};
    key_bytes(k, p, sizeof(p));
    key_str(k, svc->ports[i].name);
  }
  for (uint32_t i = 0; i < svc->naliases; i++)
    key_str(k, svc->aliases[i].hostname);
  /* A ServiceEntry's listeners are on each of its addresses (sc__lds_outbound). */
  if (svc->obj != NULL && svc->obj->kind == SC_KIND_SERVICE_ENTRY)
    for (uint32_t i = 0; i < svc->obj->u.service_entry.addresses.n; i++)
      key_str(k, svc->obj->u.service_entry.addresses.items[i]);
}

/* Builds res through the cache: what an earlier call with the same key built, else built
 * now and remembered. A key that did not fit builds without the cache. */
typedef int (*build_fn)(const void *arg, sc_resources_t *res);
static int through_cache(sc_cds_cache_t *cache, const cache_key_t *k, build_fn build, const void *arg,
                         sc_resources_t *res) {
  int rc = 0;
  if (k->overflow)
    return build(arg, res);
  if (sc__cds_parts_get(cache, k->buf, k->n, res, &rc))
    return rc;
  size_t from = res->n;
  rc = build(arg, res);
  return rc == 0 ? sc__cds_parts_put(cache, k->buf, k->n, res, from) : rc;
}

typedef struct {
  const sc_rds_ctx_t *c;
  const sc_svc_t *svc;
  const sc_vec_t *members;
} route_args_t;

static int build_routes(const void *arg, sc_resources_t *res) {
  const route_args_t *a = arg;
  return sc__rds_service(a->c, a->svc, a->members, res);
}

typedef struct {
  const sc_scope_t *s;
  const sc_listener_t *l;
  const sc_svc_t *svc;
  bool no_capture;
} listener_args_t;

static int build_listeners(const void *arg, sc_resources_t *res) {
  const listener_args_t *a = arg;
  return sc__lds_outbound(a->s, a->l, a->svc, a->no_capture, res);
}

/* The service's virtual hosts, shared between scopes when no VirtualService owns it (its
 * routes would read destinations and record their keys). */
static int service_routes(const sc_rds_ctx_t *c, sc_cds_cache_t *cache, const sc_svc_t *svc, const sc_vec_t *members,
                          sc_resources_t *res, sc_rds_variants_t *variants) {
  memset(variants, 0, sizeof(*variants));
  if (sc__rds_service_owned(c, svc)) /* routes read destinations and the proxy's labels */
    return sc__rds_service_variants(c, svc, members, res, variants);
  if (cache == NULL)
    return sc__rds_service(c, svc, members, res);
  cache_key_t k = {.n = 0};
  key_bytes(&k, "R", 1);
  key_record(&k, svc);
  /* Short names go by the proxy's namespace when a hostname or alias is in it. */
  key_str(&k, sc__rds_domains_local_to(svc, c->s->namespace_) ? c->s->namespace_ : (sc_str_t){"", 0});
  const sc_cdr_t *rule = sc__rds_service_rule(c->s, svc); /* the default route's hash policy */
  key_bytes(&k, &rule, sizeof(rule));
  for (uint32_t i = 0; i < svc->nports; i++) { /* which ports' configurations take it */
    bool in = sc__rds_port_listener(c->s, svc->ports[i].port, members) >= 0;
    key_bytes(&k, &in, sizeof(in));
  }
  route_args_t args = {c, svc, members};
  return through_cache(cache, &k, build_routes, &args, res);
}

/* The listeners svc needs through egress listener l, shared between scopes alike. */
static int service_listeners(const sc_scope_t *s, sc_cds_cache_t *cache, const sc_listener_t *l,
                             const sc_svc_t *svc, bool no_capture, sc_resources_t *res) {
  if (cache == NULL)
    return sc__lds_outbound(s, l, svc, no_capture, res);
  cache_key_t k = {.n = 0};
  key_bytes(&k, no_capture ? "N" : "L", 1);
  key_record(&k, svc);
  uint32_t fixed[4] = {l->match_port, l->port, l->api && l->api->has_port ? l->api->port.protocol : 0, s->outbound_mode};
  key_bytes(&k, fixed, sizeof(fixed));
  key_str(&k, l->api ? l->api->bind : (sc_str_t){"", 0});
  if (s->egress_proxy != NULL) {
    key_str(&k, s->egress_proxy->host);
    key_str(&k, s->egress_proxy->subset);
    key_bytes(&k, &s->egress_proxy->port, sizeof(s->egress_proxy->port));
  }
  listener_args_t args = {s, l, svc, no_capture};
  return through_cache(cache, &k, build_listeners, &args, res);
}

static int render_entries(const sc_scope_t *s, const sc_rds_ctx_t *routes, sc_cds_cache_t *cache,
                          sc_entry_t **out, size_t *nout) {
  const sc_mesh_config_t *mesh = routes->mesh;
  size_t n = s->services.n;
  sc_entry_t *entries = sc__calloc(n ? n : 1, sizeof(*entries));
  sc_vec_t *members = sc__calloc(n ? n : 1, sizeof(*members));
  yajl_gen g = sc__json_new();
  int rc = entries && members && g ? listener_memberships(s, members) : SC_ENOMEM;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const sc_svc_t *svc = s->services.items[i];
    yajl_gen_clear(g);
    yajl_gen_reset(g, NULL);
    yajl_gen_map_open(g);
    render_service(g, svc);
    sc__json_key(g, "listeners");
    yajl_gen_array_open(g);
    for (uint32_t m = 0; m < members[i].n; m++)
      yajl_gen_integer(g, (long long)(uintptr_t)members[i].items[m]);
    yajl_gen_array_close(g);
    render_drs(g, s->drs[i]);
    rc = render_entry_deps(g, svc, s->drs[i]);
    if (rc == 0)
      rc = render_entry_clusters(g, s, i, mesh, cache, &entries[i].res);
    size_t from = entries[i].res.n;
    sc_rds_variants_t variants = {0};
    if (rc == 0)
      rc = service_routes(routes, cache, svc, &members[i], &entries[i].res, &variants);
    sc__json_key(g, "routes");
    render_resource_range(g, &entries[i].res, from, variants.n ? variants.items[0].from : entries[i].res.n);
    if (variants.n > 0) {
      sc__json_key(g, "routeVariants");
      yajl_gen_array_open(g);
      for (size_t v = 0; v < variants.n; v++) {
        yajl_gen_map_open(g);
        sc__json_key(g, "selector");
        sc__json_labels(g, &(sc_labels_t){variants.items[v].n, variants.items[v].items});
        sc__json_key(g, "routes");
        render_resource_range(g, &entries[i].res, variants.items[v].from, variants.items[v].to);
        yajl_gen_map_close(g);
      }
      yajl_gen_array_close(g);
    }
    sc__rds_variants_free(&variants);
    if (rc == 0)
      rc = render_entry_listeners(g, s, cache, svc, &members[i], &entries[i].res);
    if (rc == 0)
      rc = render_entry_inbound(g, s, mesh, svc, &entries[i].res);
    yajl_gen_map_close(g);
  sc_entry_t *e = &entries[i];
    if (rc == 0 && ((e->json = sc__json_text(g, 0, &e->len)) == NULL ||
                    (e->host = sc__strndup(svc->hostname.ptr, svc->hostname.len)) == NULL))
      rc = SC_ENOMEM;
    if (rc == 0)
      e->hash = XXH3_64bits(e->json, e->len);
  }
  for (size_t i = 0; members && i < n; i++)
    sc__vec_free(&members[i]);
  sc__free(members);
  if (g != NULL)
    yajl_gen_free(g);
  if (rc != 0) {
    for (size_t i = 0; entries && i < n; i++)
      sc__render_entry_free(&entries[i]);
    sc__free(entries);
    return rc;
  }
  *out = entries;
  *nout = n;
  return 0;
}

/* The first fields of a scope record; with the service count and changedAt it is the
 * scope_index record (what `scopes` lists without loading whole scopes). A shared scope's
 * record is this head with "sameAs". */
typedef struct {
  const sc_scope_desc_t *d;
  uint64_t version;
  const char *same_as;
  bool summary;
  uint32_t services;
  uint64_t changed_at;
  bool has_base; /* the content shares the base: readers combine versions */
} head_t;

static void render_head(yajl_gen g, const head_t *h) {
  char version[17];
  snprintf(version, sizeof(version), "%016" PRIx64, h->version);
  yajl_gen_map_open(g);
  sc__json_key(g, "id");
  sc__json_cstr(g, h->d->id);
  sc__json_key(g, "namespace");
  sc__json_str(g, h->d->ns);
  sc__json_key(g, "sidecar");
  if (h->d->sidecar)
    sc__json_obj_ref(g, h->d->sidecar);
  else
    yajl_gen_null(g);
  sc__json_key(g, "version");
  sc__json_cstr(g, version);
  sc__json_key(g, "kind");
  sc__json_cstr(g, kind_names[h->d->kind]);
  if (h->same_as != NULL) {
    sc__json_key(g, "sameAs");
    sc__json_cstr(g, h->same_as);
  }
  if (h->has_base && (h->same_as != NULL || h->summary)) {
    sc__json_key(g, "base");
    sc__json_cstr(g, SC_BASE_ID);
  }
  if (h->summary) {
    sc__json_key(g, "services");
    yajl_gen_integer(g, h->services);
    if (h->changed_at > 0) {
      sc__json_key(g, "changedAt");
      yajl_gen_integer(g, (long long)h->changed_at);
    }
  }
  yajl_gen_map_close(g);
}

static int set_summary(sc_record_t *rec, head_t h) {
  yajl_gen g = sc__json_new();
  if (g == NULL)
    return SC_ENOMEM;
  h.summary = true;
  render_head(g, &h);
  sc__free(rec->summary);
  rec->summary = sc__json_text(g, 0, &rec->summary_len);
  rec->services = h.services;
  yajl_gen_free(g);
  return rec->summary ? 0 : SC_ENOMEM;
}

uint64_t sc__render_version(uint64_t body_hash, uint64_t entries_mix) {
  /* Entry hashes cover their hostnames, so distinct entries never cancel out. */
  return body_hash ^ entries_mix;
}


/* The namespace a scope is computed for: "*" stands for one nothing names. */
static sc_str_t compute_ns(const sc_scope_desc_t *d) {
  return sc_str_eqz(d->ns, SC_OTHER_NAMESPACES) ? other_ns : d->ns;
}

/* Whether the scope's outbound listeners are built as the base's are: the mesh's
 * outbound policy, no egress proxy, no bind address. */
static bool outbound_like_base(const sc_world_t *w, const sc_obj_t *sidecar) {
  if (sidecar == NULL)
    return true;
  const sc_sidecar_t *sc = &sidecar->u.sidecar;
  if (sc->has_egress_proxy || (sc->has_outbound_traffic_policy && sc->outbound_mode != w->mesh->outbound_mode))
    return false;
  for (uint32_t i = 0; i < sc->negress; i++)
    if (sc->egress[i].bind.len > 0)
      return false;
  return true;
}

/* Whether a scope stores only its namespace's specific hostnames and refers to the base
 * for the rest: it imports every host of every namespace, and its namespace is not the
 * root namespace (whose rule lookups differ). */
static bool scope_shares_base(const sc_world_t *w, const sc_scope_desc_t *d) {
  return d != &sc_base_desc && sc__scope_imports_all(d->kind, d->sidecar) &&
         !sc_str_eq(compute_ns(d), w->root_ns) && outbound_like_base(w, d->sidecar);
}

int sc__render_reversion(const sc_scope_desc_t *d, sc_record_t *rec, uint64_t version,
                       uint64_t changed_at, uint32_t services) {
  char *json = sc__malloc(rec->body_len + 80);
  if (json == NULL)
    return SC_ENOMEM;
  memcpy(json, rec->body, rec->body_len + 1);
  size_t len = rec->body_len;
  char *at = strstr(json, "\"version\":\"" VERSION_PLACEHOLDER "\"");
  if (at != NULL) {
    char v[17];
    snprintf(v, sizeof(v), "%016" PRIx64, version);
    memcpy(at + strlen("\"version\":\""), v, 16);
  }
  /* "base" and "changedAt" go after the head's content: the version covers them as the
   * base's version and not at all. */
  if (rec->has_base && len > 0 && json[len - 1] == '}')
    len += (size_t)snprintf(json + len - 1, 40, ",\"base\":\"%s\"}", SC_BASE_ID) - 1;
  if (changed_at > 0 && len > 0 && json[len - 1] == '}')
    len += (size_t)snprintf(json + len - 1, 40, ",\"changedAt\":%" PRIu64 "}", changed_at) - 1;
  sc__free(rec->json);
  rec->json = json;
  rec->len = len;
  rec->hash = version;
  return set_summary(rec, (head_t){d, version, NULL, true, services, changed_at, rec->has_base});
}

/* The keys of a scope sharing the base: under which what makes a hostname specific to
 * ns can change. A public service's hostname that is not specific is the base's business,
 * so "any public service" is not among them, unless a wildcard rule can make a new
 * hostname specific. */
static int specific_keys(sc_keys_t *keys, sc_str_t ns, bool wildcards) {
  static const sc_str_t none = {"", 0};
  uint64_t any_public = sc__deps_key(SC_DEP_SVC_ANY_PUBLIC, none, none);
  uint32_t kept = 0;
  for (uint32_t i = 0; i < keys->n; i++)
    if (keys->keys[i] != any_public || wildcards)
      keys->keys[kept++] = keys->keys[i];
  keys->n = kept;
  int rc = sc__deps_keys_add(keys, sc__deps_key(SC_DEP_SVC_ANY_VIS, ns, none));
  if (rc == 0)
    rc = sc__deps_keys_add(keys, sc__deps_key(SC_DEP_SVC_NS_ANY, ns, none));
  if (rc == 0)
    rc = sc__deps_keys_add(keys, sc__deps_key(SC_DEP_DR_LOCAL_ANY, ns, none));
  if (rc == 0)
    rc = sc__deps_keys_add(keys, sc__deps_key(SC_DEP_DR_NAMED, ns, none));
  if (rc == 0)
    rc = sc__deps_keys_add(keys, sc__deps_key(SC_DEP_DR_LOCAL_WILD, ns, none));
  sc__deps_keys_finish(keys);
  return rc;
}

/* A service of each specific hostname appearing, going or changing (also of one that has
 * none yet: a rule can make a hostname specific before any service has it). */
static int host_keys(sc_keys_t *keys, const sc_vec_t *hosts) {
  static const sc_str_t none = {"", 0};
  for (uint32_t i = 0; i < hosts->n; i++)
    if (sc__deps_keys_add(keys, sc__deps_key(SC_DEP_SVC_HOST, *(const sc_str_t *)hosts->items[i], none)) != 0)
      return SC_ENOMEM;
  sc__deps_keys_finish(keys);
  return 0;
}

/* The hostnames specific to ns, among only (NULL: all of them). */
static int specific_hosts(const sc_world_t *w, sc_str_t ns, const sc_strmap_t *only,
                          sc_vec_t *hosts, sc_strmap_t *set, bool *wildcards) {
  sc_vec_t all = {0};
  sc_strmap_t all_set;
  sc__strmap_init(&all_set);
  int rc = sc__world_ns_specific_hosts(w, ns, &all, &all_set, wildcards);
  for (uint32_t i = 0; i < all.n && rc == 0; i++) {
    sc_str_t *h = all.items[i];
    if (only != NULL && sc__strmap_get(only, *h) == NULL)
      continue;
    rc = sc__vec_push(hosts, h) || sc__strmap_put(set, *h, h) ? SC_ENOMEM : 0;
  }
  sc__vec_free(&all);
  sc__strmap_free(&all_set, NULL);
  return rc;
}

/* Computes scope d, limited to the patch's hostnames (patch NULL: all of them). A scope
 * sharing the base is limited further to the hostnames specific to its namespace, and
 * gets the keys under which that set can change. */
static int compute_limited(const sc_world_t *w, const sc_scope_desc_t *d, bool shares,
                           const sc_scope_patch_t *patch, sc_scope_t **out) {
  if (!shares)
    return sc__scope_compute(w, d->kind, d->sidecar, compute_ns(d), patch, out);
  sc_vec_t hosts = {0};
  sc_strmap_t set;
  sc__strmap_init(&set);
  sc_scope_patch_t specific = {&hosts, &set, NULL, 0};
  if (patch != NULL)
    specific.vs_positions = patch->vs_positions, specific.nlisteners = patch->nlisteners;
  bool wildcards = false;
  int rc = specific_hosts(w, compute_ns(d), patch ? patch->host_set : NULL, &hosts, &set, &wildcards);
  if (rc == 0)
    rc = sc__scope_compute(w, d->kind, d->sidecar, compute_ns(d), &specific, out);
  if (rc == 0 && ((rc = specific_keys(&(*out)->keys, compute_ns(d), wildcards)) != 0 ||
                  (rc = host_keys(&(*out)->keys, &hosts)) != 0))
    sc__scope_free(*out);
  sc__vec_free(&hosts);
  sc__strmap_free(&set, NULL);
  return rc;
}

/* Whether some record of host is visible to namespace ns: for a scope importing every
 * namespace, whether host is one of its services. */
static bool visible_host(const sc_world_t *w, sc_str_t host, sc_str_t ns) {
  const sc_vec_t *recs = sc__strmap_get(&w->all_by_host, host);
  for (uint32_t i = 0; recs && i < recs->n; i++)
    if (sc__world_service_visible(w, recs->items[i], ns))
      return true;
  return false;
}

typedef struct {
  sc_str_t pattern;
  sc_vec_t *hosts;
  sc_strmap_t *set;
  int rc;
} wild_t;

static void add_matching_host(void *arg, sc_str_t key, void *value) {
  wild_t *x = arg;
  const sc_vec_t *recs = value;
  if (x->rc != 0 || !sc__host_matches(x->pattern, key) || sc__strmap_get(x->set, key) != NULL)
    return;
  sc_str_t *stable = &((sc_svc_t *)recs->items[0])->hostname; /* the world's: lives on */
  if (sc__strmap_put(x->set, *stable, stable) != 0 || sc__vec_push(x->hosts, stable) != 0)
    x->rc = SC_ENOMEM;
}

/* For a scope computed for its specific hostnames only: the VirtualServices that may have
 * a host that is no service of the scope (into only), and the scope computed for their
 * hosts (NULL when there are none): what the head's virtual hosts read. */
static int compute_vs_scope(const sc_world_t *w, const sc_scope_desc_t *d, const sc_scope_t *s,
                            sc_hashmap_t *only, sc_scope_t **out) {
  *out = NULL;
  sc_vec_t hosts = {0};
  sc_strmap_t set;
  sc__strmap_init(&set);
  wild_t x = {{NULL, 0}, &hosts, &set, 0};
  for (uint32_t li = 0; li < s->nlisteners && x.rc == 0; li++)
    for (uint32_t v = 0; v < s->listeners[li].vss.n && x.rc == 0; v++) {
      const sc_obj_t *vs = s->listeners[li].vss.items[v];
      const sc_strlist_t *vh = &vs->u.virtual_service.hosts;
      bool foreign = false;
      for (uint32_t h = 0; h < vh->n && !foreign; h++)
        foreign = sc__host_is_wildcard(vh->items[h]) || !visible_host(w, vh->items[h], s->namespace_);
      if (!foreign)
        continue; /* every host a service: its virtual hosts are in the entries */
      if (sc__hashmap_put(only, vs->key_hash, (void *)vs) != 0) {
        x.rc = SC_ENOMEM;
        break;
      }
      for (uint32_t h = 0; h < vh->n && x.rc == 0; h++) {
        sc_str_t *p = &vh->items[h];
        if (sc__host_is_wildcard(*p)) {
          x.pattern = *p;
          sc__strmap_foreach(&w->all_by_host, add_matching_host, &x);
        } else if (sc__strmap_get(&set, *p) == NULL &&
                   (sc__strmap_put(&set, *p, p) != 0 || sc__vec_push(&hosts, p) != 0)) {
          x.rc = SC_ENOMEM;
        }
      }
    }
  int rc = x.rc;
  sc_scope_patch_t patch = {&hosts, &set, NULL, 0};
  if (rc == 0 && only->n > 0)
    rc = sc__scope_compute(w, d->kind, d->sidecar, compute_ns(d), &patch, out);
  sc__vec_free(&hosts);
  sc__strmap_free(&set, NULL);
  return rc;
}

/* The head reads, for every VirtualService host, whether a service is behind it; for the
 * VirtualServices that have a host that is no service (foreign), also the records of
 * their hosts (the ports their virtual hosts go on). The scope registers on those keys
 * (a wildcard host on every service it can see). */
static int add_vs_host_keys(sc_scope_t *s, const sc_hashmap_t *foreign) {
  static const sc_str_t none = {"", 0};
  int rc = 0;
  for (uint32_t li = 0; li < s->nlisteners && rc == 0; li++)
    for (uint32_t v = 0; v < s->listeners[li].vss.n && rc == 0; v++) {
      const sc_obj_t *vs = s->listeners[li].vss.items[v];
      const sc_strlist_t *hosts = &vs->u.virtual_service.hosts;
      bool reads_records = sc__hashmap_get(foreign, vs->key_hash) != NULL;
      for (uint32_t h = 0; h < hosts->n && rc == 0; h++) {
        sc_str_t x = hosts->items[h];
        bool wild = sc__host_is_wildcard(x);
        rc = sc__deps_keys_add(&s->keys, wild ? sc__deps_key(SC_DEP_SVC_PRESENCE_ANY, none, none)
                                        : sc__deps_key(SC_DEP_SVC_PRESENCE, x, none));
        if (rc != 0 || !reads_records)
          continue;
        if (!wild) {
          rc = sc__deps_keys_add(&s->keys, sc__deps_key(SC_DEP_SVC_HOST, x, none));
          continue;
        }
        rc = sc__deps_keys_add(&s->keys, sc__deps_key(SC_DEP_SVC_ANY_PUBLIC, none, none));
        if (rc == 0)
          rc = sc__deps_keys_add(&s->keys, sc__deps_key(SC_DEP_SVC_ANY_VIS, s->namespace_, none));
      }
    }
  sc__deps_keys_finish(&s->keys);
  return rc;
}

static int add_copy(sc_vec_t *v, sc_str_t s) {
  char *copy = sc__strndup(s.ptr, s.len);
  if (copy == NULL || sc__vec_push(v, copy) != 0) {
    sc__free(copy);
    return SC_ENOMEM;
  }
  return 0;
}

static bool list_covers(const sc_vec_t *list, sc_str_t host) {
  for (uint32_t i = 0; i < list->n; i++) {
    sc_str_t p = sc_str(list->items[i]);
    if (sc__host_is_wildcard(p) ? sc__host_matches(p, host) : sc_str_eq(p, host))
      return true;
  }
  return false;
}

bool sc__render_vs_covers(const sc_scope_aux_t *aux, sc_str_t host, bool may_flip) {
  return list_covers(&aux->vs_hosts, host) || (may_flip && list_covers(&aux->vs_all_hosts, host));
}

/* What makes the head recompute (sc_scope_aux_t): the hosts and destinations of the
 * foreign VirtualServices, the destinations of those with a wildcard host (the entries
 * they cover are not known one by one), and every VirtualService host. */
static int vs_escalations(const sc_scope_t *s, const sc_hashmap_t *foreign, sc_scope_aux_t *aux) {
  int rc = 0;
  for (uint32_t li = 0; li < s->nlisteners && rc == 0; li++) {
    const sc_listener_t *l = &s->listeners[li];
    for (uint32_t v = 0; v < l->vss.n && rc == 0; v++) {
      const sc_obj_t *o = l->vss.items[v];
      const sc_virtual_service_t *vs = &o->u.virtual_service;
      bool reads = sc__hashmap_get(foreign, o->key_hash) != NULL, wild = false;
      for (uint32_t h = 0; h < vs->hosts.n && rc == 0; h++) {
        wild |= sc__host_is_wildcard(vs->hosts.items[h]);
        rc = add_copy(&aux->vs_all_hosts, vs->hosts.items[h]);
        if (rc == 0 && reads)
          rc = add_copy(&aux->vs_hosts, vs->hosts.items[h]);
      }
      for (uint32_t r = 0; (reads || wild) && r < vs->nhttp && rc == 0; r++)
        for (uint32_t k = 0; k < vs->http[r].nroute && rc == 0; k++)
          rc = add_copy(&aux->vs_hosts, vs->http[r].route[k].destination.host);
    }
  }
  return rc;
}

int sc__render_scope(const sc_world_t *w, const sc_scope_desc_t *d, const sc_render_opts_t *opts,
                    uint64_t changed_at, sc_record_t *rec, sc_scope_aux_t *aux) {
  sc_scope_t *s;
  memset(rec, 0, sizeof(*rec));
  rec->has_base = !opts->unshared && scope_shares_base(w, d);
  int rc = compute_limited(w, d, rec->has_base, NULL, &s);
  if (rc != 0)
    return rc;
  /* Routes: the VirtualService owning each hostname per listener. A scope computed for
   * its specific hostnames only still has head virtual hosts for the hosts of its
   * VirtualServices that are no service: those come from a computation for them. */
  sc_rds_owners_t owners = {0}, head_owners = {0};
  sc_keys_t route_keys = {0};
  bool oom = false;
  sc_hashmap_t only;
  sc__hashmap_init(&only);
  sc_scope_t *vs_scope = NULL;
  rc = sc__rds_owners_build(s, &owners);
  if (rc == 0)
    rc = rec->has_base ? compute_vs_scope(w, d, s, &only, &vs_scope) : sc__rds_foreign_vss(s, &only);
  if (rc == 0 && vs_scope != NULL)
    rc = sc__rds_owners_build(vs_scope, &head_owners);
  sc_rds_ctx_t ctx = {s, w, &owners, w->mesh, &route_keys, &oom, &only, NULL};
  sc_rds_ctx_t head_ctx = {vs_scope, w, &head_owners, w->mesh, &route_keys, &oom, &only, NULL};
  const sc_rds_ctx_t *head = rec->has_base ? (vs_scope ? &head_ctx : NULL) : &ctx;
  yajl_gen g = rc == 0 ? sc__json_new() : NULL;
  if (rc == 0 && (g == NULL || (rec->key = sc__strdup(d->id)) == NULL))
    rc = SC_ENOMEM;
  if (rc == 0) {
    rc = render_body(g, s, head, d->id, d->ns, w->mesh, &rec->res);
    if (rc == 0 && (rec->body = sc__json_text(g, 0, &rec->body_len)) == NULL)
      rc = SC_ENOMEM;
  }
  if (g != NULL)
    yajl_gen_free(g);
  if (rc == 0)
    rc = render_entries(s, &ctx, opts->clusters, &rec->entries, &rec->nentries);
  if (rc == 0 && oom)
    rc = SC_ENOMEM;
  if (rc == 0) {
    rec->body_hash = XXH3_64bits(rec->body, rec->body_len);
    uint64_t mix = 0;
    for (size_t i = 0; i < rec->nentries; i++)
      mix ^= rec->entries[i].hash;
    rc = sc__render_reversion(d, rec,
                            sc__render_version(rec->body_hash, mix),
                            changed_at, (uint32_t)rec->nentries);
  }
  for (uint32_t k = 0; k < route_keys.n && rc == 0; k++)
    rc = sc__deps_keys_add(&s->keys, route_keys.keys[k]);
  sc__deps_keys_free(&route_keys);
  sc__rds_owners_free(&head_owners);
  if (rc == 0)
    rc = add_vs_host_keys(s, &only);
  if (rc == 0 && aux != NULL) {
    memset(aux, 0, sizeof(*aux));
    rc = vs_escalations(s, &only, aux);
    aux->owners = owners; /* handed over */
    owners = (sc_rds_owners_t){0};
    aux->keys = s->keys; /* hand the keys over */
    s->keys = (sc_keys_t){NULL, 0, 0};
    aux->nlisteners = s->nlisteners;
    aux->vs_positions = sc__calloc(s->nlisteners ? s->nlisteners : 1, sizeof(sc_hashmap_t));
    if (aux->vs_positions == NULL)
      rc = SC_ENOMEM;
    for (uint32_t li = 0; li < s->nlisteners && rc == 0; li++) {
      const sc_listener_t *l = &s->listeners[li];
      sc__hashmap_init(&aux->vs_positions[li]);
      for (uint32_t v = 0; v < l->vss.n && rc == 0; v++)
        rc = sc__hashmap_put(&aux->vs_positions[li], ((const sc_obj_t *)l->vss.items[v])->key_hash,
                             (void *)(uintptr_t)(v + 1));
    }
    if (rc != 0)
      sc__render_aux_free(aux);
  }
  sc__rds_owners_free(&owners);
  sc__hashmap_free(&only);
  sc__scope_free(vs_scope);
  sc__scope_free(s);
  if (rc != 0)
    sc__render_record_free(rec);
  return rc;
}

int sc__render_patch(const sc_world_t *w, const sc_scope_desc_t *d,
                          const sc_scope_patch_t *patch, const sc_rds_owners_t *owners,
                          sc_cds_cache_t *clusters, sc_entry_t **entries, size_t *nentries,
                          sc_keys_t *keys) {
  sc_scope_t *s;
  int rc = compute_limited(w, d, scope_shares_base(w, d), patch, &s);
  if (rc != 0)
    return rc;
  bool oom = false;
  sc_rds_ctx_t ctx = {s, w, owners, w->mesh, &s->keys, &oom, NULL, NULL};
  rc = render_entries(s, &ctx, clusters, entries, nentries);
  if (rc == 0 && oom)
    rc = SC_ENOMEM;
  if (rc == 0) {
    sc__deps_keys_finish(&s->keys);
    *keys = s->keys;
    s->keys = (sc_keys_t){NULL, 0, 0};
  }
  sc__scope_free(s);
  return rc;
}

void sc__render_aux_free(sc_scope_aux_t *aux) {
  for (uint32_t i = 0; aux->vs_positions && i < aux->nlisteners; i++)
    sc__hashmap_free(&aux->vs_positions[i]);
  sc__free(aux->vs_positions);
  sc__deps_keys_free(&aux->keys);
  for (uint32_t i = 0; i < aux->vs_hosts.n; i++)
    sc__free(aux->vs_hosts.items[i]);
  sc__vec_free(&aux->vs_hosts);
  for (uint32_t i = 0; i < aux->vs_all_hosts.n; i++)
    sc__free(aux->vs_all_hosts.items[i]);
  sc__vec_free(&aux->vs_all_hosts);
  sc__rds_owners_free(&aux->owners);
  memset(aux, 0, sizeof(*aux));
}

int sc__render_shared(const sc_scope_desc_t *d, const sc_record_t *target,
                           uint64_t changed_at, sc_record_t *rec) {
  head_t h = {d, target->hash, target->key, false, target->services, changed_at, target->has_base};
  yajl_gen g = sc__json_new();
  int rc = SC_ENOMEM;
  memset(rec, 0, sizeof(*rec));
  if (g != NULL) {
    render_head(g, &h);
    rc = finish_record(g, d->id, rec);
    yajl_gen_free(g);
  }
  if (rc == 0 && changed_at > 0) { /* "changedAt" after the content, as for any scope */
    char *json = sc__realloc(rec->json, rec->len + 40);
    if (json == NULL)
      rc = SC_ENOMEM;
    else
      rec->json = json,
      rec->len += (size_t)snprintf(json + rec->len - 1, 40, ",\"changedAt\":%" PRIu64 "}", changed_at) - 1;
  }
  if (rc == 0)
    rc = set_summary(rec, h);
  if (rc != 0)
    sc__render_record_free(rec);
  return rc;
}

void sc__render_entry_free(sc_entry_t *e) {
  sc__free(e->host);
  sc__free(e->json);
  sc__resources_free(&e->res);
  memset(e, 0, sizeof(*e));
}

void sc__render_record_free(sc_record_t *r) {
  sc__free(r->key);
  sc__free(r->json);
  sc__free(r->summary);
  sc__free(r->body);
  sc__resources_free(&r->res);
  for (size_t i = 0; i < r->nentries; i++)
    sc__render_entry_free(&r->entries[i]);
  sc__free(r->entries);
  memset(r, 0, sizeof(*r));
}

int sc__render_all(const sc_world_t *w, sc_scopeset_t *out) {
  memset(out, 0, sizeof(*out));
  sc_scope_plan_t plan;
  int rc = sc__plan_compute(w, &plan);
  if (rc != 0)
    return rc;
  out->scopes = sc__calloc(plan.nscopes ? plan.nscopes : 1, sizeof(sc_record_t));
  if (out->scopes == NULL) {
    sc__plan_free(&plan);
    return SC_ENOMEM;
  }
  out->nscopes = plan.nscopes; /* zeroed records are safe to free on failure */
  rc = sc__render_scope(w, &sc_base_desc, &(sc_render_opts_t){true, NULL}, 0, &out->base, NULL);
  sc_render_opts_t opts = {false, NULL};
  /* Scopes with content of their own first, then the ones that share it. */
  for (int pass = 0; pass < 2 && rc == 0; pass++) {
    for (size_t i = 0; i < plan.nscopes && rc == 0; i++) {
      const sc_scope_desc_t *d = &plan.scopes[i];
      if ((d->same_as != NULL) != (pass == 1))
        continue;
      if (d->same_as == NULL) {
        rc = sc__render_scope(w, d, &opts, 0, &out->scopes[i], NULL);
      } else {
        const sc_record_t *target = NULL;
        for (size_t j = 0; j < plan.nscopes && target == NULL; j++)
          if (out->scopes[j].key != NULL && strcmp(out->scopes[j].key, d->same_as) == 0)
            target = &out->scopes[j];
        rc = target ? sc__render_shared(d, target, 0, &out->scopes[i]) : SC_EINVAL;
      }
    }
  }
  /* The selector records move over to the result. */
  out->selectors = plan.selectors;
  out->nselectors = plan.nselectors;
  plan.selectors = NULL;
  plan.nselectors = 0;
  sc__plan_free(&plan);
  if (rc != 0)
    sc__render_all_free(out);
  return rc;
}

static void free_records(sc_record_t *r, size_t n) {
  for (size_t i = 0; i < n; i++)
    sc__render_record_free(&r[i]);
  sc__free(r);
}

void sc__render_all_free(sc_scopeset_t *set) {
  sc__render_record_free(&set->base);
  free_records(set->scopes, set->nscopes);
  for (size_t i = 0; i < set->nselectors; i++)
    sc__plan_selector_free(&set->selectors[i]);
  sc__free(set->selectors);
  memset(set, 0, sizeof(*set));
}
