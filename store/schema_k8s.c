/* Kubernetes kinds: v1 Service, discovery.k8s.io/v1 EndpointSlice, v1 Namespace, v1 Pod. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "store/schema.h"
#include "store/validate.h"

static_assert(sizeof(sc_service_type_t) == sizeof(int), "enum fields are decoded as int");

/* ---- Service ------------------------------------------------------------------------- */

static int check_l4_protocol(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_str_t *s = value;
  if (sc_str_eqz(*s, "TCP") || sc_str_eqz(*s, "UDP") || sc_str_eqz(*s, "SCTP"))
    return 0;
  return sc__decode_fail(d, n, "unknown protocol \"%.40s\" (one of TCP, UDP, SCTP)", s->ptr);
}

static int check_port_name(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_str_t *s = value;
  const char *why = sc__validate_dns_label(s->ptr, s->len);
  if (why != NULL)
    return sc__decode_fail(d, n, "port name \"%.60s\" %s", s->ptr, why);
  return 0;
}

static const sc_field_t service_port_fields[] = {
    F_STR_CHECK("name", sc_service_port_t, name, check_port_name),
    F_U32_REQ("port", sc_service_port_t, port, 1, 65535),
    F_STR_CHECK("protocol", sc_service_port_t, l4_protocol, check_l4_protocol),
    F_STR("appProtocol", sc_service_port_t, app_protocol),
    F_INT_OR_STRING("targetPort", sc_service_port_t, target_port, target_port_name, 1, 65535),
    F_END};
static const sc_schema_t service_port_schema = {service_port_fields, NULL, NULL, NULL};

static const char *const service_type_names[] = {"ClusterIP", "NodePort", "LoadBalancer",
                                                 "ExternalName", NULL};
static const char *const traffic_policy_names[] = {"Cluster", "Local", NULL};

static const sc_field_t service_spec_fields[] = {
    F_ENUM("type", sc_k8s_service_t, type, service_type_names, SC_SVC_CLUSTER_IP),
    F_STR("externalName", sc_k8s_service_t, external_name),
    F_STR("clusterIP", sc_k8s_service_t, cluster_ip),
    F_STRLIST("clusterIPs", sc_k8s_service_t, cluster_ips),
    F_LABELS("selector", sc_k8s_service_t, selector),
    F_LIST("ports", sc_k8s_service_t, ports, nports, sc_service_port_t, service_port_schema),
    F_BOOL("publishNotReadyAddresses", sc_k8s_service_t, publish_not_ready),
    F_ENUM("internalTrafficPolicy", sc_k8s_service_t, internal_traffic_policy,
           traffic_policy_names, 0),
    F_END};
static const sc_schema_t service_spec_schema = {service_spec_fields, NULL, NULL, NULL};

/* Semantics 1.4: Kubernetes port protocol inference (ConvertProtocol). */
static sc_protocol_t infer_k8s_protocol(const sc_service_port_t *p) {
  if (sc_str_eqz(p->l4_protocol, "UDP"))
    return SC_PROTO_UDP;
  sc_str_t text = p->app_protocol.len ? p->app_protocol : p->name;
  if (p->app_protocol.len) {
    if (sc_str_eqz(text, "kubernetes.io/h2c"))
      return SC_PROTO_HTTP2;
    if (sc_str_eqz(text, "kubernetes.io/ws"))
      return SC_PROTO_HTTP;
    if (sc_str_eqz(text, "kubernetes.io/wss"))
      return SC_PROTO_HTTPS;
  }
  if (text.len >= 8 && strncasecmp(text.ptr, "grpc-web", 8) == 0)
    return SC_PROTO_GRPC_WEB;
  const char *dash = memchr(text.ptr, '-', text.len);
  size_t prefix = dash ? (size_t)(dash - text.ptr) : text.len;
  sc_protocol_t proto = sc_protocol_parse(text.ptr, prefix);
  if (proto == SC_PROTO_HTTP_PROXY)
    proto = SC_PROTO_UNSUPPORTED; /* only Sidecar egress ports may say http_proxy */
  if (proto == SC_PROTO_UNSUPPORTED &&
      (p->port == 25 || p->port == 53 || p->port == 3306 || p->port == 27017))
    return SC_PROTO_TCP;
  return proto;
}

