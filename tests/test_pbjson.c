/* Generic protobuf -> JSON over protobuf-c descriptors (wire/pbjson.c), on Envoy messages
 * built, packed and unpacked here: field names, defaults left out, oneof members at their
 * zero value kept, enums by name, Duration and wrappers in their JSON forms, Any by its
 * type URL (and raw bytes for an unknown type), maps as objects, Struct, base64. */
#include <jansson.h>

#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb-c.h"
#include "harness.h"
#include "store/mem.h"
#include "wire/registry.h"
#include "scopecast/error.h"

typedef Envoy__Config__Cluster__V3__Cluster cluster_t;

/* Packs m into a new Any of type_url. */
static Google__Protobuf__Any *to_any(const ProtobufCMessage *m, const char *type_url) {
  Google__Protobuf__Any *any = malloc(sizeof(*any));
  google__protobuf__any__init(any);
  any->type_url = (char *)type_url;
  any->value.len = protobuf_c_message_get_packed_size(m);
  any->value.data = malloc(any->value.len ? any->value.len : 1);
  protobuf_c_message_pack(m, any->value.data);
  return any;
}

static json_t *roundtrip(const cluster_t *c) {
  size_t len = protobuf_c_message_get_packed_size(&c->base);
  uint8_t *buf = malloc(len ? len : 1);
  protobuf_c_message_pack(&c->base, buf);
  json_t *out = NULL;
  int rc = sc__pbjson_decode(&envoy__config__cluster__v3__cluster__descriptor, buf, len,
                            &sc_xds_registry, &out);
  free(buf);
  return rc == 0 ? out : NULL;
}

static const char *str_at(json_t *o, const char *path) {
  json_t *v = o;
  char key[128];
  while (v != NULL && *path) {
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    snprintf(key, sizeof(key), "%.*s", (int)n, path);
    v = json_is_array(v) ? json_array_get(v, (size_t)atoi(key)) : json_object_get(v, key);
    path += n + (dot != NULL);
  }
  return json_is_string(v) ? json_string_value(v) : NULL;
}

TEST(eds_cluster) {
  cluster_t c;
  envoy__config__cluster__v3__cluster__init(&c);
  c.name = "outbound|9080||reviews.default.svc.cluster.local";
  c.cluster_discovery_type_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_TYPE;
  c.type = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__EDS;
  Envoy__Config__Cluster__V3__Cluster__EdsClusterConfig eds;
  envoy__config__cluster__v3__cluster__eds_cluster_config__init(&eds);
  eds.service_name = c.name;
  c.eds_cluster_config = &eds;
  Google__Protobuf__Duration timeout;
  google__protobuf__duration__init(&timeout);
  timeout.seconds = 10;
  timeout.nanos = 500000000;
  c.connect_timeout = &timeout;
  c.lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__LEAST_REQUEST;
  Google__Protobuf__UInt32Value limit;
  google__protobuf__uint32_value__init(&limit);
  limit.value = 32768;
  c.per_connection_buffer_limit_bytes = &limit;

  json_t *j = roundtrip(&c);
  ASSERT(j != NULL);
  ASSERT_EQ_STR(str_at(j, "name"), "outbound|9080||reviews.default.svc.cluster.local");
  ASSERT_EQ_STR(str_at(j, "type"), "EDS");
  ASSERT_EQ_STR(str_at(j, "eds_cluster_config.service_name"), c.name);
  ASSERT_EQ_STR(str_at(j, "connect_timeout"), "10.500s");
  ASSERT_EQ_STR(str_at(j, "lb_policy"), "LEAST_REQUEST");
  ASSERT_EQ_INT(json_integer_value(json_object_get(j, "per_connection_buffer_limit_bytes")), 32768);
  ASSERT(json_object_get(j, "alt_stat_name") == NULL); /* default: left out */
  ASSERT(json_object_get(j, "dns_lookup_family") == NULL);
  json_decref(j);
}

TEST(oneof_member_at_zero_is_kept) {
  cluster_t c;
  envoy__config__cluster__v3__cluster__init(&c);
  c.name = "BlackHoleCluster";
  c.cluster_discovery_type_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_TYPE;
  c.type = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__STATIC; /* 0 */
  json_t *j = roundtrip(&c);
  ASSERT(j != NULL);
  ASSERT_EQ_STR(str_at(j, "type"), "STATIC");
  ASSERT(json_object_get(j, "lb_policy") == NULL); /* ROUND_ROBIN is the default */
  json_decref(j);
}

