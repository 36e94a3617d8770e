/* CDS (see cds.h). Messages are built
 * in an arena and packed; nothing of them outlives a call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/mem.h"
#include "store/arena.h"
#include "xds/cds.h"
#include "xds/eds.h"
#include "xds/xdsbuild.h"
#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb-c.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb-c.h"
#include "scopecast/error.h"
#include <xxhash.h>

typedef Envoy__Config__Cluster__V3__Cluster cluster_t;

/* ---- traffic policy ------------------------------------------------------------- */

/* The blocks a cluster gets: the rule's top level, or its port-level entry for the port
 * (which replaces the top level); then, for a subset, the subset's own (port-level first)
 * overriding block by block. */
static void policy_for(const sc_cdr_t *rule, const sc_subset_t *subset, uint32_t port,
                       sc_policy_blocks_t *out) {
  memset(out, 0, sizeof(*out));
  const sc_traffic_policy_t *tp[2] = {rule ? rule->traffic_policy : NULL,
                                      subset && subset->has_traffic_policy ? &subset->traffic_policy : NULL};
  for (int level = 0; level < 2; level++) {
    if (tp[level] == NULL)
      continue;
    const sc_policy_blocks_t *b = &tp[level]->policy;
    for (uint32_t i = 0; i < tp[level]->nport_level; i++)
      if (tp[level]->port_level[i].port == port)
        b = &tp[level]->port_level[i].policy;
    if (level == 0) {
      *out = *b;
      continue;
    }
    if (b->has_load_balancer)
      out->has_load_balancer = true, out->load_balancer = b->load_balancer;
    if (b->has_connection_pool)
      out->has_connection_pool = true, out->connection_pool = b->connection_pool;
    if (b->has_outlier_detection)
      out->has_outlier_detection = true, out->outlier_detection = b->outlier_detection;
    if (b->has_tls)
      out->has_tls = true, out->tls = b->tls;
  }
}

/* Istio always sets one threshold: every limit at 2^32-1 unless the rule sets it. */
static Envoy__Config__Cluster__V3__CircuitBreakers *circuit_breakers(sc_arena_t *a, const sc_policy_blocks_t *p) {
  Envoy__Config__Cluster__V3__CircuitBreakers *cb =
      NEW(a, Envoy__Config__Cluster__V3__CircuitBreakers, envoy__config__cluster__v3__circuit_breakers__descriptor);
  Envoy__Config__Cluster__V3__CircuitBreakers__Thresholds *t = NEW(
      a, Envoy__Config__Cluster__V3__CircuitBreakers__Thresholds, envoy__config__cluster__v3__circuit_breakers__thresholds__descriptor);
  Envoy__Config__Cluster__V3__CircuitBreakers__Thresholds **list = sc__arena_alloc(a, sizeof(*list));
  if (cb == NULL || t == NULL || list == NULL)
    return NULL;
  const sc_connection_pool_t *cp = p->has_connection_pool ? &p->connection_pool : NULL;
  uint32_t limits[4] = {cp ? cp->max_connections : SC_UNSET_U32, cp ? cp->http1_max_pending_requests : SC_UNSET_U32,
                        cp ? cp->http2_max_requests : SC_UNSET_U32, cp ? cp->max_retries : SC_UNSET_U32};
  Google__Protobuf__UInt32Value **fields[4] = {&t->max_connections, &t->max_pending_requests, &t->max_requests,
                                               &t->max_retries};
  for (int i = 0; i < 4; i++)
    if ((*fields[i] = sc__xds_u32(a, limits[i] == SC_UNSET_U32 ? UINT32_MAX : limits[i])) == NULL)
      return NULL;
  t->track_remaining = 1;
  list[0] = t;
  cb->n_thresholds = 1;
  cb->thresholds = list;
  return cb;
}

static Envoy__Config__Cluster__V3__OutlierDetection *outlier_detection(sc_arena_t *a, const sc_outlier_detection_t *o) {
  Envoy__Config__Cluster__V3__OutlierDetection *od =
      NEW(a, Envoy__Config__Cluster__V3__OutlierDetection, envoy__config__cluster__v3__outlier_detection__descriptor);
  if (od == NULL)
    return NULL;
  /* As Istio: only the 5xx and gateway detectors, enforced at 100% when given; success
   * rate never enforced. */
  od->enforcing_success_rate = sc__xds_u32(a, 0);
  if (o->consecutive_5xx_errors != SC_UNSET_U32) {
    od->consecutive_5xx = sc__xds_u32(a, o->consecutive_5xx_errors);
    od->enforcing_consecutive_5xx = sc__xds_u32(a, o->consecutive_5xx_errors ? 100 : 0);
  } else {
    od->enforcing_consecutive_5xx = sc__xds_u32(a, 0);
  }
  if (o->consecutive_gateway_errors != SC_UNSET_U32) {
    od->consecutive_gateway_failure = sc__xds_u32(a, o->consecutive_gateway_errors);
    od->enforcing_consecutive_gateway_failure = sc__xds_u32(a, o->consecutive_gateway_errors ? 100 : 0);
  }
  if (o->interval != SC_UNSET_I64)
    od->interval = sc__xds_duration(a, o->interval);
  if (o->base_ejection_time != SC_UNSET_I64)
    od->base_ejection_time = sc__xds_duration(a, o->base_ejection_time);
  if (o->max_ejection_percent != SC_UNSET_U32)
    od->max_ejection_percent = sc__xds_u32(a, o->max_ejection_percent);
  od->split_external_local_origin_errors = o->split_external_local_origin_errors;
  if (o->consecutive_local_origin_failures != SC_UNSET_U32)
    od->consecutive_local_origin_failure = sc__xds_u32(a, o->consecutive_local_origin_failures);
  return od;
}

/* The connection pool's common HTTP options (Istio's applyConnectionPool): idle timeout
 * (http's, else tcp's), maximum connection duration, requests per connection (when > 0);
 * NULL when the pool sets none of these nor maxConcurrentStreams. */