/* The exportTo annotation: comma-separated, each value trimmed (docs/semantics.md "Inputs, normalised"). */
static int split_export_to(sc_dec_t *d, sc_str_t text, sc_strlist_t *out) {
  uint32_t count = 1;
  for (uint32_t i = 0; i < text.len; i++)
    count += text.ptr[i] == ',';
  out->items = sc__arena_alloc(d->arena, count * sizeof(sc_str_t));
  if (out->items == NULL)
    return SC_ENOMEM;
  out->n = 0;
  const char *p = text.ptr, *end = text.ptr + text.len;
  while (p <= end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *stop = comma ? comma : end;
    const char *a = p, *b = stop;
    while (a < b && (*a == ' ' || *a == '\t'))
      a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
      b--;
    if (b > a && sc__arena_str(d->arena, a, (size_t)(b - a), &out->items[out->n++]) != 0)
      return SC_ENOMEM;
    if (comma == NULL)
      break;
    p = comma + 1;
  }
  return 0;
}

int sc__decode_service(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj) {
  sc_k8s_service_t *svc = &obj->u.service;
  /* Kubernetes admits only DNS labels (RFC 1035) as Service names, but istiod processes
   * whatever Service it is given, so a longer or dotted name (a DNS subdomain, checked
   * with the metadata) is accepted with a warning. */
  const char *why = sc__validate_dns_label(obj->name.ptr, obj->name.len);
  if (why != NULL) {
    size_t saved = sc__decode_push_key(d, "metadata.name");
    sc__decode_warn(d, sc__doc_map_get(sc__doc_map_get(root, "metadata"), "name"),
                    "Service name \"%.60s\" %s for Kubernetes (accepted, as istiod does)",
                    obj->name.ptr, why);
    sc__decode_pop(d, saved);
  }
  const sc_node_t *spec = sc__doc_map_get(root, "spec");
  size_t saved = sc__decode_push_key(d, "spec");
  if (spec != NULL && spec->type != SC_NODE_MAP)
    return sc__decode_fail(d, spec, "expected an object, got %s", sc__decode_scalar_type_name(spec));
  static const sc_node_t empty_map = {.type = SC_NODE_MAP};
  int rc = sc__decode_struct(d, spec ? spec : &empty_map, &service_spec_schema, svc);
  if (rc != 0)
    return rc;
  sc__decode_pop(d, saved);

  for (uint32_t i = 0; i < svc->nports; i++) {
    sc_service_port_t *p = &svc->ports[i];
    if (p->l4_protocol.len == 0)
      p->l4_protocol = sc_str("TCP");
    p->protocol = infer_k8s_protocol(p);
    for (uint32_t j = 0; j < i; j++) {
      bool same_port =
          svc->ports[j].port == p->port && sc_str_eq(svc->ports[j].l4_protocol, p->l4_protocol);
      bool same_name = p->name.len && sc_str_eq(svc->ports[j].name, p->name);
      if (!same_port && !same_name)
        continue;
      sc__decode_push_key(d, "spec.ports");
      sc__decode_push_index(d, i);
      if (same_port)
        return sc__decode_fail(d, spec, "duplicate port %u/%s", p->port, p->l4_protocol.ptr);
      return sc__decode_fail(d, spec, "duplicate port name \"%s\"", p->name.ptr);
    }
  }
  svc->headless = sc_str_eqz(svc->cluster_ip, "None");
  if (svc->type == SC_SVC_EXTERNAL_NAME && svc->external_name.len == 0) {
    sc__decode_push_key(d, "spec.externalName");
    return sc__decode_fail(d, spec, "is required for type ExternalName");
  }

  const char *suffix = d->opts->domain_suffix ? d->opts->domain_suffix : "cluster.local";
  char host[512];
  int n = snprintf(host, sizeof(host), "%s.%s.svc.%s", obj->name.ptr, obj->namespace_.ptr, suffix);
  if (n < 0 || (size_t)n >= sizeof(host))
    return sc__decode_fail(d, NULL, "hostname too long");
  if (sc__arena_str(d->arena, host, (size_t)n, &svc->hostname) != 0)
    return SC_ENOMEM;

  const sc_str_t *export_to = sc_labels_get(&obj->annotations, "networking.istio.io/exportTo");
  if (export_to != NULL)
    return split_export_to(d, *export_to, &svc->export_to);
  return 0;
}

