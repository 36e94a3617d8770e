/* CDS (xds/cds.c, docs/semantics.md "Envoy configuration of a scope"): clusters of services from parsed manifests, decoded
 * back with the generic protobuf-to-JSON converter and checked field by field. */
#include <jansson.h>

#include "xds/cds.h"
#include "harness.h"
#include "wire/registry.h"
#include "world_fixture.h"

static const char manifests[] =
    "apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: default}\n"
    "spec:\n  clusterIP: 10.0.0.9\n  ports:\n  - {name: http, port: 9080}\n  - {name: grpc-api, port: 9090}\n"
    "  - {name: udp-stats, port: 8125, protocol: UDP}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: default}\n"
    "spec:\n  host: reviews\n  trafficPolicy:\n    loadBalancer: {simple: RANDOM}\n"
    "    connectionPool:\n      tcp: {maxConnections: 100, connectTimeout: 3s}\n      http: {http2MaxRequests: 500}\n"
    "    portLevelSettings:\n    - port: {number: 9090}\n      loadBalancer: {simple: ROUND_ROBIN}\n"
    "  subsets:\n  - name: v1\n    labels: {version: v1}\n"
    "  - name: v2\n    labels: {version: v2}\n    trafficPolicy:\n"
    "      outlierDetection: {consecutive5xxErrors: 7, interval: 10s, baseEjectionTime: 30s}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: api, namespace: default}\n"
    "spec:\n  hosts: [api.example.com]\n  location: MESH_EXTERNAL\n  resolution: DNS\n"
    "  ports: [{number: 443, name: tls, protocol: TLS}]\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: db, namespace: default}\n"
    "spec:\n  hosts: [db.internal]\n  resolution: DNS\n  ports: [{number: 5432, name: pg, protocol: TCP}]\n"
    "  endpoints:\n  - {address: db-a.internal, labels: {zone: a}, ports: {pg: 6432}}\n"
    "  - {address: db-b.internal, labels: {zone: b}, weight: 3}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: db, namespace: default}\n"
    "spec:\n  host: db.internal\n  subsets:\n  - {name: a, labels: {zone: a}}\n  - {name: c, labels: {zone: c}}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: any, namespace: default}\n"
    "spec:\n  hosts: [passthrough.example.com]\n  resolution: NONE\n  ports: [{number: 80, name: http, protocol: HTTP}]\n";

static int load(fixture_t *f) { return fixture_load(f, manifests, sizeof(manifests) - 1); }
static void unload(fixture_t *f) { fixture_free(f); }

/* The consolidated rule without selector for host, as a proxy matching no selector gets. */
static const sc_cdr_t *rule_for(const sc_world_t *w, const char *host) {
  const sc_vec_t *list = sc__world_dr_index_lookup(sc__world_dr_index(&w->dr_local, sc_str("default")), sc_str(host));
  for (uint32_t i = 0; list && i < list->n; i++)
    if (((const sc_cdr_t *)list->items[i])->selector == NULL)
      return list->items[i];
  return NULL;
}

/* The clusters of host in namespace default, decoded, by name. */
static json_t *clusters_of(const sc_world_t *w, const char *host) {
  const sc_svc_t *svc = sc__world_service(w, sc_str(host), sc_str("default"));
  sc_resources_t res = {0};
  if (svc == NULL || sc__cds_service(svc, rule_for(w, host), w->mesh, &res) != 0)
    return NULL;
  json_t *out = json_object();
  for (size_t i = 0; i < res.n; i++) {
    json_t *c = NULL;
    if (sc__pbjson_decode(sc_xds_types[SC_XDS_CLUSTERS].descriptor, res.items[i].bytes, res.items[i].len,
                         &sc_xds_registry, &c) != 0)
      break;
    json_object_set_new(out, res.items[i].name, c);
  }
  sc__resources_free(&res);
  return out;
}

static const char *str(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_string(v) ? json_string_value(v) : "";
}

static json_t *thresholds(json_t *c) {
  return json_array_get(json_object_get(json_object_get(c, "circuit_breakers"), "thresholds"), 0);
}

