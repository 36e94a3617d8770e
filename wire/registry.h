/* wire/: Envoy messages as bytes and back, for every process. Owns the registry of the Envoy
 * types scopecast emits (registry.c), protobuf <-> JSON over protobuf-c descriptors
 * (pbjson.c) and gRPC message framing (grpc_frame.c). May call store/ (errors, allocator),
 * the generated messages (proto/), protobuf-c and jansson; nothing of scopes or sockets.
 *
 * The Envoy v3 message types scopecast emits: the four xDS resource types with their
 * type URLs and dump names, and every type a typed_config (Any) of ours may hold. */
#ifndef SC_XDS_REGISTRY_H
#define SC_XDS_REGISTRY_H

#include "scopecast/xds.h"
#include "wire/pbjson.h"

typedef struct {
  const char *name;     /* as scopecast-dump --type names it: "clusters", ... */
  const char *type_url; /* "type.googleapis.com/envoy.config.cluster.v3.Cluster", ... */
  const ProtobufCMessageDescriptor *descriptor;
} sc_xds_type_info_t;

extern const sc_xds_type_info_t sc_xds_types[SC_XDS__TYPES];

/* Every message type an Any of ours may hold (for sc_pbjson_*). */
extern const sc_pb_registry_t sc_xds_registry;

/* sc_xds_type_by_name: scopecast/xds.h. */

#endif
