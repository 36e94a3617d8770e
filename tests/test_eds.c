/* EDS (xds/eds.c, docs/semantics.md "Envoy configuration of a scope"): the assignment of a service port from EndpointSlices
 * and Pods or ServiceEntry endpoints, decoded and checked. */
#include <jansson.h>

#include "xds/eds.h"
#include "harness.h"
#include "wire/registry.h"
#include "world_fixture.h"

static const char manifests[] =
    "apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: shop}\n"
    "spec: {ports: [{name: http, port: 9080}, {name: grpc, port: 9090}]}\n"
    "---\n"
    "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
    "metadata: {name: reviews-a, namespace: shop, labels: {kubernetes.io/service-name: reviews}}\n"
    "addressType: IPv4\nports: [{name: http, port: 8080}]\n"
    "endpoints:\n"
    "- {addresses: [10.0.0.2], conditions: {ready: false}, zone: zb, targetRef: {kind: Pod, name: r2}}\n"
    "- {addresses: [10.0.0.1], conditions: {ready: true}, zone: za, targetRef: {kind: Pod, name: r1}}\n"
    "- {addresses: [10.0.0.3], conditions: {ready: false, terminating: true}, zone: za, targetRef: {kind: Pod, name: r3}}\n"
    "- {addresses: [10.0.0.4], zone: za, targetRef: {kind: Pod, name: r4}}\n"
    "---\n"
    "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
    "metadata: {name: other, namespace: shop, labels: {kubernetes.io/service-name: ratings}}\n"
    "addressType: IPv4\nports: [{name: http, port: 8080}]\nendpoints: [{addresses: [10.9.9.9]}]\n"
    "---\n"
    "apiVersion: v1\nkind: Pod\nmetadata: {name: r1, namespace: shop, labels: {app: reviews, version: v1}}\n"
    "status: {podIP: 10.0.0.1, phase: Running}\n"
    "---\n"
    "apiVersion: v1\nkind: Pod\nmetadata: {name: r2, namespace: shop, labels: {app: reviews, version: v2}}\n"
    "status: {podIP: 10.0.0.2, phase: Running}\n"
    "---\n"
    "apiVersion: v1\nkind: Pod\nmetadata: {name: r4, namespace: shop, labels: {app: reviews, version: v1}}\n"
    "status: {podIP: 10.0.0.4, phase: Running}\n"
    "---\n"
    "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: vms, namespace: shop}\n"
    "spec:\n  hosts: [vm.shop.internal]\n  resolution: STATIC\n  ports: [{number: 80, name: web, protocol: HTTP}]\n"
    "  endpoints:\n"
    "  - {address: 192.168.0.2, labels: {tier: gold}, locality: r1/z1, weight: 4, ports: {web: 8081}}\n"
    "  - {address: 192.168.0.1, labels: {tier: bronze}, locality: r1/z1}\n"
    "  - {address: vm-by-name.example, locality: r2/z9}\n";

/* The assignment of host:port (subset labels or NULL), decoded. */
static json_t *assignment(const char *host, uint32_t port, const sc_labels_t *subset) {
  fixture_t f;
  if (fixture_load(&f, manifests, sizeof(manifests) - 1) != 0)
    return NULL;
  json_t *out = NULL;
  sc_resources_t res = {0};
  const sc_svc_t *svc = sc__world_service(f.world, sc_str(host), sc_str("shop"));
  if (svc != NULL && sc__eds_cluster(f.store, svc, port, subset, "the-cluster", &res) == 0 && res.n == 1)
    sc__pbjson_decode(sc_xds_types[SC_XDS_ENDPOINTS].descriptor, res.items[0].bytes, res.items[0].len,
                     &sc_xds_registry, &out);
  sc__resources_free(&res);
  fixture_free(&f);
  return out;
}

