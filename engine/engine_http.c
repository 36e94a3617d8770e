/* The engine's observability (--http): /metrics in the Prometheus text format, /healthz,
 * /ready, and the numbers they report (sc_engine_status). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "store/mem.h"

void sc_engine_status(const sc_engine_t *e, sc_engine_status_t *out) {
  memset(out, 0, sizeof(*out));
  out->published = e->published_once;
  out->head_version = sc_snapshot_writer_head(e->snapshot);
  out->last_publish_ns = e->last_publish_ns;
  out->events = e->stats.events;
  out->applied = e->stats.applied;
  out->noops = e->stats.noops;
  out->unknown_deletes = e->stats.unknown_deletes;
  out->rejected = e->stats.rejected;
  out->skipped = e->stats.skipped;
  out->batches = e->stats.batches;
  out->publish_failures = e->stats.publish_failures;
  out->pending_events = e->pending.n;
  out->scopes = sc__scopes_count(&e->scopes);
  out->resources = sc__scopes_resource_count(&e->scopes);
  out->endpoints = sc__scopes_endpoint_count(&e->scopes);
  for (int k = 0; k < SC_KIND__COUNT; k++)
    out->objects += sc_store_count(e->store, (sc_kind_t)k);
  out->notify_subscribers = e->notify ? sc__notify_subscribers(e->notify) : 0;
  out->http_port = e->http ? sc__http_port(e->http) : 0;
}

static void ensure_histogram(sc_engine_t *e) {
  if (e->batch_seconds.nbounds == 0)
    sc__metrics_hist_init(&e->batch_seconds, sc__metrics_latency_bounds, sc__metrics_latency_nbounds);
}

void sc__engine_http_batch(sc_engine_t *e, uint64_t t0, uint64_t commit_ns) {
  ensure_histogram(e);
  sc__metrics_hist_observe(&e->batch_seconds, (double)(uv_hrtime() - t0) / 1e9);
  if (commit_ns != 0)
    e->last_publish_ns = commit_ns;
}

/* ---- /metrics -------------------------------------------------------------------------- */

#define COUNTER(name, help, v) sc__metrics_single(w, "scopecast_engine_" name, help, SC_METRICS_COUNTER, (double)(v))
#define GAUGE(name, help, v) sc__metrics_single(w, "scopecast_engine_" name, help, SC_METRICS_GAUGE, (double)(v))

