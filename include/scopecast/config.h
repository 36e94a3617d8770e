/* scopecast config model: the typed form of the Kubernetes and Istio objects the engine
 * reads (docs/semantics.md "Inputs, normalised").
 *
 * Ownership: every sc_obj_t is reference counted (sc_obj_ref/sc_obj_unref) and owns one
 * arena that holds all of its strings and arrays; every pointer inside an object stays
 * valid for as long as the caller holds a reference. Objects are immutable once decoded.
 *
 * Strings are {ptr,len} slices that are also NUL-terminated, so either form can be used.
 * An absent string has len 0 and ptr pointing at "". Optional numbers use the documented
 * "unset" sentinel of their field; optional blocks have a has_* flag.
 */
#ifndef SCOPECAST_CONFIG_H
#define SCOPECAST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
  const char *ptr;
  uint32_t len;
} sc_str_t;

typedef struct {
  uint32_t n;
  sc_str_t *items;
} sc_strlist_t;

typedef struct {
  sc_str_t key;
  sc_str_t value;
} sc_label_t;

/* Always sorted by key, keys unique. */
typedef struct {
  uint32_t n;
  sc_label_t *items;
} sc_labels_t;

#define SC_UNSET_U32 UINT32_MAX  /* optional unsigned field not given */
#define SC_UNSET_I64 INT64_MIN   /* optional duration/number not given */
#define SC_UNSET_DBL (-1.0)      /* optional percentage not given */

/* Tri-state boolean for optional wrapped booleans. */
typedef enum { SC_TRI_UNSET = 0, SC_TRI_FALSE = 1, SC_TRI_TRUE = 2 } sc_tri_t;

typedef enum {
  SC_KIND_SERVICE,
  SC_KIND_ENDPOINT_SLICE,
  SC_KIND_NAMESPACE,
  SC_KIND_POD,
  SC_KIND_SERVICE_ENTRY,
  SC_KIND_VIRTUAL_SERVICE,
  SC_KIND_DESTINATION_RULE,
  SC_KIND_SIDECAR,
  SC_KIND_MESH_CONFIG,
  SC_KIND__COUNT
} sc_kind_t;

/* "Service", "EndpointSlice", ..., "MeshConfig". */
const char *sc_kind_name(sc_kind_t kind);
/* Whether objects of this kind live in a namespace (Namespace does not). */
bool sc_kind_is_namespaced(sc_kind_t kind);

/* ---- protocols (docs/semantics.md "Inputs, normalised") ---------------------------------------------------- */

typedef enum {
  SC_PROTO_UNSUPPORTED = 0, /* "auto": sniffed */
  SC_PROTO_HTTP,
  SC_PROTO_HTTP2,
  SC_PROTO_GRPC,
  SC_PROTO_GRPC_WEB,
  SC_PROTO_HTTP_PROXY,
  SC_PROTO_HTTPS,
  SC_PROTO_TLS,
  SC_PROTO_TCP,
  SC_PROTO_MONGO,
  SC_PROTO_REDIS,
  SC_PROTO_MYSQL,
  SC_PROTO_UDP,
  SC_PROTO__COUNT
} sc_protocol_t;

/* Istio's Parse: case-insensitive name to protocol; anything else is UNSUPPORTED. */
sc_protocol_t sc_protocol_parse(const char *text, size_t len);
/* Istio's spelling: "HTTP", "GRPC-Web", "UnsupportedProtocol", ... */
const char *sc_protocol_name(sc_protocol_t p);

/* ---- Kubernetes ------------------------------------------------------------------- */

typedef enum {
  SC_SVC_CLUSTER_IP = 0,
  SC_SVC_NODE_PORT,
  SC_SVC_LOAD_BALANCER,
  SC_SVC_EXTERNAL_NAME
} sc_service_type_t;

typedef struct {
  sc_str_t name;
  uint32_t port;
  sc_str_t l4_protocol;   /* TCP (default), UDP or SCTP */
  sc_str_t app_protocol;
  uint32_t target_port;   /* 0 when given by name or absent */
  sc_str_t target_port_name;
  sc_protocol_t protocol; /* inferred per docs/semantics.md "Inputs, normalised" */
} sc_service_port_t;

typedef struct {
  sc_str_t hostname; /* name.namespace.svc.<domain suffix> */
  sc_service_type_t type;
  sc_str_t external_name;
  sc_str_t cluster_ip;     /* "None" for headless */
  sc_strlist_t cluster_ips;
  bool headless;
  sc_labels_t selector;
  uint32_t nports;
  sc_service_port_t *ports;
  sc_strlist_t export_to; /* annotation networking.istio.io/exportTo, as written */
  bool publish_not_ready;
  int internal_traffic_policy; /* 0 Cluster, 1 Local */
} sc_k8s_service_t;

