/* EDS: the ClusterLoadAssignment of an EDS cluster (docs/semantics.md "Envoy configuration of a scope"), encoded.
 *
 * The endpoints of the service's port: for a Kubernetes service, the addresses of its
 * EndpointSlices (label kubernetes.io/service-name) on the slice port of the same name;
 * for a ServiceEntry, its inline endpoints that are IP addresses (hostnames are for DNS
 * clusters), on the port of the same name or else the service port. A subset keeps the
 * endpoints whose labels (the Pod's, or the workload entry's) hold all of its labels.
 * Ready endpoints are HEALTHY, not ready ones UNHEALTHY, terminating ones that are not
 * ready are dropped. Endpoints are grouped by locality (region/zone/subzone, ascending);
 * an endpoint weighs its weight or 1, a locality the sum. The result depends only on the
 * service, the port and the subset labels: it is the same for every scope. */
#ifndef SC_EDS_H
#define SC_EDS_H

#include "xds/cds.h"
#include "scopecast/store.h"

/* Appends the assignment named cluster_name for port of svc (subset: its labels, or NULL). */
int sc__eds_cluster(const sc_store_t *store, const sc_svc_t *svc, uint32_t port,
                   const sc_labels_t *subset, const char *cluster_name, sc_resources_t *out);

/* EDS is global: an assignment is stored once, under "CLUSTER#ID" in the endpoints table,
 * where ID names what it is made of (the recipe): the source record (namespace, registry,
 * object), the hostname, the port and the subset labels. Scopes name the ID beside the
 * cluster, so that a proxy finds the assignment its own scope means, and an endpoint
 * change rewrites the assignment without touching any scope (FORMAT.md). */

/* Gives the EDS cluster r its recipe and ID. */
int sc__eds_attach(sc_resource_t *r, const sc_svc_t *svc, uint32_t port, const sc_labels_t *subset);

/* The endpoints table key "CLUSTER#ID" (ID: 16 hex digits) into buf; 0 when it does not
 * fit, else its length. */
size_t sc__eds_key(const char *cluster, uint64_t eds_id, char *buf, size_t cap);

/* The assignment a recipe describes, named cluster_name, built from the records of w and
 * the endpoints of store. A record that is gone gives an assignment without endpoints. */
int sc__eds_from_recipe(const sc_store_t *store, const sc_world_t *w, const char *recipe,
                       const char *cluster_name, sc_resources_t *out);

#endif