TEST(eds_clusters_with_subsets_and_policy) {
  fixture_t f;
  ASSERT_EQ_INT(load(&f), 0);
  json_t *cs = clusters_of(f.world, "reviews.default.svc.cluster.local");
  ASSERT(cs != NULL);
  /* 2 ports (UDP has none) x (default + 2 subsets) */
  ASSERT_EQ_INT(json_object_size(cs), 6);
  json_t *c = json_object_get(cs, "outbound|9080||reviews.default.svc.cluster.local");
  ASSERT(c != NULL);
  ASSERT_EQ_STR(str(c, "type"), "EDS");
  json_t *eds = json_object_get(c, "eds_cluster_config");
  ASSERT_EQ_STR(str(eds, "service_name"), "outbound|9080||reviews.default.svc.cluster.local");
  json_t *src = json_object_get(eds, "eds_config");
  ASSERT(json_is_object(json_object_get(src, "ads")));
  ASSERT_EQ_STR(str(src, "resource_api_version"), "V3");
  ASSERT_EQ_STR(str(src, "initial_fetch_timeout"), "0s");
  ASSERT_EQ_STR(str(c, "connect_timeout"), "3s"); /* the rule's, not the mesh's 10s */
  ASSERT_EQ_STR(str(c, "lb_policy"), "RANDOM");
  json_t *t = thresholds(c);
  ASSERT_EQ_INT(json_integer_value(json_object_get(t, "max_connections")), 100);
  ASSERT_EQ_INT(json_integer_value(json_object_get(t, "max_requests")), 500);
  ASSERT_EQ_INT(json_integer_value(json_object_get(t, "max_pending_requests")), 4294967295LL);
  ASSERT(json_is_true(json_object_get(t, "track_remaining")));
  ASSERT(json_object_get(c, "outlier_detection") == NULL);
  ASSERT(json_object_get(c, "typed_extension_protocol_options") == NULL); /* HTTP/1 */

  /* Port-level settings replace the top level entirely: round robin, and the connection
   * pool falls back to defaults (mesh timeout, no limits). */
  c = json_object_get(cs, "outbound|9090||reviews.default.svc.cluster.local");
  ASSERT(c != NULL);
  ASSERT(json_object_get(c, "lb_policy") == NULL); /* ROUND_ROBIN: the default value */
  ASSERT_EQ_STR(str(c, "connect_timeout"), "10s");
  ASSERT_EQ_INT(json_integer_value(json_object_get(thresholds(c), "max_connections")), 4294967295LL);
  json_t *h2 = json_object_get(json_object_get(c, "typed_extension_protocol_options"),
                               "envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
  ASSERT(json_is_object(json_object_get(json_object_get(h2, "explicit_http_config"), "http2_protocol_options")));

  /* Subsets: named by subset, their own EDS service name, the subset policy on top. */
  c = json_object_get(cs, "outbound|9080|v2|reviews.default.svc.cluster.local");
  ASSERT(c != NULL);
  ASSERT_EQ_STR(str(json_object_get(c, "eds_cluster_config"), "service_name"),
                "outbound|9080|v2|reviews.default.svc.cluster.local");
  ASSERT_EQ_STR(str(c, "lb_policy"), "RANDOM");
  json_t *od = json_object_get(c, "outlier_detection");
  ASSERT_EQ_INT(json_integer_value(json_object_get(od, "consecutive_5xx")), 7);
  ASSERT_EQ_INT(json_integer_value(json_object_get(od, "enforcing_consecutive_5xx")), 100);
  ASSERT_EQ_STR(str(od, "interval"), "10s");
  ASSERT_EQ_STR(str(od, "base_ejection_time"), "30s");
  ASSERT(json_object_get(cs, "outbound|9090|v1|reviews.default.svc.cluster.local") != NULL);
  ASSERT(json_object_get(cs, "outbound|8125||reviews.default.svc.cluster.local") == NULL);
  json_decref(cs);
  unload(&f);
}

TEST(dns_clusters_carry_endpoints) {
  fixture_t f;
  ASSERT_EQ_INT(load(&f), 0);
  json_t *cs = clusters_of(f.world, "api.example.com");
  json_t *c = json_object_get(cs, "outbound|443||api.example.com");
  ASSERT(c != NULL);
  ASSERT_EQ_STR(str(c, "type"), "STRICT_DNS");
  ASSERT_EQ_STR(str(c, "dns_lookup_family"), "V4_ONLY");
  ASSERT_EQ_STR(str(c, "lb_policy"), "LEAST_REQUEST"); /* unset: Istio's default */
  json_t *la = json_object_get(c, "load_assignment");
  ASSERT_EQ_STR(str(la, "cluster_name"), "outbound|443||api.example.com");
  json_t *sa = json_object_get(json_object_get(json_object_get(json_array_get(json_object_get(json_array_get(
      json_object_get(la, "endpoints"), 0), "lb_endpoints"), 0), "endpoint"), "address"), "socket_address");
  ASSERT_EQ_STR(str(sa, "address"), "api.example.com"); /* no endpoints: the host itself */
  ASSERT_EQ_INT(json_integer_value(json_object_get(sa, "port_value")), 443);
  json_decref(cs);

  cs = clusters_of(f.world, "db.internal");
  ASSERT_EQ_INT(json_object_size(cs), 2); /* default and subset a; subset c has no endpoint */
  c = json_object_get(cs, "outbound|5432||db.internal");
  json_t *eps = json_object_get(json_array_get(json_object_get(json_object_get(c, "load_assignment"), "endpoints"), 0),
                                "lb_endpoints");
  ASSERT_EQ_INT(json_array_size(eps), 2);
  json_t *a = json_object_get(json_object_get(json_object_get(json_array_get(eps, 0), "endpoint"), "address"),
                              "socket_address");
  ASSERT_EQ_STR(str(a, "address"), "db-a.internal");
  ASSERT_EQ_INT(json_integer_value(json_object_get(a, "port_value")), 6432); /* the endpoint's port */
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_array_get(eps, 1), "load_balancing_weight")), 3);
  c = json_object_get(cs, "outbound|5432|a|db.internal");
  ASSERT(c != NULL);
  eps = json_object_get(json_array_get(json_object_get(json_object_get(c, "load_assignment"), "endpoints"), 0),
                        "lb_endpoints");
  ASSERT_EQ_INT(json_array_size(eps), 1);
  ASSERT(json_object_get(cs, "outbound|5432|c|db.internal") == NULL);
  json_decref(cs);
  unload(&f);
}

