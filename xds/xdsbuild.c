/* Building Envoy messages with protobuf-c (see xdsbuild.h). */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "store/array.h"
#include "store/mem.h"
#include "envoy/config/core/v3/address.pb-c.h"
#include "scopecast/error.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "wire/registry.h"
#include "xds/xdsbuild.h"

/* A message of type d, initialised, in the arena. */
void *sc__xds_new(sc_arena_t *a, const ProtobufCMessageDescriptor *d) {
  void *m = sc__arena_alloc(a, d->sizeof_message);
  if (m != NULL)
    protobuf_c_message_init(d, m);
  return m;
}

void sc__resources_free(sc_resources_t *r) {
  for (size_t i = 0; i < r->n; i++) {
    sc__free(r->items[i].name);
    sc__free(r->items[i].bytes);
    sc__free(r->items[i].eds);
  }
  sc__free(r->items);
  memset(r, 0, sizeof(*r));
}

/* Room for one more resource. */
int sc__resources_reserve(sc_resources_t *out) {
  return SC__ARRAY_RESERVE(out, 1);
}

/* The xDS type a message of descriptor d is part of. */
static uint8_t type_of(const ProtobufCMessageDescriptor *d) {
  if (d == &envoy__config__listener__v3__listener__descriptor || d == &envoy__config__listener__v3__filter_chain__descriptor)
    return SC_XDS_LISTENERS;
  if (d == &envoy__config__route__v3__virtual_host__descriptor || d == &envoy__config__route__v3__route_configuration__descriptor)
    return SC_XDS_ROUTES;
  if (d == &envoy__config__endpoint__v3__cluster_load_assignment__descriptor)
    return SC_XDS_ENDPOINTS;
  return SC_XDS_CLUSTERS;
}

/* Hashes per type of a resource list: names, content hashes, assignment ids. An EDS
 * cluster also counts for endpoints: which assignments a proxy gets follows from it. */
static void type_hashes(const sc_resources_t *r, uint64_t out[SC_XDS__TYPES]) {
  memset(out, 0, SC_XDS__TYPES * sizeof(out[0]));
  for (size_t i = 0; r && i < r->n; i++) {
    const sc_resource_t *x = &r->items[i];
    uint64_t h = XXH3_64bits_withSeed(x->hash, 16, x->eds_id);
    h = XXH3_64bits_withSeed(x->name, strlen(x->name), h);
    out[x->type % SC_XDS__TYPES] = out[x->type % SC_XDS__TYPES] * 31 + h; /* order counts */
    if (x->eds_id != 0)
      out[SC_XDS_ENDPOINTS] = out[SC_XDS_ENDPOINTS] * 31 + XXH3_64bits_withSeed(x->name, strlen(x->name), x->eds_id);
  }
}

unsigned sc__resources_types_changed(const sc_resources_t *a, const sc_resources_t *b) {
  uint64_t ha[SC_XDS__TYPES], hb[SC_XDS__TYPES];
  type_hashes(a, ha);
  type_hashes(b, hb);
  unsigned mask = 0;
  for (int t = 0; t < SC_XDS__TYPES; t++)
    if (ha[t] != hb[t])
      mask |= 1u << t;
  return mask;
}

/* Packs m as a resource named name. */
int sc__resources_add(sc_resources_t *out, const char *name, const ProtobufCMessage *m) {
  if (sc__resources_reserve(out) != 0)
    return SC_ENOMEM;
  size_t len = protobuf_c_message_get_packed_size(m);
  sc_resource_t r = {sc__strdup(name), sc__malloc(len ? len : 1), len, {0}, NULL, 0, type_of(m->descriptor)};
  if (r.name == NULL || r.bytes == NULL) {
    sc__free(r.name);
    sc__free(r.bytes);
    return SC_ENOMEM;
  }
  protobuf_c_message_pack(m, r.bytes);
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits(r.bytes, len));
  memcpy(r.hash, canon.digest, sizeof(r.hash));
  out->items[out->n++] = r;
  return 0;
}

