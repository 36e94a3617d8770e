/* The Envoy v3 message types scopecast emits: the four xDS resource types with their
 * type URLs and dump names, and every type a typed_config (Any) of ours may hold. */
#ifndef SC_XDS_REGISTRY_H
#define SC_XDS_REGISTRY_H

#include "wire/pbjson.h"

typedef enum {
  SC_XDS_CLUSTERS = 0,
  SC_XDS_ENDPOINTS,
  SC_XDS_LISTENERS,
  SC_XDS_ROUTES,
  SC_XDS__TYPES
} sc_xds_type_t;

typedef struct {
  const char *name;     /* as scopecast-dump --type names it: "clusters", ... */
  const char *type_url; /* "type.googleapis.com/envoy.config.cluster.v3.Cluster", ... */
  const ProtobufCMessageDescriptor *descriptor;
} sc_xds_type_info_t;

extern const sc_xds_type_info_t sc_xds_types[SC_XDS__TYPES];

/* Every message type an Any of ours may hold (for sc_pbjson_*). */
extern const sc_pb_registry_t sc_xds_registry;

/* The type named by a dump name or a type URL; -1 when none. */
int sc_xds_type_by_name(const char *name);

#endif
