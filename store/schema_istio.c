/* networking.istio.io kinds: ServiceEntry, VirtualService, DestinationRule, Sidecar.
 * Validation follows Istio's pkg/config/validation where scopecast relies on it. */
#include <stdio.h>
#include <string.h>

#include "store/schema.h"
#include "store/validate.h"

static const sc_node_t empty_map = {.type = SC_NODE_MAP};

/* Unknown fields in these specs are warned about (decode.h, sc_schema_t.known). Each
 * schema lists the fields of its Istio API message (networking/v1alpha3 protos) that
 * scopecast does not decode; all_decoded: it decodes every one. */
static const char *const all_decoded[] = {NULL};

/* ---- shared checks -------------------------------------------------------------------- */

static int check_host(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_str_t *s = value;
  const char *why = sc__validate_wildcard_host(s->ptr, s->len, true);
  if (why != NULL)
    return sc__decode_fail(d, n, "invalid host \"%.100s\": %s", s->ptr, why);
  return 0;
}

static int check_hosts(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_strlist_t *l = value;
  for (uint32_t i = 0; i < l->n; i++) {
    const char *why = sc__validate_wildcard_host(l->items[i].ptr, l->items[i].len, true);
    if (why != NULL) {
      sc__decode_push_index(d, i);
      return sc__decode_fail(d, n->type == SC_NODE_SEQ ? n->items[i] : n, "invalid host \"%.100s\": %s",
                          l->items[i].ptr, why);
    }
  }
  return 0;
}

static int check_nonempty_hosts(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_strlist_t *l = value;
  if (l->n == 0)
    return sc__decode_fail(d, n, "must list at least one host");
  return check_hosts(d, n, value);
}

/* exportTo values: ".", "*", "~" or a namespace name. Istio's admission webhook also
 * rejects combinations ("*" or "~" with others, duplicates, exportTo on selector
 * DestinationRules), but istiod itself processes such objects and the semantics define
 * their meaning (docs/semantics.md "Visibility"), so scopecast accepts them as istiod does. */
static int check_export_to(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_strlist_t *l = value;
  for (uint32_t i = 0; i < l->n; i++) {
    sc_str_t v = l->items[i];
    if (sc_str_eqz(v, "*") || sc_str_eqz(v, ".") || sc_str_eqz(v, "~"))
      continue;
    const char *why = sc__validate_dns_label(v.ptr, v.len);
    if (why != NULL) {
      sc__decode_push_index(d, i);
      return sc__decode_fail(d, n->type == SC_NODE_SEQ ? n->items[i] : n,
                          "exportTo value \"%.60s\" must be \"*\", \".\", \"~\" or a namespace: %s",
                          v.ptr, why);
    }
  }
  return 0;
}

static int check_ips_or_cidrs(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_strlist_t *l = value;
  for (uint32_t i = 0; i < l->n; i++) {
    if (!sc__validate_is_ip_or_cidr(l->items[i].ptr, l->items[i].len)) {
      sc__decode_push_index(d, i);
      return sc__decode_fail(d, n->type == SC_NODE_SEQ ? n->items[i] : n,
                          "\"%.60s\" is not an IP address or CIDR block", l->items[i].ptr);
    }
  }
  return 0;
}

int sc__resolve_host(sc_dec_t *d, sc_str_t host, sc_str_t ns, sc_str_t *out) {
  if (host.len == 0 || sc_str_eqz(host, "*") || memchr(host.ptr, '.', host.len) != NULL ||
      sc__validate_is_ip(host.ptr, host.len)) {
    *out = host;
    return 0;
  }
  const char *suffix = d->opts->domain_suffix ? d->opts->domain_suffix : "cluster.local";
  char buf[600];
  int n = snprintf(buf, sizeof(buf), "%s.%s.svc.%s", host.ptr, ns.ptr, suffix);
  if (n < 0 || (size_t)n >= sizeof(buf))
    return sc__decode_fail(d, NULL, "host \"%.60s\" is too long", host.ptr);
  return sc__arena_str(d->arena, buf, (size_t)n, out) ? SC_ENOMEM : 0;
}

static int decode_spec(sc_dec_t *d, const sc_node_t *root, const sc_schema_t *schema, void *out) {
  const sc_node_t *spec = sc__doc_map_get(root, "spec");
  size_t saved = sc__decode_push_key(d, "spec");
  if (!sc__doc_node_is_null(spec) && spec->type != SC_NODE_MAP)
    return sc__decode_fail(d, spec, "expected an object, got %s", sc__decode_scalar_type_name(spec));
  int rc = sc__decode_struct(d, sc__doc_node_is_null(spec) ? &empty_map : spec, schema, out);
  if (rc == 0)
    sc__decode_pop(d, saved);
  return rc;
}

/* ---- ports -------------------------------------------------------------------------- */

static int check_port_name(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_str_t *s = value;
  const char *why = sc__validate_dns_label(s->ptr, s->len);
  return why ? sc__decode_fail(d, n, "invalid port name \"%.60s\": %s", s->ptr, why) : 0;
}

static const sc_field_t se_port_fields[] = {
    F_U32_REQ("number", sc_port_t, number, 1, 65535),
    F_PROTOCOL("protocol", sc_port_t, protocol, protocol_text),
    F_STR_REQ_CHECK("name", sc_port_t, name, check_port_name),
    F_U32("targetPort", sc_port_t, target_port, 0, 65535, 0), F_END};
static const sc_schema_t se_port_schema = {se_port_fields, NULL, all_decoded, NULL};

/* Sidecar ports may be 0 (unix domain socket binds). */
static const sc_field_t sidecar_port_fields[] = {
    F_U32("number", sc_port_t, number, 0, 65535, 0),
    F_PROTOCOL("protocol", sc_port_t, protocol, protocol_text),
    F_STR_CHECK("name", sc_port_t, name, check_port_name), F_END};
static const char *const sidecar_port_known[] = {"targetPort", NULL};
static const sc_schema_t sidecar_port_schema = {sidecar_port_fields, NULL,
                                                sidecar_port_known, NULL};

/* ---- ServiceEntry --------------------------------------------------------------------- */

