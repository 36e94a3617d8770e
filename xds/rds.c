/* RDS (see rds.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/array.h"
#include "store/mem.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb-c.h"
#include "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.pb-c.h"
#include "envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.pb-c.h"
#include "model/host.h"
#include "xds/rds.h"
#include "scopecast/error.h"
#include "xds/xdsbuild.h"

typedef Envoy__Config__Route__V3__VirtualHost vhost_t;
typedef Envoy__Config__Route__V3__Route route_t;
typedef Envoy__Config__Route__V3__RouteMatch match_t;
typedef Envoy__Config__Route__V3__RouteAction action_t;
typedef Envoy__Config__Route__V3__RetryPolicy retry_t;
typedef Envoy__Config__Route__V3__HeaderMatcher header_t;
typedef Envoy__Type__Matcher__V3__StringMatcher string_matcher_t;

bool sc__rds_http_protocol(sc_protocol_t p) {
  return p == SC_PROTO_HTTP || p == SC_PROTO_HTTP2 || p == SC_PROTO_GRPC || p == SC_PROTO_GRPC_WEB ||
         p == SC_PROTO_HTTP_PROXY;
}

/* A growable list of strings in an arena. */
typedef struct {
  char **items;
  size_t n, cap;
} strs_t;

static int strs_add(sc_arena_t *a, strs_t *l, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int strs_add(sc_arena_t *a, strs_t *l, const char *fmt, ...) {
  char buf[1100];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(buf))
    return SC_EINVAL;
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->items[i], buf) == 0)
      return 0; /* a domain once */
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    char **items = sc__arena_alloc(a, cap * sizeof(*items));
    if (items == NULL)
      return SC_ENOMEM;
    if (l->n)
      memcpy(items, l->items, l->n * sizeof(*items));
    l->items = items;
    l->cap = cap;
  }
  if ((l->items[l->n] = sc__xds_str(a, (sc_str_t){buf, (uint32_t)n})) == NULL)
    return SC_ENOMEM;
  l->n++;
  return 0;
}

/* The labels of a hostname "name.ns.svc.<suffix>": name and ns, or false. */
static bool cluster_local(sc_str_t x, sc_str_t *name, sc_str_t *ns) {
  const char *d1 = memchr(x.ptr, '.', x.len);
  if (d1 == NULL)
    return false;
  const char *rest = d1 + 1, *end = x.ptr + x.len;
  const char *d2 = memchr(rest, '.', (size_t)(end - rest));
  if (d2 == NULL || end - d2 < 6 || memcmp(d2, ".svc.", 5) != 0)
    return false;
  *name = (sc_str_t){x.ptr, (uint32_t)(d1 - x.ptr)};
  *ns = (sc_str_t){rest, (uint32_t)(d2 - rest)};
  return true;
}

static bool is_ip_literal(sc_str_t s) {
  for (uint32_t i = 0; i < s.len; i++)
    if (!((s.ptr[i] >= '0' && s.ptr[i] <= '9') || s.ptr[i] == '.' || s.ptr[i] == ':'))
      return false;
  return s.len > 0;
}

/* The domains of one hostname x . */
static int host_domains(sc_arena_t *a, sc_str_t x, sc_str_t proxy_ns, strs_t *out) {
  int rc = strs_add(a, out, "%.*s", (int)x.len, x.ptr);
  if (rc == 0 && !is_ip_literal(x))
    rc = strs_add(a, out, "%.*s.", (int)x.len, x.ptr);
  sc_str_t name, ns;
  if (rc == 0 && cluster_local(x, &name, &ns)) {
    if (sc_str_eq(ns, proxy_ns))
      rc = strs_add(a, out, "%.*s", (int)name.len, name.ptr);
    if (rc == 0)
      rc = strs_add(a, out, "%.*s.%.*s.svc", (int)name.len, name.ptr, (int)ns.len, ns.ptr);
    if (rc == 0)
      rc = strs_add(a, out, "%.*s.%.*s", (int)name.len, name.ptr, (int)ns.len, ns.ptr);
  }
  return rc;
}

/* The domains of svc's virtual host: its hostname, then its aliases, with the
 * headless wildcard forms, then its address. */
static int service_domains(sc_arena_t *a, const sc_svc_t *svc, sc_str_t proxy_ns, strs_t *out) {
  int rc = host_domains(a, svc->hostname, proxy_ns, out);
  for (uint32_t i = 0; i < svc->naliases && rc == 0; i++)
    rc = host_domains(a, svc->aliases[i].hostname, proxy_ns, out);
  if (rc == 0 && svc->registry == SC_REGISTRY_KUBERNETES && svc->resolution == SC_RES_PASSTHROUGH) {
    size_t n = out->n;
    for (size_t i = 0; i < n && rc == 0; i++)
      rc = strs_add(a, out, "*.%s", out->items[i]);
  }
  if (rc == 0 && svc->address.len > 0 && !sc_str_eqz(svc->address, "0.0.0.0")) {
    bool v6 = memchr(svc->address.ptr, ':', svc->address.len) != NULL;
    rc = strs_add(a, out, v6 ? "[%.*s]" : "%.*s", (int)svc->address.len, svc->address.ptr);
  }
  return rc;
}

/* ---- routes ------------------------------------------------------------------------------ */

static match_t *prefix_match(sc_arena_t *a, const char *prefix) {
  match_t *m = NEW(a, match_t, envoy__config__route__v3__route_match__descriptor);
  if (m != NULL) {
    m->path_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PREFIX;
    m->prefix = (char *)prefix;
  }
  return m;
}

static const char default_retry_on[] = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

/* Istio's retry policy (retry.ConvertPolicy): the default when the route says nothing,
 * none for attempts <= 0. */
static int retry_policy(sc_arena_t *a, const sc_retries_t *in, retry_t **out) {
  *out = NULL;
  if (in != NULL && in->attempts <= 0)
    return 0;
  retry_t *r = NEW(a, retry_t, envoy__config__route__v3__retry_policy__descriptor);
  Envoy__Config__Route__V3__RetryPolicy__RetryHostPredicate *p =
      NEW(a, Envoy__Config__Route__V3__RetryPolicy__RetryHostPredicate,
          envoy__config__route__v3__retry_policy__retry_host_predicate__descriptor);
  Envoy__Extensions__Retry__Host__PreviousHosts__V3__PreviousHostsPredicate *prev =
      NEW(a, Envoy__Extensions__Retry__Host__PreviousHosts__V3__PreviousHostsPredicate,
          envoy__extensions__retry__host__previous_hosts__v3__previous_hosts_predicate__descriptor);
  Envoy__Config__Route__V3__RetryPolicy__RetryHostPredicate **list = sc__arena_alloc(a, sizeof(*list));
  if (r == NULL || p == NULL || prev == NULL || list == NULL)
    return SC_ENOMEM;
  p->name = "envoy.retry_host_predicates.previous_hosts";
  p->config_type_case = ENVOY__CONFIG__ROUTE__V3__RETRY_POLICY__RETRY_HOST_PREDICATE__CONFIG_TYPE_TYPED_CONFIG;
  if ((p->typed_config = sc__xds_any(a, &prev->base)) == NULL)
    return SC_ENOMEM;
  list[0] = p;
  r->n_retry_host_predicate = 1;
  r->retry_host_predicate = list;
  r->host_selection_retry_max_attempts = 5;
  r->retry_on = (char *)default_retry_on;
  if ((r->num_retries = sc__xds_u32(a, in ? (uint32_t)in->attempts : 2)) == NULL)
    return SC_ENOMEM;
  if (in != NULL && in->retry_on.len > 0) { /* numbers are status codes */
    char *on = sc__arena_alloc(a, in->retry_on.len + sizeof(",retriable-status-codes"));
    uint32_t *codes = sc__arena_alloc(a, (in->retry_on.len + 1) * sizeof(*codes));
    if (on == NULL || codes == NULL)
      return SC_ENOMEM;
    on[0] = '\0';
    bool has_rsc = false;
    const char *p0 = in->retry_on.ptr, *end = p0 + in->retry_on.len;
    while (p0 < end) {
      const char *comma = memchr(p0, ',', (size_t)(end - p0));
      const char *e = comma ? comma : end;
      while (p0 < e && *p0 == ' ')
        p0++;
      const char *t = e;
      while (t > p0 && t[-1] == ' ')
        t--;
      bool numeric = t > p0;
      for (const char *c = p0; c < t; c++)
        numeric &= *c >= '0' && *c <= '9';
      if (numeric) {
        codes[r->n_retriable_status_codes++] = (uint32_t)strtoul(p0, NULL, 10);
      } else if (t > p0) {
        has_rsc |= (size_t)(t - p0) == strlen("retriable-status-codes") &&
                   memcmp(p0, "retriable-status-codes", (size_t)(t - p0)) == 0;
        size_t at = strlen(on);
        if (at > 0)
          on[at++] = ',';
        memcpy(on + at, p0, (size_t)(t - p0));
        on[at + (size_t)(t - p0)] = '\0';
      }
      p0 = comma ? comma + 1 : end;
    }
    if (r->n_retriable_status_codes > 0 && !has_rsc)
      strcat(on, on[0] ? ",retriable-status-codes" : "retriable-status-codes");
    r->retry_on = on;
    r->retriable_status_codes = codes;
  }
  if (in != NULL && in->per_try_timeout != SC_UNSET_I64 &&
      (r->per_try_timeout = sc__xds_duration(a, in->per_try_timeout)) == NULL)
    return SC_ENOMEM;
  if (in != NULL && in->retry_remote_localities == SC_TRI_TRUE) { /* previous priorities, every 2 */
    Envoy__Config__Route__V3__RetryPolicy__RetryPriority *rp =
        NEW(a, Envoy__Config__Route__V3__RetryPolicy__RetryPriority,
            envoy__config__route__v3__retry_policy__retry_priority__descriptor);
    Envoy__Extensions__Retry__Priority__PreviousPriorities__V3__PreviousPrioritiesConfig *pp =
        NEW(a, Envoy__Extensions__Retry__Priority__PreviousPriorities__V3__PreviousPrioritiesConfig,
            envoy__extensions__retry__priority__previous_priorities__v3__previous_priorities_config__descriptor);
    if (rp == NULL || pp == NULL)
      return SC_ENOMEM;
    pp->update_frequency = 2;
    rp->name = "envoy.retry_priorities.previous_priorities";
    rp->config_type_case = ENVOY__CONFIG__ROUTE__V3__RETRY_POLICY__RETRY_PRIORITY__CONFIG_TYPE_TYPED_CONFIG;
    if ((rp->typed_config = sc__xds_any(a, &pp->base)) == NULL)
      return SC_ENOMEM;
    r->retry_priority = rp;
  }
  *out = r;
  return 0;
}