static int common_http_options(sc_arena_t *a, const sc_connection_pool_t *cp, Envoy__Config__Core__V3__HttpProtocolOptions **out) {
  *out = NULL;
  if (cp == NULL)
    return 0;
  int64_t idle = cp->http_idle_timeout != SC_UNSET_I64 ? cp->http_idle_timeout : cp->tcp_idle_timeout;
  bool per_conn = cp->max_requests_per_connection != SC_UNSET_U32 && cp->max_requests_per_connection > 0;
  bool streams = cp->max_concurrent_streams != SC_UNSET_U32 && cp->max_concurrent_streams > 0;
  if (idle == SC_UNSET_I64 && cp->max_connection_duration == SC_UNSET_I64 && !per_conn && !streams)
    return 0; /* (maxConcurrentStreams alone gives empty common options, as Istio's) */
  Envoy__Config__Core__V3__HttpProtocolOptions *o =
      NEW(a, Envoy__Config__Core__V3__HttpProtocolOptions, envoy__config__core__v3__http_protocol_options__descriptor);
  if (o == NULL || (idle != SC_UNSET_I64 && (o->idle_timeout = sc__xds_duration(a, idle)) == NULL) ||
      (cp->max_connection_duration != SC_UNSET_I64 &&
       (o->max_connection_duration = sc__xds_duration(a, cp->max_connection_duration)) == NULL) ||
      (per_conn && (o->max_requests_per_connection = sc__xds_u32(a, cp->max_requests_per_connection)) == NULL))
    return SC_ENOMEM;
  *out = o;
  return 0;
}

/* The cluster's envoy.extensions.upstreams.http.v3.HttpProtocolOptions, as Istio's
 * clusterWrapper builds it: HTTP/2 upstream for HTTP2, GRPC and GRPC-Web ports (and
 * h2UpgradePolicy UPGRADE) with the pool's maxConcurrentStreams; the pool's common
 * options; HTTP/1.1 explicitly when only common options are set; none otherwise. */
static int http_options(sc_arena_t *a, cluster_t *c, bool h2_upstream, const sc_connection_pool_t *cp) {
  typedef Envoy__Extensions__Upstreams__Http__V3__HttpProtocolOptions options_t;
  Envoy__Config__Core__V3__HttpProtocolOptions *common;
  if (common_http_options(a, cp, &common) != 0)
    return SC_ENOMEM;
  if (!h2_upstream && common == NULL)
    return 0;
  options_t *o = NEW(a, options_t, envoy__extensions__upstreams__http__v3__http_protocol_options__descriptor);
  Envoy__Extensions__Upstreams__Http__V3__HttpProtocolOptions__ExplicitHttpConfig *e =
      NEW(a, Envoy__Extensions__Upstreams__Http__V3__HttpProtocolOptions__ExplicitHttpConfig,
          envoy__extensions__upstreams__http__v3__http_protocol_options__explicit_http_config__descriptor);
  Google__Protobuf__Any *any = NEW(a, Google__Protobuf__Any, google__protobuf__any__descriptor);
  Envoy__Config__Cluster__V3__Cluster__TypedExtensionProtocolOptionsEntry *entry =
      NEW(a, Envoy__Config__Cluster__V3__Cluster__TypedExtensionProtocolOptionsEntry,
          envoy__config__cluster__v3__cluster__typed_extension_protocol_options_entry__descriptor);
  Envoy__Config__Cluster__V3__Cluster__TypedExtensionProtocolOptionsEntry **list = sc__arena_alloc(a, sizeof(*list));
  if (o == NULL || e == NULL || any == NULL || entry == NULL || list == NULL)
    return SC_ENOMEM;
  o->common_http_protocol_options = common;
  if (h2_upstream) {
    Envoy__Config__Core__V3__Http2ProtocolOptions *h2 =
        NEW(a, Envoy__Config__Core__V3__Http2ProtocolOptions, envoy__config__core__v3__http2_protocol_options__descriptor);
    if (h2 == NULL)
      return SC_ENOMEM;
    if (common != NULL && cp->max_concurrent_streams != SC_UNSET_U32 && cp->max_concurrent_streams > 0 &&
        (h2->max_concurrent_streams = sc__xds_u32(a, cp->max_concurrent_streams)) == NULL)
      return SC_ENOMEM;
    e->protocol_config_case =
        ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__EXPLICIT_HTTP_CONFIG__PROTOCOL_CONFIG_HTTP2_PROTOCOL_OPTIONS;
    e->http2_protocol_options = h2;
  } else {
    Envoy__Config__Core__V3__Http1ProtocolOptions *h1 =
        NEW(a, Envoy__Config__Core__V3__Http1ProtocolOptions, envoy__config__core__v3__http1_protocol_options__descriptor);
    if (h1 == NULL)
      return SC_ENOMEM;
    e->protocol_config_case =
        ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__EXPLICIT_HTTP_CONFIG__PROTOCOL_CONFIG_HTTP_PROTOCOL_OPTIONS;
    e->http_protocol_options = h1;
  }
  o->upstream_protocol_options_case =
      ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__UPSTREAM_PROTOCOL_OPTIONS_EXPLICIT_HTTP_CONFIG;
  o->explicit_http_config = e;
  any->type_url = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
  any->value.len = protobuf_c_message_get_packed_size(&o->base);
  if ((any->value.data = sc__arena_alloc(a, any->value.len + 1)) == NULL)
    return SC_ENOMEM;
  protobuf_c_message_pack(&o->base, any->value.data);
  entry->key = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
  entry->value = any;
  list[0] = entry;
  c->n_typed_extension_protocol_options = 1;
  c->typed_extension_protocol_options = list;
  return 0;
}

/* consistentHash (Istio's ApplyRingHashLoadBalancer): MAGLEV with its table size when
 * maglev is given, RING_HASH with its minimum ring size when ringHash is; otherwise
 * RING_HASH with the deprecated minimumRingSize, 1024 (Envoy's default) when unset. */
