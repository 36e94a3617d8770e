/* LDS (see lds.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb-c.h"
#include "envoy/extensions/filters/http/router/v3/router.pb-c.h"
#include "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.pb-c.h"
#include "envoy/extensions/filters/listener/original_dst/v3/original_dst.pb-c.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb-c.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb-c.h"
#include "model/world.h"
#include "xds/lds.h"
#include "xds/rds.h"
#include "scopecast/error.h"
#include "xds/xdsbuild.h"

typedef Envoy__Config__Listener__V3__Listener listener_t;
typedef Envoy__Config__Listener__V3__FilterChain chain_t;
typedef Envoy__Config__Listener__V3__FilterChainMatch chain_match_t;
typedef Envoy__Config__Listener__V3__Filter filter_t;
typedef Envoy__Config__Listener__V3__ListenerFilter listener_filter_t;

static char *str(sc_arena_t *a, const char *s) { return sc__xds_str(a, sc_str(s)); }

/* A chain with one network filter holding m as its typed config. */
static chain_t *chain(sc_arena_t *a, const char *name, const char *filter_name, const ProtobufCMessage *m) {
  chain_t *c = NEW(a, chain_t, envoy__config__listener__v3__filter_chain__descriptor);
  filter_t *f = NEW(a, filter_t, envoy__config__listener__v3__filter__descriptor);
  filter_t **fs = sc__arena_alloc(a, sizeof(*fs));
  if (c == NULL || f == NULL || fs == NULL || (f->typed_config = sc__xds_any(a, m)) == NULL)
    return NULL;
  f->name = (char *)filter_name;
  f->config_type_case = ENVOY__CONFIG__LISTENER__V3__FILTER__CONFIG_TYPE_TYPED_CONFIG;
  fs[0] = f;
  c->filters = fs;
  c->n_filters = 1;
  if (name != NULL && (c->name = str(a, name)) == NULL)
    return NULL;
  return c;
}

/* A chain proxying TCP to cluster (stat prefix: the cluster). */
static chain_t *tcp_chain(sc_arena_t *a, const char *name, const char *cluster) {
  Envoy__Extensions__Filters__Network__TcpProxy__V3__TcpProxy *t = NEW(
      a, Envoy__Extensions__Filters__Network__TcpProxy__V3__TcpProxy, envoy__extensions__filters__network__tcp_proxy__v3__tcp_proxy__descriptor);
  char *c = str(a, cluster);
  if (t == NULL || c == NULL)
    return NULL;
  t->stat_prefix = c;
  t->cluster_specifier_case = ENVOY__EXTENSIONS__FILTERS__NETWORK__TCP_PROXY__V3__TCP_PROXY__CLUSTER_SPECIFIER_CLUSTER;
  t->cluster = c;
  return chain(a, name, "envoy.filters.network.tcp_proxy", &t->base);
}

/* Where unmatched outbound traffic goes by policy. */
static void passthrough_target(const sc_scope_t *s, char *buf, size_t cap) {
  if (s->outbound_mode == SC_OUTBOUND_REGISTRY_ONLY)
    snprintf(buf, cap, "BlackHoleCluster");
  else if (s->egress_proxy != NULL)
    snprintf(buf, cap, "outbound|%u|%s|%s", s->egress_proxy->port, s->egress_proxy->subset.ptr, s->egress_proxy->host.ptr);
  else
    snprintf(buf, cap, "PassthroughCluster");
}

static listener_filter_t *listener_filter(sc_arena_t *a, const char *name, const ProtobufCMessage *m) {
  listener_filter_t *f = NEW(a, listener_filter_t, envoy__config__listener__v3__listener_filter__descriptor);
  if (f == NULL || (f->typed_config = sc__xds_any(a, m)) == NULL)
    return NULL;
  f->name = (char *)name;
  f->config_type_case = ENVOY__CONFIG__LISTENER__V3__LISTENER_FILTER__CONFIG_TYPE_TYPED_CONFIG;
  return f;
}