/* [[locality zone, [address:port health weight, ...], locality weight], ...] as text. */
static char *summary(json_t *cla) {
  json_t *out = json_array(), *loc;
  size_t i, j;
  json_array_foreach(json_object_get(cla, "endpoints"), i, loc) {
    json_t *eps = json_array(), *lb;
    json_array_foreach(json_object_get(loc, "lb_endpoints"), j, lb) {
      json_t *sa = json_object_get(json_object_get(json_object_get(lb, "endpoint"), "address"), "socket_address");
      json_array_append_new(eps, json_pack("[s, I, s, I]", json_string_value(json_object_get(sa, "address")),
                                           json_integer_value(json_object_get(sa, "port_value")),
                                           json_string_value(json_object_get(lb, "health_status")),
                                           json_integer_value(json_object_get(lb, "load_balancing_weight"))));
    }
    json_t *l = json_object_get(loc, "locality");
    const char *zone = json_string_value(json_object_get(l, "zone"));
    json_array_append_new(out, json_pack("[s, o, I]", zone ? zone : "", eps,
                                         json_integer_value(json_object_get(loc, "load_balancing_weight"))));
  }
  char *text = json_dumps(out, JSON_COMPACT);
  json_decref(out);
  return text;
}

TEST(kubernetes_endpoints_by_port_name_health_and_zone) {
  json_t *cla = assignment("reviews.shop.svc.cluster.local", 9080, NULL);
  ASSERT(cla != NULL);
  ASSERT_EQ_STR(json_string_value(json_object_get(cla, "cluster_name")), "the-cluster");
  char *s = summary(cla);
  /* the terminating one dropped, the other slice's service ignored, zones ascending */
  ASSERT_EQ_STR(s, "[[\"za\",[[\"10.0.0.1\",8080,\"HEALTHY\",1],[\"10.0.0.4\",8080,\"HEALTHY\",1]],2],"
                   "[\"zb\",[[\"10.0.0.2\",8080,\"UNHEALTHY\",1]],1]]");
  free(s);
  json_decref(cla);
}

TEST(subset_keeps_pods_with_its_labels) {
  sc_label_t l = {sc_str("version"), sc_str("v1")};
  sc_labels_t v1 = {1, &l};
  json_t *cla = assignment("reviews.shop.svc.cluster.local", 9080, &v1);
  char *s = summary(cla);
  ASSERT_EQ_STR(s, "[[\"za\",[[\"10.0.0.1\",8080,\"HEALTHY\",1],[\"10.0.0.4\",8080,\"HEALTHY\",1]],2]]");
  free(s);
  json_decref(cla);
}

TEST(a_port_no_slice_serves_has_no_endpoints) {
  json_t *cla = assignment("reviews.shop.svc.cluster.local", 9090, NULL);
  ASSERT(cla != NULL);
  ASSERT_EQ_STR(json_string_value(json_object_get(cla, "cluster_name")), "the-cluster");
  ASSERT(json_object_get(cla, "endpoints") == NULL);
  json_decref(cla);
}

TEST(service_entry_endpoints_ip_only_with_weights_and_localities) {
  json_t *cla = assignment("vm.shop.internal", 80, NULL);
  char *s = summary(cla);
  ASSERT_EQ_STR(s, "[[\"z1\",[[\"192.168.0.1\",80,\"HEALTHY\",1],[\"192.168.0.2\",8081,\"HEALTHY\",4]],5]]");
  free(s);
  json_t *l = json_object_get(json_array_get(json_object_get(cla, "endpoints"), 0), "locality");
  ASSERT_EQ_STR(json_string_value(json_object_get(l, "region")), "r1");
  json_decref(cla);
  sc_label_t gold = {sc_str("tier"), sc_str("gold")};
  sc_labels_t tier = {1, &gold};
  cla = assignment("vm.shop.internal", 80, &tier);
  s = summary(cla);
  ASSERT_EQ_STR(s, "[[\"z1\",[[\"192.168.0.2\",8081,\"HEALTHY\",4]],4]]");
  free(s);
  json_decref(cla);
}

TEST_LIST = {TEST_ENTRY(kubernetes_endpoints_by_port_name_health_and_zone),
             TEST_ENTRY(subset_keeps_pods_with_its_labels), TEST_ENTRY(a_port_no_slice_serves_has_no_endpoints),
             TEST_ENTRY(service_entry_endpoints_ip_only_with_weights_and_localities), TEST_LIST_END};