typedef struct {
  sc_str_t name;
  uint32_t port; /* SC_UNSET_U32 when absent (all ports) */
  sc_str_t protocol;
  sc_str_t app_protocol;
} sc_slice_port_t;

typedef struct {
  sc_strlist_t addresses;
  sc_tri_t ready, serving, terminating;
  sc_str_t target_kind, target_name, target_namespace;
  sc_str_t node_name;
  sc_str_t zone;
} sc_slice_endpoint_t;

typedef struct {
  sc_str_t service_name; /* label kubernetes.io/service-name ("" when absent) */
  sc_str_t address_type; /* IPv4, IPv6, FQDN */
  uint32_t nendpoints;
  sc_slice_endpoint_t *endpoints;
  uint32_t nports;
  sc_slice_port_t *ports;
} sc_endpoint_slice_t;

typedef struct {
  sc_strlist_t ips; /* status.podIPs, or status.podIP */
  sc_str_t phase;
  bool ready;       /* condition Ready == True */
} sc_pod_t;

/* ---- Istio networking ------------------------------------------------------------ */

typedef struct {
  uint32_t number;
  sc_protocol_t protocol;
  sc_str_t protocol_text; /* as written */
  sc_str_t name;
  uint32_t target_port; /* 0 when absent */
} sc_port_t;

typedef struct {
  sc_str_t name;
  uint32_t port;
} sc_named_port_t;

typedef struct {
  sc_str_t address;
  uint32_t nports;
  sc_named_port_t *ports;
  sc_labels_t labels;
  sc_str_t network;
  sc_str_t locality;
  uint32_t weight; /* 0 when absent */
  sc_str_t service_account;
} sc_workload_entry_t;

typedef enum { SC_LOCATION_MESH_EXTERNAL = 0, SC_LOCATION_MESH_INTERNAL } sc_location_t;
typedef enum {
  SC_RESOLUTION_NONE = 0,
  SC_RESOLUTION_STATIC,
  SC_RESOLUTION_DNS,
  SC_RESOLUTION_DNS_ROUND_ROBIN,
  SC_RESOLUTION_DYNAMIC_DNS
} sc_resolution_t;

typedef struct {
  sc_strlist_t hosts;
  sc_strlist_t addresses;
  uint32_t nports;
  sc_port_t *ports;
  sc_location_t location;
  sc_resolution_t resolution;
  uint32_t nendpoints;
  sc_workload_entry_t *endpoints;
  bool has_workload_selector;
  sc_labels_t workload_selector;
  sc_strlist_t export_to;
  sc_strlist_t subject_alt_names;
} sc_service_entry_t;

typedef enum {
  SC_MATCH_NONE = 0,
  SC_MATCH_EXACT,
  SC_MATCH_PREFIX,
  SC_MATCH_REGEX
} sc_match_kind_t;

typedef struct {
  sc_match_kind_t kind; /* NONE: the field was absent or empty (presence match) */
  sc_str_t value;
} sc_string_match_t;

typedef struct {
  sc_str_t name;
  sc_string_match_t match;
} sc_keyed_match_t;

typedef struct {
  uint32_t n;
  sc_keyed_match_t *items; /* sorted by name */
} sc_keyed_matches_t;

typedef struct {
  sc_str_t name;
  sc_string_match_t uri, scheme, method, authority;
  sc_keyed_matches_t headers, without_headers, query_params;
  bool ignore_uri_case;
  uint32_t port; /* 0 when absent */
  sc_labels_t source_labels;
  sc_str_t source_namespace;
  sc_strlist_t gateways;
} sc_http_match_t;

typedef struct {
  sc_str_t host;
  sc_str_t subset;
  uint32_t port; /* 0 when absent */
} sc_destination_t;

typedef struct {
  sc_labels_t set, add;
  sc_strlist_t remove;
} sc_header_ops_t;

typedef struct {
  sc_header_ops_t request, response;
} sc_headers_t;

typedef struct {
  sc_destination_t destination;
  uint32_t weight; /* 0 when absent */
  sc_headers_t headers;
} sc_route_destination_t;

typedef enum {
  SC_DERIVE_FROM_PROTOCOL_DEFAULT = 0,
  SC_DERIVE_FROM_REQUEST_PORT
} sc_derive_port_t;