static int check_endpoint_address(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_str_t *s = value;
  if (s->len >= 7 && memcmp(s->ptr, "unix://", 7) == 0)
    return 0;
  if (sc__validate_is_ip(s->ptr, s->len) || sc__validate_wildcard_host(s->ptr, s->len, true) == NULL)
    return 0;
  return sc__decode_fail(d, n, "\"%.60s\" is not an IP address, hostname or unix:// path", s->ptr);
}

static const sc_field_t workload_entry_fields[] = {
    F_STR_CHECK("address", sc_workload_entry_t, address, check_endpoint_address),
    F_NAMED_PORTS("ports", sc_workload_entry_t, ports, nports),
    F_LABELS("labels", sc_workload_entry_t, labels),
    F_STR("network", sc_workload_entry_t, network),
    F_STR("locality", sc_workload_entry_t, locality),
    F_U32("weight", sc_workload_entry_t, weight, 0, UINT32_MAX - 1, 0),
    F_STR("serviceAccount", sc_workload_entry_t, service_account), F_END};
static const sc_schema_t workload_entry_schema = {workload_entry_fields, NULL, all_decoded, NULL};

static const sc_field_t selector_labels_fields[] = {
    F_LABELS("labels", sc_labels_t, n), /* offset 0: decodes into the sc_labels_t itself */
    F_END};
static const sc_schema_t selector_labels_schema = {selector_labels_fields, NULL, all_decoded, NULL};

static const char *const location_names[] = {"MESH_EXTERNAL", "MESH_INTERNAL", NULL};
static const char *const resolution_names[] = {"NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN",
                                               "DYNAMIC_DNS", NULL};

static int se_finish(sc_dec_t *d, const sc_node_t *node, void *value) {
  sc_service_entry_t *se = value;
  for (uint32_t i = 0; i < se->hosts.n; i++) {
    if (sc_str_eqz(se->hosts.items[i], "*")) {
      sc__decode_push_key(d, "hosts");
      sc__decode_push_index(d, i);
      return sc__decode_fail(d, node, "a ServiceEntry host must not be \"*\"");
    }
  }
  for (uint32_t i = 0; i < se->nports; i++) {
    for (uint32_t j = 0; j < i; j++) {
      if (se->ports[j].number == se->ports[i].number ||
          (se->ports[i].name.len && sc_str_eq(se->ports[j].name, se->ports[i].name))) {
        sc__decode_push_key(d, "ports");
        sc__decode_push_index(d, i);
        return sc__decode_fail(d, node, "duplicate port number or name (port %u \"%s\")",
                            se->ports[i].number, se->ports[i].name.ptr);
      }
    }
  }
  if (se->resolution == SC_RESOLUTION_NONE && se->nendpoints > 0) {
    sc__decode_push_key(d, "endpoints");
    return sc__decode_fail(d, node, "no endpoints may be given with resolution NONE");
  }
  if (se->has_workload_selector && se->nendpoints > 0) {
    sc__decode_push_key(d, "workloadSelector");
    return sc__decode_fail(d, node, "only one of workloadSelector and endpoints may be set");
  }
  return 0;
}

static const sc_field_t service_entry_fields[] = {
    F_STRLIST_REQ_CHECK("hosts", sc_service_entry_t, hosts, check_nonempty_hosts),
    F_STRLIST_CHECK("addresses", sc_service_entry_t, addresses, check_ips_or_cidrs),
    F_LIST("ports", sc_service_entry_t, ports, nports, sc_port_t, se_port_schema),
    F_ENUM("location", sc_service_entry_t, location, location_names, SC_LOCATION_MESH_EXTERNAL),
    F_ENUM("resolution", sc_service_entry_t, resolution, resolution_names, SC_RESOLUTION_NONE),
    F_LIST("endpoints", sc_service_entry_t, endpoints, nendpoints, sc_workload_entry_t,
           workload_entry_schema),
    F_STRUCT_PRES("workloadSelector", sc_service_entry_t, workload_selector,
                  has_workload_selector, selector_labels_schema),
    F_STRLIST_CHECK("exportTo", sc_service_entry_t, export_to, check_export_to),
    F_STRLIST("subjectAltNames", sc_service_entry_t, subject_alt_names), F_END};
static const sc_schema_t service_entry_schema = {service_entry_fields, se_finish,
                                                 all_decoded, NULL};

int sc__decode_service_entry(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj) {
  return decode_spec(d, root, &service_entry_schema, &obj->u.service_entry);
}

/* ---- VirtualService -------------------------------------------------------------------- */

static const sc_field_t port_number_fields[] = {
    F_U32("number", sc_destination_t, port, 1, 65535, 0), F_END};
static const sc_schema_t port_number_schema = {port_number_fields, NULL, all_decoded, NULL};

static const sc_field_t destination_fields[] = {
    F_STR_REQ_CHECK("host", sc_destination_t, host, check_host),
    F_STR("subset", sc_destination_t, subset),
    F_INLINE("port", sc_destination_t, port_number_schema), F_END};
static const sc_schema_t destination_schema = {destination_fields, NULL, all_decoded, NULL};

static const sc_field_t header_ops_fields[] = {
    F_STRMAP("set", sc_header_ops_t, set), F_STRMAP("add", sc_header_ops_t, add),
    F_STRLIST("remove", sc_header_ops_t, remove), F_END};
static const sc_schema_t header_ops_schema = {header_ops_fields, NULL, all_decoded, NULL};

static const sc_field_t headers_fields[] = {
    F_STRUCT("request", sc_headers_t, request, header_ops_schema),
    F_STRUCT("response", sc_headers_t, response, header_ops_schema), F_END};
static const sc_schema_t headers_schema = {headers_fields, NULL, all_decoded, NULL};

static const sc_field_t route_destination_fields[] = {
    F_STRUCT_REQ("destination", sc_route_destination_t, destination, destination_schema),
    F_U32("weight", sc_route_destination_t, weight, 0, INT32_MAX, 0),
    F_STRUCT("headers", sc_route_destination_t, headers, headers_schema), F_END};
static const sc_schema_t route_destination_schema = {route_destination_fields, NULL,
                                                     all_decoded, NULL};