TEST(any_map_and_struct) {
  typedef Envoy__Extensions__Upstreams__Http__V3__HttpProtocolOptions options_t;
  options_t opts;
  envoy__extensions__upstreams__http__v3__http_protocol_options__init(&opts);
  Envoy__Extensions__Upstreams__Http__V3__HttpProtocolOptions__ExplicitHttpConfig explicit_;
  envoy__extensions__upstreams__http__v3__http_protocol_options__explicit_http_config__init(&explicit_);
  Envoy__Config__Core__V3__Http2ProtocolOptions h2;
  envoy__config__core__v3__http2_protocol_options__init(&h2);
  explicit_.protocol_config_case =
      ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__EXPLICIT_HTTP_CONFIG__PROTOCOL_CONFIG_HTTP2_PROTOCOL_OPTIONS;
  explicit_.http2_protocol_options = &h2;
  opts.upstream_protocol_options_case =
      ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__UPSTREAM_PROTOCOL_OPTIONS_EXPLICIT_HTTP_CONFIG;
  opts.explicit_http_config = &explicit_;

  cluster_t c;
  envoy__config__cluster__v3__cluster__init(&c);
  c.name = "outbound|9090||grpc.default.svc.cluster.local";
  Envoy__Config__Cluster__V3__Cluster__TypedExtensionProtocolOptionsEntry entries[2], *pentries[2];
  const char *keys[2] = {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions", "x.unknown"};
  Google__Protobuf__Any unknown;
  google__protobuf__any__init(&unknown);
  unknown.type_url = "type.googleapis.com/x.Unknown";
  uint8_t raw[3] = {1, 2, 3};
  unknown.value.data = raw;
  unknown.value.len = 3;
  Google__Protobuf__Any *known = to_any(&opts.base,
      "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
  for (int i = 0; i < 2; i++) {
    envoy__config__cluster__v3__cluster__typed_extension_protocol_options_entry__init(&entries[i]);
    entries[i].key = (char *)keys[i];
    entries[i].value = i == 0 ? known : &unknown;
    pentries[i] = &entries[i];
  }
  c.n_typed_extension_protocol_options = 2;
  c.typed_extension_protocol_options = pentries;

  /* metadata.filter_metadata["istio"] = {"config": "/apis/...", "n": 2, "ok": true} */
  Google__Protobuf__Value vs, vn, vb;
  google__protobuf__value__init(&vs);
  google__protobuf__value__init(&vn);
  google__protobuf__value__init(&vb);
  vs.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
  vs.string_value = "/apis/networking.istio.io/v1/namespaces/default/destination-rule/r";
  vn.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
  vn.number_value = 2;
  vb.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE;
  vb.bool_value = 1;
  Google__Protobuf__Struct__FieldsEntry fe[3], *pfe[3];
  const char *fk[3] = {"config", "n", "ok"};
  Google__Protobuf__Value *fv[3] = {&vs, &vn, &vb};
  for (int i = 0; i < 3; i++) {
    google__protobuf__struct__fields_entry__init(&fe[i]);
    fe[i].key = (char *)fk[i];
    fe[i].value = fv[i];
    pfe[i] = &fe[i];
  }
  Google__Protobuf__Struct st;
  google__protobuf__struct__init(&st);
  st.n_fields = 3;
  st.fields = pfe;
  Envoy__Config__Core__V3__Metadata__FilterMetadataEntry me, *pme = &me;
  envoy__config__core__v3__metadata__filter_metadata_entry__init(&me);
  me.key = "istio";
  me.value = &st;
  Envoy__Config__Core__V3__Metadata md;
  envoy__config__core__v3__metadata__init(&md);
  md.n_filter_metadata = 1;
  md.filter_metadata = &pme;
  c.metadata = &md;

  json_t *j = roundtrip(&c);
  free(known->value.data);
  free(known);
  ASSERT(j != NULL);
  json_t *tepo = json_object_get(j, "typed_extension_protocol_options");
  ASSERT(json_is_object(tepo));
  json_t *k = json_object_get(tepo, keys[0]);
  ASSERT_EQ_STR(str_at(k, "@type"), "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
  ASSERT(json_is_object(json_object_get(json_object_get(k, "explicit_http_config"), "http2_protocol_options")));
  json_t *u = json_object_get(tepo, keys[1]);
  ASSERT_EQ_STR(str_at(u, "@type"), "type.googleapis.com/x.Unknown");
  ASSERT_EQ_STR(str_at(u, "value"), "AQID"); /* base64 of 01 02 03 */
  json_t *istio = json_object_get(json_object_get(json_object_get(j, "metadata"), "filter_metadata"), "istio");
  ASSERT_EQ_STR(str_at(istio, "config"), vs.string_value);
  ASSERT(json_real_value(json_object_get(istio, "n")) == 2.0);
  ASSERT(json_is_true(json_object_get(istio, "ok")));
  json_decref(j);
}

TEST(garbage_is_rejected) {
  const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}; /* a length beyond the data */
  json_t *out = NULL;
  ASSERT_EQ_INT(sc__pbjson_decode(&envoy__config__cluster__v3__cluster__descriptor, junk, sizeof(junk),
                                 &sc_xds_registry, &out),
                SC_ECORRUPT);
  ASSERT(out == NULL);
}

TEST(base64) {
  const char *cases[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *b = sc__pbjson_base64((const uint8_t *)cases[i][0], strlen(cases[i][0]));
    ASSERT(b != NULL);
    ASSERT_EQ_STR(b, cases[i][1]);
    sc__free(b);
  }
}

TEST(type_names) {
  ASSERT_EQ_INT(sc_xds_type_by_name("clusters"), SC_XDS_CLUSTERS);
  ASSERT_EQ_INT(sc_xds_type_by_name("type.googleapis.com/envoy.config.route.v3.RouteConfiguration"), SC_XDS_ROUTES);
  ASSERT_EQ_INT(sc_xds_type_by_name("secrets"), -1);
  for (int t = 0; t < SC_XDS__TYPES; t++) /* the URL ends with the message's full name */
    ASSERT_EQ_STR(strrchr(sc_xds_types[t].type_url, '/') + 1, sc_xds_types[t].descriptor->name);
}

TEST_LIST = {TEST_ENTRY(eds_cluster),     TEST_ENTRY(oneof_member_at_zero_is_kept),
             TEST_ENTRY(any_map_and_struct), TEST_ENTRY(garbage_is_rejected),
             TEST_ENTRY(base64),          TEST_ENTRY(type_names),
             TEST_LIST_END};
