/* frontend/: scopecast-xds, serving the snapshot to proxies. Owns gRPC over HTTP/2 (h2.c,
 * nghttp2 on libuv), the ADS protocol per stream (ads.c), the views shared by proxies of one
 * class that follow the snapshot's changelog (views.c), its /metrics (xds_http.c) and
 * main (xds_main.c). May call reader/ (through include/scopecast/reader.h, and
 * reader/proxy.h for a decoded Node), wire/, obs/ and store/; never the engine's folders:
 * it reads only the snapshot.
 *
 * The xDS protocol on ADS streams, state of the world and incremental (Delta), over the
 * calls of h2.h and the views of views.h. The rules it follows, and why, are in
 * docs/xds.md: the node on the first request only; per type version_info and
 * per stream nonces; ACK and NACK told apart by error_detail, a NACKed version never sent
 * again; subscriptions (wildcard, legacy and "*") honoured whatever the nonce; LDS/CDS full
 * state; push order CDS, EDS, LDS, RDS (LDS and RDS first when clusters go); the EDS
 * request after a CDS response always answered; missing names sent when they appear; Delta
 * initial_resource_versions and removed_resources.
 *
 * A stream holds at most one response in flight; changes only mark types dirty, and the
 * next response is built from the current view when the call can take it, so a slow
 * client costs one response per stream however many changes it misses. */
#ifndef SC_ADS_H
#define SC_ADS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend/h2.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "frontend/views.h"

typedef struct sc_ads_s sc_ads_t;

typedef struct {
  size_t grpc_max_response; /* response cap for proxyless gRPC clients (4 MiB) */
} sc_ads_opts_t;

typedef struct {
  uint64_t streams, streams_total, pushes, acks, nacks, oversize_skipped, invalid_nodes;
  uint64_t gateways_refused;     /* streams of router~ nodes ended with UNIMPLEMENTED */
  uint64_t unknown_type_requests; /* requests for type URLs not served (ignored) */
  uint64_t pushes_by_type[SC_XDS__TYPES]; /* responses queued, by type (split parts each) */
} sc_ads_stats_t;

int sc__ads_new(sc_views_t *views, const sc_ads_opts_t *opts, const sc_logger_t *log, sc_ads_t **out);
void sc__ads_free(sc_ads_t *ads);

/* The h2 handlers (sc_h2_handlers_t), app = the sc_ads_t. */
void *sc__ads_open(void *ads, sc_h2_call_t *call, sc_h2_method_t method);
void sc__ads_message(void *ads, void *stream, const uint8_t *msg, size_t len);
void sc__ads_writable(void *ads, void *stream);
void sc__ads_closed(void *ads, void *stream);

/* The views' change callback (sc_views_changed_cb), arg = the sc_ads_t. */
void sc__ads_views_changed(void *ads, sc_view_t *view, unsigned types);

/* Does the work changes left: streams to re-resolve, responses to send. Call after
 * sc__views_refresh. */
void sc__ads_service(sc_ads_t *ads);

void sc__ads_stats(const sc_ads_t *ads, sc_ads_stats_t *out);
/* NACKs per "SCOPE TYPE" (borrowed JSON object of counts). */
json_t *sc__ads_nacks_by(const sc_ads_t *ads);

/* Push latency (the frontends' /metrics): while commit_ns is set (non-zero), the view
 * changes that sc__views_refresh reports are stamped with it, per stream and type; the first
 * response of that type queued on that stream afterwards observes now - commit_ns (wall
 * clock, seconds) into the type's histogram. A stamp is kept while the stream is busy (a
 * slow client shows), dropped when the change needs no response. Set it around the
 * refresh a commit notification causes, then back to 0. */
void sc__ads_set_commit(sc_ads_t *ads, uint64_t commit_ns);
const sc__metrics_hist_t *sc__ads_push_latency(const sc_ads_t *ads, int type);

#endif