TEST(original_dst_for_resolution_none) {
  fixture_t f;
  ASSERT_EQ_INT(load(&f), 0);
  json_t *cs = clusters_of(f.world, "passthrough.example.com");
  json_t *c = json_object_get(cs, "outbound|80||passthrough.example.com");
  ASSERT(c != NULL);
  ASSERT_EQ_STR(str(c, "type"), "ORIGINAL_DST");
  ASSERT_EQ_STR(str(c, "lb_policy"), "CLUSTER_PROVIDED");
  ASSERT(json_object_get(c, "eds_cluster_config") == NULL);
  json_decref(cs);
  unload(&f);
}

TEST(static_clusters) {
  fixture_t f;
  ASSERT_EQ_INT(load(&f), 0);
  sc_resources_t res = {0};
  ASSERT_EQ_INT(sc__cds_static(f.world->mesh, &res), 0);
  ASSERT_EQ_INT(res.n, 3);
  const char *types[3] = {"STATIC", "ORIGINAL_DST", "ORIGINAL_DST"};
  for (size_t i = 0; i < 3; i++) {
    json_t *c = NULL;
    ASSERT_EQ_INT(sc__pbjson_decode(sc_xds_types[SC_XDS_CLUSTERS].descriptor, res.items[i].bytes,
                                   res.items[i].len, &sc_xds_registry, &c), 0);
    ASSERT_EQ_STR(str(c, "name"), res.items[i].name);
    ASSERT_EQ_STR(str(c, "type"), types[i]);
    ASSERT_EQ_STR(str(c, "connect_timeout"), "10s");
    if (i == 2) {
      json_t *sa = json_object_get(json_object_get(c, "upstream_bind_config"), "source_address");
      ASSERT_EQ_STR(str(sa, "address"), "127.0.0.6");
    }
    json_decref(c);
  }
  ASSERT_EQ_STR(res.items[0].name, "BlackHoleCluster");
  ASSERT_EQ_STR(res.items[1].name, "PassthroughCluster");
  ASSERT_EQ_STR(res.items[2].name, "InboundPassthroughCluster");
  sc__resources_free(&res);
  unload(&f);
}