static void write_metrics(void *arg, sc__metrics_writer_t *w) {
  sc_engine_t *e = arg;
  sc_engine_status_t st;
  sc_engine_status(e, &st);
  ensure_histogram(e);
  GAUGE("head_version", "The snapshot's head version.", st.head_version);
  GAUGE("ready", "1 once the engine has published since it started (/ready), else 0.", st.published ? 1 : 0);
  GAUGE("last_publish_timestamp_seconds", "Wall clock of the engine's last commit (0: none since start).",
        (double)st.last_publish_ns / 1e9);
  COUNTER("events_total", "Events applied to the store in batches (watch events and manifest objects).", st.events);
  COUNTER("applied_total", "Events that changed the store.", st.applied);
  COUNTER("noop_events_total", "Events that left the store as it was.", st.noops);
  COUNTER("unknown_deletes_total", "DELETED events for objects the store did not have.", st.unknown_deletes);
  COUNTER("skipped_total", "Objects skipped (kinds scopecast does not use).", st.skipped);
  COUNTER("warnings_total",
          "Warnings about accepted objects (unknown spec fields, names Kubernetes would "
          "refuse; logged), once per object version.",
          e->stats.warnings);
  COUNTER("batches_total", "Batches that went to the snapshot (published or failed).", st.batches);
  COUNTER("publish_failures_total", "Batches whose publish failed (the next batch rewrites everything).",
          st.publish_failures);
  GAUGE("pending_events", "Events in the open batch.", st.pending_events);
  GAUGE("scopes", "Scopes in the snapshot.", st.scopes);
  GAUGE("resources", "xDS resources (clusters, listeners, routes) in the snapshot.", st.resources);
  GAUGE("endpoints", "Endpoint assignments in the snapshot.", st.endpoints);
  GAUGE("notify_subscribers", "Frontends subscribed to the commit notifications.", st.notify_subscribers);
  GAUGE("snapshot_map_bytes", "The LMDB map size.", sc_snapshot_writer_map_size(e->snapshot));

  /* Rejected objects by kind; "unknown" when the kind could not be read. */
  sc__metrics_family(w, "scopecast_engine_rejected_total", "Objects rejected as invalid (logged), by kind.",
                     SC_METRICS_COUNTER);
  uint64_t by_kind = 0;
  for (int k = 0; k < SC_KIND__COUNT; k++) {
    sc__metrics_label_t l = {"kind", sc_kind_name((sc_kind_t)k)};
    sc__metrics_sample(w, "scopecast_engine_rejected_total", &l, 1, (double)e->stats.rejected_by_kind[k]);
    by_kind += e->stats.rejected_by_kind[k];
  }
  sc__metrics_label_t unknown = {"kind", "unknown"};
  sc__metrics_sample(w, "scopecast_engine_rejected_total", &unknown, 1,
                     (double)(st.rejected > by_kind ? st.rejected - by_kind : 0));

  sc__metrics_family(w, "scopecast_engine_objects", "Objects in the store, by kind.", SC_METRICS_GAUGE);
  for (int k = 0; k < SC_KIND__COUNT; k++) {
    sc__metrics_label_t l = {"kind", sc_kind_name((sc_kind_t)k)};
    sc__metrics_sample(w, "scopecast_engine_objects", &l, 1, (double)sc_store_count(e->store, (sc_kind_t)k));
  }

  sc__metrics_family(w, "scopecast_engine_batch_duration_seconds",
                     "Time from a batch's first store update to its commit (apply, compute, publish).",
                     SC_METRICS_HISTOGRAM);
  sc__metrics_histogram(w, "scopecast_engine_batch_duration_seconds", NULL, 0, &e->batch_seconds);
}

static int on_metrics(void *arg, sc__http_response_t *res) {
  return sc__http_metrics(res, write_metrics, arg);
}

static int on_healthz(void *arg, sc__http_response_t *res) {
  sc_engine_t *e = arg;
  return e->fatal ? sc__http_text(res, 503, "failing: a fatal error stops the engine\n")
                  : sc__http_text(res, 200, "ok\n");
}

static int on_ready(void *arg, sc__http_response_t *res) {
  sc_engine_t *e = arg;
  char text[128];
  if (!e->published_once)
    return sc__http_text(res, 503, "not ready: nothing published since the engine started\n");
  snprintf(text, sizeof(text), "ready: head version %" PRIu64 "\n", sc_snapshot_writer_head(e->snapshot));
  return sc__http_text(res, 200, text);
}

int sc__engine_http_start(sc_engine_t *e) {
  ensure_histogram(e);
  if (e->opts.http_listen == NULL || e->http != NULL)
    return 0;
  const sc__http_route_t routes[] = {
      {"/metrics", on_metrics, e}, {"/healthz", on_healthz, e}, {"/ready", on_ready, e}};
  char err[512];
  int rc = sc__http_start(e->loop, e->opts.http_listen, routes, 3, &e->http, err, sizeof(err));
  if (rc != 0) {
    sc__log(&e->log, SC_LOG_ERROR, "--http %s", err);
    e->fatal = true; /* stopping now publishes nothing */
    return rc;
  }
  sc__log(&e->log, SC_LOG_INFO, "http: serving /metrics, /healthz and /ready on %s (port %u)", e->opts.http_listen,
         sc__http_port(e->http));
  return 0;
}

void sc__engine_http_close(sc_engine_t *e) {
  sc__http_close(e->http);
  e->http = NULL;
}
