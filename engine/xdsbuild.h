/* Building Envoy messages with protobuf-c: messages in an arena, small well-known values,
 * and lists of encoded resources (cds.h's sc_resources_t). Internal to the engine. */
#ifndef SC_XDSBUILD_H
#define SC_XDSBUILD_H

#include "arena.h"
#include "cds.h"
#include "envoy/config/core/v3/address.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"

/* A message of type d, initialised, in the arena (NULL when out of memory). */
void *sc__xds_new(sc_arena_t *a, const ProtobufCMessageDescriptor *d);
#define NEW(a, type, desc) ((type *)sc__xds_new((a), &(desc)))

Google__Protobuf__Duration *sc__xds_duration(sc_arena_t *a, int64_t ns);
Google__Protobuf__UInt32Value *sc__xds_u32(sc_arena_t *a, uint32_t v);
/* host is borrowed: it must outlive the message. */
Envoy__Config__Core__V3__Address *sc__xds_socket_address(sc_arena_t *a, const char *host, uint32_t port);

/* Room for one more resource in out. */
int sc__resources_reserve(sc_resources_t *out);
/* Packs m as a resource named name, with its content hash. */
int sc__resources_add(sc_resources_t *out, const char *name, const ProtobufCMessage *m);

#endif