static int consistent_hash(sc_arena_t *a, cluster_t *c, const sc_load_balancer_t *lb) {
  Google__Protobuf__UInt64Value *size = NULL;
  uint64_t n = lb->has_maglev ? lb->maglev_table_size
               : lb->has_ring_hash ? lb->ring_hash_minimum_ring_size
               : lb->hash_minimum_ring_size ? lb->hash_minimum_ring_size
                                            : 1024;
  if (n != 0) {
    if ((size = NEW(a, Google__Protobuf__UInt64Value, google__protobuf__uint64_value__descriptor)) == NULL)
      return SC_ENOMEM;
    size->value = n;
  }
  if (lb->has_maglev) {
    c->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__MAGLEV;
    if (size == NULL)
      return 0;
    Envoy__Config__Cluster__V3__Cluster__MaglevLbConfig *m = NEW(
        a, Envoy__Config__Cluster__V3__Cluster__MaglevLbConfig, envoy__config__cluster__v3__cluster__maglev_lb_config__descriptor);
    if (m == NULL)
      return SC_ENOMEM;
    m->table_size = size;
    c->lb_config_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_CONFIG_MAGLEV_LB_CONFIG;
    c->maglev_lb_config = m;
    return 0;
  }
  c->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__RING_HASH;
  if (size == NULL)
    return 0;
  Envoy__Config__Cluster__V3__Cluster__RingHashLbConfig *r = NEW(
      a, Envoy__Config__Cluster__V3__Cluster__RingHashLbConfig, envoy__config__cluster__v3__cluster__ring_hash_lb_config__descriptor);
  if (r == NULL)
    return SC_ENOMEM;
  r->minimum_ring_size = size;
  c->lb_config_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_CONFIG_RING_HASH_LB_CONFIG;
  c->ring_hash_lb_config = r;
  return 0;
}

/* ---- clusters ------------------------------------------------------------------------- */

typedef Envoy__Config__Cluster__V3__Cluster__DiscoveryType discovery_t;

static discovery_t discovery_type(const sc_svc_t *svc) {
  switch (svc->resolution) {
  case SC_RES_DNS_LB:
    return ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__STRICT_DNS;
  case SC_RES_DNS_ROUND_ROBIN_LB:
    return ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__LOGICAL_DNS;
  case SC_RES_PASSTHROUGH:
    return ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__ORIGINAL_DST;
  default:
    return ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__EDS;
  }
}

static bool is_dns(discovery_t t) {
  return t == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__STRICT_DNS ||
         t == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__LOGICAL_DNS;
}

/* The inline endpoints of a DNS cluster: a ServiceEntry's endpoints that carry the
 * port (by name, else the service port), filtered by the subset's labels; without
 * endpoints, the hostname itself. NULL with *none set when nothing is left. */
static Envoy__Config__Endpoint__V3__ClusterLoadAssignment *dns_endpoints(sc_arena_t *a, const char *name,
                                                                        const sc_svc_t *svc,
                                                                        const sc_svc_port_t *port,
                                                                        const sc_subset_t *subset, bool *none) {
  const sc_service_entry_t *se = svc->registry == SC_REGISTRY_EXTERNAL ? &svc->obj->u.service_entry : NULL;
  uint32_t n = se && se->nendpoints ? se->nendpoints : 1;
  Envoy__Config__Endpoint__V3__LbEndpoint **eps = sc__arena_alloc(a, n * sizeof(*eps));
  if (eps == NULL)
    return NULL;
  uint32_t kept = 0;
  for (uint32_t i = 0; i < n; i++) {
    const sc_workload_entry_t *we = se && se->nendpoints ? &se->endpoints[i] : NULL;
    if (we != NULL && subset != NULL && !sc_labels_within(&subset->labels, &we->labels))
      continue;
    if (we == NULL && subset != NULL && subset->labels.n > 0)
      continue; /* the hostname has no labels */
    uint32_t target = port->port;
    for (uint32_t p = 0; we && p < we->nports; p++)
      if (sc_str_eq(we->ports[p].name, port->name))
        target = we->ports[p].port;
    Envoy__Config__Endpoint__V3__LbEndpoint *lb =
        NEW(a, Envoy__Config__Endpoint__V3__LbEndpoint, envoy__config__endpoint__v3__lb_endpoint__descriptor);
    Envoy__Config__Endpoint__V3__Endpoint *ep =
        NEW(a, Envoy__Config__Endpoint__V3__Endpoint, envoy__config__endpoint__v3__endpoint__descriptor);
    if (lb == NULL || ep == NULL ||
        (ep->address = sc__xds_socket_address(a, we ? we->address.ptr : svc->hostname.ptr, target)) == NULL)
      return NULL;
    lb->host_identifier_case = ENVOY__CONFIG__ENDPOINT__V3__LB_ENDPOINT__HOST_IDENTIFIER_ENDPOINT;
    lb->endpoint = ep;
    lb->load_balancing_weight = sc__xds_u32(a, we && we->weight ? we->weight : 1);
    eps[kept++] = lb;
  }
  *none = kept == 0;
  if (*none)
    return NULL;
  Envoy__Config__Endpoint__V3__LocalityLbEndpoints *loc = NEW(
      a, Envoy__Config__Endpoint__V3__LocalityLbEndpoints, envoy__config__endpoint__v3__locality_lb_endpoints__descriptor);
  Envoy__Config__Endpoint__V3__LocalityLbEndpoints **locs = sc__arena_alloc(a, sizeof(*locs));
  Envoy__Config__Endpoint__V3__ClusterLoadAssignment *cla = NEW(
      a, Envoy__Config__Endpoint__V3__ClusterLoadAssignment, envoy__config__endpoint__v3__cluster_load_assignment__descriptor);
  if (loc == NULL || locs == NULL || cla == NULL)
    return NULL;
  loc->n_lb_endpoints = kept;
  loc->lb_endpoints = eps;
  loc->load_balancing_weight = sc__xds_u32(a, kept);
  locs[0] = loc;
  cla->cluster_name = (char *)name;
  cla->n_endpoints = 1;
  cla->endpoints = locs;
  return cla;
}

/* ---- TLS (DestinationRule trafficPolicy.tls) ------------------------------------------- */

typedef Envoy__Extensions__TransportSockets__Tls__V3__SdsSecretConfig sds_t;