typedef struct {
  sc_str_t uri, authority, scheme;
  sc_str_t prefix_rewrite;
  uint32_t port;          /* 0 when absent */
  bool has_derive_port;   /* derivePort given (port and derivePort are a oneof) */
  sc_derive_port_t derive_port;
  uint32_t redirect_code; /* 0 when absent (301) */
} sc_redirect_t;

typedef struct {
  uint32_t status;
  sc_str_t body; /* body.string */
} sc_direct_response_t;

typedef struct {
  sc_str_t uri, authority;
  sc_str_t regex_match, regex_rewrite; /* uriRegexRewrite */
} sc_rewrite_t;

typedef struct {
  int32_t attempts;        /* 0 when absent */
  int64_t per_try_timeout; /* ns, SC_UNSET_I64 */
  sc_str_t retry_on;
  sc_tri_t retry_remote_localities;
} sc_retries_t;

typedef struct {
  bool has_delay;
  int64_t fixed_delay;     /* ns */
  double delay_percentage; /* SC_UNSET_DBL */
  bool has_abort;
  uint32_t http_status;
  sc_str_t grpc_status;
  double abort_percentage; /* SC_UNSET_DBL */
} sc_fault_t;

typedef struct {
  sc_destination_t destination;
  double percentage; /* SC_UNSET_DBL */
} sc_mirror_t;

typedef struct {
  sc_str_t name;
  uint32_t nmatch;
  sc_http_match_t *match;
  uint32_t nroute;
  sc_route_destination_t *route;
  bool has_redirect;
  sc_redirect_t redirect;
  bool has_direct_response;
  sc_direct_response_t direct_response;
  bool has_delegate;
  sc_str_t delegate_name, delegate_namespace;
  bool has_rewrite;
  sc_rewrite_t rewrite;
  int64_t timeout; /* ns, SC_UNSET_I64 */
  bool has_retries;
  sc_retries_t retries;
  bool has_fault;
  sc_fault_t fault;
  bool has_mirror;
  sc_destination_t mirror;
  double mirror_percentage; /* SC_UNSET_DBL */
  uint32_t nmirrors;
  sc_mirror_t *mirrors;
  sc_headers_t headers;
} sc_http_route_t;

typedef struct {
  uint32_t port;
  sc_strlist_t destination_subnets;
  sc_strlist_t sni_hosts; /* tls routes only */
  sc_labels_t source_labels;
  sc_str_t source_namespace;
  sc_strlist_t gateways;
} sc_l4_match_t;

typedef struct {
  sc_destination_t destination;
  uint32_t weight;
} sc_l4_destination_t;

/* A tcp[] or tls[] route. */
typedef struct {
  uint32_t nmatch;
  sc_l4_match_t *match;
  uint32_t nroute;
  sc_l4_destination_t *route;
} sc_l4_route_t;

typedef struct {
  sc_strlist_t hosts; /* as written; resolution happens in the engine */
  sc_strlist_t gateways;
  sc_strlist_t export_to;
  uint32_t nhttp;
  sc_http_route_t *http;
  uint32_t ntcp;
  sc_l4_route_t *tcp;
  uint32_t ntls;
  sc_l4_route_t *tls;
} sc_virtual_service_t;

typedef enum {
  SC_LB_UNSPECIFIED = 0,
  SC_LB_LEAST_CONN,
  SC_LB_RANDOM,
  SC_LB_PASSTHROUGH,
  SC_LB_ROUND_ROBIN,
  SC_LB_LEAST_REQUEST
} sc_lb_simple_t;

typedef struct {
  sc_lb_simple_t simple;
  bool has_consistent_hash;
  sc_str_t hash_http_header_name;
  sc_str_t hash_http_cookie_name, hash_http_cookie_path;
  int64_t hash_http_cookie_ttl; /* ns, SC_UNSET_I64 */
  bool hash_use_source_ip;
  sc_str_t hash_query_parameter_name;
  uint32_t hash_minimum_ring_size; /* 0 when absent (deprecated top-level field) */
  bool has_ring_hash;              /* consistentHash.ringHash given */
  uint32_t ring_hash_minimum_ring_size; /* 0 when absent */
  bool has_maglev;                 /* consistentHash.maglev given */
  uint32_t maglev_table_size;      /* 0 when absent */
} sc_load_balancer_t;

typedef enum {
  SC_H2_UPGRADE_DEFAULT = 0,
  SC_H2_UPGRADE_DO_NOT_UPGRADE,
  SC_H2_UPGRADE_UPGRADE
} sc_h2_upgrade_t;