static const sc_field_t http_match_fields[] = {
    F_STR("name", sc_http_match_t, name),
    F_STRING_MATCH("uri", sc_http_match_t, uri),
    F_STRING_MATCH("scheme", sc_http_match_t, scheme),
    F_STRING_MATCH("method", sc_http_match_t, method),
    F_STRING_MATCH("authority", sc_http_match_t, authority),
    F_KEYED_MATCHES("headers", sc_http_match_t, headers),
    F_KEYED_MATCHES("withoutHeaders", sc_http_match_t, without_headers),
    F_KEYED_MATCHES("queryParams", sc_http_match_t, query_params),
    F_BOOL("ignoreUriCase", sc_http_match_t, ignore_uri_case),
    F_U32("port", sc_http_match_t, port, 1, 65535, 0),
    F_LABELS("sourceLabels", sc_http_match_t, source_labels),
    F_STR("sourceNamespace", sc_http_match_t, source_namespace),
    F_STRLIST("gateways", sc_http_match_t, gateways), F_END};
static const char *const http_match_known[] = {"statPrefix", NULL};
static const sc_schema_t http_match_schema = {http_match_fields, NULL, http_match_known, NULL};

static const char *const derive_port_names[] = {"FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT", NULL};
static const sc_field_t redirect_fields[] = {
    F_STR("uri", sc_redirect_t, uri), F_STR("authority", sc_redirect_t, authority),
    F_STR("prefixRewrite", sc_redirect_t, prefix_rewrite),
    SC_FIELD_("derivePort", SC_F_ENUM, sc_redirect_t, derive_port, SC_PRES(sc_redirect_t, has_derive_port),
              .names = derive_port_names, .def = SC_DERIVE_FROM_PROTOCOL_DEFAULT),
    F_STR("scheme", sc_redirect_t, scheme), F_U32("port", sc_redirect_t, port, 1, 65535, 0),
    F_U32("redirectCode", sc_redirect_t, redirect_code, 300, 399, 0), F_END};
static const sc_schema_t redirect_schema = {redirect_fields, NULL, all_decoded, NULL};

static const sc_field_t body_fields[] = {F_STR("string", sc_direct_response_t, body), F_END};
static const char *const body_known[] = {"bytes", NULL};
static const sc_schema_t body_schema = {body_fields, NULL, body_known, NULL};
static const sc_field_t direct_response_fields[] = {
    F_U32_REQ("status", sc_direct_response_t, status, 200, 599),
    F_INLINE("body", sc_direct_response_t, body_schema), F_END};
static const sc_schema_t direct_response_schema = {direct_response_fields, NULL, all_decoded, NULL};

static const sc_field_t regex_rewrite_fields[] = {
    F_STR("match", sc_rewrite_t, regex_match), F_STR("rewrite", sc_rewrite_t, regex_rewrite),
    F_END};
static const sc_schema_t regex_rewrite_schema = {regex_rewrite_fields, NULL, all_decoded, NULL};
static const sc_field_t rewrite_fields[] = {
    F_STR("uri", sc_rewrite_t, uri), F_STR("authority", sc_rewrite_t, authority),
    F_INLINE("uriRegexRewrite", sc_rewrite_t, regex_rewrite_schema), F_END};
static const sc_schema_t rewrite_schema = {rewrite_fields, NULL, all_decoded, NULL};

static const sc_field_t retries_fields[] = {
    F_I32("attempts", sc_retries_t, attempts, 0, INT32_MAX, 0),
    F_DURATION("perTryTimeout", sc_retries_t, per_try_timeout),
    F_STR("retryOn", sc_retries_t, retry_on),
    F_TRI("retryRemoteLocalities", sc_retries_t, retry_remote_localities), F_END};
static const char *const retries_known[] = {"retryIgnorePreviousHosts", "backoff", NULL};
static const sc_schema_t retries_schema = {retries_fields, NULL, retries_known, NULL};

static const sc_field_t delay_fields[] = {
    F_DURATION("fixedDelay", sc_fault_t, fixed_delay),
    F_PERCENT("percentage", sc_fault_t, delay_percentage), F_END};
static const char *const delay_known[] = {"exponentialDelay", "percent", NULL};
static const sc_schema_t delay_schema = {delay_fields, NULL, delay_known, NULL};
static const sc_field_t abort_fields[] = {
    F_U32("httpStatus", sc_fault_t, http_status, 200, 599, 0),
    F_STR("grpcStatus", sc_fault_t, grpc_status),
    F_PERCENT("percentage", sc_fault_t, abort_percentage), F_END};
static const char *const abort_known[] = {"http2Error", NULL};
static const sc_schema_t abort_schema = {abort_fields, NULL, abort_known, NULL};
static const sc_field_t fault_fields[] = {
    F_INLINE_PRES("delay", sc_fault_t, has_delay, delay_schema),
    F_INLINE_PRES("abort", sc_fault_t, has_abort, abort_schema), F_END};
static const sc_schema_t fault_schema = {fault_fields, NULL, all_decoded, NULL};

static const sc_field_t mirror_fields[] = {
    F_STRUCT_REQ("destination", sc_mirror_t, destination, destination_schema),
    F_PERCENT("percentage", sc_mirror_t, percentage), F_END};
static const sc_schema_t mirror_schema = {mirror_fields, NULL, all_decoded, NULL};

static const sc_field_t delegate_fields[] = {
    F_STR_REQ("name", sc_http_route_t, delegate_name),
    F_STR("namespace", sc_http_route_t, delegate_namespace), F_END};
static const sc_schema_t delegate_schema = {delegate_fields, NULL, all_decoded, NULL};

static int http_route_finish(sc_dec_t *d, const sc_node_t *node, void *value) {
  sc_http_route_t *r = value;
  if (r->nroute == 0 && !r->has_redirect && !r->has_direct_response && !r->has_delegate)
    return sc__decode_fail(d, node, "needs one of route, redirect, directResponse or delegate");
  if (r->nroute > 0 && (r->has_redirect || r->has_direct_response))
    return sc__decode_fail(d, node, "route cannot be combined with redirect or directResponse");
  return 0;
}