/* An SDS secret from the proxy's agent ("sds-grpc"), as Istio configures them. */
static sds_t *sds_secret(sc_arena_t *a, const char *name) {
  sds_t *s = NEW(a, sds_t, envoy__extensions__transport_sockets__tls__v3__sds_secret_config__descriptor);
  Envoy__Config__Core__V3__ConfigSource *cs =
      NEW(a, Envoy__Config__Core__V3__ConfigSource, envoy__config__core__v3__config_source__descriptor);
  Envoy__Config__Core__V3__ApiConfigSource *api =
      NEW(a, Envoy__Config__Core__V3__ApiConfigSource, envoy__config__core__v3__api_config_source__descriptor);
  Envoy__Config__Core__V3__GrpcService *grpc =
      NEW(a, Envoy__Config__Core__V3__GrpcService, envoy__config__core__v3__grpc_service__descriptor);
  Envoy__Config__Core__V3__GrpcService__EnvoyGrpc *eg = NEW(
      a, Envoy__Config__Core__V3__GrpcService__EnvoyGrpc, envoy__config__core__v3__grpc_service__envoy_grpc__descriptor);
  Envoy__Config__Core__V3__GrpcService **list = sc__arena_alloc(a, sizeof(*list));
  if (s == NULL || cs == NULL || api == NULL || grpc == NULL || eg == NULL || list == NULL ||
      (s->name = sc__xds_str(a, sc_str(name))) == NULL || (cs->initial_fetch_timeout = sc__xds_duration(a, 0)) == NULL)
    return NULL;
  eg->cluster_name = "sds-grpc";
  grpc->target_specifier_case = ENVOY__CONFIG__CORE__V3__GRPC_SERVICE__TARGET_SPECIFIER_ENVOY_GRPC;
  grpc->envoy_grpc = eg;
  list[0] = grpc;
  api->api_type = ENVOY__CONFIG__CORE__V3__API_CONFIG_SOURCE__API_TYPE__GRPC;
  api->transport_api_version = ENVOY__CONFIG__CORE__V3__API_VERSION__V3;
  api->grpc_services = list;
  api->n_grpc_services = 1;
  api->set_node_on_first_message_only = true;
  cs->config_source_specifier_case = ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__CONFIG_SOURCE_SPECIFIER_API_CONFIG_SOURCE;
  cs->api_config_source = api;
  cs->resource_api_version = ENVOY__CONFIG__CORE__V3__API_VERSION__V3;
  s->sds_config = cs;
  return s;
}

static Envoy__Config__Core__V3__DataSource *file_source(sc_arena_t *a, sc_str_t path) {
  Envoy__Config__Core__V3__DataSource *d =
      NEW(a, Envoy__Config__Core__V3__DataSource, envoy__config__core__v3__data_source__descriptor);
  if (d == NULL || (d->filename = sc__xds_str(a, path)) == NULL)
    return NULL;
  d->specifier_case = ENVOY__CONFIG__CORE__V3__DATA_SOURCE__SPECIFIER_FILENAME;
  return d;
}

/* The cluster's transport socket for a tls block (cluster_tls.go): ISTIO_MUTUAL with the
 * agent's SDS certificate and root and Istio's ALPN and SNI; SIMPLE and MUTUAL with the
 * files (or the credential's SDS secret) the rule names; NULL for DISABLE. */
static int tls_socket(sc_arena_t *a, const sc_client_tls_t *t, const char *cluster_name,
                      Envoy__Config__Core__V3__TransportSocket **out) {
  typedef Envoy__Extensions__TransportSockets__Tls__V3__CommonTlsContext common_t;
  *out = NULL;
  if (t->mode == SC_TLS_DISABLE)
    return 0;
  Envoy__Extensions__TransportSockets__Tls__V3__UpstreamTlsContext *u = NEW(
      a, Envoy__Extensions__TransportSockets__Tls__V3__UpstreamTlsContext,
      envoy__extensions__transport_sockets__tls__v3__upstream_tls_context__descriptor);
  common_t *c = NEW(a, common_t, envoy__extensions__transport_sockets__tls__v3__common_tls_context__descriptor);
  Envoy__Config__Core__V3__TransportSocket *ts =
      NEW(a, Envoy__Config__Core__V3__TransportSocket, envoy__config__core__v3__transport_socket__descriptor);
  if (u == NULL || c == NULL || ts == NULL)
    return SC_ENOMEM;
  u->common_tls_context = c;
  if (t->mode == SC_TLS_ISTIO_MUTUAL) {
    /* SNI outbound_.PORT_.SUBSET_.HOST from the cluster name outbound|PORT|SUBSET|HOST */
    char sni[1200];
    const char *p1 = strchr(cluster_name, '|'), *p2 = p1 ? strchr(p1 + 1, '|') : NULL, *p3 = p2 ? strchr(p2 + 1, '|') : NULL;
    if (p3 == NULL)
      return SC_EINVAL;
    snprintf(sni, sizeof(sni), "outbound_.%.*s_.%.*s_.%s", (int)(p2 - p1 - 1), p1 + 1, (int)(p3 - p2 - 1), p2 + 1, p3 + 1);
    static char *alpn[] = {"istio-peer-exchange", "istio"};
    Envoy__Extensions__TransportSockets__Tls__V3__CommonTlsContext__CombinedCertificateValidationContext *cv = NEW(
        a, Envoy__Extensions__TransportSockets__Tls__V3__CommonTlsContext__CombinedCertificateValidationContext,
        envoy__extensions__transport_sockets__tls__v3__common_tls_context__combined_certificate_validation_context__descriptor);
    sds_t **certs = sc__arena_alloc(a, sizeof(*certs));
    if (cv == NULL || certs == NULL || (certs[0] = sds_secret(a, "default")) == NULL ||
        (cv->default_validation_context = NEW(a, Envoy__Extensions__TransportSockets__Tls__V3__CertificateValidationContext,
                                              envoy__extensions__transport_sockets__tls__v3__certificate_validation_context__descriptor)) == NULL ||
        (cv->validation_context_sds_secret_config = sds_secret(a, "ROOTCA")) == NULL ||
        (u->sni = sc__xds_str(a, sc_str(sni))) == NULL)
      return SC_ENOMEM;
    c->tls_certificate_sds_secret_configs = certs;
    c->n_tls_certificate_sds_secret_configs = 1;
    c->validation_context_type_case =
        ENVOY__EXTENSIONS__TRANSPORT_SOCKETS__TLS__V3__COMMON_TLS_CONTEXT__VALIDATION_CONTEXT_TYPE_COMBINED_VALIDATION_CONTEXT;
    c->combined_validation_context = cv;
    c->alpn_protocols = alpn;
    c->n_alpn_protocols = 2;
  } else {
    if (t->sni.len > 0 && (u->sni = sc__xds_str(a, t->sni)) == NULL)
      return SC_ENOMEM;
    if (t->ca_certificates.len > 0 && t->insecure_skip_verify != SC_TRI_TRUE) {
      Envoy__Extensions__TransportSockets__Tls__V3__CertificateValidationContext *v =
          NEW(a, Envoy__Extensions__TransportSockets__Tls__V3__CertificateValidationContext,
              envoy__extensions__transport_sockets__tls__v3__certificate_validation_context__descriptor);
      if (v == NULL || (v->trusted_ca = file_source(a, t->ca_certificates)) == NULL)
        return SC_ENOMEM;
      c->validation_context_type_case =
          ENVOY__EXTENSIONS__TRANSPORT_SOCKETS__TLS__V3__COMMON_TLS_CONTEXT__VALIDATION_CONTEXT_TYPE_VALIDATION_CONTEXT;
      c->validation_context = v;
    }
    if (t->mode == SC_TLS_MUTUAL && t->credential_name.len > 0) {
      char name[600];
      snprintf(name, sizeof(name), "kubernetes://%.*s", (int)t->credential_name.len, t->credential_name.ptr);
      sds_t **certs = sc__arena_alloc(a, sizeof(*certs));
      if (certs == NULL || (certs[0] = sds_secret(a, name)) == NULL)
        return SC_ENOMEM;
      c->tls_certificate_sds_secret_configs = certs;
      c->n_tls_certificate_sds_secret_configs = 1;
    } else if (t->mode == SC_TLS_MUTUAL) {
      Envoy__Extensions__TransportSockets__Tls__V3__TlsCertificate *cert =
          NEW(a, Envoy__Extensions__TransportSockets__Tls__V3__TlsCertificate,
              envoy__extensions__transport_sockets__tls__v3__tls_certificate__descriptor);
      Envoy__Extensions__TransportSockets__Tls__V3__TlsCertificate **certs = sc__arena_alloc(a, sizeof(*certs));
      if (cert == NULL || certs == NULL || (cert->certificate_chain = file_source(a, t->client_certificate)) == NULL ||
          (cert->private_key = file_source(a, t->private_key)) == NULL)
        return SC_ENOMEM;
      certs[0] = cert;
      c->tls_certificates = certs;
      c->n_tls_certificates = 1;
    }
  }
  ts->name = "envoy.transport_sockets.tls";
  ts->config_type_case = ENVOY__CONFIG__CORE__V3__TRANSPORT_SOCKET__CONFIG_TYPE_TYPED_CONFIG;
  if ((ts->typed_config = sc__xds_any(a, &u->base)) == NULL)
    return SC_ENOMEM;
  *out = ts;
  return 0;
}