typedef struct {
  /* tcp */
  uint32_t max_connections;         /* SC_UNSET_U32 */
  int64_t connect_timeout;          /* ns, SC_UNSET_I64 */
  bool has_tcp_keepalive;
  uint32_t keepalive_probes;        /* SC_UNSET_U32 */
  int64_t keepalive_time, keepalive_interval;
  int64_t max_connection_duration;
  int64_t tcp_idle_timeout;
  /* http */
  uint32_t http1_max_pending_requests, http2_max_requests, max_requests_per_connection,
      max_retries, max_concurrent_streams; /* SC_UNSET_U32 */
  int64_t http_idle_timeout;
  sc_h2_upgrade_t h2_upgrade_policy;
  bool use_client_protocol;
} sc_connection_pool_t;

typedef struct {
  uint32_t consecutive_5xx_errors;         /* SC_UNSET_U32 */
  uint32_t consecutive_gateway_errors;     /* SC_UNSET_U32 */
  uint32_t consecutive_local_origin_failures; /* SC_UNSET_U32 */
  bool split_external_local_origin_errors;
  int64_t interval, base_ejection_time;    /* ns, SC_UNSET_I64 */
  uint32_t max_ejection_percent, min_health_percent; /* SC_UNSET_U32 */
} sc_outlier_detection_t;

typedef enum {
  SC_TLS_DISABLE = 0,
  SC_TLS_SIMPLE,
  SC_TLS_MUTUAL,
  SC_TLS_ISTIO_MUTUAL
} sc_tls_mode_t;

typedef struct {
  sc_tls_mode_t mode;
  sc_str_t client_certificate, private_key, ca_certificates, credential_name, sni;
  sc_strlist_t subject_alt_names;
  sc_tri_t insecure_skip_verify;
} sc_client_tls_t;

/* The policy blocks that a port-level setting or a subset can each override. */
typedef struct {
  bool has_load_balancer;
  sc_load_balancer_t load_balancer;
  bool has_connection_pool;
  sc_connection_pool_t connection_pool;
  bool has_outlier_detection;
  sc_outlier_detection_t outlier_detection;
  bool has_tls;
  sc_client_tls_t tls;
} sc_policy_blocks_t;

typedef struct {
  uint32_t port;
  sc_policy_blocks_t policy;
} sc_port_policy_t;

typedef struct {
  sc_policy_blocks_t policy;
  uint32_t nport_level;
  sc_port_policy_t *port_level;
  bool has_tunnel;
  sc_str_t tunnel_protocol, tunnel_target_host;
  uint32_t tunnel_target_port;
  bool has_proxy_protocol;
  sc_str_t proxy_protocol_version;
} sc_traffic_policy_t;

typedef struct {
  sc_str_t name;
  sc_labels_t labels;
  bool has_traffic_policy;
  sc_traffic_policy_t traffic_policy;
} sc_subset_t;

typedef struct {
  sc_str_t host; /* as written */
  bool has_traffic_policy;
  sc_traffic_policy_t traffic_policy;
  uint32_t nsubsets;
  sc_subset_t *subsets;
  sc_strlist_t export_to;
  bool has_workload_selector;
  sc_labels_t workload_selector; /* matchLabels */
} sc_destination_rule_t;

typedef enum {
  SC_CAPTURE_DEFAULT = 0,
  SC_CAPTURE_IPTABLES,
  SC_CAPTURE_NONE
} sc_capture_mode_t;

typedef struct {
  bool has_port;
  sc_port_t port;
  sc_str_t bind;
  sc_capture_mode_t capture_mode;
  sc_strlist_t hosts; /* "namespace/dnsName", validated */
} sc_egress_listener_t;

typedef struct {
  bool has_port;
  sc_port_t port;
  sc_str_t bind;
  sc_capture_mode_t capture_mode;
  sc_str_t default_endpoint;
  bool has_tls;
  bool has_connection_pool;
  sc_connection_pool_t connection_pool;
} sc_ingress_listener_t;

typedef enum {
  SC_OUTBOUND_REGISTRY_ONLY = 0, /* enum zero value */
  SC_OUTBOUND_ALLOW_ANY,
  SC_OUTBOUND_ALLOW_ANY_DYNAMIC_DNS
} sc_outbound_mode_t;

/* Istio's enum spelling: "REGISTRY_ONLY", "ALLOW_ANY", "ALLOW_ANY_DYNAMIC_DNS". */
const char *sc_outbound_mode_name(sc_outbound_mode_t m);

typedef struct {
  bool has_workload_selector;
  sc_labels_t workload_selector; /* labels */
  uint32_t negress;
  sc_egress_listener_t *egress;
  uint32_t ningress;
  sc_ingress_listener_t *ingress;
  bool has_outbound_traffic_policy;
  sc_outbound_mode_t outbound_mode;
  bool has_egress_proxy;
  sc_destination_t egress_proxy;
  bool has_inbound_connection_pool;
  sc_connection_pool_t inbound_connection_pool;
} sc_sidecar_t;