static listener_t *new_listener(sc_arena_t *a, const char *name, const char *address, uint32_t port,
                                Envoy__Config__Core__V3__TrafficDirection direction) {
  listener_t *l = NEW(a, listener_t, envoy__config__listener__v3__listener__descriptor);
  char *addr = str(a, address);
  if (l == NULL || addr == NULL || (l->name = str(a, name)) == NULL ||
      (l->address = sc__xds_socket_address(a, addr, port)) == NULL)
    return NULL;
  l->traffic_direction = direction;
  return l;
}

/* 0.0.0.0_PORT for HTTP: one chain for HTTP/1.1 and h2c through an HTTP
 * connection manager on RDS "PORT", unmatched traffic to PassthroughFilterChain. */
static listener_t *http_listener(sc_arena_t *a, const sc_scope_t *s, const char *name, const char *address, uint32_t port,
                                 bool bind) {
  typedef Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager hcm_t;
  typedef Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpFilter http_filter_t;
  listener_t *l = new_listener(a, name, address, port, ENVOY__CONFIG__CORE__V3__TRAFFIC_DIRECTION__OUTBOUND);
  hcm_t *h = NEW(a, hcm_t, envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__descriptor);
  Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__Rds *rds =
      NEW(a, Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__Rds,
          envoy__extensions__filters__network__http_connection_manager__v3__rds__descriptor);
  http_filter_t *router = NEW(a, http_filter_t, envoy__extensions__filters__network__http_connection_manager__v3__http_filter__descriptor);
  http_filter_t *fault = NEW(a, http_filter_t, envoy__extensions__filters__network__http_connection_manager__v3__http_filter__descriptor);
  Envoy__Extensions__Filters__Http__Fault__V3__HTTPFault *no_fault = NEW(
      a, Envoy__Extensions__Filters__Http__Fault__V3__HTTPFault, envoy__extensions__filters__http__fault__v3__httpfault__descriptor);
  http_filter_t **filters = sc__arena_alloc(a, 2 * sizeof(*filters));
  Envoy__Extensions__Filters__Http__Router__V3__Router *r =
      NEW(a, Envoy__Extensions__Filters__Http__Router__V3__Router, envoy__extensions__filters__http__router__v3__router__descriptor);
  char route_name[16], stat[300];
  snprintf(route_name, sizeof(route_name), "%u", port);
  snprintf(stat, sizeof(stat), "outbound_%s_%u", address, port);
  if (l == NULL || h == NULL || rds == NULL || router == NULL || filters == NULL || r == NULL ||
      (rds->config_source = sc__xds_ads_source(a)) == NULL || (rds->route_config_name = str(a, route_name)) == NULL ||
      (h->stat_prefix = str(a, stat)) == NULL || (router->typed_config = sc__xds_any(a, &r->base)) == NULL)
    return NULL;
  router->name = "envoy.filters.http.router";
  router->config_type_case = ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_FILTER__CONFIG_TYPE_TYPED_CONFIG;
  /* The fault filter before the router: routes with fault injection configure it. */
  if (fault == NULL || no_fault == NULL || (fault->typed_config = sc__xds_any(a, &no_fault->base)) == NULL)
    return NULL;
  fault->name = "envoy.filters.http.fault";
  fault->config_type_case = ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_FILTER__CONFIG_TYPE_TYPED_CONFIG;
  filters[0] = fault;
  filters[1] = router;
  h->route_specifier_case = ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_CONNECTION_MANAGER__ROUTE_SPECIFIER_RDS;
  h->rds = rds;
  h->http_filters = filters;
  h->n_http_filters = 2;
  chain_t *c = chain(a, NULL, "envoy.filters.network.http_connection_manager", &h->base);
  chain_match_t *m = NEW(a, chain_match_t, envoy__config__listener__v3__filter_chain_match__descriptor);
  char **alpn = sc__arena_alloc(a, 2 * sizeof(*alpn));
  chain_t **chains = sc__arena_alloc(a, sizeof(*chains));
  listener_filter_t **lfs = sc__arena_alloc(a, sizeof(*lfs));
  Envoy__Extensions__Filters__Listener__HttpInspector__V3__HttpInspector *hi = NEW(
      a, Envoy__Extensions__Filters__Listener__HttpInspector__V3__HttpInspector,
      envoy__extensions__filters__listener__http_inspector__v3__http_inspector__descriptor);
  char target[1200];
  passthrough_target(s, target, sizeof(target));
  if (c == NULL || m == NULL || alpn == NULL || chains == NULL || lfs == NULL || hi == NULL ||
      (lfs[0] = listener_filter(a, "envoy.filters.listener.http_inspector", &hi->base)) == NULL ||
      (l->default_filter_chain = tcp_chain(a, "PassthroughFilterChain", target)) == NULL ||
      (l->bind_to_port = NEW(a, Google__Protobuf__BoolValue, google__protobuf__bool_value__descriptor)) == NULL)
    return NULL;
  alpn[0] = "http/1.1";
  alpn[1] = "h2c";
  m->application_protocols = alpn;
  m->n_application_protocols = 2;
  m->transport_protocol = "raw_buffer";
  c->filter_chain_match = m;
  chains[0] = c;
  l->filter_chains = chains;
  l->n_filter_chains = 1;
  l->listener_filters = lfs;
  l->n_listener_filters = 1;
  l->bind_to_port->value = bind; /* false: traffic arrives through virtualOutbound */
  return l;
}

