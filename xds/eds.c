/* EDS (see eds.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "store/array.h"
#include "store/mem.h"
#include "xds/eds.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "scopecast/error.h"
#include "xds/xdsbuild.h"

typedef Envoy__Config__Core__V3__HealthStatus health_t;

/* One endpoint before grouping. Strings are borrowed from the store's objects. */
typedef struct {
  sc_str_t address;
  uint32_t port;
  uint32_t weight;
  health_t health;
  sc_str_t region, zone, subzone;
} ep_t;

typedef SC__ARRAY(ep_t) eps_t;

static int push(eps_t *v, ep_t e) { return SC__ARRAY_PUSH(v, e); }

/* Whether s is an IP address (v4 or v6), not a hostname. */
static bool is_ip(sc_str_t s) {
  bool colon = false, alpha = false;
  for (uint32_t i = 0; i < s.len; i++) {
    char c = s.ptr[i];
    colon |= c == ':';
    if ((c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z'))
      return false;
    alpha |= (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }
  return s.len > 0 && (colon || !alpha);
}

/* "region/zone/subzone", any part may be empty or missing. */
static void split_locality(sc_str_t l, ep_t *e) {
  sc_str_t *parts[3] = {&e->region, &e->zone, &e->subzone};
  for (int p = 0; p < 3; p++) {
    const char *slash = memchr(l.ptr, '/', l.len);
    uint32_t n = slash ? (uint32_t)(slash - l.ptr) : l.len;
    *parts[p] = (sc_str_t){l.ptr, n};
    l = slash ? (sc_str_t){slash + 1, l.len - n - 1} : (sc_str_t){l.ptr + l.len, 0};
  }
}

static int kubernetes_endpoints(const sc_store_t *store, const sc_svc_t *svc, const sc_svc_port_t *port,
                                const sc_labels_t *subset, eps_t *out) {
  sc_obj_list_t slices = sc_store_list_namespace(store, SC_KIND_ENDPOINT_SLICE, svc->namespace_);
  int rc = 0;
  for (size_t i = 0; i < slices.n && rc == 0; i++) {
    const sc_endpoint_slice_t *es = &slices.items[i]->u.endpoint_slice;
    if (!sc_str_eq(es->service_name, svc->name) || sc_str_eqz(es->address_type, "FQDN"))
      continue;
    uint32_t target = SC_UNSET_U32;
    for (uint32_t p = 0; p < es->nports; p++)
      if (sc_str_eq(es->ports[p].name, port->name))
        target = es->ports[p].port;
    if (target == SC_UNSET_U32)
      continue; /* the slice does not serve this port */
    for (uint32_t e = 0; e < es->nendpoints && rc == 0; e++) {
      const sc_slice_endpoint_t *ep = &es->endpoints[e];
      bool ready = ep->ready != SC_TRI_FALSE;
      if (!ready && ep->terminating == SC_TRI_TRUE)
        continue;
      const sc_obj_t *pod = sc_str_eqz(ep->target_kind, "Pod")
                                ? sc_store_get(store, SC_KIND_POD, ep->target_namespace.len ? ep->target_namespace
                                                                                            : svc->namespace_,
                                               ep->target_name)
                                : NULL;
      if (subset != NULL && subset->n > 0 && (pod == NULL || !sc_labels_within(subset, &pod->labels)))
        continue;
      for (uint32_t a = 0; a < ep->addresses.n && rc == 0; a++) {
        ep_t x = {ep->addresses.items[a], target, 1,
                  ready ? ENVOY__CONFIG__CORE__V3__HEALTH_STATUS__HEALTHY : ENVOY__CONFIG__CORE__V3__HEALTH_STATUS__UNHEALTHY,
                  {"", 0}, ep->zone, {"", 0}};
        rc = push(out, x);
      }
    }
  }
  return rc;
}

static int service_entry_endpoints(const sc_svc_t *svc, const sc_svc_port_t *port, const sc_labels_t *subset,
                                   eps_t *out) {
  const sc_service_entry_t *se = &svc->obj->u.service_entry;
  int rc = 0;
  for (uint32_t i = 0; i < se->nendpoints && rc == 0; i++) {
    const sc_workload_entry_t *we = &se->endpoints[i];
    if (!is_ip(we->address) || (subset != NULL && !sc_labels_within(subset, &we->labels)))
      continue;
    ep_t x = {we->address, port->port, we->weight ? we->weight : 1, ENVOY__CONFIG__CORE__V3__HEALTH_STATUS__HEALTHY,
              {"", 0}, {"", 0}, {"", 0}};
    for (uint32_t p = 0; p < we->nports; p++)
      if (sc_str_eq(we->ports[p].name, port->name))
        x.port = we->ports[p].port;
    split_locality(we->locality, &x);
    rc = push(out, x);
  }
  return rc;
}

static int cmp_locality(const ep_t *a, const ep_t *b) {
  int c = sc_str_cmp(a->region, b->region);
  if (c == 0)
    c = sc_str_cmp(a->zone, b->zone);
  return c ? c : sc_str_cmp(a->subzone, b->subzone);
}

/* Localities ascending; within one, by address and port (the store has no order). */
static int cmp_ep(const void *pa, const void *pb) {
  const ep_t *a = pa, *b = pb;
  int c = cmp_locality(a, b);
  if (c == 0)
    c = sc_str_cmp(a->address, b->address);
  return c ? c : (a->port > b->port) - (a->port < b->port);
}

static int build(sc_arena_t *a, const char *name, eps_t *eps, sc_resources_t *out) {
  typedef Envoy__Config__Endpoint__V3__LocalityLbEndpoints locality_t;
  typedef Envoy__Config__Endpoint__V3__LbEndpoint lb_t;
  Envoy__Config__Endpoint__V3__ClusterLoadAssignment *cla = NEW(
      a, Envoy__Config__Endpoint__V3__ClusterLoadAssignment, envoy__config__endpoint__v3__cluster_load_assignment__descriptor);
  locality_t **locs = sc__arena_alloc(a, (eps->n + 1) * sizeof(*locs));
  lb_t **lbs = sc__arena_alloc(a, (eps->n + 1) * sizeof(*lbs));
  if (cla == NULL || locs == NULL || lbs == NULL)
    return SC_ENOMEM;
  cla->cluster_name = (char *)name;
  cla->endpoints = locs;
  if (eps->n > 1)
    qsort(eps->items, eps->n, sizeof(ep_t), cmp_ep);
  for (size_t i = 0; i < eps->n; i++) {
    const ep_t *e = &eps->items[i];
    locality_t *loc = cla->n_endpoints ? locs[cla->n_endpoints - 1] : NULL;
    if (loc == NULL || cmp_locality(&eps->items[i - 1], e) != 0) {
      loc = NEW(a, locality_t, envoy__config__endpoint__v3__locality_lb_endpoints__descriptor);
      Envoy__Config__Core__V3__Locality *l =
          NEW(a, Envoy__Config__Core__V3__Locality, envoy__config__core__v3__locality__descriptor);
      if (loc == NULL || l == NULL || (loc->load_balancing_weight = sc__xds_u32(a, 0)) == NULL)
        return SC_ENOMEM;
      l->region = sc__xds_str(a, e->region);
      l->zone = sc__xds_str(a, e->zone);
      l->sub_zone = sc__xds_str(a, e->subzone);
      if (l->region == NULL || l->zone == NULL || l->sub_zone == NULL)
        return SC_ENOMEM;
      loc->locality = l;
      loc->lb_endpoints = &lbs[i];
      locs[cla->n_endpoints++] = loc;
    }
    lb_t *lb = NEW(a, lb_t, envoy__config__endpoint__v3__lb_endpoint__descriptor);
    Envoy__Config__Endpoint__V3__Endpoint *ep =
        NEW(a, Envoy__Config__Endpoint__V3__Endpoint, envoy__config__endpoint__v3__endpoint__descriptor);
    char *addr = sc__xds_str(a, e->address);
    if (lb == NULL || ep == NULL || addr == NULL || (ep->address = sc__xds_socket_address(a, addr, e->port)) == NULL ||
        (lb->load_balancing_weight = sc__xds_u32(a, e->weight)) == NULL)
      return SC_ENOMEM;
    lb->host_identifier_case = ENVOY__CONFIG__ENDPOINT__V3__LB_ENDPOINT__HOST_IDENTIFIER_ENDPOINT;
    lb->endpoint = ep;
    lb->health_status = e->health;
    lbs[i] = lb;
    loc->n_lb_endpoints++;
    loc->load_balancing_weight->value += e->weight;
  }
  return sc__resources_add(out, name, &cla->base);
}

int sc__eds_cluster(const sc_store_t *store, const sc_svc_t *svc, uint32_t port, const sc_labels_t *subset,
                   const char *cluster_name, sc_resources_t *out) {
  const sc_svc_port_t *p = NULL;
  for (uint32_t i = 0; i < svc->nports && p == NULL; i++)
    if (svc->ports[i].port == port)
      p = &svc->ports[i];
  if (p == NULL)
    return SC_EINVAL;
  eps_t eps = {0};
  int rc = svc->registry == SC_REGISTRY_KUBERNETES ? kubernetes_endpoints(store, svc, p, subset, &eps)
                                                   : service_entry_endpoints(svc, p, subset, &eps);
  sc_arena_t *a = rc == 0 ? sc__arena_new(2048) : NULL;
  if (rc == 0 && a == NULL)
    rc = SC_ENOMEM;
  if (rc == 0)
    rc = build(a, cluster_name, &eps, out);
  sc__arena_del(a);
  sc__free(eps.items);
  return rc;
}

/* ---- recipes ------------------------------------------------------------------------------ */

/* A recipe is text, one field per line: hostname, port, namespace, registry ("k" or "e"),
 * object name, then one "key=value" line per subset label (sorted). Neither DNS names nor
 * label keys and values may hold a newline or '=' in a key, so it parses back. */
int sc__eds_attach(sc_resource_t *r, const sc_svc_t *svc, uint32_t port, const sc_labels_t *subset) {
  size_t len = svc->hostname.len + svc->namespace_.len + svc->object_name.len + 32;
  for (uint32_t i = 0; subset && i < subset->n; i++)
    len += subset->items[i].key.len + subset->items[i].value.len + 2;
  char *text = sc__malloc(len);
  if (text == NULL)
    return SC_ENOMEM;
  int at = snprintf(text, len, "%.*s\n%u\n%.*s\n%c\n%.*s\n", (int)svc->hostname.len, svc->hostname.ptr, port,
                    (int)svc->namespace_.len, svc->namespace_.ptr, svc->registry == SC_REGISTRY_KUBERNETES ? 'k' : 'e',
                    (int)svc->object_name.len, svc->object_name.ptr);
  for (uint32_t i = 0; subset && i < subset->n; i++)
    at += snprintf(text + at, len - (size_t)at, "%.*s=%.*s\n", (int)subset->items[i].key.len,
                   subset->items[i].key.ptr, (int)subset->items[i].value.len, subset->items[i].value.ptr);
  sc__free(r->eds);
  r->eds = text;
  r->eds_id = XXH3_64bits(text, (size_t)at);
  if (r->eds_id == 0)
    r->eds_id = 1; /* 0 means "not EDS" */
  return 0;
}

size_t sc__eds_key(const char *cluster, uint64_t eds_id, char *buf, size_t cap) {
  int n = snprintf(buf, cap, "%s#%016llx", cluster, (unsigned long long)eds_id);
  return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* The next line of *text (without its newline). */
static sc_str_t next_line(const char **text) {
  const char *nl = strchr(*text, '\n');
  sc_str_t line = {*text, nl ? (uint32_t)(nl - *text) : (uint32_t)strlen(*text)};
  *text = nl ? nl + 1 : *text + line.len;
  return line;
}

int sc__eds_from_recipe(const sc_store_t *store, const sc_world_t *w, const char *recipe,
                       const char *cluster_name, sc_resources_t *out) {
  const char *at = recipe;
  sc_str_t host = next_line(&at), port_text = next_line(&at), ns = next_line(&at);
  sc_str_t registry = next_line(&at), object = next_line(&at);
  uint32_t port = (uint32_t)strtoul(port_text.ptr, NULL, 10);
  size_t lines = 0;
  for (const char *c = at; *c != '\0'; c++)
    lines += *c == '\n';
  sc_labels_t subset = {0, sc__malloc((lines + 1) * sizeof(sc_label_t))};
  if (subset.items == NULL)
    return SC_ENOMEM;
  while (*at != '\0') {
    sc_str_t line = next_line(&at);
    const char *eq = memchr(line.ptr, '=', line.len);
    uint32_t k = eq ? (uint32_t)(eq - line.ptr) : line.len;
    subset.items[subset.n++] = (sc_label_t){{line.ptr, k}, {line.ptr + k + (eq != NULL), line.len - k - (eq != NULL)}};
  }
  int rc = 0;
  bool found = false;
  sc_registry_t reg = sc_str_eqz(registry, "k") ? SC_REGISTRY_KUBERNETES : SC_REGISTRY_EXTERNAL;
  const sc_vec_t *recs = sc__strmap_get(&w->all_by_host, host);
  for (uint32_t i = 0; recs && i < recs->n; i++) {
    const sc_svc_t *svc = recs->items[i];
    if (svc->registry == reg && sc_str_eq(svc->namespace_, ns) && sc_str_eq(svc->object_name, object))
      for (uint32_t p = 0; p < svc->nports; p++)
        if (svc->ports[p].port == port && !found) {
          found = true;
          rc = sc__eds_cluster(store, svc, port, subset.n ? &subset : NULL, cluster_name, out);
        }
  }
  sc__free(subset.items);
  if (found)
    return rc;
  eps_t none = {0};
  sc_arena_t *a = sc__arena_new(512);
  rc = a ? build(a, cluster_name, &none, out) : SC_ENOMEM;
  sc__arena_del(a);
  return rc;
}