static bool http2_port(sc_protocol_t p) {
  return p == SC_PROTO_HTTP2 || p == SC_PROTO_GRPC || p == SC_PROTO_GRPC_WEB;
}

/* One outbound cluster; *skip is set when it is not emitted (a DNS cluster without
 * endpoints). */
static int outbound_cluster(sc_arena_t *a, const char *name, const sc_svc_t *svc, const sc_svc_port_t *port,
                            const sc_cdr_t *rule, const sc_subset_t *subset, const sc_mesh_config_t *mesh,
                            cluster_t **out) {
  cluster_t *c = NEW(a, cluster_t, envoy__config__cluster__v3__cluster__descriptor);
  if (c == NULL)
    return SC_ENOMEM;
  *out = NULL;
  sc_policy_blocks_t p;
  policy_for(rule, subset, port->port, &p);
  discovery_t type = discovery_type(svc);
  sc_lb_simple_t simple = p.has_load_balancer ? p.load_balancer.simple : SC_LB_UNSPECIFIED;
  if (simple == SC_LB_PASSTHROUGH)
    type = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__ORIGINAL_DST;
  c->name = (char *)name;
  c->cluster_discovery_type_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_TYPE;
  c->type = type;
  int64_t timeout = p.has_connection_pool && p.connection_pool.connect_timeout != SC_UNSET_I64
                        ? p.connection_pool.connect_timeout
                        : mesh->connect_timeout;
  if ((c->connect_timeout = sc__xds_duration(a, timeout)) == NULL)
    return SC_ENOMEM;
  if (type == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__ORIGINAL_DST)
    c->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__CLUSTER_PROVIDED;
  else if (simple == SC_LB_ROUND_ROBIN)
    c->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__ROUND_ROBIN;
  else if (simple == SC_LB_RANDOM)
    c->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__RANDOM;
  else /* LEAST_REQUEST, LEAST_CONN, and unset */
    c->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__LEAST_REQUEST;
  if (type != ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__ORIGINAL_DST && p.has_load_balancer &&
      p.load_balancer.has_consistent_hash && consistent_hash(a, c, &p.load_balancer) != 0)
    return SC_ENOMEM;
  if (type == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__EDS) {
    Envoy__Config__Cluster__V3__Cluster__EdsClusterConfig *eds = NEW(
        a, Envoy__Config__Cluster__V3__Cluster__EdsClusterConfig, envoy__config__cluster__v3__cluster__eds_cluster_config__descriptor);
    if (eds == NULL || (eds->eds_config = sc__xds_ads_source(a)) == NULL)
      return SC_ENOMEM;
    eds->service_name = (char *)name;
    c->eds_cluster_config = eds;
  } else if (is_dns(type)) {
    bool none = false;
    c->load_assignment = dns_endpoints(a, name, svc, port, subset, &none);
    if (none)
      return 0; /* no endpoint: the cluster is not emitted */
    if (c->load_assignment == NULL)
      return SC_ENOMEM;
    c->dns_lookup_family = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DNS_LOOKUP_FAMILY__V4_ONLY;
  }
  if ((c->circuit_breakers = circuit_breakers(a, &p)) == NULL)
    return SC_ENOMEM;
  if (p.has_tls && tls_socket(a, &p.tls, name, &c->transport_socket) != 0)
    return SC_ENOMEM;
  if (p.has_outlier_detection && (c->outlier_detection = outlier_detection(a, &p.outlier_detection)) == NULL)
    return SC_ENOMEM;
  bool h2 = http2_port(port->protocol) ||
            (p.has_connection_pool && p.connection_pool.h2_upgrade_policy == SC_H2_UPGRADE_UPGRADE &&
             port->protocol == SC_PROTO_HTTP);
  if (http_options(a, c, h2, p.has_connection_pool ? &p.connection_pool : NULL) != 0)
    return SC_ENOMEM;
  *out = c;
  return 0;
}

