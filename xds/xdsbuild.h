/* xds/: Envoy configuration from a computed scope and the world: clusters (cds.c), endpoint
 * assignments (eds.c), listeners (lds.c), routes (rds.c), as encoded protobuf resources
 * (xdsbuild.c). May call store/, model/, incr/ (route destinations record keys), scope/
 * and wire/ (the registry of Envoy types); nothing that publishes.
 *
 * Building Envoy messages with protobuf-c: messages in an arena, small well-known values,
 * and lists of encoded resources (cds.h's sc_resources_t). Internal to the engine. */
#ifndef SC_XDSBUILD_H
#define SC_XDSBUILD_H

#include "store/arena.h"
#include "xds/cds.h"
#include "envoy/config/core/v3/address.pb-c.h"
#include "envoy/config/core/v3/config_source.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"

/* A message of type d, initialised, in the arena (NULL when out of memory). */
void *sc__xds_new(sc_arena_t *a, const ProtobufCMessageDescriptor *d);
#define NEW(a, type, desc) ((type *)sc__xds_new((a), &(desc)))

Google__Protobuf__Duration *sc__xds_duration(sc_arena_t *a, int64_t ns);
Google__Protobuf__UInt32Value *sc__xds_u32(sc_arena_t *a, uint32_t v);
/* A NUL-terminated copy of s in the arena. */
char *sc__xds_str(sc_arena_t *a, sc_str_t s);
/* The ADS config source of EDS clusters and RDS: initial_fetch_timeout 0s, API version V3. */
Envoy__Config__Core__V3__ConfigSource *sc__xds_ads_source(sc_arena_t *a);
/* An Any holding m (packed into the arena). */
Google__Protobuf__Any *sc__xds_any(sc_arena_t *a, const ProtobufCMessage *m);
/* host is borrowed: it must outlive the message. */
Envoy__Config__Core__V3__Address *sc__xds_socket_address(sc_arena_t *a, const char *host, uint32_t port);

/* Room for one more resource in out. */
int sc__resources_reserve(sc_resources_t *out);
/* Packs m as a resource named name, with its content hash. */
int sc__resources_add(sc_resources_t *out, const char *name, const ProtobufCMessage *m);

#endif