/* ---- EndpointSlice ------------------------------------------------------------------- */

static const sc_field_t slice_conditions_fields[] = {
    F_TRI("ready", sc_slice_endpoint_t, ready),
    F_TRI("serving", sc_slice_endpoint_t, serving),
    F_TRI("terminating", sc_slice_endpoint_t, terminating), F_END};
static const sc_schema_t slice_conditions_schema = {slice_conditions_fields, NULL, NULL, NULL};

static const sc_field_t slice_target_fields[] = {
    F_STR("kind", sc_slice_endpoint_t, target_kind),
    F_STR("name", sc_slice_endpoint_t, target_name),
    F_STR("namespace", sc_slice_endpoint_t, target_namespace), F_END};
static const sc_schema_t slice_target_schema = {slice_target_fields, NULL, NULL, NULL};

static int check_addresses(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_strlist_t *l = value;
  if (l->n == 0)
    return sc__decode_fail(d, n, "must list at least one address");
  return 0;
}

static const sc_field_t slice_endpoint_fields[] = {
    F_STRLIST_REQ_CHECK("addresses", sc_slice_endpoint_t, addresses, check_addresses),
    F_INLINE("conditions", sc_slice_endpoint_t, slice_conditions_schema),
    F_INLINE("targetRef", sc_slice_endpoint_t, slice_target_schema),
    F_STR("nodeName", sc_slice_endpoint_t, node_name),
    F_STR("zone", sc_slice_endpoint_t, zone), F_END};
static const sc_schema_t slice_endpoint_schema = {slice_endpoint_fields, NULL, NULL, NULL};

static const sc_field_t slice_port_fields[] = {
    F_STR("name", sc_slice_port_t, name),
    F_U32("port", sc_slice_port_t, port, 1, 65535, SC_UNSET_U32),
    F_STR_CHECK("protocol", sc_slice_port_t, protocol, check_l4_protocol),
    F_STR("appProtocol", sc_slice_port_t, app_protocol), F_END};
static const sc_schema_t slice_port_schema = {slice_port_fields, NULL, NULL, NULL};

static int check_address_type(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_str_t *s = value;
  if (sc_str_eqz(*s, "IPv4") || sc_str_eqz(*s, "IPv6") || sc_str_eqz(*s, "FQDN"))
    return 0;
  return sc__decode_fail(d, n, "unknown address type \"%.40s\" (one of IPv4, IPv6, FQDN)", s->ptr);
}

static int slice_finish(sc_dec_t *d, const sc_node_t *node, void *value) {
  sc_endpoint_slice_t *s = value;
  if (sc_str_eqz(s->address_type, "FQDN"))
    return 0;
  for (uint32_t i = 0; i < s->nendpoints; i++) {
    const sc_strlist_t *a = &s->endpoints[i].addresses;
    for (uint32_t j = 0; j < a->n; j++)
      if (!sc__validate_is_ip(a->items[j].ptr, a->items[j].len)) {
        sc__decode_push_key(d, "endpoints");
        sc__decode_push_index(d, i);
        sc__decode_push_key(d, "addresses");
        sc__decode_push_index(d, j);
        return sc__decode_fail(d, node, "\"%.60s\" is not an IP address", a->items[j].ptr);
      }
  }
  return 0;
}

static const sc_field_t slice_fields[] = {
    F_STR_REQ_CHECK("addressType", sc_endpoint_slice_t, address_type, check_address_type),
    F_LIST("endpoints", sc_endpoint_slice_t, endpoints, nendpoints, sc_slice_endpoint_t,
           slice_endpoint_schema),
    F_LIST("ports", sc_endpoint_slice_t, ports, nports, sc_slice_port_t, slice_port_schema), F_END};
static const sc_schema_t slice_schema = {slice_fields, slice_finish, NULL, NULL};