int sc__cds_service(const sc_svc_t *svc, const sc_cdr_t *rule, const sc_mesh_config_t *mesh,
                   sc_resources_t *out) {
  if (svc->resolution == SC_RES_ALIAS)
    return 0;
  sc_arena_t *a = sc__arena_new(4096);
  if (a == NULL)
    return SC_ENOMEM;
  int rc = 0;
  char name[1200];
  for (uint32_t i = 0; i < svc->nports && rc == 0; i++) {
    const sc_svc_port_t *port = &svc->ports[i];
    if (port->protocol == SC_PROTO_UDP)
      continue;
    for (int64_t s = -1; rc == 0 && s < (int64_t)(rule ? rule->subsets.n : 0); s++) {
      const sc_subset_t *subset = s < 0 ? NULL : rule->subsets.items[s];
      snprintf(name, sizeof(name), "outbound|%u|%s|%s", port->port, subset ? subset->name.ptr : "",
               svc->hostname.ptr);
      cluster_t *c;
      rc = outbound_cluster(a, name, svc, port, rule, subset, mesh, &c);
      if (rc == 0 && c != NULL)
        rc = sc__resources_add(out, name, &c->base);
      if (rc == 0 && c != NULL && c->type == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__EDS)
        rc = sc__eds_attach(&out->items[out->n - 1], svc, port->port, subset ? &subset->labels : NULL);
    }
  }
  sc__arena_del(a);
  return rc;
}

/* ---- the cache ------------------------------------------------------------------------- */

/* Records are compared by what the clusters are made of (every field sc__cds_service
 * reads: keep record_key and same_record in step with it), not by address: scopes trim
 * records to their listeners' ports in arenas of their own, so one address can be another
 * record later in the same update. */
struct sc_cds_cache_entry_s {
  sc_svc_t svc; /* the fields the clusters read; ports point into ports below */
  sc_svc_port_t *ports;
  const sc_cdr_t *rule;
  sc_resources_t res;
  sc_cds_cache_entry_t *next;
};

static uint64_t record_key(const sc_svc_t *svc, const sc_cdr_t *rule) {
  /* Chained: each part hashed with the hash so far as seed. */
  uint64_t h = XXH3_64bits(svc->hostname.ptr, svc->hostname.len);
  h = XXH3_64bits_withSeed(&svc->obj, sizeof(svc->obj), h);
  h = XXH3_64bits_withSeed(&rule, sizeof(rule), h);
  h = XXH3_64bits_withSeed(&svc->resolution, sizeof(svc->resolution), h);
  for (uint32_t i = 0; i < svc->nports; i++) {
    h = XXH3_64bits_withSeed(&svc->ports[i].port, sizeof(svc->ports[i].port), h);
    h = XXH3_64bits_withSeed(&svc->ports[i].protocol, sizeof(svc->ports[i].protocol), h);
    h = XXH3_64bits_withSeed(svc->ports[i].name.ptr, svc->ports[i].name.len, h);
  }
  return h;
}

static bool same_record(const sc_cds_cache_entry_t *e, const sc_svc_t *svc, const sc_cdr_t *rule) {
  if (e->rule != rule || e->svc.obj != svc->obj || e->svc.resolution != svc->resolution ||
      e->svc.registry != svc->registry || !sc_str_eq(e->svc.hostname, svc->hostname) ||
      e->svc.nports != svc->nports)
    return false;
  for (uint32_t i = 0; i < svc->nports; i++)
    if (e->ports[i].port != svc->ports[i].port || e->ports[i].protocol != svc->ports[i].protocol ||
        !sc_str_eq(e->ports[i].name, svc->ports[i].name))
      return false;
  return true;
}

struct sc_parts_cache_entry_s {
  uint8_t *key;
  size_t klen;
  sc_resources_t res;
  sc_parts_cache_entry_t *next;
};

void sc__cds_cache_init(sc_cds_cache_t *c) {
  sc__hashmap_init(&c->by_key);
  sc__hashmap_init(&c->parts);
}

static void parts_reset(sc_cds_cache_t *c) {
  for (size_t i = 0; i < c->parts.cap; i++) {
    sc_parts_cache_entry_t *e = c->parts.values[i];
    while (e != NULL) {
      sc_parts_cache_entry_t *next = e->next;
      sc__resources_free(&e->res);
      sc__free(e->key);
      sc__free(e);
      e = next;
    }
  }
  sc__hashmap_free(&c->parts);
  sc__hashmap_init(&c->parts);
}

void sc__cds_cache_reset(sc_cds_cache_t *c) {
  for (size_t i = 0; i < c->by_key.cap; i++) {
    sc_cds_cache_entry_t *e = c->by_key.values[i];
    while (e != NULL) {
      sc_cds_cache_entry_t *next = e->next;
      sc__resources_free(&e->res);
      sc__free(e->ports);
      sc__free(e);
      e = next;
    }
  }
  sc__hashmap_free(&c->by_key);
  sc__hashmap_init(&c->by_key);
  parts_reset(c);
}

void sc__cds_cache_free(sc_cds_cache_t *c) {
  sc__cds_cache_reset(c);
  sc__hashmap_free(&c->by_key);
  sc__hashmap_free(&c->parts);
}

/* Appends copies of the resources of from[first..] to out. */
static int copy_resources(const sc_resources_t *from, size_t first, sc_resources_t *out) {
  for (size_t i = first; i < from->n; i++) {
    if (sc__resources_reserve(out) != 0)
      return SC_ENOMEM;
    const sc_resource_t *r = &from->items[i];
    sc_resource_t c = {sc__strdup(r->name), sc__malloc(r->len ? r->len : 1), r->len, {0},
                       r->eds ? sc__strdup(r->eds) : NULL, r->eds_id, r->type};
    if (c.name == NULL || c.bytes == NULL || (r->eds != NULL && c.eds == NULL)) {
      sc__free(c.name);
      sc__free(c.bytes);
      sc__free(c.eds);
      return SC_ENOMEM;
    }
    memcpy(c.bytes, r->bytes, r->len);
    memcpy(c.hash, r->hash, sizeof(c.hash));
    out->items[out->n++] = c;
  }
  return 0;
}