/* ADDRESS_PORT for TCP: its one chain proxies to the service's cluster. */
static listener_t *tcp_listener(sc_arena_t *a, const char *name, const char *address, uint32_t port, const char *cluster,
                               bool bind, Envoy__Config__Core__V3__TrafficDirection direction) {
  listener_t *l = new_listener(a, name, address, port, direction);
  chain_t **chains = sc__arena_alloc(a, sizeof(*chains));
  if (l == NULL || chains == NULL || (chains[0] = tcp_chain(a, NULL, cluster)) == NULL ||
      (l->bind_to_port = NEW(a, Google__Protobuf__BoolValue, google__protobuf__bool_value__descriptor)) == NULL)
    return NULL;
  l->filter_chains = chains;
  l->n_filter_chains = 1;
  l->bind_to_port->value = bind;
  return l;
}

/* A listener for a TCP or TLS port whose service chains have a match: one chain per CIDR
 * address (prefix_ranges; one chain without when there is none), each matching the
 * server names too when there are any (the TLS inspector reads them); what matches no
 * chain takes PassthroughFilterChain, by the outbound policy (istiod's
 * buildListenerFromEntry, a service per address). */
static listener_t *matched_tcp_listener(sc_arena_t *a, const sc_scope_t *s, const char *name, const char *address,
                                        uint32_t port, const char *cluster, bool bind, char **sni, size_t nsni,
                                        Envoy__Config__Core__V3__CidrRange **ranges, size_t nranges) {
  listener_t *l = tcp_listener(a, name, address, port, cluster, bind, ENVOY__CONFIG__CORE__V3__TRAFFIC_DIRECTION__OUTBOUND);
  size_t nchains = nranges ? nranges : 1;
  chain_t **chains = sc__arena_alloc(a, nchains * sizeof(*chains));
  char target[1200];
  passthrough_target(s, target, sizeof(target));
  if (l == NULL || chains == NULL || (l->default_filter_chain = tcp_chain(a, "PassthroughFilterChain", target)) == NULL)
    return NULL;
  for (size_t i = 0; i < nchains; i++) {
    chain_match_t *m = NEW(a, chain_match_t, envoy__config__listener__v3__filter_chain_match__descriptor);
    if (m == NULL || (chains[i] = i == 0 ? l->filter_chains[0] : tcp_chain(a, NULL, cluster)) == NULL)
      return NULL;
    chains[i]->filter_chain_match = m;
    if (nranges > 0) {
      m->prefix_ranges = &ranges[i];
      m->n_prefix_ranges = 1;
    }
    m->server_names = sni;
    m->n_server_names = nsni;
  }
  l->filter_chains = chains;
  l->n_filter_chains = nchains;
  if (nsni > 0) {
    Envoy__Extensions__Filters__Listener__TlsInspector__V3__TlsInspector *ti = NEW(
        a, Envoy__Extensions__Filters__Listener__TlsInspector__V3__TlsInspector,
        envoy__extensions__filters__listener__tls_inspector__v3__tls_inspector__descriptor);
    listener_filter_t **lfs = sc__arena_alloc(a, sizeof(*lfs));
    /* istiod reads at most 512 bytes of the handshake first (Envoy's default: 64 KiB). */
    if (ti == NULL || lfs == NULL || (ti->initial_read_buffer_size = sc__xds_u32(a, 512)) == NULL ||
        (lfs[0] = listener_filter(a, "envoy.filters.listener.tls_inspector", &ti->base)) == NULL)
      return NULL;
    l->listener_filters = lfs;
    l->n_listener_filters = 1;
  }
  return l;
}

