/* LDS: the listeners of a scope (docs/semantics.md "Envoy configuration of a scope"), encoded.
 *
 * The outbound per-port listeners come from the entries: each service gives the
 * listeners its ports need ("0.0.0.0_PORT" with an HTTP connection manager on RDS
 * "PORT", or "ADDRESS_PORT" with a tcp_proxy to its cluster), tagged with the egress
 * listener that placed it. Readers keep the first listener of each name, egress listeners
 * in order (so a port-specific egress listener locks its listeners against the catch-all
 * one, 9.5.2), hostnames in order within one. The head gives virtualOutbound and
 * virtualInbound. */
#ifndef SC_LDS_H
#define SC_LDS_H

#include "xds/cds.h"
#include "scope/scope.h"

/* The outbound listeners svc needs through egress listener l of scope s; no_capture: for
 * a proxy whose interception mode is NONE (every one a socket, on 127.0.0.1 unless the
 * egress listener binds elsewhere, 7.2). */
int sc__lds_outbound(const sc_scope_t *s, const sc_listener_t *l, const sc_svc_t *svc, bool no_capture,
                    sc_resources_t *out);

/* virtualOutbound (15001) and virtualInbound (15006). */
int sc__lds_virtual(const sc_scope_t *s, const sc_mesh_config_t *mesh, sc_resources_t *out);

/* The Sidecar's ingress ports that are sockets of their own, "BIND_PORT" with a
 * tcp_proxy to "inbound|PORT||": those of mode NONE; with captured_mode_too, instead the
 * ones of mode DEFAULT, which bind for a proxy whose interception mode is NONE. An
 * ingress port without bind is on 0.0.0.0 here: the proxy's own address is the
 * frontend's to fill in. */
int sc__lds_ingress(const sc_scope_t *s, bool captured_mode_too, sc_resources_t *out);

/* The virtualInbound filter chains of a proxy that is a target of svc: per port that
 * is not UDP, "inbound_TARGETPORT" matching it, to "inbound|TARGETPORT||". Each is an
 * encoded envoy.config.listener.v3.FilterChain; readers append them to virtualInbound. */
int sc__lds_inbound_chains(const sc_svc_t *svc, sc_resources_t *out);

#endif