/* A route action to one cluster with timeout 0s (none) and the given retry policy. */
static action_t *cluster_action(sc_arena_t *a, const char *cluster, int64_t timeout, const sc_retries_t *retries,
                                bool with_retries) {
  action_t *act = NEW(a, action_t, envoy__config__route__v3__route_action__descriptor);
  if (act == NULL)
    return NULL;
  act->cluster_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_CLUSTER;
  if (cluster != NULL && (act->cluster = sc__xds_str(a, sc_str(cluster))) == NULL) /* a copy: callers' buffers go */
    return NULL;
  if ((act->timeout = sc__xds_duration(a, timeout)) == NULL ||
      (act->max_grpc_timeout = sc__xds_duration(a, timeout)) == NULL)
    return NULL;
  if (with_retries && retry_policy(a, retries, &act->retry_policy) != 0)
    return NULL;
  return act;
}

static Envoy__Config__Route__V3__Decorator *decorator(sc_arena_t *a, const char *op) {
  Envoy__Config__Route__V3__Decorator *d = NEW(a, Envoy__Config__Route__V3__Decorator, envoy__config__route__v3__decorator__descriptor);
  if (d != NULL && (d->operation = sc__xds_str(a, sc_str(op))) == NULL)
    return NULL;
  return d;
}

/* The mesh's default HTTP retry policy, or NULL for Istio's. */
static const sc_retries_t *mesh_retries(const sc_mesh_config_t *mesh) {
  return mesh->has_default_http_retry_policy ? &mesh->default_http_retry_policy : NULL;
}

/* Appends a DestinationRule's consistentHash to a route action's hash policies (Istio's
 * ConsistentHashToHashPolicy): header, cookie, source IP or query parameter, the first
 * given; nothing when none is (the cluster still hashes, on nothing). */
static int hash_policy(sc_arena_t *a, const sc_load_balancer_t *lb, action_t *act) {
  typedef Envoy__Config__Route__V3__RouteAction__HashPolicy hash_t;
  if (lb == NULL || !lb->has_consistent_hash)
    return 0;
  hash_t *h = NEW(a, hash_t, envoy__config__route__v3__route_action__hash_policy__descriptor);
  hash_t **list = sc__arena_alloc(a, (act->n_hash_policy + 1) * sizeof(*list));
  if (h == NULL || list == NULL)
    return SC_ENOMEM;
  if (lb->hash_http_header_name.len > 0) {
    Envoy__Config__Route__V3__RouteAction__HashPolicy__Header *x =
        NEW(a, Envoy__Config__Route__V3__RouteAction__HashPolicy__Header,
            envoy__config__route__v3__route_action__hash_policy__header__descriptor);
    if (x == NULL || (x->header_name = sc__xds_str(a, lb->hash_http_header_name)) == NULL)
      return SC_ENOMEM;
    h->policy_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__POLICY_SPECIFIER_HEADER;
    h->header = x;
  } else if (lb->hash_http_cookie_name.len > 0) {
    Envoy__Config__Route__V3__RouteAction__HashPolicy__Cookie *x =
        NEW(a, Envoy__Config__Route__V3__RouteAction__HashPolicy__Cookie,
            envoy__config__route__v3__route_action__hash_policy__cookie__descriptor);
    if (x == NULL || (x->name = sc__xds_str(a, lb->hash_http_cookie_name)) == NULL ||
        (x->path = sc__xds_str(a, lb->hash_http_cookie_path)) == NULL)
      return SC_ENOMEM;
    if (lb->hash_http_cookie_ttl != SC_UNSET_I64 && (x->ttl = sc__xds_duration(a, lb->hash_http_cookie_ttl)) == NULL)
      return SC_ENOMEM;
    h->policy_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__POLICY_SPECIFIER_COOKIE;
    h->cookie = x;
  } else if (lb->hash_use_source_ip) {
    Envoy__Config__Route__V3__RouteAction__HashPolicy__ConnectionProperties *x =
        NEW(a, Envoy__Config__Route__V3__RouteAction__HashPolicy__ConnectionProperties,
            envoy__config__route__v3__route_action__hash_policy__connection_properties__descriptor);
    if (x == NULL)
      return SC_ENOMEM;
    x->source_ip = true;
    h->policy_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__POLICY_SPECIFIER_CONNECTION_PROPERTIES;
    h->connection_properties = x;
  } else if (lb->hash_query_parameter_name.len > 0) {
    Envoy__Config__Route__V3__RouteAction__HashPolicy__QueryParameter *x =
        NEW(a, Envoy__Config__Route__V3__RouteAction__HashPolicy__QueryParameter,
            envoy__config__route__v3__route_action__hash_policy__query_parameter__descriptor);
    if (x == NULL || (x->name = sc__xds_str(a, lb->hash_query_parameter_name)) == NULL)
      return SC_ENOMEM;
    h->policy_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__POLICY_SPECIFIER_QUERY_PARAMETER;
    h->query_parameter = x;
  } else {
    return 0;
  }
  for (size_t i = 0; i < act->n_hash_policy; i++)
    list[i] = act->hash_policy[i];
  list[act->n_hash_policy++] = h;
  act->hash_policy = list;
  return 0;
}

/* The consolidated rule without selector the scope found for svc (what its "clusters"
 * are built from, publish/render.c), or NULL. */
