/* MeshConfig: the fields of docs/semantics.md "Inputs, normalised", with Istio's defaults. */
#include <string.h>

#include "store/schema.h"
#include "store/validate.h"

static const char *const outbound_mode_names[] = {"REGISTRY_ONLY", "ALLOW_ANY",
                                                  "ALLOW_ANY_DYNAMIC_DNS", NULL};
static const char *const inbound_mode_names[] = {"PASSTHROUGH", "LOCALHOST", NULL};

static const sc_field_t outbound_fields[] = {
    F_ENUM("mode", sc_mesh_config_t, outbound_mode, outbound_mode_names,
           SC_OUTBOUND_REGISTRY_ONLY),
    F_END};
static const sc_schema_t outbound_schema = {outbound_fields, NULL, NULL, NULL};
static const sc_field_t inbound_fields[] = {
    F_ENUM("mode", sc_mesh_config_t, inbound_mode, inbound_mode_names, SC_INBOUND_PASSTHROUGH),
    F_END};
static const sc_schema_t inbound_schema = {inbound_fields, NULL, NULL, NULL};

static const sc_field_t retry_fields[] = {
    F_I32("attempts", sc_retries_t, attempts, 0, INT32_MAX, 0),
    F_DURATION("perTryTimeout", sc_retries_t, per_try_timeout),
    F_STR("retryOn", sc_retries_t, retry_on),
    F_TRI("retryRemoteLocalities", sc_retries_t, retry_remote_localities), F_END};
static const sc_schema_t retry_schema = {retry_fields, NULL, NULL, NULL};

static int check_namespace(sc_dec_t *d, const sc_node_t *n, const void *value) {
  const sc_str_t *s = value;
  const char *why = sc__validate_dns_label(s->ptr, s->len);
  return why ? sc__decode_fail(d, n, "\"%.60s\" %s", s->ptr, why) : 0;
}

static const sc_field_t mesh_fields[] = {
    F_STR_CHECK("rootNamespace", sc_mesh_config_t, root_namespace, check_namespace),
    F_STR("trustDomain", sc_mesh_config_t, trust_domain),
    F_STRLIST("trustDomainAliases", sc_mesh_config_t, trust_domain_aliases),
    F_INLINE("outboundTrafficPolicy", sc_mesh_config_t, outbound_schema),
    F_INLINE("inboundTrafficPolicy", sc_mesh_config_t, inbound_schema),
    F_STRLIST("defaultServiceExportTo", sc_mesh_config_t, default_service_export_to),
    F_STRLIST("defaultVirtualServiceExportTo", sc_mesh_config_t, default_virtual_service_export_to),
    F_STRLIST("defaultDestinationRuleExportTo", sc_mesh_config_t,
              default_destination_rule_export_to),
    F_U32("proxyListenPort", sc_mesh_config_t, proxy_listen_port, 0, 65535, 15001),
    F_U32("proxyInboundListenPort", sc_mesh_config_t, proxy_inbound_listen_port, 0, 65535, 15006),
    F_U32("proxyHttpPort", sc_mesh_config_t, proxy_http_port, 0, 65535, 0),
    F_DURATION("connectTimeout", sc_mesh_config_t, connect_timeout),
    F_DURATION("protocolDetectionTimeout", sc_mesh_config_t, protocol_detection_timeout),
    F_DURATION("dnsRefreshRate", sc_mesh_config_t, dns_refresh_rate),
    F_BOOL("enableAutoMtls", sc_mesh_config_t, enable_auto_mtls),
    F_STRUCT_PRES("defaultHttpRetryPolicy", sc_mesh_config_t, default_http_retry_policy,
                  has_default_http_retry_policy, retry_schema),
    F_END};
static const sc_schema_t mesh_schema = {mesh_fields, NULL, NULL, NULL};

static sc_str_t export_all_item = {"*", 1};
#define EXPORT_ALL {1, &export_all_item}

static const sc_mesh_config_t mesh_defaults = {
    .root_namespace = {"istio-system", 12},
    .trust_domain = {"cluster.local", 13},
    .outbound_mode = SC_OUTBOUND_ALLOW_ANY,
    .inbound_mode = SC_INBOUND_PASSTHROUGH,
    .default_service_export_to = EXPORT_ALL,
    .default_virtual_service_export_to = EXPORT_ALL,
    .default_destination_rule_export_to = EXPORT_ALL,
    .proxy_listen_port = 15001,
    .proxy_inbound_listen_port = 15006,
    .proxy_http_port = 0,
    .connect_timeout = 10000000000LL,
    .protocol_detection_timeout = 0,
    .dns_refresh_rate = 60000000000LL,
    .enable_auto_mtls = true,
};

const sc_mesh_config_t *sc_mesh_config_defaults(void) { return &mesh_defaults; }

int sc__decode_mesh(sc_dec_t *d, const sc_node_t *mesh, sc_obj_t *obj) {
  static const sc_node_t empty_map = {.type = SC_NODE_MAP};
  sc_mesh_config_t *m = &obj->u.mesh;
  if (!sc__doc_node_is_null(mesh) && mesh->type != SC_NODE_MAP)
    return sc__decode_fail(d, mesh, "mesh config must be an object, got %s",
                        sc__decode_scalar_type_name(mesh));
  if (sc__doc_node_is_null(mesh))
    mesh = &empty_map;
  int rc = sc__decode_struct(d, mesh, &mesh_schema, m);
  if (rc != 0)
    return rc;
  /* Fields absent from the document take Istio's defaults (DefaultMeshConfig). */
  if (m->root_namespace.len == 0)
    m->root_namespace = mesh_defaults.root_namespace;
  if (m->trust_domain.len == 0)
    m->trust_domain = mesh_defaults.trust_domain;
  if (sc__doc_map_get(mesh, "outboundTrafficPolicy") == NULL)
    m->outbound_mode = mesh_defaults.outbound_mode;
  if (m->connect_timeout == SC_UNSET_I64)
    m->connect_timeout = mesh_defaults.connect_timeout;
  if (m->protocol_detection_timeout == SC_UNSET_I64)
    m->protocol_detection_timeout = mesh_defaults.protocol_detection_timeout;
  if (m->dns_refresh_rate == SC_UNSET_I64)
    m->dns_refresh_rate = mesh_defaults.dns_refresh_rate;
  /* An absent (nil) default exportTo list means ["*"] (initDefaultExportMaps). */
  if (m->default_service_export_to.n == 0)
    m->default_service_export_to = mesh_defaults.default_service_export_to;
  if (m->default_virtual_service_export_to.n == 0)
    m->default_virtual_service_export_to = mesh_defaults.default_virtual_service_export_to;
  if (m->default_destination_rule_export_to.n == 0)
    m->default_destination_rule_export_to = mesh_defaults.default_destination_rule_export_to;
  if (sc__doc_map_get(mesh, "enableAutoMtls") == NULL)
    m->enable_auto_mtls = mesh_defaults.enable_auto_mtls;
  return 0;
}