static const sc_field_t http_route_fields[] = {
    F_STR("name", sc_http_route_t, name),
    F_LIST("match", sc_http_route_t, match, nmatch, sc_http_match_t, http_match_schema),
    F_LIST("route", sc_http_route_t, route, nroute, sc_route_destination_t,
           route_destination_schema),
    F_STRUCT_PRES("redirect", sc_http_route_t, redirect, has_redirect, redirect_schema),
    F_STRUCT_PRES("directResponse", sc_http_route_t, direct_response, has_direct_response,
                  direct_response_schema),
    F_INLINE_PRES("delegate", sc_http_route_t, has_delegate, delegate_schema),
    F_STRUCT_PRES("rewrite", sc_http_route_t, rewrite, has_rewrite, rewrite_schema),
    F_DURATION("timeout", sc_http_route_t, timeout),
    F_STRUCT_PRES("retries", sc_http_route_t, retries, has_retries, retries_schema),
    F_STRUCT_PRES("fault", sc_http_route_t, fault, has_fault, fault_schema),
    F_STRUCT_PRES("mirror", sc_http_route_t, mirror, has_mirror, destination_schema),
    F_PERCENT("mirrorPercentage", sc_http_route_t, mirror_percentage),
    F_LIST("mirrors", sc_http_route_t, mirrors, nmirrors, sc_mirror_t, mirror_schema),
    F_STRUCT("headers", sc_http_route_t, headers, headers_schema), F_END};
static const char *const http_route_known[] = {"mirrorPercent", "corsPolicy", NULL};
static const sc_schema_t http_route_schema = {http_route_fields, http_route_finish,
                                              http_route_known, NULL};

static const sc_field_t l4_match_fields[] = {
    F_U32("port", sc_l4_match_t, port, 1, 65535, 0),
    F_STRLIST_CHECK("destinationSubnets", sc_l4_match_t, destination_subnets, check_ips_or_cidrs),
    F_STRLIST("sniHosts", sc_l4_match_t, sni_hosts),
    F_LABELS("sourceLabels", sc_l4_match_t, source_labels),
    F_STR("sourceNamespace", sc_l4_match_t, source_namespace),
    F_STRLIST("gateways", sc_l4_match_t, gateways), F_END};
/* TCP matches (L4MatchAttributes) and TLS matches (TLSMatchAttributes) share the fields
 * scopecast reads. */
static const char *const l4_match_known[] = {"sourceSubnet", NULL};
static const sc_schema_t l4_match_schema = {l4_match_fields, NULL, l4_match_known, NULL};

static int tls_match_finish(sc_dec_t *d, const sc_node_t *node, void *value) {
  const sc_l4_match_t *m = value;
  if (m->sni_hosts.n > 0)
    return 0;
  sc__decode_push_key(d, "sniHosts");
  return sc__decode_fail(d, node, "is required for tls routes");
}
static const sc_schema_t tls_match_schema = {l4_match_fields, tls_match_finish, all_decoded, NULL};

static const sc_field_t l4_destination_fields[] = {
    F_STRUCT_REQ("destination", sc_l4_destination_t, destination, destination_schema),
    F_U32("weight", sc_l4_destination_t, weight, 0, INT32_MAX, 0), F_END};
static const sc_schema_t l4_destination_schema = {l4_destination_fields, NULL, all_decoded, NULL};

static int l4_route_finish(sc_dec_t *d, const sc_node_t *node, void *value) {
  const sc_l4_route_t *r = value;
  if (r->nroute == 0)
    return sc__decode_fail(d, node, "route must have at least one destination");
  return 0;
}

static const sc_field_t l4_route_fields[] = {
    F_LIST("match", sc_l4_route_t, match, nmatch, sc_l4_match_t, l4_match_schema),
    F_LIST("route", sc_l4_route_t, route, nroute, sc_l4_destination_t, l4_destination_schema),
    F_END};
static const sc_schema_t l4_route_schema = {l4_route_fields, l4_route_finish, all_decoded, NULL};
static const sc_field_t tls_route_fields[] = {
    F_LIST("match", sc_l4_route_t, match, nmatch, sc_l4_match_t, tls_match_schema),
    F_LIST("route", sc_l4_route_t, route, nroute, sc_l4_destination_t, l4_destination_schema),
    F_END};
static const sc_schema_t tls_route_schema = {tls_route_fields, l4_route_finish, all_decoded, NULL};

static const sc_field_t virtual_service_fields[] = {
    F_STRLIST_CHECK("hosts", sc_virtual_service_t, hosts, check_hosts),
    F_STRLIST("gateways", sc_virtual_service_t, gateways),
    F_STRLIST_CHECK("exportTo", sc_virtual_service_t, export_to, check_export_to),
    F_LIST("http", sc_virtual_service_t, http, nhttp, sc_http_route_t, http_route_schema),
    F_LIST("tcp", sc_virtual_service_t, tcp, ntcp, sc_l4_route_t, l4_route_schema),
    F_LIST("tls", sc_virtual_service_t, tls, ntls, sc_l4_route_t, tls_route_schema), F_END};
static const sc_schema_t virtual_service_schema = {virtual_service_fields, NULL, all_decoded, NULL};

static int resolve_destination(sc_dec_t *d, sc_destination_t *dst, sc_str_t ns) {
  return dst->host.len ? sc__resolve_host(d, dst->host, ns, &dst->host) : 0;
}

/* Gateway names become "namespace/name", except the reserved "mesh" (docs/semantics.md "Inputs, normalised"). */
static int normalize_gateways(sc_dec_t *d, sc_strlist_t *gws, sc_str_t ns) {
  for (uint32_t i = 0; i < gws->n; i++) {
    sc_str_t g = gws->items[i];
    if (sc_str_eqz(g, "mesh") || memchr(g.ptr, '/', g.len) != NULL)
      continue;
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%s/%s", ns.ptr, g.ptr);
    if (n < 0 || (size_t)n >= sizeof(buf) ||
        sc__arena_str(d->arena, buf, (size_t)n, &gws->items[i]) != 0)
      return SC_ENOMEM;
  }
  return 0;
}