/* ---- MeshConfig (docs/semantics.md "Inputs, normalised"); every field holds its default when absent -- */

typedef enum { SC_INBOUND_PASSTHROUGH = 0, SC_INBOUND_LOCALHOST } sc_inbound_mode_t;

typedef struct {
  sc_str_t root_namespace;
  sc_str_t trust_domain;
  sc_strlist_t trust_domain_aliases;
  sc_outbound_mode_t outbound_mode;
  sc_inbound_mode_t inbound_mode;
  sc_strlist_t default_service_export_to;
  sc_strlist_t default_virtual_service_export_to;
  sc_strlist_t default_destination_rule_export_to;
  uint32_t proxy_listen_port;
  uint32_t proxy_inbound_listen_port;
  uint32_t proxy_http_port;
  int64_t connect_timeout;            /* ns */
  int64_t protocol_detection_timeout; /* ns */
  int64_t dns_refresh_rate;           /* ns */
  bool enable_auto_mtls;
  bool has_default_http_retry_policy;
  sc_retries_t default_http_retry_policy;
} sc_mesh_config_t;

/* ---- the object ---------------------------------------------------------------------- */

typedef struct sc_obj_s {
  sc_kind_t kind;
  sc_str_t name;
  sc_str_t namespace_; /* "" for cluster-scoped kinds */
  uint64_t key_hash;   /* sc_config_key_hash(kind, namespace, name) */
  uint64_t spec_hash;  /* XXH3-64 over every decoded field: equal means no-op update */
  int64_t creation_time; /* unix seconds, 0 when absent */
  sc_labels_t labels;
  sc_labels_t annotations; /* only the annotations scopecast reads */
  union {
    sc_k8s_service_t service;
    sc_endpoint_slice_t endpoint_slice;
    sc_pod_t pod;
    sc_service_entry_t service_entry;
    sc_virtual_service_t virtual_service;
    sc_destination_rule_t destination_rule;
    sc_sidecar_t sidecar;
    sc_mesh_config_t mesh;
  } u;
  /* Internal: reference count and the arena holding everything above. */
  uint32_t refcount_;
  struct sc_arena_s *arena_;
} sc_obj_t;

/* The ConfigKey hash: XXH3-64 of kind, namespace and name (a NUL byte between parts). */
uint64_t sc_config_key_hash(sc_kind_t kind, sc_str_t ns, sc_str_t name);

/* A new object that carries only a key (what a delete needs); NULL when out of memory. */
sc_obj_t *sc_obj_new_key(sc_kind_t kind, sc_str_t ns, sc_str_t name);
sc_obj_t *sc_obj_ref(sc_obj_t *obj);
/* The bytes of memory the object holds (its arena). */
size_t sc_obj_bytes(const sc_obj_t *obj);
/* Drops a reference; frees the object with the last one. NULL is a no-op. */
void sc_obj_unref(sc_obj_t *obj);

/* The mesh config defaults of docs/semantics.md "Inputs, normalised", held in static storage. */
const sc_mesh_config_t *sc_mesh_config_defaults(void);

/* Lookup helper: the value of a label, or NULL. */
const sc_str_t *sc_labels_get(const sc_labels_t *labels, const char *key);

static inline sc_str_t sc_str(const char *s) {
  sc_str_t r = {s, (uint32_t)strlen(s)};
  return r;
}
static inline bool sc_str_eq(sc_str_t a, sc_str_t b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}
static inline bool sc_str_eqz(sc_str_t a, const char *z) { return sc_str_eq(a, sc_str(z)); }
/* Byte order, shorter first on a common prefix. */
int sc_str_cmp(sc_str_t a, sc_str_t b);
bool sc_strlist_has(const sc_strlist_t *l, sc_str_t v);
static inline bool sc_strlist_hasz(const sc_strlist_t *l, const char *v) {
  return sc_strlist_has(l, sc_str(v));
}
/* Equal as sets (order and duplicates ignored). */
bool sc_strlist_set_equal(const sc_strlist_t *a, const sc_strlist_t *b);
/* Equal label maps; NULL is the empty map. */
bool sc_labels_equal(const sc_labels_t *a, const sc_labels_t *b);
/* Whether every label of want is in have (a selector matching labels); NULL is empty. */
bool sc_labels_within(const sc_labels_t *want, const sc_labels_t *have);

#endif
