/* A seeded generator of reference meshes (README "Measuring"): namespaces, services
 * with ports, Sidecars with and without selectors, VirtualServices and DestinationRules
 * with an exportTo mix. Output: one Kubernetes watch event per line. */
#ifndef SC_MESHGEN_H
#define SC_MESHGEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  unsigned services;
  unsigned namespaces;
  unsigned sidecars;
  unsigned virtual_services;
  unsigned destination_rules;
  uint64_t seed;
  unsigned client_namespaces; /* namespaces with only a Namespace object and a Pod */
} sc_meshgen_opts_t;

/* Appends the events to a malloc'd buffer (*buf, *len); returns 0 or -1. */
int sc_meshgen(const sc_meshgen_opts_t *o, char **buf, size_t *len);

/* Churn: a seeded stream of watch events on a mesh sc_meshgen made with the same options,
 * of mixed kinds over every namespace (below). Churned objects live in a fixed number of
 * slots per kind, so however long it runs the mesh stays about the size it was. */
typedef enum {
  SC_CHURN_SERVICE = 0,  /* churn-svc-S: added, modified (ports, exportTo), deleted */
  SC_CHURN_BASE_SERVICE, /* svc-I of the mesh: modified (its grpc port, an extra port) */
  SC_CHURN_ENDPOINTS,    /* an EndpointSlice of svc-I: added, new addresses, deleted */
  SC_CHURN_POD,          /* a Pod behind those slices: added, version label flipped, deleted */
  SC_CHURN_VIRTUAL_SERVICE,
  SC_CHURN_DESTINATION_RULE,
  SC_CHURN_SIDECAR,   /* a namespace's Sidecar: egress hosts changed; added and deleted
                         where the mesh has none */
  SC_CHURN_NAMESPACE, /* a client namespace's labels */
  SC_CHURN_NKINDS
} sc_churn_kind_t;

#define SC_CHURN_SLOTS 32

typedef struct {
  sc_meshgen_opts_t mesh;
  uint64_t rng;
  uint32_t serial; /* events made so far */
  uint8_t present[SC_CHURN_NKINDS][SC_CHURN_SLOTS];
  long objects_delta; /* objects added minus objects deleted */
  uint64_t by_kind[SC_CHURN_NKINDS], added, modified, deleted;
} sc_churn_t;

void sc_churn_init(sc_churn_t *c, const sc_meshgen_opts_t *mesh, uint64_t seed);

/* Writes the next event, one line with its newline, to buf; returns its length, or 0
 * when cap is too small (nothing is consumed then). */
size_t sc_churn_next(sc_churn_t *c, char *buf, size_t cap);

const char *sc_churn_kind_name(sc_churn_kind_t k);

#endif
