/* engine/: the scopecast process. Owns the libuv loop, batching events from the sources,
 * applying them to the store, asking publish/ for the update and committing it, the
 * engine's lifecycle and signals, its /metrics (engine_http.c) and main (main.c). May call
 * ingest/ (the sources, through the sink it implements), publish/ (which reaches every
 * stage before it), obs/ and store/.
 *
 * Shared by the engine's files (engine.c, engine_http.c). The input sources see none of it:
 * they deliver through the sink of ingest/source.h, which engine.c implements. */
#ifndef SC_ENGINE_INTERNAL_H
#define SC_ENGINE_INTERNAL_H

#include "ingest/source.h"
#include "store/array.h"
#include "store/hashmap.h"
#include "obs/http.h"
#include "obs/metrics.h"
#include "publish/scopes.h"
#include "obs/log.h"
#include "publish/notify.h"
#include "scopecast/engine.h"
#include "scopecast/snapshot.h"
#include "scopecast/store.h"

typedef struct {
  sc_event_type_t type; /* ADDED, MODIFIED, DELETED */
  sc_obj_t *obj;        /* owned; for DELETED only its key matters */
} sc_pending_event_t;

/* The engine's lifecycle; engine_set_state (engine.c) is the only place it changes. */
typedef enum {
  SC_ENGINE_CREATED = 0, /* sc_engine_new */
  SC_ENGINE_STARTING,    /* sc_engine_start: the sources are being created */
  SC_ENGINE_SYNCING,     /* every source exists; batches are applied, nothing published
                            until every input delivered its initial state */
  SC_ENGINE_RUNNING,     /* synced (or --sync-timeout-ms passed): batches are published */
  SC_ENGINE_STOPPING     /* sc_engine_stop: the last batch published, handles closing */
} sc_engine_state_t;

typedef struct {
  uint64_t events, applied, noops, unknown_deletes, rejected, skipped, batches,
      publish_failures;
  /* Warnings about accepted objects (unknown spec fields, names Kubernetes would refuse),
   * counted once per object version. */
  uint64_t warnings;
  uint64_t rejected_by_kind[SC_KIND__COUNT];
  sc_snapshot_kind_count_t skipped_by_kind[SC_SNAPSHOT_MAX_SKIPPED_KINDS];
  size_t nskipped_kinds;
} sc_engine_stats_t;

struct sc_engine_s {
  uv_loop_t *loop;
  sc_engine_opts_t opts;
  sc_logger_t log;
  sc_store_t *store;
  sc_snapshot_writer_t *snapshot;
  sc_parse_opts_t parse_opts; /* source is set per call */
  sc__sink_t sink; /* what the sources deliver to (ingest/source.h) */
  sc_source_t *sources;
  size_t active_sources;
  SC__ARRAY(sc_pending_event_t) pending; /* the open batch */
  size_t pending_bytes; /* what the pending events' objects hold (sc_obj_bytes) */
  uv_timer_t quiet_timer, max_timer;
  uv_timer_t sync_timer; /* --sync-timeout-ms: publish without the inputs still syncing */
  uv_signal_t sigint, sigterm, sighup;
  /* Nothing is published before every input delivered its initial state (or the sync
   * timeout passed): a restarted engine keeps the old head in place until then. */
  sc_engine_state_t state;
  bool published_once, fatal;
  bool publish_failed; /* the store is ahead of the snapshot: publish at the next chance */
  uint64_t counters_at_publish; /* rejected+skipped+warnings when last published */
  sc_scopes_t scopes;           /* the published scopes and their dependency index */
  sc_notify_t *notify;          /* commit notifications (NULL: off, or could not listen) */
  sc_engine_stats_t stats;
  sc_hashmap_t skip_warned; /* XXH3 of "source\0kind": skipped kinds warned about */
  /* XXH3 of an object's key, spec hash and warnings: object versions warned about. */
  sc_hashmap_t obj_warned;
  int open_handles; /* engine-owned handles still to close */
  /* Observability (engine_http.c): --http, the batch durations, the last commit. */
  sc__http_t *http;
  sc__metrics_hist_t batch_seconds;
  uint64_t last_publish_ns;
};

/* Observability (engine_http.c). Starts the --http server (when asked for; logs where it
 * listens, or why it cannot and returns an error). */
int sc__engine_http_start(sc_engine_t *e);
/* Closes it (its handles close with the loop's next turn). */
void sc__engine_http_close(sc_engine_t *e);
/* A batch went to the snapshot: t0 when it began (uv_hrtime), commit_ns its commit's wall
 * clock when it was published, 0 when the publish failed. */
void sc__engine_http_batch(sc_engine_t *e, uint64_t t0, uint64_t commit_ns);

#endif
