/* scopecast-xds's observability (--http): /metrics in the Prometheus text format from the
 * views, the ADS streams and the HTTP/2 server; /healthz; /ready (200 while a head is
 * served and the frontend is not draining). */
#ifndef SC_XDS_HTTP_H
#define SC_XDS_HTTP_H

#include <stddef.h>
#include <uv.h>

#include "frontend/ads.h"
#include "frontend/h2.h"
#include "frontend/views.h"

typedef struct sc__xds_http_s sc__xds_http_t;

/* Serves on addr (HOST:PORT, [IPV6]:PORT; port 0 picks one) from what the three report;
 * they must outlive it. On failure err says why. */
int sc__xds_http_start(uv_loop_t *loop, const char *addr, sc_views_t *views, sc_ads_t *ads, sc_h2_server_t *server,
                       sc__xds_http_t **out, char *err, size_t errlen);
unsigned sc__xds_http_port(const sc__xds_http_t *x);
/* The frontend drains: /ready answers 503 from now on. */
void sc__xds_http_draining(sc__xds_http_t *x);
/* Stops serving and frees it; NULL is fine. */
void sc__xds_http_close(sc__xds_http_t *x);

#endif
