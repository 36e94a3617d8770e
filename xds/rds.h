/* RDS: the virtual hosts of outbound route configurations (docs/semantics.md "Envoy configuration of a scope"), encoded.
 *
 * A route configuration "PORT" is composed, not stored whole: its virtual hosts are
 * stored one by one (each an encoded envoy.config.route.v3.VirtualHost, named
 * "HOSTNAME:PORT"), so that a change of one service rewrites one virtual host, not every
 * route configuration of every scope that sees it. A service's virtual host (with the
 * routes of the VirtualService owning its hostname, else the default route) lives in the
 * service's entry; the head holds the virtual hosts of VirtualService hosts that are no
 * service, and the catch-all. Readers put a configuration together (reader/compose.h): the
 * head's, then the entries' whose name is not taken yet (Istio's first-wins rule), sorted
 * by name, then the catch-all virtual host (snapshot/FORMAT.md). */
#ifndef SC_RDS_H
#define SC_RDS_H

#include "xds/cds.h"
#include "scope/scope.h"

/* The consolidated DestinationRule without selector that scope s found for svc (the one
 * its clusters are built from), or NULL: the default route's hash policy reads it, so a
 * cache of a service's routes must be keyed on it too. */
const sc_cdr_t *sc__rds_service_rule(const sc_scope_t *s, const sc_svc_t *svc);

/* Whether a port of this protocol is served through an HTTP connection manager. */
bool sc__rds_http_protocol(sc_protocol_t p);

/* Which VirtualService owns a hostname in each egress listener of a scope: built
 * from a full computation, kept for patches (which compute listeners without their
 * VirtualServices). */
typedef struct sc_rds_listener_owners_s sc_rds_listener_owners_t;
typedef struct {
  sc_rds_listener_owners_t *listeners;
  uint32_t nlisteners;
} sc_rds_owners_t;
int sc__rds_owners_build(const sc_scope_t *s, sc_rds_owners_t *out);
void sc__rds_owners_free(sc_rds_owners_t *o);

typedef struct {
  const sc_scope_t *s;            /* the scope (its namespace, listeners) */
  const sc_world_t *w;            /* records of destinations, VirtualServices by key */
  const sc_rds_owners_t *owners;  /* who owns a hostname per listener */
  const sc_mesh_config_t *mesh;
  sc_keys_t *keys;                /* receives the keys of the records routes read */
  bool *oom;                      /* set when keys could not grow */
  const sc_hashmap_t *only;       /* heads: the VirtualServices with a host that is no
                                     service (key_hash -> non-NULL); NULL: found here */
  const sc_labels_t *proxy_labels; /* routes for a proxy carrying these (sourceLabels);
                                      NULL: for a proxy carrying none of the matches' */
} sc_rds_ctx_t;

/* A proxy whose labels hold `selector` gets the virtual hosts res[from..to) of a service
 * instead of its default ones (the first such variant in order): the routes of matches
 * with sourceLabels, which are per proxy. */
typedef struct {
  sc_label_t *items; /* selector labels (malloc'd array; strings borrowed from the objects) */
  uint32_t n;
  size_t from, to;
} sc_rds_variant_t;

typedef struct {
  sc_rds_variant_t *items;
  size_t n;
} sc_rds_variants_t;
void sc__rds_variants_free(sc_rds_variants_t *v);

/* The virtual host of every HTTP port of svc whose route configuration's egress listener
 * is among `listeners` (listener indices, as uintptr_t): named "HOSTNAME:PORT",
 * domains per 9.6.3, the routes of the VirtualService owning the hostname, else
 * the default route. Appends to out. */
/* The egress listener whose services route configuration "port" holds, when it
 * is among `listeners` (indices, as uintptr_t: those importing a service); else -1. */
int sc__rds_port_listener(const sc_scope_t *s, uint32_t port, const sc_vec_t *listeners);

int sc__rds_service(const sc_rds_ctx_t *c, const sc_svc_t *svc, const sc_vec_t *listeners, sc_resources_t *out);
/* As sc__rds_service, and after the default virtual hosts, those of each label class the
 * owning VirtualServices' sourceLabels make (every combination of their selectors that
 * can hold together, the most labels first), recorded in variants. */
int sc__rds_service_variants(const sc_rds_ctx_t *c, const sc_svc_t *svc, const sc_vec_t *listeners,
                            sc_resources_t *out, sc_rds_variants_t *variants);

/* What sc__rds_service's result depends on besides the record: whether a VirtualService
 * owns the hostname on one of its ports (then also destinations and the proxy's
 * namespace), and whether its domains have short names in namespace ns. */
bool sc__rds_service_owned(const sc_rds_ctx_t *c, const sc_svc_t *svc);
bool sc__rds_domains_local_to(const sc_svc_t *svc, sc_str_t ns);

/* The virtual hosts of the scope's VirtualService hosts that are no service (9.6.2,
 * named "HOST:PORT"), by name: the head's. */
int sc__rds_virtual_services(const sc_rds_ctx_t *c, sc_resources_t *out);

/* The VirtualServices of a fully computed scope with a host that is none of its listener's
 * services (key_hash -> the object). */
int sc__rds_foreign_vss(const sc_scope_t *s, sc_hashmap_t *out);

/* The catch-all virtual host by outbound policy: "allow_any" or "block_all". */
int sc__rds_catch_all(const sc_scope_t *s, sc_resources_t *out);

#endif