/* Istio resolves short names in hosts and destinations with the VS's own namespace
 * before anything reads them (virtualservice_controller.go). */
static int normalize_virtual_service(sc_dec_t *d, sc_virtual_service_t *vs, sc_str_t ns) {
  int rc = 0;
  for (uint32_t i = 0; i < vs->hosts.n && rc == 0; i++)
    rc = sc__resolve_host(d, vs->hosts.items[i], ns, &vs->hosts.items[i]);
  if (rc == 0)
    rc = normalize_gateways(d, &vs->gateways, ns);
  for (uint32_t i = 0; i < vs->nhttp && rc == 0; i++) {
    sc_http_route_t *r = &vs->http[i];
    for (uint32_t j = 0; j < r->nroute && rc == 0; j++)
      rc = resolve_destination(d, &r->route[j].destination, ns);
    if (r->has_mirror && rc == 0)
      rc = resolve_destination(d, &r->mirror, ns);
    for (uint32_t j = 0; j < r->nmirrors && rc == 0; j++)
      rc = resolve_destination(d, &r->mirrors[j].destination, ns);
    for (uint32_t j = 0; j < r->nmatch && rc == 0; j++)
      rc = normalize_gateways(d, &r->match[j].gateways, ns);
  }
  sc_l4_route_t *l4[2] = {vs->tcp, vs->tls};
  uint32_t nl4[2] = {vs->ntcp, vs->ntls};
  for (int k = 0; k < 2; k++) {
    for (uint32_t i = 0; i < nl4[k] && rc == 0; i++) {
      for (uint32_t j = 0; j < l4[k][i].nroute && rc == 0; j++)
        rc = resolve_destination(d, &l4[k][i].route[j].destination, ns);
      for (uint32_t j = 0; j < l4[k][i].nmatch && rc == 0; j++)
        rc = normalize_gateways(d, &l4[k][i].match[j].gateways, ns);
    }
  }
  return rc;
}

int sc__decode_virtual_service(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj) {
  sc_virtual_service_t *vs = &obj->u.virtual_service;
  int rc = decode_spec(d, root, &virtual_service_schema, vs);
  if (rc == 0)
    rc = normalize_virtual_service(d, vs, obj->namespace_);
  return rc;
}

/* ---- DestinationRule -------------------------------------------------------------------- */

static const char *const lb_simple_names[] = {"UNSPECIFIED", "LEAST_CONN", "RANDOM",
                                              "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST", NULL};
static const char *const tls_mode_names[] = {"DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL", NULL};
static const char *const h2_upgrade_names[] = {"DEFAULT", "DO_NOT_UPGRADE", "UPGRADE", NULL};

static const sc_field_t cookie_fields[] = {
    F_STR_REQ("name", sc_load_balancer_t, hash_http_cookie_name),
    F_STR("path", sc_load_balancer_t, hash_http_cookie_path),
    F_DURATION("ttl", sc_load_balancer_t, hash_http_cookie_ttl), F_END};
static const char *const cookie_known[] = {"attributes", NULL};
static const sc_schema_t cookie_schema = {cookie_fields, NULL, cookie_known, NULL};
static const sc_field_t ring_hash_fields[] = {
    F_U32("minimumRingSize", sc_load_balancer_t, ring_hash_minimum_ring_size, 0, UINT32_MAX - 1, 0),
    F_END};
static const sc_schema_t ring_hash_schema = {ring_hash_fields, NULL, all_decoded, NULL};
static const sc_field_t maglev_fields[] = {
    F_U32("tableSize", sc_load_balancer_t, maglev_table_size, 0, UINT32_MAX - 1, 0), F_END};
static const sc_schema_t maglev_schema = {maglev_fields, NULL, all_decoded, NULL};
static const sc_field_t consistent_hash_fields[] = {
    F_STR("httpHeaderName", sc_load_balancer_t, hash_http_header_name),
    F_INLINE("httpCookie", sc_load_balancer_t, cookie_schema),
    F_BOOL("useSourceIp", sc_load_balancer_t, hash_use_source_ip),
    F_STR("httpQueryParameterName", sc_load_balancer_t, hash_query_parameter_name),
    F_U32("minimumRingSize", sc_load_balancer_t, hash_minimum_ring_size, 0, UINT32_MAX - 1, 0),
    F_INLINE_PRES("ringHash", sc_load_balancer_t, has_ring_hash, ring_hash_schema),
    F_INLINE_PRES("maglev", sc_load_balancer_t, has_maglev, maglev_schema),
    F_END};
static const sc_schema_t consistent_hash_schema = {consistent_hash_fields, NULL, all_decoded,
                                                   NULL};
static const sc_field_t load_balancer_fields[] = {
    F_ENUM("simple", sc_load_balancer_t, simple, lb_simple_names, SC_LB_UNSPECIFIED),
    F_INLINE_PRES("consistentHash", sc_load_balancer_t, has_consistent_hash,
                  consistent_hash_schema),
    F_END};
static const char *const load_balancer_known[] = {"localityLbSetting", "zoneAwareLbSetting",
                                                   "warmupDurationSecs", "warmup", NULL};
static const sc_schema_t load_balancer_schema = {load_balancer_fields, NULL,
                                                 load_balancer_known, NULL};

static const sc_field_t keepalive_fields[] = {
    F_U32_OPT("probes", sc_connection_pool_t, keepalive_probes),
    F_DURATION("time", sc_connection_pool_t, keepalive_time),
    F_DURATION("interval", sc_connection_pool_t, keepalive_interval), F_END};
static const sc_schema_t keepalive_schema = {keepalive_fields, NULL, all_decoded, NULL};
static const sc_field_t tcp_pool_fields[] = {
    F_U32_OPT("maxConnections", sc_connection_pool_t, max_connections),
    F_DURATION("connectTimeout", sc_connection_pool_t, connect_timeout),
    F_INLINE_PRES("tcpKeepalive", sc_connection_pool_t, has_tcp_keepalive, keepalive_schema),
    F_DURATION("maxConnectionDuration", sc_connection_pool_t, max_connection_duration),
    F_DURATION("idleTimeout", sc_connection_pool_t, tcp_idle_timeout), F_END};