static const char sidecar_yaml[] =
    "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: in, namespace: default}\n"
    "spec:\n  ingress:\n"
    "  - port: {number: 9080, protocol: HTTP, name: uds}\n    defaultEndpoint: unix:///var/run/app.sock\n"
    "  - port: {number: 9090, protocol: HTTP, name: local}\n    defaultEndpoint: 127.0.0.1:8080\n"
    "  - port: {number: 9091, protocol: TCP, name: own-ip}\n    defaultEndpoint: 0.0.0.0:8081\n"
    "  - port: {number: 9092, protocol: TCP, name: original}\n";

static int keep_obj(void *arg, const sc_parse_item_t *item) {
  if (item->status != SC_ITEM_OBJECT)
    return 1;
  *(sc_obj_t **)arg = item->obj;
  return 0;
}

TEST(inbound_clusters_of_ingress_listeners) {
  sc_obj_t *sc = NULL;
  sc_parse_opts_t po = {.source = "test_cds"};
  ASSERT_EQ_INT(sc_parse_yaml(sidecar_yaml, sizeof(sidecar_yaml) - 1, &po, keep_obj, &sc), 0);
  ASSERT(sc != NULL);
  fixture_t f;
  ASSERT_EQ_INT(load(&f), 0);
  sc_resources_t res = {0};
  ASSERT_EQ_INT(sc__cds_inbound(&sc->u.sidecar, f.world->mesh, &res), 0);
  ASSERT_EQ_INT(res.n, 3); /* 0.0.0.0 is the proxy's own address: not per scope */
  json_t *c[3];
  for (size_t i = 0; i < 3; i++)
    ASSERT_EQ_INT(sc__pbjson_decode(sc_xds_types[SC_XDS_CLUSTERS].descriptor, res.items[i].bytes, res.items[i].len,
                                   &sc_xds_registry, &c[i]), 0);
  ASSERT_EQ_STR(str(c[0], "name"), "inbound|9080||");
  ASSERT_EQ_STR(str(c[0], "type"), "STATIC");
  json_t *ep = json_object_get(json_object_get(json_array_get(json_object_get(json_array_get(
      json_object_get(json_object_get(c[0], "load_assignment"), "endpoints"), 0), "lb_endpoints"), 0), "endpoint"), "address");
  ASSERT_EQ_STR(str(json_object_get(ep, "pipe"), "path"), "/var/run/app.sock");
  ASSERT_EQ_STR(str(json_object_get(json_object_get(c[0], "upstream_bind_config"), "source_address"), "address"),
                "127.0.0.6");
  ASSERT_EQ_STR(str(c[1], "name"), "inbound|9090||");
  ep = json_object_get(json_object_get(json_object_get(json_array_get(json_object_get(json_array_get(
      json_object_get(json_object_get(c[1], "load_assignment"), "endpoints"), 0), "lb_endpoints"), 0), "endpoint"), "address"),
      "socket_address");
  ASSERT_EQ_STR(str(ep, "address"), "127.0.0.1");
  ASSERT_EQ_INT(json_integer_value(json_object_get(ep, "port_value")), 8080);
  ASSERT_EQ_STR(str(c[2], "name"), "inbound|9092||");
  ASSERT_EQ_STR(str(c[2], "type"), "ORIGINAL_DST");
  ASSERT_EQ_STR(str(c[2], "lb_policy"), "CLUSTER_PROVIDED");
  for (size_t i = 0; i < 3; i++)
    json_decref(c[i]);
  sc__resources_free(&res);
  sc_obj_unref(sc);
  unload(&f);
}

