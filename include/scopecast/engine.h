/* The scopecast engine: a libuv loop that ingests config events from manifest
 * directories and watch streams, batches them, applies them to the store and publishes
 * each batch into the snapshot in one write transaction. */
#ifndef SCOPECAST_ENGINE_H
#define SCOPECAST_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

typedef struct sc_engine_s sc_engine_t;

typedef struct {
  const char *snapshot_dir;           /* required */
  const char *const *config_dirs;     /* --config-dir, repeatable */
  size_t nconfig_dirs;
  const char *const *watch_sources;   /* --watch: "-", file:P, unix:P, tcp:H:P */
  size_t nwatch_sources;
  const char *mesh_config_file;       /* --mesh-config, or NULL */
  const char *default_namespace;      /* NULL: "default" */
  const char *system_namespace;       /* NULL: "istio-system" */
  const char *domain_suffix;          /* NULL: "cluster.local" */
  uint64_t batch_quiet_ms;            /* close a batch after this much quiet */
  uint64_t batch_max_ms;              /* ... or this long after its first event */
  size_t batch_max_events;            /* ... or at this many events */
  size_t batch_max_bytes;             /* ... or when its events hold this much memory */
  bool once;                          /* read every input to its end, publish, stop */
  bool strict;                        /* with once: exit code 3 when an object was rejected */
  uint64_t sync_timeout_ms;           /* publish at most this long after start without the
                                         initial state of inputs still syncing (0: at once) */
  size_t max_object_bytes;            /* one watch event / object */
  size_t max_file_bytes;              /* one manifest file */
  unsigned max_depth;                 /* nesting of one document */
  uint64_t reconnect_max_ms;          /* watch socket reconnect backoff cap */
  uint64_t rescan_ms;                 /* config-dir periodic rescan (0: events only) */
  size_t snapshot_map_size;           /* initial LMDB map size, 0: default */
  size_t snapshot_max_map_size;       /* 0: default */
  bool snapshot_no_sync;
  const char *notify_socket;          /* --notify: the unix socket on which frontends are
                                         told about each commit; NULL: SNAPSHOT_DIR/notify.sock */
  bool notify_disabled;               /* --notify none: no socket */
  uint32_t history_versions;          /* --history: head versions whose scopes readers can
                                         still put together (0: only the latest) */
  const char *http_listen;            /* --http HOST:PORT: /metrics, /healthz, /ready;
                                         NULL: no HTTP server */
  FILE *log_stream;                   /* NULL: stderr */
  int log_level;                      /* 0 debug, 1 info, 2 warning, 3 error */
  bool log_json;                      /* one JSON object per line instead of text */
} sc_engine_opts_t;

/* Sets every option to its default. */
void sc_engine_opts_init(sc_engine_opts_t *opts);

/* Creates the engine on loop (not started). On failure errbuf says why. */
int sc_engine_new(uv_loop_t *loop, const sc_engine_opts_t *opts, sc_engine_t **out,
                  char *errbuf, size_t errlen);
/* Loads initial inputs and starts the sources; run the loop afterwards. */
int sc_engine_start(sc_engine_t *e);
/* Publishes what is pending, then closes every handle so that uv_run returns. */
void sc_engine_stop(sc_engine_t *e);
/* 0 after a clean run; 1 after a fatal error (unreadable input in --once mode, a
 * snapshot that cannot be written); 3 with strict when an object was rejected. */
int sc_engine_exit_code(const sc_engine_t *e);
/* Frees the engine; call after uv_run has returned. */
void sc_engine_del(sc_engine_t *e);

/* What the engine has done so far (its /metrics read this). */
typedef struct {
  bool published;             /* it published since it started (/ready answers 200) */
  uint64_t head_version;      /* the snapshot's head */
  uint64_t last_publish_ns;   /* wall clock of its last commit, ns since the epoch; 0: none */
  uint64_t events;            /* watch events and manifest objects applied in batches */
  uint64_t applied;           /* ... of which changed the store */
  uint64_t noops, unknown_deletes;
  uint64_t rejected, skipped; /* objects refused (invalid), or not ours (other kinds) */
  uint64_t batches;           /* batches that went to the snapshot (published or failed) */
  uint64_t publish_failures;
  uint64_t pending_events;    /* in the open batch */
  uint64_t scopes, resources, endpoints, objects;
  uint64_t notify_subscribers; /* frontends following the commit notifications */
  uint64_t http_port;         /* the --http port bound (0: none) */
} sc_engine_status_t;

void sc_engine_status(const sc_engine_t *e, sc_engine_status_t *out);

#endif