static const sc_schema_t tcp_pool_schema = {tcp_pool_fields, NULL, all_decoded, NULL};
static const sc_field_t http_pool_fields[] = {
    F_U32_OPT("http1MaxPendingRequests", sc_connection_pool_t, http1_max_pending_requests),
    F_U32_OPT("http2MaxRequests", sc_connection_pool_t, http2_max_requests),
    F_U32_OPT("maxRequestsPerConnection", sc_connection_pool_t, max_requests_per_connection),
    F_U32_OPT("maxRetries", sc_connection_pool_t, max_retries),
    F_U32_OPT("maxConcurrentStreams", sc_connection_pool_t, max_concurrent_streams),
    F_DURATION("idleTimeout", sc_connection_pool_t, http_idle_timeout),
    F_ENUM("h2UpgradePolicy", sc_connection_pool_t, h2_upgrade_policy, h2_upgrade_names,
           SC_H2_UPGRADE_DEFAULT),
    F_BOOL("useClientProtocol", sc_connection_pool_t, use_client_protocol), F_END};
static const char *const http_pool_known[] = {"http2KeepAlive", NULL};
static const sc_schema_t http_pool_schema = {http_pool_fields, NULL, http_pool_known, NULL};
static const sc_field_t connection_pool_fields[] = {
    F_INLINE("tcp", sc_connection_pool_t, tcp_pool_schema),
    F_INLINE("http", sc_connection_pool_t, http_pool_schema), F_END};
static const sc_schema_t connection_pool_schema = {connection_pool_fields, NULL, all_decoded, NULL};

static const sc_field_t outlier_fields[] = {
    F_U32_OPT("consecutive5xxErrors", sc_outlier_detection_t, consecutive_5xx_errors),
    F_U32_OPT("consecutiveGatewayErrors", sc_outlier_detection_t, consecutive_gateway_errors),
    F_U32_OPT("consecutiveLocalOriginFailures", sc_outlier_detection_t,
          consecutive_local_origin_failures),
    F_BOOL("splitExternalLocalOriginErrors", sc_outlier_detection_t,
           split_external_local_origin_errors),
    F_DURATION("interval", sc_outlier_detection_t, interval),
    F_DURATION("baseEjectionTime", sc_outlier_detection_t, base_ejection_time),
    F_U32("maxEjectionPercent", sc_outlier_detection_t, max_ejection_percent, 0, 100, SC_UNSET_U32),
    F_U32("minHealthPercent", sc_outlier_detection_t, min_health_percent, 0, 100, SC_UNSET_U32),
    F_END};
static const char *const outlier_known[] = {"consecutiveErrors", "outlierDetectionHttpErrorCodes",
                                             NULL};
static const sc_schema_t outlier_schema = {outlier_fields, NULL, outlier_known, NULL};

static const sc_field_t client_tls_fields[] = {
    F_ENUM("mode", sc_client_tls_t, mode, tls_mode_names, SC_TLS_DISABLE),
    F_STR("clientCertificate", sc_client_tls_t, client_certificate),
    F_STR("privateKey", sc_client_tls_t, private_key),
    F_STR("caCertificates", sc_client_tls_t, ca_certificates),
    F_STR("credentialName", sc_client_tls_t, credential_name),
    F_STRLIST("subjectAltNames", sc_client_tls_t, subject_alt_names),
    F_STR("sni", sc_client_tls_t, sni),
    F_TRI("insecureSkipVerify", sc_client_tls_t, insecure_skip_verify), F_END};
static const char *const client_tls_known[] = {"caCrl", NULL};
static const sc_schema_t client_tls_schema = {client_tls_fields, NULL, client_tls_known, NULL};

static const sc_field_t policy_blocks_fields[] = {
    F_STRUCT_PRES("loadBalancer", sc_policy_blocks_t, load_balancer, has_load_balancer,
                  load_balancer_schema),
    F_STRUCT_PRES("connectionPool", sc_policy_blocks_t, connection_pool, has_connection_pool,
                  connection_pool_schema),
    F_STRUCT_PRES("outlierDetection", sc_policy_blocks_t, outlier_detection,
                  has_outlier_detection, outlier_schema),
    F_STRUCT_PRES("tls", sc_policy_blocks_t, tls, has_tls, client_tls_schema), F_END};

/* A port-level setting: "port: {number}" plus the policy blocks, all at one level. */
static const sc_field_t port_policy_port_fields[] = {
    F_U32_REQ("number", sc_port_policy_t, port, 1, 65535), F_END};
static const sc_schema_t port_policy_port_schema = {port_policy_port_fields, NULL,
                                                    all_decoded, NULL};

/* Decoded by port_policy_decode_blocks and traffic_policy_finish at their objects' level. */
static const sc_schema_t policy_blocks_schema = {policy_blocks_fields, NULL, NULL, NULL};
static int port_policy_decode_blocks(sc_dec_t *d, const sc_node_t *node, void *value);
static const sc_field_t port_policy_fields[] = {
    F_INLINE("port", sc_port_policy_t, port_policy_port_schema), F_END};
static const sc_schema_t port_policy_schema = {port_policy_fields, port_policy_decode_blocks,
                                                all_decoded, &policy_blocks_schema};

static int port_policy_decode_blocks(sc_dec_t *d, const sc_node_t *node, void *value) {
  sc_port_policy_t *pp = value;
  if (sc__doc_map_get(node, "port") == NULL)
    return sc__decode_fail(d, node, "port is required");
  return sc__decode_struct(d, node, &policy_blocks_schema, &pp->policy);
}

static const sc_field_t tunnel_fields[] = {
    F_STR("protocol", sc_traffic_policy_t, tunnel_protocol),
    F_STR_REQ("targetHost", sc_traffic_policy_t, tunnel_target_host),
    F_U32_REQ("targetPort", sc_traffic_policy_t, tunnel_target_port, 1, 65535), F_END};
static const sc_schema_t tunnel_schema = {tunnel_fields, NULL, all_decoded, NULL};
static const sc_field_t proxy_protocol_fields[] = {
    F_STR("version", sc_traffic_policy_t, proxy_protocol_version), F_END};