int sc__decode_endpoint_slice(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj) {
  /* EndpointSlice keeps its data at the top level, beside metadata. */
  int rc = sc__decode_struct(d, root, &slice_schema, &obj->u.endpoint_slice);
  if (rc != 0)
    return rc;
  const sc_str_t *svc = sc_labels_get(&obj->labels, "kubernetes.io/service-name");
  if (svc != NULL)
    obj->u.endpoint_slice.service_name = *svc;
  return 0;
}

/* ---- Namespace ----------------------------------------------------------------------- */

int sc__decode_namespace(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj) {
  const char *why = sc__validate_dns_label(obj->name.ptr, obj->name.len);
  if (why != NULL) {
    size_t saved = sc__decode_push_key(d, "metadata.name");
    int rc = sc__decode_fail(d, sc__doc_map_get(sc__doc_map_get(root, "metadata"), "name"),
                          "namespace name \"%.60s\" %s", obj->name.ptr, why);
    sc__decode_pop(d, saved);
    return rc;
  }
  return 0;
}

/* ---- Pod ----------------------------------------------------------------------------- */

typedef struct {
  sc_str_t ip;
} pod_ip_t;

typedef struct {
  sc_str_t type;
  sc_str_t status;
} pod_condition_t;

typedef struct {
  sc_str_t pod_ip;
  uint32_t nips;
  pod_ip_t *ips;
  sc_str_t phase;
  uint32_t nconditions;
  pod_condition_t *conditions;
} pod_status_t;

static int check_ip(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_str_t *s = value;
  if (!sc__validate_is_ip(s->ptr, s->len))
    return sc__decode_fail(d, n, "\"%.60s\" is not an IP address", s->ptr);
  return 0;
}

static const sc_field_t pod_ip_fields[] = {F_STR_CHECK("ip", pod_ip_t, ip, check_ip), F_END};
static const sc_schema_t pod_ip_schema = {pod_ip_fields, NULL, NULL, NULL};
static const sc_field_t pod_condition_fields[] = {
    F_STR("type", pod_condition_t, type), F_STR("status", pod_condition_t, status), F_END};
static const sc_schema_t pod_condition_schema = {pod_condition_fields, NULL, NULL, NULL};
static const sc_field_t pod_status_fields[] = {
    F_STR_CHECK("podIP", pod_status_t, pod_ip, check_ip),
    F_LIST("podIPs", pod_status_t, ips, nips, pod_ip_t, pod_ip_schema),
    F_STR("phase", pod_status_t, phase),
    F_LIST("conditions", pod_status_t, conditions, nconditions, pod_condition_t,
           pod_condition_schema),
    F_END};
static const sc_schema_t pod_status_schema = {pod_status_fields, NULL, NULL, NULL};

int sc__decode_pod(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj) {
  sc_pod_t *pod = &obj->u.pod;
  const sc_node_t *status = sc__doc_map_get(root, "status");
  if (sc__doc_node_is_null(status))
    return 0;
  size_t saved = sc__decode_push_key(d, "status");
  if (status->type != SC_NODE_MAP)
    return sc__decode_fail(d, status, "expected an object, got %s", sc__decode_scalar_type_name(status));
  pod_status_t st;
  int rc = sc__decode_struct(d, status, &pod_status_schema, &st);
  if (rc != 0)
    return rc;
  sc__decode_pop(d, saved);
  pod->phase = st.phase;
  uint32_t n = st.nips ? st.nips : (st.pod_ip.len ? 1 : 0);
  pod->ips.items = sc__arena_alloc(d->arena, (n ? n : 1) * sizeof(sc_str_t));
  if (pod->ips.items == NULL)
    return SC_ENOMEM;
  pod->ips.n = n;
  for (uint32_t i = 0; i < st.nips; i++)
    pod->ips.items[i] = st.ips[i].ip;
  if (st.nips == 0 && n == 1)
    pod->ips.items[0] = st.pod_ip;
  for (uint32_t i = 0; i < st.nconditions; i++)
    if (sc_str_eqz(st.conditions[i].type, "Ready"))
      pod->ready = sc_str_eqz(st.conditions[i].status, "True");
  return 0;
}
