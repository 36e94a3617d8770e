/* CDS: the Envoy clusters of a scope's services (semantics 9.2), encoded.
 *
 * A service gives, for each port that is not UDP, its default cluster
 * "outbound|PORT||HOST" and one cluster per subset of the DestinationRule a proxy gets for
 * the host "outbound|PORT|SUBSET|HOST"; the discovery type follows the resolution, the
 * traffic policy the rule (port-level settings replace the top level, a subset's policy
 * overrides block by block). Alias services have no cluster. */
#ifndef SC_CDS_H
#define SC_CDS_H

#include <stddef.h>
#include <stdint.h>

#include "world.h"

/* An encoded resource: its name, its bytes (both owned; bytes NULL once written) and the
 * XXH3-128 of the bytes (canonical, big-endian), under which the snapshot stores it. */
typedef struct {
  char *name;
  uint8_t *bytes;
  size_t len;
  uint8_t hash[16];
} sc_resource_t;

typedef struct {
  sc_resource_t *items;
  size_t n, cap;
} sc_resources_t;

void sc_resources_free(sc_resources_t *r);

/* The outbound clusters of svc. rule is the consolidated DestinationRule the proxy gets for
 * the host (semantics 6.3), or NULL. Appends to out. */
int sc_cds_service(const sc_svc_t *svc, const sc_cdr_t *rule, const sc_mesh_config_t *mesh,
                   sc_resources_t *out);

/* BlackHoleCluster, PassthroughCluster and InboundPassthroughCluster (9.2.4). */
int sc_cds_static(const sc_mesh_config_t *mesh, sc_resources_t *out);

#endif