static const sc_schema_t proxy_protocol_schema = {proxy_protocol_fields, NULL, all_decoded, NULL};

static int traffic_policy_finish(sc_dec_t *d, const sc_node_t *node, void *value) {
  sc_traffic_policy_t *tp = value;
  for (uint32_t i = 0; i < tp->nport_level; i++) {
    for (uint32_t j = 0; j < i; j++) {
      if (tp->port_level[j].port == tp->port_level[i].port) {
        sc__decode_push_key(d, "portLevelSettings");
        sc__decode_push_index(d, i);
        return sc__decode_fail(d, node, "duplicate port %u", tp->port_level[i].port);
      }
    }
  }
  /* The policy blocks sit beside portLevelSettings at the same level. */
  return sc__decode_struct(d, node, &policy_blocks_schema, &tp->policy);
}

static const sc_field_t traffic_policy_fields[] = {
    F_LIST("portLevelSettings", sc_traffic_policy_t, port_level, nport_level, sc_port_policy_t,
           port_policy_schema),
    F_INLINE_PRES("tunnel", sc_traffic_policy_t, has_tunnel, tunnel_schema),
    F_INLINE_PRES("proxyProtocol", sc_traffic_policy_t, has_proxy_protocol, proxy_protocol_schema),
    F_END};
static const char *const traffic_policy_known[] = {"retryBudget", NULL};
static const sc_schema_t traffic_policy_schema = {traffic_policy_fields, traffic_policy_finish,
                                                   traffic_policy_known, &policy_blocks_schema};

static const sc_field_t subset_fields[] = {
    F_STR_REQ("name", sc_subset_t, name), F_LABELS("labels", sc_subset_t, labels),
    F_STRUCT_PRES("trafficPolicy", sc_subset_t, traffic_policy, has_traffic_policy,
                  traffic_policy_schema),
    F_END};
static const sc_schema_t subset_schema = {subset_fields, NULL, all_decoded, NULL};

static const sc_field_t match_labels_fields[] = {F_LABELS("matchLabels", sc_labels_t, n), F_END};
static const sc_schema_t match_labels_schema = {match_labels_fields, NULL, all_decoded, NULL};

static int dr_finish(sc_dec_t *d, const sc_node_t *node, void *value) {
  sc_destination_rule_t *dr = value;

  for (uint32_t i = 0; i < dr->nsubsets; i++) {
    for (uint32_t j = 0; j < i; j++) {
      if (sc_str_eq(dr->subsets[j].name, dr->subsets[i].name)) {
        sc__decode_push_key(d, "subsets");
        sc__decode_push_index(d, i);
        return sc__decode_fail(d, node, "duplicate subset name \"%.60s\"", dr->subsets[i].name.ptr);
      }
    }
  }
  return 0;
}

static const sc_field_t destination_rule_fields[] = {
    F_STR_REQ_CHECK("host", sc_destination_rule_t, host, check_host),
    F_STRUCT_PRES("trafficPolicy", sc_destination_rule_t, traffic_policy, has_traffic_policy,
                  traffic_policy_schema),
    F_LIST("subsets", sc_destination_rule_t, subsets, nsubsets, sc_subset_t, subset_schema),
    F_STRLIST_CHECK("exportTo", sc_destination_rule_t, export_to, check_export_to),
    F_STRUCT_PRES("workloadSelector", sc_destination_rule_t, workload_selector,
                  has_workload_selector, match_labels_schema),
    F_END};
static const sc_schema_t destination_rule_schema = {destination_rule_fields, dr_finish,
                                                    all_decoded, NULL};

int sc__decode_destination_rule(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj) {
  sc_destination_rule_t *dr = &obj->u.destination_rule;
  int rc = decode_spec(d, root, &destination_rule_schema, dr);
  if (rc == 0)
    rc = sc__resolve_host(d, dr->host, obj->namespace_, &dr->host);
  return rc;
}

/* ---- Sidecar --------------------------------------------------------------------------- */

static const char *const capture_mode_names[] = {"DEFAULT", "IPTABLES", "NONE", NULL};
static const char *const outbound_mode_names[] = {"REGISTRY_ONLY", "ALLOW_ANY",
                                                  "ALLOW_ANY_DYNAMIC_DNS", NULL};

static int check_egress_hosts(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_strlist_t *l = value;
  if (l->n == 0)
    return sc__decode_fail(d, n, "must list at least one host");
  for (uint32_t i = 0; i < l->n; i++) {
    const char *why = sc__validate_egress_host(l->items[i].ptr, l->items[i].len);
    if (why != NULL) {
      sc__decode_push_index(d, i);
      return sc__decode_fail(d, n->type == SC_NODE_SEQ ? n->items[i] : n, "\"%.100s\" %s",
                          l->items[i].ptr, why);
    }
  }
  return 0;
}

static int check_bind(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_str_t *s = value;
  if (s->len == 0 || sc__validate_is_ip(s->ptr, s->len))
    return 0;
  if (s->len > 7 && memcmp(s->ptr, "unix://", 7) == 0)
    return 0;
  return sc__decode_fail(d, n, "bind \"%.60s\" must be an IP address or unix:///path", s->ptr);
}

static int check_default_endpoint(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_str_t *s = value;
  if (s->len > 7 && memcmp(s->ptr, "unix://", 7) == 0)
    return 0;
  size_t colon = s->len;
  while (colon > 0 && s->ptr[colon - 1] != ':')
    colon--;
  if (colon > 1) {
    const char *host = s->ptr;
    size_t hlen = colon - 1;
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']')
      host++, hlen -= 2;
    const char *port = s->ptr + colon;
    size_t plen = s->len - colon;
    unsigned num = 0;
    bool digits = plen > 0 && plen <= 5;
    for (size_t i = 0; digits && i < plen; i++) {
      digits = port[i] >= '0' && port[i] <= '9';
      num = num * 10 + (unsigned)(port[i] - '0');
    }
    if (sc__validate_is_ip(host, hlen) && digits && num >= 1 && num <= 65535)
      return 0;
  }
  return sc__decode_fail(d, n,
                      "defaultEndpoint \"%.60s\" must be IP:PORT (127.0.0.1, 0.0.0.0 or [::1]) "
                      "or unix:///path",
                      s->ptr);
}