bool sc__cds_parts_get(sc_cds_cache_t *c, const void *key, size_t klen, sc_resources_t *out, int *rc) {
  for (sc_parts_cache_entry_t *e = sc__hashmap_get(&c->parts, XXH3_64bits(key, klen)); e != NULL; e = e->next)
    if (e->klen == klen && memcmp(e->key, key, klen) == 0) {
      *rc = copy_resources(&e->res, 0, out);
      return true;
    }
  return false;
}

int sc__cds_parts_put(sc_cds_cache_t *c, const void *key, size_t klen, const sc_resources_t *res, size_t from) {
  uint64_t h = XXH3_64bits(key, klen);
  sc_parts_cache_entry_t *e = sc__calloc(1, sizeof(*e));
  if (e == NULL || (e->key = sc__malloc(klen ? klen : 1)) == NULL) {
    sc__free(e);
    return SC_ENOMEM;
  }
  memcpy(e->key, key, klen);
  e->klen = klen;
  int rc = copy_resources(res, from, &e->res);
  e->next = sc__hashmap_get(&c->parts, h);
  if (rc == 0 && (rc = sc__hashmap_put(&c->parts, h, e)) == 0)
    return 0;
  sc__resources_free(&e->res);
  sc__free(e->key);
  sc__free(e);
  return rc;
}

int sc__cds_service_cached(sc_cds_cache_t *cache, const sc_svc_t *svc, const sc_cdr_t *rule,
                          const sc_mesh_config_t *mesh, sc_resources_t *out) {
  if (cache == NULL)
    return sc__cds_service(svc, rule, mesh, out);
  uint64_t key = record_key(svc, rule);
  sc_cds_cache_entry_t *head = sc__hashmap_get(&cache->by_key, key);
  for (sc_cds_cache_entry_t *e = head; e != NULL; e = e->next)
    if (same_record(e, svc, rule))
      return copy_resources(&e->res, 0, out);
  sc_cds_cache_entry_t *e = sc__calloc(1, sizeof(*e));
  if (e == NULL)
    return SC_ENOMEM;
  /* The names and strings stay valid for the update: they are the world's. */
  e->svc = *svc;
  e->rule = rule;
  if ((e->ports = sc__malloc((svc->nports + 1) * sizeof(*e->ports))) == NULL) {
    sc__free(e);
    return SC_ENOMEM;
  }
  memcpy(e->ports, svc->ports, svc->nports * sizeof(*e->ports));
  e->svc.ports = e->ports;
  int rc = sc__cds_service(svc, rule, mesh, &e->res);
  if (rc == 0) {
    e->next = head;
    rc = sc__hashmap_put(&cache->by_key, key, e);
  }
  if (rc != 0) {
    sc__resources_free(&e->res);
    sc__free(e->ports);
    sc__free(e);
    return rc;
  }
  return copy_resources(&e->res, 0, out);
}

/* One endpoint: a pipe for "unix://PATH", else "IP:PORT" (IPv6 in brackets). NULL with
 * *skip set for 0.0.0.0, which means the proxy's own address. */
static Envoy__Config__Core__V3__Address *endpoint_address(sc_arena_t *a, sc_str_t endpoint, bool *skip) {
  *skip = false;
  if (endpoint.len > 7 && memcmp(endpoint.ptr, "unix://", 7) == 0) {
    Envoy__Config__Core__V3__Address *addr = NEW(a, Envoy__Config__Core__V3__Address, envoy__config__core__v3__address__descriptor);
    Envoy__Config__Core__V3__Pipe *pipe = NEW(a, Envoy__Config__Core__V3__Pipe, envoy__config__core__v3__pipe__descriptor);
    if (addr == NULL || pipe == NULL)
      return NULL;
    pipe->path = (char *)endpoint.ptr + 7;
    addr->address_case = ENVOY__CONFIG__CORE__V3__ADDRESS__ADDRESS_PIPE;
    addr->pipe = pipe;
    return addr;
  }
  const char *colon = NULL; /* the last one: IPv6 addresses have more */
  for (uint32_t i = 0; i < endpoint.len; i++)
    if (endpoint.ptr[i] == ':')
      colon = endpoint.ptr + i;
  if (colon == NULL)
    return NULL;
  size_t hlen = (size_t)(colon - endpoint.ptr);
  const char *host = endpoint.ptr;
  if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']')
    host++, hlen -= 2;
  char *h = sc__arena_alloc(a, hlen + 1);
  if (h == NULL)
    return NULL;
  memcpy(h, host, hlen);
  h[hlen] = '\0';
  if (strcmp(h, "0.0.0.0") == 0) {
    *skip = true;
    return NULL;
  }
  return sc__xds_socket_address(a, h, (uint32_t)strtoul(colon + 1, NULL, 10));
}

/* One inbound cluster "inbound|PORT||", from 127.0.0.6: STATIC to endpoint (a Unix
 * socket as a pipe address, or IP:port), ORIGINAL_DST without one; nothing for an
 * endpoint on 0.0.0.0 (the proxy's own address: the frontend's). */
