/* A seeded generator of reference meshes (design.md "Measuring"): namespaces, services
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

#endif