static int cmp_cstr(const void *pa, const void *pb) { return strcmp(*(char *const *)pa, *(char *const *)pb); }

/* The server names of svc's chain on a TLS port: its hostname and the ExternalName
 * services that alias it, sorted (istiod's sniHosts). */
static char **server_names(sc_arena_t *a, const sc_svc_t *svc, size_t *n) {
  char **names = sc__arena_alloc(a, (svc->naliases + 1) * sizeof(*names));
  if (names == NULL || (names[0] = sc__xds_str(a, svc->hostname)) == NULL)
    return NULL;
  *n = 1;
  for (uint32_t i = 0; i < svc->naliases; i++)
    if ((names[(*n)++] = sc__xds_str(a, svc->aliases[i].hostname)) == NULL)
      return NULL;
  qsort(names, *n, sizeof(*names), cmp_cstr);
  return names;
}

/* One port of svc placed on port `port` (protocol proto) by an egress listener. */
static int one_port(sc_arena_t *a, const sc_scope_t *s, const sc_listener_t *l, const sc_svc_t *svc,
                    uint32_t port, sc_protocol_t proto, uint32_t service_port, bool no_capture, sc_resources_t *out) {
  if (proto == SC_PROTO_UDP)
    return 0;
  sc_str_t bind = l->api ? l->api->bind : (sc_str_t){"", 0};
  /* An egress listener that captures nothing (or binds a socket) is a real socket,
   * on its bind address or 127.0.0.1. */
  bool bind_port = no_capture || (l->api != NULL && (l->api->capture_mode == SC_CAPTURE_NONE ||
                                                     (bind.len >= 7 && memcmp(bind.ptr, "unix://", 7) == 0)));
  bool http = sc__rds_http_protocol(proto);
  char address[256], name[300];
  if (bind.len > 0)
    snprintf(address, sizeof(address), "%.*s", (int)bind.len, bind.ptr);
  else if (bind_port)
    snprintf(address, sizeof(address), "127.0.0.1");
  else
    snprintf(address, sizeof(address), "0.0.0.0");
  if (http) {
    snprintf(name, sizeof(name), "%s_%u", address, port);
    listener_t *lis = http_listener(a, s, name, address, port, bind_port);
    return lis ? sc__resources_add(out, name, &lis->base) : SC_ENOMEM;
  }
  char cluster[1200];
  snprintf(cluster, sizeof(cluster), "outbound|%u||%s", service_port, svc->hostname.ptr);
  /* The addresses: every one of a ServiceEntry (istiod makes a service of each; the
   * scope keeps one record per host), else the record's; none when the egress listener
   * binds. A plain address is a listener ADDRESS_PORT of its own; the CIDRs are chains of
   * 0.0.0.0_PORT matched by prefix_ranges (istiod's buildSidecarOutboundListener). */
  const sc_strlist_t *all = NULL;
  if (svc->registry == SC_REGISTRY_EXTERNAL && svc->obj != NULL && svc->obj->kind == SC_KIND_SERVICE_ENTRY &&
      svc->obj->u.service_entry.addresses.n > 1)
    all = &svc->obj->u.service_entry.addresses;
  uint32_t naddr = bind.len > 0 || bind_port ? 0 : all ? all->n : 1;
  Envoy__Config__Core__V3__CidrRange **ranges = sc__arena_alloc(a, (naddr + 1) * sizeof(*ranges));
  size_t nranges = 0;
  bool wildcard = naddr == 0, cidr = false;
  int rc = ranges ? 0 : SC_ENOMEM;
  for (uint32_t i = 0; i < naddr && rc == 0; i++) {
    sc_str_t ad = all ? all->items[i] : svc->address;
    ad.len = sc__world_plain_address_len(ad);
    const char *slash = ad.len ? memchr(ad.ptr, '/', ad.len) : NULL;
    if (ad.len == 0 || sc_str_eqz(ad, "0.0.0.0")) {
      wildcard = true;
    } else if (slash != NULL) {
      uint32_t at = (uint32_t)(slash - ad.ptr);
      Envoy__Config__Core__V3__CidrRange *r =
          NEW(a, Envoy__Config__Core__V3__CidrRange, envoy__config__core__v3__cidr_range__descriptor);
      bool dup = false;
      for (size_t k = 0; k < nranges && !dup; k++)
        dup = strlen(ranges[k]->address_prefix) == at && memcmp(ranges[k]->address_prefix, ad.ptr, at) == 0 &&
              ranges[k]->prefix_len->value == (uint32_t)strtoul(slash + 1, NULL, 10);
      if (r == NULL || (r->address_prefix = sc__xds_str(a, (sc_str_t){ad.ptr, at})) == NULL ||
          (r->prefix_len = sc__xds_u32(a, (uint32_t)strtoul(slash + 1, NULL, 10))) == NULL)
        rc = SC_ENOMEM;
      else if (!dup)
        ranges[nranges++] = r;
      cidr = true;
    } else {
      char plain[256];
      snprintf(plain, sizeof(plain), "%.*s", (int)ad.len, ad.ptr);
      snprintf(name, sizeof(name), "%s_%u", plain, port);
      listener_t *lis = tcp_listener(a, name, plain, port, cluster, false, ENVOY__CONFIG__CORE__V3__TRAFFIC_DIRECTION__OUTBOUND);
      rc = lis ? sc__resources_add(out, name, &lis->base) : SC_ENOMEM;
    }
  }
  if (rc != 0 || !(wildcard || cidr))
    return rc;
  snprintf(name, sizeof(name), "%s_%u", address, port);
  /* A TLS port tells its hosts apart by SNI when its address is a CIDR, or when it has
   * none and listens on the wildcard (istiod's buildSidecarOutboundTLSFilterChainOpts).
   * A Kubernetes headless service is left out: istiod builds it per endpoint. */
  bool tls = proto == SC_PROTO_TLS || proto == SC_PROTO_HTTPS;
  bool sni = tls && (cidr || (wildcard && strcmp(address, "0.0.0.0") == 0)) &&
             !(svc->registry == SC_REGISTRY_KUBERNETES && svc->resolution == SC_RES_PASSTHROUGH);
  listener_t *lis;
  if (sni || nranges > 0) {
    size_t nsni = 0;
    char **names = sni ? server_names(a, svc, &nsni) : NULL;
    lis = sni && names == NULL ? NULL
                               : matched_tcp_listener(a, s, name, address, port, cluster, bind_port, names, nsni, ranges, nranges);
  } else {
    lis = tcp_listener(a, name, address, port, cluster, bind_port, ENVOY__CONFIG__CORE__V3__TRAFFIC_DIRECTION__OUTBOUND);
  }
  return lis ? sc__resources_add(out, name, &lis->base) : SC_ENOMEM;
}