static int inbound_cluster(sc_arena_t *a, uint32_t port, sc_str_t endpoint, const sc_mesh_config_t *mesh,
                           sc_resources_t *out) {
  char name[64];
  snprintf(name, sizeof(name), "inbound|%u||", port);
  cluster_t *c = NEW(a, cluster_t, envoy__config__cluster__v3__cluster__descriptor);
  Envoy__Config__Core__V3__BindConfig *bind =
      NEW(a, Envoy__Config__Core__V3__BindConfig, envoy__config__core__v3__bind_config__descriptor);
  Envoy__Config__Core__V3__Address *from = sc__xds_socket_address(a, "127.0.0.6", 0);
  sc_policy_blocks_t defaults = {0};
  if (c == NULL || bind == NULL || from == NULL || (c->connect_timeout = sc__xds_duration(a, mesh->connect_timeout)) == NULL ||
      (c->circuit_breakers = circuit_breakers(a, &defaults)) == NULL)
    return SC_ENOMEM;
  c->name = name;
  c->cluster_discovery_type_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_TYPE;
  bind->source_address = from->socket_address;
  c->upstream_bind_config = bind;
  if (endpoint.len == 0) {
    c->type = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__ORIGINAL_DST;
    c->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__CLUSTER_PROVIDED;
  } else {
    bool skip;
    Envoy__Config__Core__V3__Address *addr = endpoint_address(a, endpoint, &skip);
    if (skip)
      return 0;
    Envoy__Config__Endpoint__V3__ClusterLoadAssignment *cla = NEW(
        a, Envoy__Config__Endpoint__V3__ClusterLoadAssignment, envoy__config__endpoint__v3__cluster_load_assignment__descriptor);
    Envoy__Config__Endpoint__V3__LocalityLbEndpoints *loc = NEW(
        a, Envoy__Config__Endpoint__V3__LocalityLbEndpoints, envoy__config__endpoint__v3__locality_lb_endpoints__descriptor);
    Envoy__Config__Endpoint__V3__LbEndpoint *lb =
        NEW(a, Envoy__Config__Endpoint__V3__LbEndpoint, envoy__config__endpoint__v3__lb_endpoint__descriptor);
    Envoy__Config__Endpoint__V3__Endpoint *ep =
        NEW(a, Envoy__Config__Endpoint__V3__Endpoint, envoy__config__endpoint__v3__endpoint__descriptor);
    void **lists = sc__arena_alloc(a, 2 * sizeof(void *));
    if (addr == NULL || cla == NULL || loc == NULL || lb == NULL || ep == NULL || lists == NULL)
      return SC_ENOMEM; /* validation admits only endpoints of these forms */
    ep->address = addr;
    lb->host_identifier_case = ENVOY__CONFIG__ENDPOINT__V3__LB_ENDPOINT__HOST_IDENTIFIER_ENDPOINT;
    lb->endpoint = ep;
    lists[0] = lb;
    loc->n_lb_endpoints = 1;
    loc->lb_endpoints = (Envoy__Config__Endpoint__V3__LbEndpoint **)&lists[0];
    lists[1] = loc;
    cla->cluster_name = name;
    cla->n_endpoints = 1;
    cla->endpoints = (Envoy__Config__Endpoint__V3__LocalityLbEndpoints **)&lists[1];
    c->type = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__STATIC;
    c->load_assignment = cla;
  }
  return sc__resources_add(out, name, &c->base);
}

int sc__cds_inbound(const sc_sidecar_t *sidecar, const sc_mesh_config_t *mesh, sc_resources_t *out) {
  sc_arena_t *a = sc__arena_new(1024);
  if (a == NULL)
    return SC_ENOMEM;
  int rc = 0;
  for (uint32_t i = 0; sidecar && i < sidecar->ningress && rc == 0; i++)
    rc = inbound_cluster(a, sidecar->ingress[i].port.number, sidecar->ingress[i].default_endpoint, mesh, out);
  sc__arena_del(a);
  return rc;
}

uint32_t sc__cds_target_port(const sc_svc_t *svc, uint32_t i) {
  if (svc->registry == SC_REGISTRY_KUBERNETES && svc->obj != NULL && svc->obj->kind == SC_KIND_SERVICE) {
    const sc_k8s_service_t *k = &svc->obj->u.service;
    for (uint32_t j = 0; j < k->nports; j++)
      if (k->ports[j].port == svc->ports[i].port && k->ports[j].target_port != 0)
        return k->ports[j].target_port;
  }
  return svc->ports[i].port;
}

int sc__cds_inbound_service(const sc_svc_t *svc, const sc_mesh_config_t *mesh, sc_resources_t *out) {
  sc_arena_t *a = sc__arena_new(1024);
  if (a == NULL)
    return SC_ENOMEM;
  int rc = 0;
  for (uint32_t i = 0; i < svc->nports && rc == 0; i++) {
    if (svc->ports[i].protocol == SC_PROTO_UDP)
      continue;
    uint32_t tp = sc__cds_target_port(svc, i);
    char local[32];
    snprintf(local, sizeof(local), "127.0.0.1:%u", tp);
    /* The mesh's inbound policy PASSTHROUGH (its default) keeps the original
     * destination; LOCALHOST sends to 127.0.0.1. */
    rc = inbound_cluster(a, tp, mesh->inbound_mode == SC_INBOUND_PASSTHROUGH ? (sc_str_t){"", 0} : sc_str(local), mesh, out);
  }
  sc__arena_del(a);
  return rc;
}

int sc__cds_static(const sc_mesh_config_t *mesh, sc_resources_t *out) {
  static const char *const names[3] = {"BlackHoleCluster", "PassthroughCluster", "InboundPassthroughCluster"};
  sc_arena_t *a = sc__arena_new(1024);
  if (a == NULL)
    return SC_ENOMEM;
  int rc = 0;
  for (int i = 0; i < 3 && rc == 0; i++) {
    cluster_t *c = NEW(a, cluster_t, envoy__config__cluster__v3__cluster__descriptor);
    if (c == NULL || (c->connect_timeout = sc__xds_duration(a, mesh->connect_timeout)) == NULL) {
      rc = SC_ENOMEM;
      break;
    }
    c->name = (char *)names[i];
    c->cluster_discovery_type_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_TYPE;
    if (i == 0) {
      c->type = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__STATIC;
      c->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__ROUND_ROBIN;
    } else {
      c->type = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__ORIGINAL_DST;
      c->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__CLUSTER_PROVIDED;
    }
    if (i == 2) { /* to the application from 127.0.0.6, which iptables lets through */
      Envoy__Config__Core__V3__BindConfig *bind =
          NEW(a, Envoy__Config__Core__V3__BindConfig, envoy__config__core__v3__bind_config__descriptor);
      Envoy__Config__Core__V3__Address *addr = sc__xds_socket_address(a, "127.0.0.6", 0);
      if (bind == NULL || addr == NULL) {
        rc = SC_ENOMEM;
        break;
      }
      bind->source_address = addr->socket_address;
      c->upstream_bind_config = bind;
    }
    rc = sc__resources_add(out, names[i], &c->base);
  }
  sc__arena_del(a);
  return rc;
}