static const char hash_manifests[] =
    "apiVersion: v1\nkind: Service\nmetadata: {name: cart, namespace: default}\n"
    "spec:\n  clusterIP: 10.0.0.7\n  ports:\n  - {name: http, port: 8080}\n  - {name: grpc, port: 9090}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: cart, namespace: default}\n"
    "spec:\n  host: cart\n  trafficPolicy:\n"
    "    loadBalancer:\n      consistentHash:\n        httpCookie: {name: user, path: /, ttl: 10s}\n"
    "        ringHash: {minimumRingSize: 2048}\n"
    "    connectionPool:\n      http: {maxRequestsPerConnection: 1, idleTimeout: 30s}\n"
    "    portLevelSettings:\n    - port: {number: 9090}\n"
    "      loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 65537}}}\n"
    "  subsets:\n  - name: v1\n    labels: {version: v1}\n    trafficPolicy:\n"
    "      loadBalancer: {consistentHash: {httpHeaderName: x-user, minimumRingSize: 512}}\n"
    "  - name: v2\n    labels: {version: v2}\n    trafficPolicy:\n"
    "      loadBalancer: {consistentHash: {httpQueryParameterName: u}}\n";

static long long u64(json_t *v) { /* a UInt64Value: JSON string or number */
  return json_is_string(v) ? atoll(json_string_value(v)) : (long long)json_integer_value(v);
}

TEST(consistent_hash_and_requests_per_connection) {
  fixture_t f;
  ASSERT_EQ_INT(fixture_load(&f, hash_manifests, sizeof(hash_manifests) - 1), 0);
  json_t *cs = clusters_of(f.world, "cart.default.svc.cluster.local");
  ASSERT(cs != NULL);
  json_t *c = json_object_get(cs, "outbound|8080||cart.default.svc.cluster.local");
  ASSERT(c != NULL);
  ASSERT_EQ_STR(str(c, "lb_policy"), "RING_HASH");
  ASSERT_EQ_INT(u64(json_object_get(json_object_get(c, "ring_hash_lb_config"), "minimum_ring_size")), 2048);
  json_t *o = json_object_get(json_object_get(c, "typed_extension_protocol_options"),
                              "envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
  ASSERT(o != NULL);
  json_t *common = json_object_get(o, "common_http_protocol_options");
  ASSERT_EQ_INT(json_integer_value(json_object_get(common, "max_requests_per_connection")), 1);
  ASSERT_EQ_STR(str(common, "idle_timeout"), "30s");
  ASSERT(json_is_object(json_object_get(json_object_get(o, "explicit_http_config"), "http_protocol_options")));
  /* the port-level setting replaces the load balancer: MAGLEV */
  c = json_object_get(cs, "outbound|9090||cart.default.svc.cluster.local");
  ASSERT(c != NULL);
  ASSERT_EQ_STR(str(c, "lb_policy"), "MAGLEV");
  ASSERT_EQ_INT(u64(json_object_get(json_object_get(c, "maglev_lb_config"), "table_size")), 65537);
  ASSERT(json_object_get(c, "ring_hash_lb_config") == NULL);
  /* a subset's own: RING_HASH with the deprecated minimumRingSize, else Envoy's 1024 */
  c = json_object_get(cs, "outbound|8080|v1|cart.default.svc.cluster.local");
  ASSERT(c != NULL);
  ASSERT_EQ_STR(str(c, "lb_policy"), "RING_HASH");
  ASSERT_EQ_INT(u64(json_object_get(json_object_get(c, "ring_hash_lb_config"), "minimum_ring_size")), 512);
  c = json_object_get(cs, "outbound|8080|v2|cart.default.svc.cluster.local");
  ASSERT(c != NULL);
  ASSERT_EQ_INT(u64(json_object_get(json_object_get(c, "ring_hash_lb_config"), "minimum_ring_size")), 1024);
  json_decref(cs);
  unload(&f);
}

TEST_LIST = {TEST_ENTRY(consistent_hash_and_requests_per_connection), TEST_ENTRY(eds_clusters_with_subsets_and_policy), TEST_ENTRY(dns_clusters_carry_endpoints),
             TEST_ENTRY(original_dst_for_resolution_none), TEST_ENTRY(static_clusters),
             TEST_ENTRY(inbound_clusters_of_ingress_listeners), TEST_LIST_END};