int sc__lds_outbound(const sc_scope_t *s, const sc_listener_t *l, const sc_svc_t *svc, bool no_capture,
                    sc_resources_t *out) {
  if (svc->resolution == SC_RES_ALIAS)
    return 0;
  sc_arena_t *a = sc__arena_new(4096);
  if (a == NULL)
    return SC_ENOMEM;
  int rc = 0;
  if (l->match_port && l->api != NULL && l->api->has_port) {
    /* Every service the listener imports is placed on its port; the cluster keeps the
     * service's port when it has just one. */
    uint32_t sp = svc->nports == 1 ? svc->ports[0].port : l->port;
    rc = one_port(a, s, l, svc, l->port, l->api->port.protocol, sp, no_capture, out);
  } else {
    for (uint32_t i = 0; i < svc->nports && rc == 0; i++)
      rc = one_port(a, s, l, svc, svc->ports[i].port, svc->ports[i].protocol, svc->ports[i].port, no_capture, out);
  }
  sc__arena_del(a);
  return rc;
}

int sc__lds_virtual(const sc_scope_t *s, const sc_mesh_config_t *mesh, sc_resources_t *out) {
  sc_arena_t *a = sc__arena_new(4096);
  if (a == NULL)
    return SC_ENOMEM;
  int rc = SC_ENOMEM;
  /* virtualOutbound: traffic to 15001 itself is a loop, the rest by policy. */
  listener_t *vo = new_listener(a, "virtualOutbound", "0.0.0.0", mesh->proxy_listen_port,
                                ENVOY__CONFIG__CORE__V3__TRAFFIC_DIRECTION__OUTBOUND);
  chain_t **vo_chains = sc__arena_alloc(a, 2 * sizeof(*vo_chains));
  chain_match_t *loop = NEW(a, chain_match_t, envoy__config__listener__v3__filter_chain_match__descriptor);
  char target[1200];
  passthrough_target(s, target, sizeof(target));
  if (vo != NULL && vo_chains != NULL && loop != NULL &&
      (loop->destination_port = sc__xds_u32(a, mesh->proxy_listen_port)) != NULL &&
      (vo_chains[0] = tcp_chain(a, "virtualOutbound-blackhole", "BlackHoleCluster")) != NULL &&
      (vo_chains[1] = tcp_chain(a, "virtualOutbound-catchall-tcp", target)) != NULL &&
      (vo->use_original_dst = NEW(a, Google__Protobuf__BoolValue, google__protobuf__bool_value__descriptor)) != NULL) {
    vo->use_original_dst->value = true;
    vo_chains[0]->filter_chain_match = loop;
    vo->filter_chains = vo_chains;
    vo->n_filter_chains = 2;
    rc = sc__resources_add(out, "virtualOutbound", &vo->base);
  }
  if (rc != 0) {
    sc__arena_del(a);
    return rc;
  }
  /* virtualInbound: first virtualInbound-blackhole for calls to 15006 itself (a loop, as
   * istiod's), then a chain per ingress port of the Sidecar that the proxy captures (mode
   * DEFAULT or IPTABLES) to its inbound cluster, the rest to InboundPassthroughCluster.
   * Ports it does not capture (mode NONE) are listeners of their own (sc__lds_ingress). */
  uint32_t ningress = s->sidecar ? s->sidecar->u.sidecar.ningress : 0;
  listener_t *vi = new_listener(a, "virtualInbound", "0.0.0.0", mesh->proxy_inbound_listen_port,
                                ENVOY__CONFIG__CORE__V3__TRAFFIC_DIRECTION__INBOUND);
  chain_t **vi_chains = sc__arena_alloc(a, (ningress + 2) * sizeof(*vi_chains));
  listener_filter_t **lfs = sc__arena_alloc(a, sizeof(*lfs));
  Envoy__Extensions__Filters__Listener__OriginalDst__V3__OriginalDst *od = NEW(
      a, Envoy__Extensions__Filters__Listener__OriginalDst__V3__OriginalDst, envoy__extensions__filters__listener__original_dst__v3__original_dst__descriptor);
  chain_match_t *self = NEW(a, chain_match_t, envoy__config__listener__v3__filter_chain_match__descriptor);
  rc = vi && vi_chains && lfs && od && self && (lfs[0] = listener_filter(a, "envoy.filters.listener.original_dst", &od->base)) &&
               (self->destination_port = sc__xds_u32(a, mesh->proxy_inbound_listen_port)) != NULL &&
               (vi_chains[0] = tcp_chain(a, "virtualInbound-blackhole", "BlackHoleCluster")) != NULL
           ? 0
           : SC_ENOMEM;
  if (rc == 0) {
    vi_chains[0]->filter_chain_match = self;
    vi->n_filter_chains = 1;
  }
  for (uint32_t i = 0; i < ningress && rc == 0; i++) {
    const sc_ingress_listener_t *in = &s->sidecar->u.sidecar.ingress[i];
    if (in->capture_mode == SC_CAPTURE_NONE)
      continue;
    char name[64], cluster[64];
    snprintf(name, sizeof(name), "inbound_%u", in->port.number);
    snprintf(cluster, sizeof(cluster), "inbound|%u||", in->port.number);
    chain_match_t *m = NEW(a, chain_match_t, envoy__config__listener__v3__filter_chain_match__descriptor);
    chain_t *c = tcp_chain(a, name, cluster);
    if (m == NULL || c == NULL || (m->destination_port = sc__xds_u32(a, in->port.number)) == NULL)
      rc = SC_ENOMEM;
    else {
      c->filter_chain_match = m;
      vi_chains[vi->n_filter_chains++] = c;
    }
  }
  if (rc == 0 && (vi_chains[vi->n_filter_chains++] = tcp_chain(a, "virtualInbound", "InboundPassthroughCluster")) == NULL)
    rc = SC_ENOMEM;
  if (rc == 0) {
    vi->filter_chains = vi_chains;
    vi->listener_filters = lfs;
    vi->n_listener_filters = 1;
    rc = sc__resources_add(out, "virtualInbound", &vi->base);
  }
  sc__arena_del(a);
  return rc;
}