static const sc_field_t egress_fields[] = {
    F_STRUCT_PRES("port", sc_egress_listener_t, port, has_port, sidecar_port_schema),
    F_STR_CHECK("bind", sc_egress_listener_t, bind, check_bind),
    F_ENUM("captureMode", sc_egress_listener_t, capture_mode, capture_mode_names,
           SC_CAPTURE_DEFAULT),
    F_STRLIST_REQ_CHECK("hosts", sc_egress_listener_t, hosts, check_egress_hosts), F_END};
static const sc_schema_t egress_schema = {egress_fields, NULL, all_decoded, NULL};

static int ingress_finish(sc_dec_t *d, const sc_node_t *node, void *value) {
  sc_ingress_listener_t *in = value;
  in->has_tls = sc__doc_map_get(node, "tls") != NULL;
  in->has_port = true; /* required */
  if (in->port.number == 0) {
    sc__decode_push_key(d, "port.number");
    return sc__decode_fail(d, node, "ingress port number must be 1-65535");
  }
  return 0;
}

static const sc_field_t ingress_fields[] = {
    F_STRUCT_REQ("port", sc_ingress_listener_t, port, sidecar_port_schema),
    F_STR_CHECK("bind", sc_ingress_listener_t, bind, check_bind),
    F_ENUM("captureMode", sc_ingress_listener_t, capture_mode, capture_mode_names,
           SC_CAPTURE_DEFAULT),
    F_STR_CHECK("defaultEndpoint", sc_ingress_listener_t, default_endpoint,
                check_default_endpoint),
    F_STRUCT_PRES("connectionPool", sc_ingress_listener_t, connection_pool, has_connection_pool,
                  connection_pool_schema),
    F_END};
static const char *const ingress_known[] = {"tls", NULL};
static const sc_schema_t ingress_schema = {ingress_fields, ingress_finish, ingress_known, NULL};

static const sc_field_t egress_proxy_fields[] = {
    F_STR_REQ_CHECK("host", sc_destination_t, host, check_host),
    F_STR("subset", sc_destination_t, subset),
    F_INLINE("port", sc_destination_t, port_number_schema), F_END};
static const sc_schema_t egress_proxy_schema = {egress_proxy_fields, NULL, all_decoded, NULL};
static const sc_field_t outbound_policy_fields[] = {
    F_ENUM("mode", sc_sidecar_t, outbound_mode, outbound_mode_names, SC_OUTBOUND_REGISTRY_ONLY),
    F_STRUCT_PRES("egressProxy", sc_sidecar_t, egress_proxy, has_egress_proxy,
                  egress_proxy_schema),
    F_END};
static const sc_schema_t outbound_policy_schema = {outbound_policy_fields, NULL, all_decoded, NULL};

static int sidecar_finish(sc_dec_t *d, const sc_node_t *node, void *value) {
  sc_sidecar_t *sc = value;
  /* No egress (an empty spec too) is valid to istiod: pilot/pkg/model/sidecar.go gives
   * such a Sidecar one egress listener importing every host of every namespace, and so
   * does scope/scope.c (build_listeners). */
  for (uint32_t i = 0; i < sc->negress; i++) {
    const sc_egress_listener_t *e = &sc->egress[i];
    bool catch_all = !e->has_port || e->port.number == 0;
    if (catch_all && i + 1 != sc->negress && !(e->bind.len > 7 && memcmp(e->bind.ptr, "unix://", 7) == 0)) {
      sc__decode_push_key(d, "egress");
      sc__decode_push_index(d, i);
      return sc__decode_fail(d, node, "an egress listener without a port must be the last one");
    }
    for (uint32_t j = 0; j < i && e->has_port && e->port.number > 0; j++) {
      if (sc->egress[j].has_port && sc->egress[j].port.number == e->port.number) {
        sc__decode_push_key(d, "egress");
        sc__decode_push_index(d, i);
        sc__decode_push_key(d, "port.number");
        return sc__decode_fail(d, node, "duplicate egress port %u", e->port.number);
      }
    }
  }
  if (sc->has_outbound_traffic_policy && sc->outbound_mode == SC_OUTBOUND_ALLOW_ANY_DYNAMIC_DNS) {
    sc__decode_push_key(d, "outboundTrafficPolicy.mode");
    return sc__decode_fail(d, node, "ALLOW_ANY_DYNAMIC_DNS is not allowed in a Sidecar");
  }
  if (sc->has_egress_proxy && sc->outbound_mode != SC_OUTBOUND_ALLOW_ANY) {
    sc__decode_push_key(d, "outboundTrafficPolicy.egressProxy");
    return sc__decode_fail(d, node, "egressProxy needs mode ALLOW_ANY");
  }
  if (sc->has_egress_proxy && sc->egress_proxy.port == 0) {
    sc__decode_push_key(d, "outboundTrafficPolicy.egressProxy.port");
    return sc__decode_fail(d, node, "is required");
  }
  return 0;
}

static const sc_field_t sidecar_fields[] = {
    F_STRUCT_PRES("workloadSelector", sc_sidecar_t, workload_selector, has_workload_selector,
                  selector_labels_schema),
    F_LIST("egress", sc_sidecar_t, egress, negress, sc_egress_listener_t, egress_schema),
    F_LIST("ingress", sc_sidecar_t, ingress, ningress, sc_ingress_listener_t, ingress_schema),
    F_INLINE_PRES("outboundTrafficPolicy", sc_sidecar_t, has_outbound_traffic_policy,
                  outbound_policy_schema),
    F_STRUCT_PRES("inboundConnectionPool", sc_sidecar_t, inbound_connection_pool,
                  has_inbound_connection_pool, connection_pool_schema),
    F_END};
static const sc_schema_t sidecar_schema = {sidecar_fields, sidecar_finish, all_decoded, NULL};

int sc__decode_sidecar(sc_dec_t *d, const sc_node_t *root, sc_obj_t *obj) {
  return decode_spec(d, root, &sidecar_schema, &obj->u.sidecar);
}