/* ---- small messages ------------------------------------------------------------------ */

Google__Protobuf__Duration *sc__xds_duration(sc_arena_t *a, int64_t ns) {
  Google__Protobuf__Duration *d = NEW(a, Google__Protobuf__Duration, google__protobuf__duration__descriptor);
  if (d != NULL) {
    d->seconds = ns / 1000000000;
    d->nanos = (int32_t)(ns % 1000000000);
  }
  return d;
}

Google__Protobuf__UInt32Value *sc__xds_u32(sc_arena_t *a, uint32_t v) {
  Google__Protobuf__UInt32Value *w = NEW(a, Google__Protobuf__UInt32Value, google__protobuf__uint32_value__descriptor);
  if (w != NULL)
    w->value = v;
  return w;
}

Envoy__Config__Core__V3__Address *sc__xds_socket_address(sc_arena_t *a, const char *host, uint32_t port) {
  Envoy__Config__Core__V3__Address *addr = NEW(a, Envoy__Config__Core__V3__Address, envoy__config__core__v3__address__descriptor);
  Envoy__Config__Core__V3__SocketAddress *sa =
      NEW(a, Envoy__Config__Core__V3__SocketAddress, envoy__config__core__v3__socket_address__descriptor);
  if (addr == NULL || sa == NULL)
    return NULL;
  sa->address = (char *)host;
  sa->port_specifier_case = ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PORT_SPECIFIER_PORT_VALUE;
  sa->port_value = port;
  addr->address_case = ENVOY__CONFIG__CORE__V3__ADDRESS__ADDRESS_SOCKET_ADDRESS;
  addr->socket_address = sa;
  return addr;
}

char *sc__xds_str(sc_arena_t *a, sc_str_t s) {
  char *out = sc__arena_alloc(a, s.len + 1);
  if (out != NULL) {
    memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
  }
  return out;
}

Envoy__Config__Core__V3__ConfigSource *sc__xds_ads_source(sc_arena_t *a) {
  Envoy__Config__Core__V3__ConfigSource *cs =
      NEW(a, Envoy__Config__Core__V3__ConfigSource, envoy__config__core__v3__config_source__descriptor);
  Envoy__Config__Core__V3__AggregatedConfigSource *ads =
      NEW(a, Envoy__Config__Core__V3__AggregatedConfigSource, envoy__config__core__v3__aggregated_config_source__descriptor);
  if (cs == NULL || ads == NULL)
    return NULL;
  cs->config_source_specifier_case = ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__CONFIG_SOURCE_SPECIFIER_ADS;
  cs->ads = ads;
  cs->initial_fetch_timeout = sc__xds_duration(a, 0);
  cs->resource_api_version = ENVOY__CONFIG__CORE__V3__API_VERSION__V3;
  return cs->initial_fetch_timeout ? cs : NULL;
}

/* The type URL of m's type. */
static char *type_url(sc_arena_t *a, const ProtobufCMessageDescriptor *d) {
  static const char prefix[] = "type.googleapis.com/";
  size_t n = strlen(d->name);
  char *url = sc__arena_alloc(a, sizeof(prefix) + n);
  if (url != NULL) {
    memcpy(url, prefix, sizeof(prefix) - 1);
    memcpy(url + sizeof(prefix) - 1, d->name, n + 1);
  }
  return url;
}

Google__Protobuf__Any *sc__xds_any(sc_arena_t *a, const ProtobufCMessage *m) {
  Google__Protobuf__Any *any = NEW(a, Google__Protobuf__Any, google__protobuf__any__descriptor);
  size_t len = protobuf_c_message_get_packed_size(m);
  uint8_t *bytes = sc__arena_alloc(a, len ? len : 1);
  if (any == NULL || bytes == NULL || (any->type_url = type_url(a, m->descriptor)) == NULL)
    return NULL;
  protobuf_c_message_pack(m, bytes);
  any->value.data = bytes;
  any->value.len = len;
  return any;
}
