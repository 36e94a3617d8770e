/* CDS: the Envoy clusters of a scope's services (docs/semantics.md "Envoy configuration of a scope"), encoded.
 *
 * A service gives, for each port that is not UDP, its default cluster
 * "outbound|PORT||HOST" and one cluster per subset of the DestinationRule a proxy gets for
 * the host "outbound|PORT|SUBSET|HOST"; the discovery type follows the resolution, the
 * traffic policy the rule (port-level settings replace the top level, a subset's policy
 * overrides block by block), including the TLS mode as the cluster's transport socket.
 * Alias services have no cluster. */
#ifndef SC_CDS_H
#define SC_CDS_H

#include <stddef.h>
#include <stdint.h>

#include "store/hashmap.h"
#include "model/world.h"

/* An encoded resource: its name, its bytes (both owned; bytes NULL once written) and the
 * XXH3-128 of the bytes (canonical, big-endian), under which the snapshot stores it.
 * An EDS cluster also carries what its ClusterLoadAssignment is made of (eds.h): the
 * recipe (owned; NULL once written) and its hash, which names the assignment. */
typedef struct {
  char *name;
  uint8_t *bytes;
  size_t len;
  uint8_t hash[16];
  char *eds;       /* the recipe (sc_eds_recipe), or NULL */
  uint64_t eds_id; /* XXH3 of the recipe; 0: not an EDS cluster */
  uint8_t type;    /* the xDS type it is part of (wire/registry.h sc_xds_type_t): a
                      virtual host counts as routes, a filter chain as listeners */
} sc_resource_t;

typedef struct {
  sc_resource_t *items;
  size_t n, cap;
} sc_resources_t;

void sc__resources_free(sc_resources_t *r);

/* Bit t set for each xDS type t whose resources differ between a and b (names, content,
 * assignment ids; NULL is none). */
unsigned sc__resources_types_changed(const sc_resources_t *a, const sc_resources_t *b);

/* The outbound clusters of svc. rule is the consolidated DestinationRule the proxy gets for
 * the host (docs/semantics.md "DestinationRules for a service"), or NULL. Appends to out. */
int sc__cds_service(const sc_svc_t *svc, const sc_cdr_t *rule, const sc_mesh_config_t *mesh,
                   sc_resources_t *out);

/* The clusters of a service are the same in every scope that has it with the same rule:
 * a cache of them for one update (records and rules do not move during one). */
typedef struct sc_cds_cache_entry_s sc_cds_cache_entry_t;
typedef struct sc_parts_cache_entry_s sc_parts_cache_entry_t;
typedef struct {
  sc_hashmap_t by_key; /* hash of (record, rule) -> chain of entries */
  sc_hashmap_t parts;  /* hash of a caller's key bytes -> chain of sc_parts_cache_entry_t:
                          other resources built from what the key says (routes, listeners) */
} sc_cds_cache_t;

void sc__cds_cache_init(sc_cds_cache_t *c);
/* Empties the cache: call whenever records or rules may have moved. */
void sc__cds_cache_reset(sc_cds_cache_t *c);
void sc__cds_cache_free(sc_cds_cache_t *c);

/* sc__cds_service through cache (may be NULL): copies of what an earlier call with the same
 * record and rule produced. */
int sc__cds_service_cached(sc_cds_cache_t *cache, const sc_svc_t *svc, const sc_cdr_t *rule,
                          const sc_mesh_config_t *mesh, sc_resources_t *out);

/* Resources keyed by bytes that say everything they are built from (the caller's
 * responsibility), for one update like the clusters: true and copies appended to out when
 * cached (*rc set on failure). */
bool sc__cds_parts_get(sc_cds_cache_t *c, const void *key, size_t klen, sc_resources_t *out, int *rc);
/* Remembers res[from..) under key. */
int sc__cds_parts_put(sc_cds_cache_t *c, const void *key, size_t klen, const sc_resources_t *res, size_t from);

/* The inbound clusters of a Sidecar's ingress listeners: "inbound|PORT||", STATIC to
 * the defaultEndpoint (a Unix socket as a pipe address, or an IP and port), ORIGINAL_DST
 * without one; from 127.0.0.6 like every inbound cluster. An endpoint on 0.0.0.0 means
 * the proxy's own address: it is left to the frontend and not emitted here. */
int sc__cds_inbound(const sc_sidecar_t *sidecar, const sc_mesh_config_t *mesh, sc_resources_t *out);

/* The inbound clusters of a proxy that is a target of svc, "inbound|TARGETPORT||"
 * per port that is not UDP (a target port given by name counts as the port). */
int sc__cds_inbound_service(const sc_svc_t *svc, const sc_mesh_config_t *mesh, sc_resources_t *out);
/* The target port of svc's i-th port. */
uint32_t sc__cds_target_port(const sc_svc_t *svc, uint32_t i);

/* BlackHoleCluster, PassthroughCluster and InboundPassthroughCluster. */
int sc__cds_static(const sc_mesh_config_t *mesh, sc_resources_t *out);

#endif