const sc_cdr_t *sc__rds_service_rule(const sc_scope_t *s, const sc_svc_t *svc) {
  uint32_t lo = 0, hi = s->services.n;
  while (lo < hi) { /* services are sorted by hostname */
    uint32_t mid = lo + (hi - lo) / 2;
    const sc_svc_t *m = s->services.items[mid];
    size_t n = m->hostname.len < svc->hostname.len ? m->hostname.len : svc->hostname.len;
    int cmp = memcmp(m->hostname.ptr, svc->hostname.ptr, n);
    if (cmp == 0)
      cmp = m->hostname.len < svc->hostname.len ? -1 : m->hostname.len > svc->hostname.len;
    if (cmp == 0) {
      const sc_vec_t *list = s->drs ? s->drs[mid] : NULL;
      const sc_cdr_t *rule = NULL;
      for (uint32_t j = 0; list && j < list->n; j++)
        if (((const sc_cdr_t *)list->items[j])->selector == NULL)
          rule = list->items[j];
      return rule;
    }
    if (cmp < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* The consistentHash of the default route to port of a service with this rule (Istio's
 * hashForService): the rule's, or its port-level setting's for the port when that has
 * one. */
static const sc_load_balancer_t *service_hash(const sc_cdr_t *rule, uint32_t port) {
  const sc_traffic_policy_t *tp = rule ? rule->traffic_policy : NULL;
  if (tp == NULL)
    return NULL;
  const sc_load_balancer_t *lb = tp->policy.has_load_balancer ? &tp->policy.load_balancer : NULL;
  for (uint32_t i = 0; i < tp->nport_level; i++)
    if (tp->port_level[i].port == port) {
      const sc_policy_blocks_t *b = &tp->port_level[i].policy;
      if (b->has_load_balancer && b->load_balancer.has_consistent_hash)
        lb = &b->load_balancer;
      break;
    }
  return lb;
}

/* The default route to a service's cluster. */
static route_t *default_route(sc_arena_t *a, const char *cluster, const char *hostname, uint32_t port,
                              const sc_mesh_config_t *mesh) {
  route_t *r = NEW(a, route_t, envoy__config__route__v3__route__descriptor);
  char op[1100];
  snprintf(op, sizeof(op), "%s:%u/*", hostname, port);
  if (r == NULL || (r->match = prefix_match(a, "/")) == NULL ||
      (r->route = cluster_action(a, cluster, 0, mesh_retries(mesh), true)) == NULL ||
      (r->decorator = decorator(a, op)) == NULL)
    return NULL;
  r->name = "default";
  r->action_case = ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_ROUTE;
  return r;
}

static vhost_t *new_vhost(sc_arena_t *a, const char *name, const strs_t *domains, route_t **routes, size_t nroutes) {
  vhost_t *v = NEW(a, vhost_t, envoy__config__route__v3__virtual_host__descriptor);
  if (v == NULL || (v->name = sc__xds_str(a, sc_str(name))) == NULL)
    return NULL;
  v->domains = domains->items;
  v->n_domains = domains->n;
  v->routes = routes;
  v->n_routes = nroutes;
  return v;
}

int sc__rds_catch_all(const sc_scope_t *s, sc_resources_t *out) {
  sc_arena_t *a = sc__arena_new(1024);
  if (a == NULL)
    return SC_ENOMEM;
  bool allow = s->outbound_mode != SC_OUTBOUND_REGISTRY_ONLY;
  const char *name = allow ? "allow_any" : "block_all";
  static char *star[] = {"*"};
  strs_t domains = {star, 1, 1};
  route_t *r = NEW(a, route_t, envoy__config__route__v3__route__descriptor);
  route_t **routes = sc__arena_alloc(a, sizeof(*routes));
  vhost_t *v = NULL;
  int rc = r && routes && (r->match = prefix_match(a, "/")) ? 0 : SC_ENOMEM;
  if (rc == 0) {
    r->name = (char *)name;
    routes[0] = r;
    if (allow) {
      char cluster[1200] = "PassthroughCluster";
      if (s->egress_proxy != NULL)
        snprintf(cluster, sizeof(cluster), "outbound|%u|%s|%s", s->egress_proxy->port, s->egress_proxy->subset.ptr,
                 s->egress_proxy->host.ptr);
      r->action_case = ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_ROUTE;
      if ((r->route = cluster_action(a, cluster, 0, NULL, false)) == NULL)
        rc = SC_ENOMEM;
    } else {
      r->action_case = ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_DIRECT_RESPONSE;
      if ((r->direct_response = NEW(a, Envoy__Config__Route__V3__DirectResponseAction,
                                    envoy__config__route__v3__direct_response_action__descriptor)) == NULL)
        rc = SC_ENOMEM;
      else
        r->direct_response->status = 502;
    }
  }
  if (rc == 0 && (v = new_vhost(a, name, &domains, routes, 1)) == NULL)
    rc = SC_ENOMEM;
  if (rc == 0)
    rc = sc__resources_add(out, name, &v->base);
  sc__arena_del(a);
  return rc;
}

/* ---- VirtualServices -------------------------------------------------------------- */

/* A RE2 matcher of regex (borrowed). */
static Envoy__Type__Matcher__V3__RegexMatcher *regex_matcher(sc_arena_t *a, char *regex) {
  Envoy__Type__Matcher__V3__RegexMatcher *r =
      NEW(a, Envoy__Type__Matcher__V3__RegexMatcher, envoy__type__matcher__v3__regex_matcher__descriptor);
  if (r != NULL)
    r->regex = regex;
  return r;
}

static string_matcher_t *string_matcher(sc_arena_t *a, const sc_string_match_t *m) {
  string_matcher_t *s = NEW(a, string_matcher_t, envoy__type__matcher__v3__string_matcher__descriptor);
  char *v = sc__xds_str(a, m->value);
  if (s == NULL || v == NULL)
    return NULL;
  switch (m->kind) {
  case SC_MATCH_PREFIX:
    s->match_pattern_case = ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_PREFIX;
    s->prefix = v;
    break;
  case SC_MATCH_REGEX:
    s->match_pattern_case = ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_SAFE_REGEX;
    if ((s->safe_regex = regex_matcher(a, v)) == NULL)
      return NULL;
    break;
  default:
    s->match_pattern_case = ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_EXACT;
    s->exact = v;
  }
  return s;
}

/* A header matcher; an empty match is a presence match. */
static header_t *header(sc_arena_t *a, const char *name, const sc_string_match_t *m, bool invert) {
  header_t *h = NEW(a, header_t, envoy__config__route__v3__header_matcher__descriptor);
  if (h == NULL || (h->name = sc__xds_str(a, sc_str(name))) == NULL)
    return NULL;
  h->invert_match = invert;
  if (m->kind == SC_MATCH_NONE) {
    h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_PRESENT_MATCH;
    h->present_match = true;
  } else {
    h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_STRING_MATCH;
    if ((h->string_match = string_matcher(a, m)) == NULL)
      return NULL;
  }
  return h;
}

static match_t *route_match(sc_arena_t *a, const sc_http_match_t *in) {
  match_t *m = NEW(a, match_t, envoy__config__route__v3__route_match__descriptor);
  if (m == NULL)
    return NULL;
  char *uri = sc__xds_str(a, in->uri.value);
  if (uri == NULL)
    return NULL;
  switch (in->uri.kind) {
  case SC_MATCH_EXACT:
    m->path_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PATH;
    m->path = uri;
    break;
  case SC_MATCH_REGEX:
    m->path_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_SAFE_REGEX;
    if ((m->safe_regex = regex_matcher(a, uri)) == NULL)
      return NULL;
    break;
  case SC_MATCH_PREFIX:
    m->path_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PREFIX;
    m->prefix = uri;
    break;
  default:
    m->path_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PREFIX;
    m->prefix = "/";
  }
  Google__Protobuf__BoolValue *cs = NEW(a, Google__Protobuf__BoolValue, google__protobuf__bool_value__descriptor);
  size_t nh = in->headers.n + in->without_headers.n + 3;
  header_t **hs = sc__arena_alloc(a, nh * sizeof(*hs));
  if (cs == NULL || hs == NULL)
    return NULL;
  cs->value = !in->ignore_uri_case;
  m->case_sensitive = cs;
  m->headers = hs;
  for (uint32_t i = 0; i < in->headers.n; i++)
    if ((hs[m->n_headers++] = header(a, in->headers.items[i].name.ptr, &in->headers.items[i].match, false)) == NULL)
      return NULL;
  const struct {
    const char *name;
    const sc_string_match_t *m;
  } pseudo[] = {{":method", &in->method}, {":authority", &in->authority}, {":scheme", &in->scheme}};
  for (size_t i = 0; i < 3; i++)
    if (pseudo[i].m->kind != SC_MATCH_NONE && (hs[m->n_headers++] = header(a, pseudo[i].name, pseudo[i].m, false)) == NULL)
      return NULL;
  for (uint32_t i = 0; i < in->without_headers.n; i++)
    if ((hs[m->n_headers++] = header(a, in->without_headers.items[i].name.ptr, &in->without_headers.items[i].match, true)) == NULL)
      return NULL;
  if (in->query_params.n > 0) {
    typedef Envoy__Config__Route__V3__QueryParameterMatcher qp_t;
    qp_t **qs = sc__arena_alloc(a, in->query_params.n * sizeof(*qs));
    if (qs == NULL)
      return NULL;
    m->query_parameters = qs;
    for (uint32_t i = 0; i < in->query_params.n; i++) {
      const sc_keyed_match_t *k = &in->query_params.items[i];
      qp_t *q = NEW(a, qp_t, envoy__config__route__v3__query_parameter_matcher__descriptor);
      if (q == NULL || (q->name = sc__xds_str(a, k->name)) == NULL)
        return NULL;
      if (k->match.kind == SC_MATCH_NONE) {
        q->query_parameter_match_specifier_case =
            ENVOY__CONFIG__ROUTE__V3__QUERY_PARAMETER_MATCHER__QUERY_PARAMETER_MATCH_SPECIFIER_PRESENT_MATCH;
        q->present_match = true;
      } else {
        q->query_parameter_match_specifier_case =
            ENVOY__CONFIG__ROUTE__V3__QUERY_PARAMETER_MATCHER__QUERY_PARAMETER_MATCH_SPECIFIER_STRING_MATCH;
        if ((q->string_match = string_matcher(a, &k->match)) == NULL)
          return NULL;
      }
      qs[m->n_query_parameters++] = q;
    }
  }
  return m;
}

/* Whether a match applies to a proxy of this scope on port, carrying labels
 * (NULL: none of any match's sourceLabels). */
static bool match_applies(const sc_http_match_t *m, uint32_t port, sc_str_t proxy_ns, const sc_labels_t *labels) {
  if (m->port != 0 && m->port != port)
    return false;
  if (m->gateways.n > 0)
    return sc_strlist_hasz(&m->gateways, "mesh");
  return (m->source_labels.n == 0 || (labels != NULL && sc_labels_within(&m->source_labels, labels))) &&
         (m->source_namespace.len == 0 || sc_str_eq(m->source_namespace, proxy_ns));
}

static bool catch_all_match(const sc_http_match_t *m) {
  return (m->uri.kind == SC_MATCH_NONE || (m->uri.kind == SC_MATCH_PREFIX && sc_str_eqz(m->uri.value, "/"))) &&
         m->headers.n == 0 && m->without_headers.n == 0 && m->query_params.n == 0 && m->method.kind == SC_MATCH_NONE &&
         m->authority.kind == SC_MATCH_NONE && m->scheme.kind == SC_MATCH_NONE && m->source_labels.n == 0;
}

/* The record a destination host names: the oldest. (Istio reads the record the proxy's
 * listener holds; they differ only for a hostname with records in several namespaces and
 * different port counts, and keeping this independent of the proxy's namespace keeps
 * routes shareable between scopes.) Its key is recorded: a change of it must reach
 * whoever routed to it. */
static const sc_svc_t *destination_record(const sc_rds_ctx_t *c, sc_str_t host) {
  static const sc_str_t none = {"", 0};
  if (c->keys != NULL && sc__deps_keys_add(c->keys, sc__deps_key(SC_DEP_SVC_HOST, host, none)) != 0)
    c->oom[0] = true;
  const sc_vec_t *recs = sc__world_services_by_host(c->w, host);
  return recs && recs->n ? recs->items[0] : NULL;
}

/* The cluster of a destination: its port, else the service's only port, else the
 * listener's; an alias destination goes to its ExternalName target. */
static char *destination_cluster(sc_arena_t *a, const sc_rds_ctx_t *c, const sc_destination_t *d, uint32_t port) {
  const sc_svc_t *svc = destination_record(c, d->host);
  sc_str_t host = d->host;
  if (svc != NULL && svc->resolution == SC_RES_ALIAS && svc->external_name.len > 0)
    host = svc->external_name;
  uint32_t p = d->port ? d->port : (svc != NULL && svc->nports == 1 ? svc->ports[0].port : port);
  char buf[1200];
  snprintf(buf, sizeof(buf), "outbound|%u|%.*s|%.*s", p, (int)d->subset.len, d->subset.ptr, (int)host.len, host.ptr);
  return sc__xds_str(a, sc_str(buf));
}

static void route_key(const sc_rds_ctx_t *c, sc_dep_kind_t kind, sc_str_t a, sc_str_t b) {
  if (c->keys != NULL && sc__deps_keys_add(c->keys, sc__deps_key(kind, a, b)) != 0)
    c->oom[0] = true;
}

static bool exported_to(const sc_cdr_t *cdr, sc_str_t n) {
  for (uint32_t i = 0; i < cdr->export_to.n; i++)
    if (sc_str_eqz(cdr->export_to.items[i], "*") || sc_str_eq(cdr->export_to.items[i], n))
      return true;
  return cdr->export_to.n == 0;
}

/* The last rule without selector of a list, exported to n when exported is set. */
static const sc_cdr_t *catch_all_rule(const sc_vec_t *list, bool exported, sc_str_t n) {
  const sc_cdr_t *rule = NULL;
  bool any = false;
  for (uint32_t i = 0; list && i < list->n; i++) {
    const sc_cdr_t *r = list->items[i];
    if (exported && !exported_to(r, n))
      continue;
    any = true;
    if (r->selector == NULL)
      rule = r;
  }
  return any ? rule : (const sc_cdr_t *)-1; /* -1: none found here, look further */
}

/* The rule without selector a proxy of the scope's namespace gets for a destination host
 * (the lookup of scope/scope.c: the namespace's local index, else the exported rules of
 * the destination's namespace, else the root's), recording the keys of every index
 * consulted, as scope/scope.c records them for a service. */
static const sc_cdr_t *destination_rule(const sc_rds_ctx_t *c, const sc_svc_t *svc, sc_str_t host) {
  static const sc_str_t none = {"", 0};
  const sc_world_t *w = c->w;
  sc_str_t n = c->s->namespace_;
  bool root = sc_str_eq(n, w->root_ns);
  route_key(c, root ? SC_DEP_DR_ROOT_HOST : SC_DEP_DR_LOCAL_HOST, root ? host : n, root ? none : host);
  route_key(c, root ? SC_DEP_DR_ROOT_WILD : SC_DEP_DR_LOCAL_WILD, root ? none : n, none);
  route_key(c, SC_DEP_DR_EXP_HOST, svc->namespace_, host);
  route_key(c, SC_DEP_DR_EXP_WILD, svc->namespace_, none);
  route_key(c, SC_DEP_DR_EXP_HOST, w->root_ns, host);
  route_key(c, SC_DEP_DR_EXP_WILD, w->root_ns, none);
  const sc_vec_t *m = root ? sc__world_dr_index_lookup(w->dr_root_local, host)
                           : sc__world_dr_index_lookup(sc__world_dr_index(&w->dr_local, n), host);
  if (m != NULL && m->n > 0)
    return catch_all_rule(m, false, n);
  const sc_cdr_t *r = catch_all_rule(sc__world_dr_index_lookup(sc__world_dr_index(&w->dr_exported, svc->namespace_), host), true, n);
  if (r == (const sc_cdr_t *)-1)
    r = catch_all_rule(sc__world_dr_index_lookup(sc__world_dr_index(&w->dr_exported, w->root_ns), host), true, n);
  return r == (const sc_cdr_t *)-1 ? NULL : r;
}

/* A policy block's consistentHash load balancer, or NULL. */
static const sc_load_balancer_t *block_hash(const sc_policy_blocks_t *b) {
  return b->has_load_balancer && b->load_balancer.has_consistent_hash ? &b->load_balancer : NULL;
}

/* The consistentHash of the first port-level setting for port (0: none looked for). */
static const sc_load_balancer_t *port_level_hash(const sc_traffic_policy_t *tp, uint32_t port) {
  for (uint32_t i = 0; tp && port && i < tp->nport_level; i++)
    if (tp->port_level[i].port == port)
      return block_hash(&tp->port_level[i].policy);
  return NULL;
}

/* The consistentHash of a route destination (Istio's HashForHTTPDestination): the
 * subset's port-level setting for the destination's port, else the subset's, else the
 * rule's port-level setting, else the rule's; NULL when none. The rule is looked up for
 * the destination's oldest record, as its cluster is (destination_record). */
static const sc_load_balancer_t *destination_hash(const sc_rds_ctx_t *c, const sc_destination_t *d) {
  const sc_svc_t *svc = destination_record(c, d->host);
  const sc_cdr_t *rule = svc ? destination_rule(c, svc, d->host) : NULL;
  if (rule == NULL)
    return NULL;
  const sc_traffic_policy_t *tp = rule->traffic_policy;
  const sc_load_balancer_t *top = tp ? block_hash(&tp->policy) : NULL, *pls = port_level_hash(tp, d->port);
  const sc_load_balancer_t *sub = NULL, *sub_pls = NULL;
  for (uint32_t i = 0; i < rule->subsets.n; i++) {
    const sc_subset_t *ss = rule->subsets.items[i];
    if (!sc_str_eq(ss->name, d->subset))
      continue;
    if (ss->has_traffic_policy) {
      sub = block_hash(&ss->traffic_policy.policy);
      sub_pls = port_level_hash(&ss->traffic_policy, d->port);
    }
    break;
  }
  return sub_pls ? sub_pls : sub ? sub : pls ? pls : top;
}

/* The operation of a route's decorator: host:port + path of its single cluster, else the
 * VirtualService's name. */
static int set_decorator(sc_arena_t *a, route_t *r, const char *cluster, sc_str_t vs_name, uint32_t port) {
  char path[1100] = "/*";
  const match_t *m = r->match;
  if (m->path_specifier_case == ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PREFIX)
    snprintf(path, sizeof(path), "%s*", m->prefix);
  else if (m->path_specifier_case == ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PATH)
    snprintf(path, sizeof(path), "%s", m->path);
  else if (m->path_specifier_case == ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_SAFE_REGEX)
    snprintf(path, sizeof(path), "%s", m->safe_regex->regex);
  char op[2400];
  const char *p1 = cluster ? strchr(cluster, '|') : NULL;                 /* |port|subset|host */
  const char *p3 = p1 ? strchr(strchr(p1 + 1, '|') + 1, '|') : NULL;     /* |host */
  if (p3 != NULL)
    snprintf(op, sizeof(op), "%s:%u%s", p3 + 1, (unsigned)strtoul(p1 + 1, NULL, 10), path);
  else
    snprintf(op, sizeof(op), "%.*s:%u%s", (int)vs_name.len, vs_name.ptr, port, path);
  return (r->decorator = decorator(a, op)) ? 0 : SC_ENOMEM;
}

/* A percentage as Envoy's fraction: millionths (Istio's translatePercentToFractionalPercent);
 * absent: 0 hundredths for a delay (the deprecated integer percent), none for an abort. */
static Envoy__Type__V3__FractionalPercent *fraction(sc_arena_t *a, double pct, bool absent_is_zero, bool *ok) {
  *ok = true;
  if (pct == SC_UNSET_DBL && !absent_is_zero)
    return NULL;
  Envoy__Type__V3__FractionalPercent *f = NEW(a, Envoy__Type__V3__FractionalPercent, envoy__type__v3__fractional_percent__descriptor);
  if (f == NULL) {
    *ok = false;
    return NULL;
  }
  if (pct == SC_UNSET_DBL) {
    f->denominator = ENVOY__TYPE__V3__FRACTIONAL_PERCENT__DENOMINATOR_TYPE__HUNDRED;
  } else {
    f->numerator = (uint32_t)(pct * 10000);
    f->denominator = ENVOY__TYPE__V3__FRACTIONAL_PERCENT__DENOMINATOR_TYPE__MILLION;
  }
  return f;
}

/* gRPC status names to codes (Istio's grpc.SupportedGRPCStatus). */
static int grpc_code(sc_str_t name) {
  static const char *const names[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                                      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
                                      "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
    if (sc_str_eqz(name, names[i]))
      return i;
  return -1;
}

/* The route's fault injection (Istio's TranslateFault) as its per-filter config for
 * envoy.filters.http.fault; nothing when neither a fixed delay nor an abort is given. */
static int route_fault(sc_arena_t *a, const sc_fault_t *in, route_t *r) {
  typedef Envoy__Extensions__Filters__Http__Fault__V3__HTTPFault fault_t;
  fault_t *f = NEW(a, fault_t, envoy__extensions__filters__http__fault__v3__httpfault__descriptor);
  if (f == NULL)
    return SC_ENOMEM;
  bool ok = true;
  if (in->has_delay) {
    Envoy__Extensions__Filters__Common__Fault__V3__FaultDelay *d = NEW(
        a, Envoy__Extensions__Filters__Common__Fault__V3__FaultDelay, envoy__extensions__filters__common__fault__v3__fault_delay__descriptor);
    if (d == NULL || (d->fixed_delay = sc__xds_duration(a, in->fixed_delay)) == NULL)
      return SC_ENOMEM;
    d->fault_delay_secifier_case = ENVOY__EXTENSIONS__FILTERS__COMMON__FAULT__V3__FAULT_DELAY__FAULT_DELAY_SECIFIER_FIXED_DELAY;
    d->percentage = fraction(a, in->delay_percentage, true, &ok);
    f->delay = d;
  }
  if (in->has_abort && ok) {
    Envoy__Extensions__Filters__Http__Fault__V3__FaultAbort *ab = NEW(
        a, Envoy__Extensions__Filters__Http__Fault__V3__FaultAbort, envoy__extensions__filters__http__fault__v3__fault_abort__descriptor);
    if (ab == NULL)
      return SC_ENOMEM;
    ab->percentage = fraction(a, in->abort_percentage, false, &ok);
    int code = in->grpc_status.len ? grpc_code(in->grpc_status) : -1;
    if (in->http_status != 0) {
      ab->error_type_case = ENVOY__EXTENSIONS__FILTERS__HTTP__FAULT__V3__FAULT_ABORT__ERROR_TYPE_HTTP_STATUS;
      ab->http_status = in->http_status;
      f->abort = ab;
    } else if (code >= 0) {
      ab->error_type_case = ENVOY__EXTENSIONS__FILTERS__HTTP__FAULT__V3__FAULT_ABORT__ERROR_TYPE_GRPC_STATUS;
      ab->grpc_status = (uint32_t)code;
      f->abort = ab;
    }
  }
  if (!ok)
    return SC_ENOMEM;
  if (f->delay == NULL && f->abort == NULL)
    return 0;
  Envoy__Config__Route__V3__Route__TypedPerFilterConfigEntry *e = NEW(
      a, Envoy__Config__Route__V3__Route__TypedPerFilterConfigEntry,
      envoy__config__route__v3__route__typed_per_filter_config_entry__descriptor);
  Envoy__Config__Route__V3__Route__TypedPerFilterConfigEntry **list = sc__arena_alloc(a, sizeof(*list));
  if (e == NULL || list == NULL || (e->value = sc__xds_any(a, &f->base)) == NULL)
    return SC_ENOMEM;
  e->key = "envoy.filters.http.fault";
  list[0] = e;
  r->typed_per_filter_config = list;
  r->n_typed_per_filter_config = 1;
  return 0;
}

/* A VirtualService redirect (Istio's ApplyRedirect, for a plain-text sidecar port): the
 * path as the prefix rewrite, else the URI (set even when empty); the port given, or the
 * listener's for derivePort FROM_REQUEST_PORT, left out when it is the scheme's default. */
static int redirect_action(sc_arena_t *a, const sc_http_route_t *h, uint32_t listener_port, route_t *r) {
  typedef Envoy__Config__Route__V3__RedirectAction redirect_t;
  const sc_redirect_t *in = &h->redirect;
  redirect_t *rd = NEW(a, redirect_t, envoy__config__route__v3__redirect_action__descriptor);
  if (rd == NULL || (rd->host_redirect = sc__xds_str(a, in->authority)) == NULL)
    return SC_ENOMEM;
  if (in->prefix_rewrite.len > 0) {
    rd->path_rewrite_specifier_case = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__PATH_REWRITE_SPECIFIER_PREFIX_REWRITE;
    if ((rd->prefix_rewrite = sc__xds_str(a, in->prefix_rewrite)) == NULL)
      return SC_ENOMEM;
  } else {
    rd->path_rewrite_specifier_case = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__PATH_REWRITE_SPECIFIER_PATH_REDIRECT;
    if ((rd->path_redirect = sc__xds_str(a, in->uri)) == NULL)
      return SC_ENOMEM;
  }
  if (in->scheme.len > 0) {
    rd->scheme_rewrite_specifier_case = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__SCHEME_REWRITE_SPECIFIER_SCHEME_REDIRECT;
    if ((rd->scheme_redirect = sc__xds_str(a, in->scheme)) == NULL)
      return SC_ENOMEM;
  }
  if (in->port != 0 || in->has_derive_port) {
    rd->port_redirect = in->port != 0 ? in->port
                        : in->derive_port == SC_DERIVE_FROM_REQUEST_PORT ? listener_port : 0;
    bool https = in->scheme.len > 0 && sc_str_eqz(in->scheme, "https");
    bool http = in->scheme.len == 0 || sc_str_eqz(in->scheme, "http");
    if ((rd->port_redirect == 80 && http) || (rd->port_redirect == 443 && https))
      rd->port_redirect = 0;
  }
  switch (h->redirect.redirect_code) {
  case 302: rd->response_code = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__REDIRECT_RESPONSE_CODE__FOUND; break;
  case 303: rd->response_code = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__REDIRECT_RESPONSE_CODE__SEE_OTHER; break;
  case 307: rd->response_code = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__REDIRECT_RESPONSE_CODE__TEMPORARY_REDIRECT; break;
  case 308: rd->response_code = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__REDIRECT_RESPONSE_CODE__PERMANENT_REDIRECT; break;
  default: rd->response_code = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__REDIRECT_RESPONSE_CODE__MOVED_PERMANENTLY;
  }
  r->action_case = ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_REDIRECT;
  r->redirect = rd;
  return 0;
}

/* A VirtualService directResponse. */
static int direct_response_action(sc_arena_t *a, const sc_http_route_t *h, route_t *r) {
  typedef Envoy__Config__Route__V3__DirectResponseAction direct_t;
  direct_t *d = NEW(a, direct_t, envoy__config__route__v3__direct_response_action__descriptor);
  if (d == NULL)
    return SC_ENOMEM;
  d->status = h->direct_response.status;
  if (h->direct_response.body.len > 0) {
    Envoy__Config__Core__V3__DataSource *body =
        NEW(a, Envoy__Config__Core__V3__DataSource, envoy__config__core__v3__data_source__descriptor);
    if (body == NULL || (body->inline_string = sc__xds_str(a, h->direct_response.body)) == NULL)
      return SC_ENOMEM;
    body->specifier_case = ENVOY__CONFIG__CORE__V3__DATA_SOURCE__SPECIFIER_INLINE_STRING;
    d->body = body;
  }
  r->action_case = ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_DIRECT_RESPONSE;
  r->direct_response = d;
  return 0;
}

/* ---- header operations (Istio's TranslateHeadersOperations) ---- */

typedef Envoy__Config__Core__V3__HeaderValueOption hvo_t;

typedef struct {
  hvo_t **req_add, **resp_add;
  size_t n_req_add, n_resp_add;
  char **req_remove, **resp_remove;
  size_t n_req_remove, n_resp_remove;
  sc_str_t authority; /* a set (else added) ":authority" or "host": a host rewrite */
} header_ops_t;

static bool ieq(sc_str_t s, const char *z) {
  size_t n = strlen(z);
  if (s.len != n)
    return false;
  for (size_t i = 0; i < n; i++)
    if ((s.ptr[i] | 0x20) != (z[i] | 0x20))
      return false;
  return true;
}

/* Headers Envoy cannot change: pseudo-headers and host. */
static bool internal_header(sc_str_t k) {
  return (k.len > 0 && k.ptr[0] == ':') || ieq(k, "host");
}

/* Appends a set or add map to *list, sorted by name (translateAppendHeaders): set
 * overwrites, add appends; internal headers are left out, the authority noted. */
static int append_headers(sc_arena_t *a, const sc_labels_t *m, bool append, hvo_t ***list, size_t *n,
                          sc_str_t *authority) {
  if (m->n == 0)
    return 0;
  hvo_t **out = sc__arena_alloc(a, (*n + m->n) * sizeof(*out));
  uint32_t *order = sc__arena_alloc(a, m->n * sizeof(*order));
  if (out == NULL || order == NULL)
    return SC_ENOMEM;
  for (size_t i = 0; i < *n; i++)
    out[i] = (*list)[i];
  for (uint32_t i = 0; i < m->n; i++) { /* stable insertion sort by key */
    uint32_t j = i;
    for (; j > 0; j--) {
      sc_str_t p = m->items[order[j - 1]].key, k = m->items[i].key;
      size_t l = p.len < k.len ? p.len : k.len;
      int cmp = memcmp(p.ptr, k.ptr, l);
      if (cmp < 0 || (cmp == 0 && p.len <= k.len))
        break;
      order[j] = order[j - 1];
    }
    order[j] = i;
  }
  for (uint32_t i = 0; i < m->n; i++) {
    const sc_label_t *l = &m->items[order[i]];
    if (ieq(l->key, ":authority") || ieq(l->key, "host"))
      *authority = l->value;
    if (internal_header(l->key))
      continue;
    hvo_t *o = NEW(a, hvo_t, envoy__config__core__v3__header_value_option__descriptor);
    Envoy__Config__Core__V3__HeaderValue *hv =
        NEW(a, Envoy__Config__Core__V3__HeaderValue, envoy__config__core__v3__header_value__descriptor);
    if (o == NULL || hv == NULL || (hv->key = sc__xds_str(a, l->key)) == NULL ||
        (hv->value = sc__xds_str(a, l->value)) == NULL)
      return SC_ENOMEM;
    o->header = hv;
    o->append_action = append ? ENVOY__CONFIG__CORE__V3__HEADER_VALUE_OPTION__HEADER_APPEND_ACTION__APPEND_IF_EXISTS_OR_ADD
                              : ENVOY__CONFIG__CORE__V3__HEADER_VALUE_OPTION__HEADER_APPEND_ACTION__OVERWRITE_IF_EXISTS_OR_ADD;
    out[(*n)++] = o;
  }
  *list = out;
  return 0;
}

/* Appends the names of a remove list to *list, internal headers left out. */
static int remove_headers(sc_arena_t *a, const sc_strlist_t *names, char ***list, size_t *n) {
  if (names->n == 0)
    return 0;
  char **out = sc__arena_alloc(a, (*n + names->n) * sizeof(*out));
  if (out == NULL)
    return SC_ENOMEM;
  for (size_t i = 0; i < *n; i++)
    out[i] = (*list)[i];
  for (uint32_t i = 0; i < names->n; i++)
    if (!internal_header(names->items[i]) && (out[(*n)++] = sc__xds_str(a, names->items[i])) == NULL)
      return SC_ENOMEM;
  *list = out;
  return 0;
}

/* Appends the operations of a headers block to ops. */
static int header_ops(sc_arena_t *a, const sc_headers_t *h, header_ops_t *ops) {
  sc_str_t set_auth = {"", 0}, add_auth = {"", 0}, ignored = {"", 0};
  int rc = append_headers(a, &h->request.set, false, &ops->req_add, &ops->n_req_add, &set_auth);
  if (rc == 0)
    rc = append_headers(a, &h->request.add, true, &ops->req_add, &ops->n_req_add, &add_auth);
  if (rc == 0)
    rc = append_headers(a, &h->response.set, false, &ops->resp_add, &ops->n_resp_add, &ignored);
  if (rc == 0)
    rc = append_headers(a, &h->response.add, true, &ops->resp_add, &ops->n_resp_add, &ignored);
  if (rc == 0)
    rc = remove_headers(a, &h->request.remove, &ops->req_remove, &ops->n_req_remove);
  if (rc == 0)
    rc = remove_headers(a, &h->response.remove, &ops->resp_remove, &ops->n_resp_remove);
  ops->authority = set_auth.len ? set_auth : add_auth;
  return rc;
}

static void route_headers(route_t *r, const header_ops_t *o) {
  r->request_headers_to_add = o->req_add, r->n_request_headers_to_add = o->n_req_add;
  r->response_headers_to_add = o->resp_add, r->n_response_headers_to_add = o->n_resp_add;
  r->request_headers_to_remove = o->req_remove, r->n_request_headers_to_remove = o->n_req_remove;
  r->response_headers_to_remove = o->resp_remove, r->n_response_headers_to_remove = o->n_resp_remove;
}

static void set_host_rewrite(action_t *act, sc_str_t authority, sc_arena_t *a, bool *oom) {
  if (authority.len == 0 || act->host_rewrite_specifier_case != ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HOST_REWRITE_SPECIFIER__NOT_SET)
    return;
  if ((act->host_rewrite_literal = sc__xds_str(a, authority)) == NULL)
    *oom = true;
  act->host_rewrite_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HOST_REWRITE_SPECIFIER_HOST_REWRITE_LITERAL;
}

/* The route's destinations: one cluster (*single names it), or weighted clusters. */
static int route_destinations(sc_arena_t *a, const sc_rds_ctx_t *c, const sc_http_route_t *h,
                              uint32_t port, action_t *act, const char **single, header_ops_t *ops,
                              sc_str_t *dest_authority) {
  uint32_t live = 0;
  for (uint32_t i = 0; i < h->nroute; i++)
    live += h->nroute == 1 || h->route[i].weight > 0;
  if (live <= 1) { /* (cluster and weighted_clusters share a union: set one only) */
    for (uint32_t i = 0; i < h->nroute && act->cluster == NULL; i++)
      if (h->nroute == 1 || h->route[i].weight > 0) {
        act->cluster = destination_cluster(a, c, &h->route[i].destination, port);
        const sc_load_balancer_t *lb = destination_hash(c, &h->route[i].destination);
        if (act->cluster != NULL && hash_policy(a, lb, act) != 0)
          return SC_ENOMEM;
        header_ops_t before = *ops; /* (the destination's authority only) */
        if (header_ops(a, &h->route[i].headers, ops) != 0)
          return SC_ENOMEM;
        *dest_authority = ops->authority;
        ops->authority = before.authority;
        if (lb != NULL && h->nroute == 1 && act->retry_policy != NULL) {
          /* Istio's ConvertPolicy for a hashed destination: retries stay on the host */
          act->retry_policy->n_retry_host_predicate = 0;
          act->retry_policy->retry_host_predicate = NULL;
        }
      }
    if (act->cluster == NULL)
      act->cluster = "BlackHoleCluster"; /* no destination: validation refuses such routes */
    *single = act->cluster;
  } else {
    typedef Envoy__Config__Route__V3__WeightedCluster__ClusterWeight weight_t;
    Envoy__Config__Route__V3__WeightedCluster *wc =
        NEW(a, Envoy__Config__Route__V3__WeightedCluster, envoy__config__route__v3__weighted_cluster__descriptor);
    weight_t **ws = sc__arena_alloc(a, live * sizeof(*ws));
    if (wc == NULL || ws == NULL)
      return SC_ENOMEM;
    for (uint32_t i = 0; i < h->nroute; i++) {
      if (h->route[i].weight == 0)
        continue;
      weight_t *w = NEW(a, weight_t, envoy__config__route__v3__weighted_cluster__cluster_weight__descriptor);
      header_ops_t wops = {0};
      if (w == NULL || (w->name = destination_cluster(a, c, &h->route[i].destination, port)) == NULL ||
          (w->weight = sc__xds_u32(a, h->route[i].weight)) == NULL ||
          header_ops(a, &h->route[i].headers, &wops) != 0 ||
          hash_policy(a, destination_hash(c, &h->route[i].destination), act) != 0)
        return SC_ENOMEM;
      w->request_headers_to_add = wops.req_add, w->n_request_headers_to_add = wops.n_req_add;
      w->response_headers_to_add = wops.resp_add, w->n_response_headers_to_add = wops.n_resp_add;
      w->request_headers_to_remove = wops.req_remove, w->n_request_headers_to_remove = wops.n_req_remove;
      w->response_headers_to_remove = wops.resp_remove, w->n_response_headers_to_remove = wops.n_resp_remove;
      if (wops.authority.len > 0) {
        if ((w->host_rewrite_literal = sc__xds_str(a, wops.authority)) == NULL)
          return SC_ENOMEM;
        w->host_rewrite_specifier_case =
            ENVOY__CONFIG__ROUTE__V3__WEIGHTED_CLUSTER__CLUSTER_WEIGHT__HOST_REWRITE_SPECIFIER_HOST_REWRITE_LITERAL;
      }
      ws[wc->n_clusters++] = w;
    }
    wc->clusters = ws;
    act->cluster_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_WEIGHTED_CLUSTERS;
    act->weighted_clusters = wc;
  }
  return 0;
}

/* A VirtualService rewrite: URI prefix, regex, authority. */
static int route_rewrite(sc_arena_t *a, const sc_http_route_t *h, action_t *act) {
  if (h->rewrite.uri.len > 0 && (act->prefix_rewrite = sc__xds_str(a, h->rewrite.uri)) == NULL)
    return SC_ENOMEM;
  if (h->rewrite.regex_match.len > 0) {
    Envoy__Type__Matcher__V3__RegexMatchAndSubstitute *rr = NEW(
        a, Envoy__Type__Matcher__V3__RegexMatchAndSubstitute, envoy__type__matcher__v3__regex_match_and_substitute__descriptor);
    char *pattern = sc__xds_str(a, h->rewrite.regex_match);
    if (rr == NULL || pattern == NULL || (rr->pattern = regex_matcher(a, pattern)) == NULL ||
        (rr->substitution = sc__xds_str(a, h->rewrite.regex_rewrite)) == NULL)
      return SC_ENOMEM;
    act->regex_rewrite = rr;
  }
  if (h->rewrite.authority.len > 0) {
    act->host_rewrite_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HOST_REWRITE_SPECIFIER_HOST_REWRITE_LITERAL;
    if ((act->host_rewrite_literal = sc__xds_str(a, h->rewrite.authority)) == NULL)
      return SC_ENOMEM;
  }
  return 0;
}

/* The action of an http route: redirect, direct response, or a route to its destinations. */
static int route_action(sc_arena_t *a, const sc_rds_ctx_t *c, const sc_http_route_t *h, uint32_t port,
                        route_t *r, const char **single) {
  *single = NULL;
  /* The route's headers (every action), then a single destination's (TranslateRoute,
   * processDestination). */
  header_ops_t ops = {0};
  if (header_ops(a, &h->headers, &ops) != 0)
    return SC_ENOMEM;
  route_headers(r, &ops);
  if (h->has_redirect)
    return redirect_action(a, h, port, r);
  if (h->has_direct_response)
    return direct_response_action(a, h, r);
  int64_t timeout = h->timeout != SC_UNSET_I64 ? h->timeout : 0;
  const sc_retries_t *retries = h->has_retries ? &h->retries : mesh_retries(c->mesh);
  action_t *act = cluster_action(a, NULL, timeout, retries, true);
  if (act == NULL)
    return SC_ENOMEM;
  sc_str_t dest_authority = {"", 0};
  int rc = route_destinations(a, c, h, port, act, single, &ops, &dest_authority);
  if (rc == 0 && h->has_rewrite)
    rc = route_rewrite(a, h, act);
  if (rc != 0)
    return rc;
  route_headers(r, &ops);
  /* The host: the rewrite's authority, else the route's headers', else the single
   * destination's (applyHTTPRouteDestination, processDestination). */
  bool oom = false;
  set_host_rewrite(act, ops.authority, a, &oom);
  set_host_rewrite(act, dest_authority, a, &oom);
  if (oom)
    return SC_ENOMEM;
  r->action_case = ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_ROUTE;
  r->route = act;
  return 0;
}

/* The routes of a VirtualService's http section for a proxy of the scope on port. */
static int translate(sc_arena_t *a, const sc_rds_ctx_t *c, const sc_obj_t *vs, uint32_t port, route_t ***out,
                     size_t *nout) {
  const sc_scope_t *s = c->s;
  const sc_virtual_service_t *v = &vs->u.virtual_service;
  size_t cap = 1;
  for (uint32_t i = 0; i < v->nhttp; i++)
    cap += v->http[i].nmatch ? v->http[i].nmatch : 1;
  route_t **routes = sc__arena_alloc(a, cap * sizeof(*routes));
  if (routes == NULL)
    return SC_ENOMEM;
  size_t n = 0;
  bool done = false;
  for (uint32_t i = 0; i < v->nhttp && !done; i++) {
    const sc_http_route_t *h = &v->http[i];
    for (uint32_t m = 0; m < (h->nmatch ? h->nmatch : 1) && !done; m++) {
      const sc_http_match_t *hm = h->nmatch ? &h->match[m] : NULL;
      if (hm != NULL && !match_applies(hm, port, s->namespace_, c->proxy_labels))
        continue;
      route_t *r = NEW(a, route_t, envoy__config__route__v3__route__descriptor);
      if (r == NULL)
        return SC_ENOMEM;
      char name[600];
      if (hm != NULL && hm->name.len > 0)
        snprintf(name, sizeof(name), "%.*s.%.*s", (int)h->name.len, h->name.ptr, (int)hm->name.len, hm->name.ptr);
      else
        snprintf(name, sizeof(name), "%.*s", (int)h->name.len, h->name.ptr);
      const char *single;
      if ((r->name = sc__xds_str(a, sc_str(name))) == NULL ||
          (r->match = hm ? route_match(a, hm) : prefix_match(a, "/")) == NULL ||
          route_action(a, c, h, port, r, &single) != 0 || set_decorator(a, r, single, vs->name, port) != 0 ||
          (h->has_fault && route_fault(a, &h->fault, r) != 0))
        return SC_ENOMEM;
      routes[n++] = r;
      done = hm == NULL || catch_all_match(hm);
    }
  }
  *out = routes;
  *nout = n;
  return 0;
}

/* ---- which VirtualService owns a hostname ------------------------------------------ */

typedef struct {
  uint64_t key; /* the VirtualService's object key (sc_obj_t.key_hash) */
  uint32_t pos; /* its position in the listener */
} owner_t;

typedef struct {
  char *pattern; /* a wildcard host */
  owner_t owner;
} wild_owner_t;

struct sc_rds_listener_owners_s {
  sc_strmap_t exact; /* exact host (owned key) -> owner_t * (the first VS naming it) */
  sc_vec_t keys;     /* char *: the keys of exact */
  sc_vec_t wild;     /* wild_owner_t * in VS order */
};

static void listener_owners_free(sc_rds_listener_owners_t *lo) {
  sc__strmap_free(&lo->exact, sc__free);
  for (uint32_t i = 0; i < lo->keys.n; i++)
    sc__free(lo->keys.items[i]);
  sc__vec_free(&lo->keys);
  for (uint32_t i = 0; i < lo->wild.n; i++) {
    sc__free(((wild_owner_t *)lo->wild.items[i])->pattern);
    sc__free(lo->wild.items[i]);
  }
  sc__vec_free(&lo->wild);
}

void sc__rds_owners_free(sc_rds_owners_t *o) {
  for (uint32_t i = 0; o->listeners && i < o->nlisteners; i++)
    listener_owners_free(&o->listeners[i]);
  sc__free(o->listeners);
  memset(o, 0, sizeof(*o));
}

static int add_owner(sc_rds_listener_owners_t *lo, sc_str_t host, uint64_t key, uint32_t pos) {
  if (sc__host_is_wildcard(host)) {
    wild_owner_t *w = sc__malloc(sizeof(*w));
    if (w == NULL || (w->pattern = sc__strndup(host.ptr, host.len)) == NULL) {
      sc__free(w);
      return SC_ENOMEM;
    }
    w->owner = (owner_t){key, pos};
    if (sc__vec_push(&lo->wild, w) != 0) {
      sc__free(w->pattern);
      sc__free(w);
      return SC_ENOMEM;
    }
    return 0;
  }
  if (sc__strmap_get(&lo->exact, host) != NULL)
    return 0; /* an earlier VirtualService names it: it wins */
  char *k = sc__strndup(host.ptr, host.len);
  owner_t *o = sc__malloc(sizeof(*o));
  if (k == NULL || o == NULL || sc__vec_push(&lo->keys, k) != 0) {
    sc__free(k);
    sc__free(o);
    return SC_ENOMEM;
  }
  *o = (owner_t){key, pos};
  if (sc__strmap_put(&lo->exact, (sc_str_t){k, host.len}, o) != 0) {
    sc__free(o);
    return SC_ENOMEM;
  }
  return 0;
}

int sc__rds_owners_build(const sc_scope_t *s, sc_rds_owners_t *out) {
  memset(out, 0, sizeof(*out));
  out->nlisteners = s->nlisteners;
  out->listeners = sc__calloc(s->nlisteners ? s->nlisteners : 1, sizeof(*out->listeners));
  if (out->listeners == NULL)
    return SC_ENOMEM;
  int rc = 0;
  for (uint32_t li = 0; li < s->nlisteners; li++)
    sc__strmap_init(&out->listeners[li].exact);
  for (uint32_t li = 0; li < s->nlisteners && rc == 0; li++) {
    const sc_vec_t *vss = &s->listeners[li].vss;
    for (uint32_t v = 0; v < vss->n && rc == 0; v++) {
      const sc_obj_t *vs = vss->items[v];
      const sc_strlist_t *hosts = &vs->u.virtual_service.hosts;
      for (uint32_t h = 0; h < hosts->n && rc == 0; h++)
        rc = add_owner(&out->listeners[li], hosts->items[h], vs->key_hash, v);
    }
  }
  if (rc != 0)
    sc__rds_owners_free(out);
  return rc;
}

/* The VirtualService of listener li whose hosts match host most specifically, the first
 * on ties (an exact host is more specific than any wildcard); NULL when none. */
static const sc_obj_t *owner_of(const sc_rds_ctx_t *c, uint32_t li, sc_str_t host) {
  if (c->owners == NULL || li >= c->owners->nlisteners)
    return NULL;
  const sc_rds_listener_owners_t *lo = &c->owners->listeners[li];
  const owner_t *best = sc__strmap_get(&lo->exact, host);
  if (best == NULL) {
    sc_str_t best_pattern = {NULL, 0};
    for (uint32_t i = 0; i < lo->wild.n; i++) {
      const wild_owner_t *w = lo->wild.items[i];
      sc_str_t p = sc_str(w->pattern);
      if (!sc__host_matches(p, host))
        continue;
      int cmp = best ? sc__host_cmp_specificity(p, best_pattern) : -1;
      if (cmp < 0 || (cmp == 0 && w->owner.pos < best->pos)) {
        best = &w->owner;
        best_pattern = p;
      }
    }
  }
  return best ? sc__hashmap_get(&c->w->vs_objects, best->key) : NULL;
}

/* The egress listener a route configuration "port" is built from, or -1. */
static int listener_for_port(const sc_scope_t *s, uint32_t port);

int sc__rds_port_listener(const sc_scope_t *s, uint32_t port, const sc_vec_t *listeners) {
  int li = listener_for_port(s, port);
  for (uint32_t m = 0; li >= 0 && m < listeners->n; m++)
    if ((uintptr_t)listeners->items[m] == (uintptr_t)li)
      return li;
  return -1;
}

static int listener_for_port(const sc_scope_t *s, uint32_t port) {
  int any = -1;
  for (uint32_t i = 0; i < s->nlisteners; i++) {
    const sc_listener_t *l = &s->listeners[i];
    if (l->match_port && l->port == port)
      return (int)i;
    if (!l->match_port && any < 0)
      any = (int)i;
  }
  return any;
}

/* ---- a service's virtual hosts (entries) ------------------------------------------------- */

int sc__rds_service(const sc_rds_ctx_t *c, const sc_svc_t *svc, const sc_vec_t *listeners, sc_resources_t *out) {
  if (svc->resolution == SC_RES_ALIAS)
    return 0;
  sc_arena_t *a = sc__arena_new(4096);
  if (a == NULL)
    return SC_ENOMEM;
  strs_t domains = {0};
  int rc = 0;
  bool have_domains = false;
  for (uint32_t i = 0; i < svc->nports && rc == 0; i++) {
    const sc_svc_port_t *port = &svc->ports[i];
    if (!sc__rds_http_protocol(port->protocol))
      continue;
    /* Route configuration "PORT" holds the services of the egress listener for that port. */
    int li = sc__rds_port_listener(c->s, port->port, listeners);
    if (li < 0)
      continue;
    if (!have_domains && (rc = service_domains(a, svc, c->s->namespace_, &domains)) != 0)
      break;
    have_domains = true;
    char name[1200];
    snprintf(name, sizeof(name), "%s:%u", svc->hostname.ptr, port->port);
    route_t **routes = NULL;
    size_t nroutes = 0;
    const sc_obj_t *vs = owner_of(c, (uint32_t)li, svc->hostname);
    if (vs != NULL && (rc = translate(a, c, vs, port->port, &routes, &nroutes)) != 0)
      break;
    if (nroutes == 0) { /* no VirtualService (or none of its routes applies): the default */
      char cluster[1200];
      snprintf(cluster, sizeof(cluster), "outbound|%u||%s", port->port, svc->hostname.ptr);
      if ((routes = sc__arena_alloc(a, sizeof(*routes))) == NULL ||
          (routes[0] = default_route(a, cluster, svc->hostname.ptr, port->port, c->mesh)) == NULL ||
          hash_policy(a, service_hash(sc__rds_service_rule(c->s, svc), port->port), routes[0]->route) != 0) {
        rc = SC_ENOMEM;
        break;
      }
      nroutes = 1;
    }
    vhost_t *v = new_vhost(a, name, &domains, routes, nroutes);
    rc = v ? sc__resources_add(out, name, &v->base) : SC_ENOMEM;
  }
  sc__arena_del(a);
  return rc;
}

void sc__rds_variants_free(sc_rds_variants_t *v) {
  for (size_t i = 0; i < v->n; i++)
    sc__free(v->items[i].items);
  sc__free(v->items);
  memset(v, 0, sizeof(*v));
}

/* The distinct sourceLabels of the matches of the VirtualServices owning svc's ports. */
static int source_selectors(const sc_rds_ctx_t *c, const sc_svc_t *svc, const sc_vec_t *listeners,
                            const sc_labels_t **sel, size_t cap, size_t *n) {
  *n = 0;
  for (uint32_t i = 0; i < svc->nports; i++) {
    int li = sc__rds_http_protocol(svc->ports[i].protocol) ? sc__rds_port_listener(c->s, svc->ports[i].port, listeners) : -1;
    const sc_obj_t *vs = li >= 0 ? owner_of(c, (uint32_t)li, svc->hostname) : NULL;
    const sc_virtual_service_t *v = vs ? &vs->u.virtual_service : NULL;
    for (uint32_t r = 0; v && r < v->nhttp; r++)
      for (uint32_t m = 0; m < v->http[r].nmatch; m++) {
        const sc_labels_t *l = &v->http[r].match[m].source_labels;
        bool seen = l->n == 0;
        for (size_t k = 0; k < *n && !seen; k++)
          seen = sc_labels_equal(sel[k], l);
        if (seen)
          continue;
        if (*n == cap)
          return 0; /* more classes: proxies of the others get the default routes */
        sel[(*n)++] = l;
      }
  }
  return 0;
}

/* The union of the selectors in mask; false when two disagree on a key. */
static bool union_of(const sc_labels_t **sel, size_t n, unsigned mask, sc_label_t *out, uint32_t *nout) {
  *nout = 0;
  for (size_t k = 0; k < n; k++) {
    if (!(mask & (1u << k)))
      continue;
    for (uint32_t i = 0; i < sel[k]->n; i++) {
      const sc_label_t *x = &sel[k]->items[i];
      bool have = false;
      for (uint32_t j = 0; j < *nout; j++)
        if (sc_str_eq(out[j].key, x->key)) {
          if (!sc_str_eq(out[j].value, x->value))
            return false;
          have = true;
        }
      if (!have)
        out[(*nout)++] = *x;
    }
  }
  for (uint32_t i = 1; i < *nout; i++) /* labels are kept sorted by key */
    for (uint32_t j = i; j > 0 && sc_str_cmp(out[j - 1].key, out[j].key) > 0; j--) {
      sc_label_t t = out[j];
      out[j] = out[j - 1];
      out[j - 1] = t;
    }
  return true;
}

static int popcount(unsigned x) {
  int n = 0;
  for (; x; x &= x - 1)
    n++;
  return n;
}

int sc__rds_service_variants(const sc_rds_ctx_t *c, const sc_svc_t *svc, const sc_vec_t *listeners,
                            sc_resources_t *out, sc_rds_variants_t *variants) {
  memset(variants, 0, sizeof(*variants));
  int rc = sc__rds_service(c, svc, listeners, out);
  enum { MAX_CLASSES = 4 }; /* 15 combinations at most */
  const sc_labels_t *sel[MAX_CLASSES];
  size_t nsel = 0;
  if (rc == 0)
    rc = source_selectors(c, svc, listeners, sel, MAX_CLASSES, &nsel);
  if (rc != 0 || nsel == 0)
    return rc;
  unsigned combos = 1u << nsel;
  variants->items = sc__calloc(combos, sizeof(*variants->items));
  if (variants->items == NULL)
    return SC_ENOMEM;
  for (int size = (int)nsel; size >= 1 && rc == 0; size--) /* the most labels first */
    for (unsigned mask = 1; mask < combos && rc == 0; mask++) {
      if (popcount(mask) != size)
        continue;
      uint32_t total = 0;
      for (size_t k = 0; k < nsel; k++)
        total += (mask & (1u << k)) ? sel[k]->n : 0;
      sc_label_t *labels = sc__malloc((total ? total : 1) * sizeof(*labels));
      uint32_t nl;
      if (labels == NULL) {
        rc = SC_ENOMEM;
        break;
      }
      if (!union_of(sel, nsel, mask, labels, &nl)) {
        sc__free(labels); /* selectors that cannot hold together: no proxy is in this class */
        continue;
      }
      sc_labels_t proxy = {nl, labels};
      sc_rds_ctx_t vc = *c;
      vc.proxy_labels = &proxy;
      sc_rds_variant_t *v = &variants->items[variants->n++];
      *v = (sc_rds_variant_t){labels, nl, out->n, 0};
      rc = sc__rds_service(&vc, svc, listeners, out);
      v->to = out->n;
    }
  return rc;
}

bool sc__rds_service_owned(const sc_rds_ctx_t *c, const sc_svc_t *svc) {
  for (uint32_t i = 0; i < svc->nports; i++) {
    int li = sc__rds_http_protocol(svc->ports[i].protocol) ? listener_for_port(c->s, svc->ports[i].port) : -1;
    if (li >= 0 && owner_of(c, (uint32_t)li, svc->hostname) != NULL)
      return true;
  }
  return false;
}

bool sc__rds_domains_local_to(const sc_svc_t *svc, sc_str_t ns) {
  sc_str_t name, host_ns;
  if (cluster_local(svc->hostname, &name, &host_ns) && sc_str_eq(host_ns, ns))
    return true;
  for (uint32_t i = 0; i < svc->naliases; i++)
    if (cluster_local(svc->aliases[i].hostname, &name, &host_ns) && sc_str_eq(host_ns, ns))
      return true;
  return false;
}

/* ---- VirtualService hosts that are no service (heads) ------------------------------------ */

static bool covers(sc_str_t pattern, sc_str_t host) {
  return sc__host_is_wildcard(pattern) ? sc__host_matches(pattern, host) : sc_str_eq(pattern, host);
}

typedef SC__ARRAY(uint32_t) ports_t;

/* Adds port unless it is there already. */
static int add_port(ports_t *ports, uint32_t port) {
  for (size_t k = 0; k < ports->n; k++)
    if (ports->items[k] == port)
      return 0;
  return SC__ARRAY_PUSH(ports, port);
}

/* Whether vs has a host that is none of the listener's services (its head virtual hosts
 * then read those records). */
static bool vs_has_foreign_host(const sc_listener_t *l, const sc_obj_t *vs, const sc_strmap_t *service_hosts) {
  const sc_strlist_t *hosts = &vs->u.virtual_service.hosts;
  for (uint32_t h = 0; h < hosts->n; h++) {
    sc_str_t x = hosts->items[h];
    bool service = false;
    if (!sc__host_is_wildcard(x))
      service = sc__strmap_get(service_hosts, x) != NULL;
    for (uint32_t i = 0; sc__host_is_wildcard(x) && i < l->services.n && !service; i++)
      service = sc__host_matches(x, ((const sc_svc_t *)l->services.items[i])->hostname);
    if (!service)
      return true;
  }
  return false;
}

/* The virtual hosts of one VirtualService's hosts that are no service of listener li:
 * on the HTTP ports of the services it covers, or on 80 when it covers none. */
static int foreign_vhosts(sc_arena_t *a, const sc_rds_ctx_t *c, uint32_t li, const sc_obj_t *vs,
                          const sc_strmap_t *service_hosts, sc_resources_t *out) {
  const sc_listener_t *l = &c->s->listeners[li];
  const sc_strlist_t *hosts = &vs->u.virtual_service.hosts;
  ports_t ports = {0};
  int rc = 0;
  bool covers_any = false;
  for (uint32_t i = 0; i < l->services.n && rc == 0; i++) {
    const sc_svc_t *svc = l->services.items[i];
    bool covered = false;
    for (uint32_t h = 0; h < hosts->n && !covered; h++)
      covered = covers(hosts->items[h], svc->hostname);
    if (!covered || owner_of(c, li, svc->hostname) != vs)
      continue;
    covers_any = true;
    for (uint32_t p = 0; p < svc->nports && rc == 0; p++)
      if (sc__rds_http_protocol(svc->ports[p].protocol))
        rc = add_port(&ports, svc->ports[p].port);
  }
  if (rc == 0 && !covers_any)
    rc = add_port(&ports, 80);
  for (size_t k = 0; k < ports.n && rc == 0; k++) {
    if (listener_for_port(c->s, ports.items[k]) != (int)li)
      continue;
    route_t **routes;
    size_t nroutes;
    if ((rc = translate(a, c, vs, ports.items[k], &routes, &nroutes)) != 0 || nroutes == 0)
      continue;
    for (uint32_t h = 0; h < hosts->n && rc == 0; h++) {
      sc_str_t x = hosts->items[h];
      bool service = !sc__host_is_wildcard(x) && sc__strmap_get(service_hosts, x) != NULL;
      for (uint32_t i = 0; sc__host_is_wildcard(x) && i < l->services.n && !service; i++)
        service = sc__host_matches(x, ((const sc_svc_t *)l->services.items[i])->hostname);
      if (service)
        continue;
      strs_t domains = {0};
      char name[1200];
      snprintf(name, sizeof(name), "%.*s:%u", (int)x.len, x.ptr, ports.items[k]);
      vhost_t *vh;
      if ((rc = strs_add(a, &domains, "%.*s", (int)x.len, x.ptr)) == 0)
        rc = (vh = new_vhost(a, name, &domains, routes, nroutes)) ? sc__resources_add(out, name, &vh->base) : SC_ENOMEM;
    }
  }
  SC__ARRAY_FREE(&ports);
  return rc;
}

typedef struct {
  sc_resource_t r;
  size_t at;
} ordered_t;

static int cmp_ordered(const void *pa, const void *pb) {
  const ordered_t *a = pa, *b = pb;
  int c = strcmp(a->r.name, b->r.name);
  return c ? c : (a->at > b->at) - (a->at < b->at);
}

/* Sorts out->items[from..] by name, stably: equal names keep their order, which the
 * readers' first-wins rule reads. */
static int sort_stably(sc_resources_t *out, size_t from) {
  size_t n = out->n - from;
  ordered_t *o = sc__malloc((n ? n : 1) * sizeof(*o));
  if (o == NULL)
    return SC_ENOMEM;
  for (size_t i = 0; i < n; i++)
    o[i] = (ordered_t){out->items[from + i], i};
  qsort(o, n, sizeof(*o), cmp_ordered);
  for (size_t i = 0; i < n; i++)
    out->items[from + i] = o[i].r;
  sc__free(o);
  return 0;
}

/* The hostnames of listener l's services (values: the records). */
static int service_hosts_of(const sc_listener_t *l, sc_strmap_t *out) {
  sc__strmap_init(out);
  for (uint32_t i = 0; i < l->services.n; i++) {
    const sc_svc_t *svc = l->services.items[i];
    if (sc__strmap_put(out, svc->hostname, (void *)svc) != 0)
      return SC_ENOMEM;
  }
  return 0;
}

int sc__rds_foreign_vss(const sc_scope_t *s, sc_hashmap_t *out) {
  int rc = 0;
  for (uint32_t li = 0; li < s->nlisteners && rc == 0; li++) {
    const sc_listener_t *l = &s->listeners[li];
    if (l->vss.n == 0)
      continue;
    sc_strmap_t service_hosts;
    rc = service_hosts_of(l, &service_hosts);
    for (uint32_t v = 0; v < l->vss.n && rc == 0; v++) {
      const sc_obj_t *vs = l->vss.items[v];
      if (vs_has_foreign_host(l, vs, &service_hosts))
        rc = sc__hashmap_put(out, vs->key_hash, (void *)vs);
    }
    sc__strmap_free(&service_hosts, NULL);
  }
  return rc;
}

int sc__rds_virtual_services(const sc_rds_ctx_t *c, sc_resources_t *out) {
  sc_hashmap_t own;
  sc__hashmap_init(&own);
  const sc_hashmap_t *only = c->only;
  int rc = only ? 0 : sc__rds_foreign_vss(c->s, &own);
  if (only == NULL)
    only = &own;
  sc_arena_t *a = NULL;
  size_t from = out->n;
  for (uint32_t li = 0; li < c->s->nlisteners && rc == 0; li++) {
    const sc_listener_t *l = &c->s->listeners[li];
    if (l->vss.n == 0)
      continue;
    sc_strmap_t service_hosts;
    rc = service_hosts_of(l, &service_hosts);
    for (uint32_t v = 0; v < l->vss.n && rc == 0; v++) {
      const sc_obj_t *vs = l->vss.items[v];
      if (sc__hashmap_get(only, vs->key_hash) == NULL)
        continue; /* every host a service: its virtual hosts are in the entries */
      if (a == NULL && (a = sc__arena_new(8192)) == NULL)
        rc = SC_ENOMEM;
      else
        rc = foreign_vhosts(a, c, li, vs, &service_hosts, out);
    }
    sc__strmap_free(&service_hosts, NULL);
  }
  if (rc == 0)
    rc = sort_stably(out, from);
  sc__arena_del(a);
  sc__hashmap_free(&own);
  return rc;
}
