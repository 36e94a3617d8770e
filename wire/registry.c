/* The Envoy v3 message types scopecast emits (see registry.h). */
#include <string.h>

#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb-c.h"
#include "envoy/extensions/filters/http/router/v3/router.pb-c.h"
#include "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.pb-c.h"
#include "envoy/extensions/filters/listener/original_dst/v3/original_dst.pb-c.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb-c.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb-c.h"
#include "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.pb-c.h"
#include "envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.pb-c.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb-c.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb-c.h"
#include "wire/registry.h"

#define TYPE_URL_PREFIX "type.googleapis.com/"

const sc_xds_type_info_t sc_xds_types[SC_XDS__TYPES] = {
    [SC_XDS_CLUSTERS] = {"clusters", TYPE_URL_PREFIX "envoy.config.cluster.v3.Cluster",
                         &envoy__config__cluster__v3__cluster__descriptor},
    [SC_XDS_ENDPOINTS] = {"endpoints", TYPE_URL_PREFIX "envoy.config.endpoint.v3.ClusterLoadAssignment",
                          &envoy__config__endpoint__v3__cluster_load_assignment__descriptor},
    [SC_XDS_LISTENERS] = {"listeners", TYPE_URL_PREFIX "envoy.config.listener.v3.Listener",
                          &envoy__config__listener__v3__listener__descriptor},
    [SC_XDS_ROUTES] = {"routes", TYPE_URL_PREFIX "envoy.config.route.v3.RouteConfiguration",
                       &envoy__config__route__v3__route_configuration__descriptor},
};

static const ProtobufCMessageDescriptor *const any_types[] = {
    &envoy__config__cluster__v3__cluster__descriptor,
    &envoy__config__endpoint__v3__cluster_load_assignment__descriptor,
    &envoy__config__listener__v3__listener__descriptor,
    &envoy__config__route__v3__route_configuration__descriptor,
    &envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__descriptor,
    &envoy__extensions__filters__network__tcp_proxy__v3__tcp_proxy__descriptor,
    &envoy__extensions__filters__http__router__v3__router__descriptor,
    &envoy__extensions__filters__http__fault__v3__httpfault__descriptor,
    &envoy__extensions__filters__listener__original_dst__v3__original_dst__descriptor,
    &envoy__extensions__filters__listener__http_inspector__v3__http_inspector__descriptor,
    &envoy__extensions__filters__listener__tls_inspector__v3__tls_inspector__descriptor,
    &envoy__extensions__retry__host__previous_hosts__v3__previous_hosts_predicate__descriptor,
    &envoy__extensions__retry__priority__previous_priorities__v3__previous_priorities_config__descriptor,
    &envoy__extensions__upstreams__http__v3__http_protocol_options__descriptor,
    &envoy__extensions__transport_sockets__tls__v3__upstream_tls_context__descriptor,
};

const sc_pb_registry_t sc_xds_registry = {any_types, sizeof(any_types) / sizeof(any_types[0])};

int sc_xds_type_by_name(const char *name) {
  for (int t = 0; t < SC_XDS__TYPES; t++)
    if (strcmp(sc_xds_types[t].name, name) == 0 || strcmp(sc_xds_types[t].type_url, name) == 0)
      return t;
  return -1;
}
