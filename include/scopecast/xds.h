/* The four xDS resource types scopecast serves, as the reader library (reader.h), the
 * frontends and scopecast-dump name them. */
#ifndef SCOPECAST_XDS_H
#define SCOPECAST_XDS_H

typedef enum {
  SC_XDS_CLUSTERS = 0,
  SC_XDS_ENDPOINTS,
  SC_XDS_LISTENERS,
  SC_XDS_ROUTES,
  SC_XDS__TYPES
} sc_xds_type_t;

/* The type named by a dump name ("clusters", "endpoints", "listeners", "routes") or a
 * type URL ("type.googleapis.com/envoy.config.cluster.v3.Cluster", ...); -1 when none. */
int sc_xds_type_by_name(const char *name);

#endif