int sc__lds_ingress(const sc_scope_t *s, bool captured_mode_too, sc_resources_t *out) {
  uint32_t ningress = s->sidecar ? s->sidecar->u.sidecar.ningress : 0;
  sc_arena_t *a = ningress ? sc__arena_new(2048) : NULL;
  if (ningress && a == NULL)
    return SC_ENOMEM;
  int rc = 0;
  for (uint32_t i = 0; i < ningress && rc == 0; i++) {
    const sc_ingress_listener_t *in = &s->sidecar->u.sidecar.ingress[i];
    /* Mode NONE binds; DEFAULT binds for a proxy that captures nothing. */
    bool binds = in->capture_mode == SC_CAPTURE_NONE;
    if (binds == captured_mode_too || (captured_mode_too && in->capture_mode != SC_CAPTURE_DEFAULT))
      continue;
    char address[256], name[300], cluster[64];
    if (in->bind.len > 0)
      snprintf(address, sizeof(address), "%.*s", (int)in->bind.len, in->bind.ptr);
    else
      snprintf(address, sizeof(address), "0.0.0.0"); /* the proxy's own address: the frontend's */
    snprintf(name, sizeof(name), "%s_%u", address, in->port.number);
    snprintf(cluster, sizeof(cluster), "inbound|%u||", in->port.number);
    listener_t *l = tcp_listener(a, name, address, in->port.number, cluster, true,
                                 ENVOY__CONFIG__CORE__V3__TRAFFIC_DIRECTION__INBOUND);
    rc = l ? sc__resources_add(out, name, &l->base) : SC_ENOMEM;
  }
  sc__arena_del(a);
  return rc;
}

int sc__lds_inbound_chains(const sc_svc_t *svc, sc_resources_t *out) {
  sc_arena_t *a = sc__arena_new(1024);
  if (a == NULL)
    return SC_ENOMEM;
  int rc = 0;
  for (uint32_t i = 0; i < svc->nports && rc == 0; i++) {
    if (svc->ports[i].protocol == SC_PROTO_UDP)
      continue;
    uint32_t tp = sc__cds_target_port(svc, i);
    char name[64], cluster[64];
    snprintf(name, sizeof(name), "inbound_%u", tp);
    snprintf(cluster, sizeof(cluster), "inbound|%u||", tp);
    chain_match_t *m = NEW(a, chain_match_t, envoy__config__listener__v3__filter_chain_match__descriptor);
    chain_t *c = tcp_chain(a, name, cluster);
    if (m == NULL || c == NULL || (m->destination_port = sc__xds_u32(a, tp)) == NULL)
      rc = SC_ENOMEM;
    else {
      c->filter_chain_match = m;
      rc = sc__resources_add(out, name, &c->base);
    }
  }
  sc__arena_del(a);
  return rc;
}
