/* RDS: the virtual hosts of outbound route configurations (semantics 9.6), encoded.
 *
 * A route configuration "PORT" is composed, not stored whole: its virtual hosts are
 * stored one by one (each an encoded envoy.config.route.v3.VirtualHost, named
 * "HOSTNAME:PORT"), so that a change of one service rewrites one virtual host, not every
 * route configuration of every scope that sees it. Readers put a configuration together
 * (xds/compose.h): the VirtualService virtual hosts of the scope's head, then the
 * services' default virtual hosts of the entries whose name is not taken yet (Istio's
 * first-wins rule: VirtualServices before plain services), sorted by name, then the
 * catch-all virtual host. */
#ifndef SC_RDS_H
#define SC_RDS_H

#include "cds.h"
#include "scope.h"

/* Whether a port of this protocol is served through an HTTP connection manager. */
bool sc_rds_http_protocol(sc_protocol_t p);

/* The default virtual host of every HTTP port of svc (9.6.3, 9.6.5) for a proxy of
 * namespace proxy_ns, named "HOSTNAME:PORT". Appends to out. */
int sc_rds_service(const sc_svc_t *svc, sc_str_t proxy_ns, const sc_mesh_config_t *mesh,
                   sc_resources_t *out);

/* The virtual hosts the scope's VirtualServices give (9.6.1, 9.6.2, 9.6.4), named
 * "HOSTNAME:PORT", in the order a reader applies first-wins in. They read the records of
 * the hostnames the VirtualServices match: a change of such a record recomputes the head
 * (sc_rds_vs_covers). */
int sc_rds_virtual_services(const sc_scope_t *s, const sc_mesh_config_t *mesh, sc_resources_t *out);

/* The catch-all virtual host by outbound policy (9.6.6): "allow_any" or "block_all". */
int sc_rds_catch_all(const sc_scope_t *s, sc_resources_t *out);

#endif
