/* ingest/: the engine's input sources and what they need to read.
 *
 * Owns: config directories (configdir.c), Kubernetes watch streams from stdin, files and
 * sockets (watch.c, cutting bytes into JSON values with framer.c), the --mesh-config file
 * and whole-file reading (filesrc.c). A source reads its input on the loop, parses it with
 * store/ and hands the results on; it decides nothing about batching or publishing.
 *
 * May call: store/ (parsing, objects, the allocator), obs/log.h, libuv. It never calls
 * the engine and never sees its struct: everything goes through the sink below, which the
 * engine fills in and keeps alive for as long as any source exists.
 *
 * A source embeds sc_source_t; its constructor registers it (sc__sink_add_source) before
 * reading anything, and it frees itself in the last close callback after close(). */
#ifndef SC_INGEST_SOURCE_H
#define SC_INGEST_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "obs/log.h"
#include "scopecast/store.h"

typedef struct sc_source_s sc_source_t;
typedef struct sc__sink_s sc__sink_t;

/* Every input source embeds this; the engine keeps them in a list. */
struct sc_source_s {
  sc_source_t *next;       /* the engine's list */
  const sc__sink_t *sink;  /* where the source delivers (set by its constructor) */
  const char *name;  /* "watch tcp:127.0.0.1:9000", "config-dir /etc/x" */
  bool synced;       /* delivered its initial state (sc__sink_source_synced) */
  bool done;         /* finished reading (--once), or failed for good */
  void (*close)(sc_source_t *s); /* closes handles; frees the source in the last close_cb */
  void (*reload)(sc_source_t *s); /* SIGHUP: look at the input again (NULL: nothing to do) */
};

/* The engine options the sources read (copied from sc_engine_opts_t). */
typedef struct {
  size_t max_object_bytes; /* a watch event's largest value (the framer's limit) */
  size_t max_file_bytes;   /* a config file's or the mesh config file's largest size */
  uint64_t reconnect_max_ms; /* a socket's longest reconnect backoff */
  uint64_t rescan_ms;      /* a config dir's periodic rescan (0: only when not watched) */
  bool once;               /* read every input to its end, then stop */
} sc__ingest_opts_t;

/* What the engine does with what sources deliver; every call gets the sink's ctx. */
typedef struct {
  /* Queues an event, taking obj (the batch may be applied inside the call). */
  void (*submit)(void *ctx, sc_event_type_t type, sc_obj_t *obj);
  /* One parse result: queues its object, or logs and counts a reject or a skip. */
  void (*item)(void *ctx, const sc_parse_item_t *item);
  /* Counts an input rejected outside the parser's items (a malformed watch value, an
   * invalid mesh config read again). */
  void (*rejected)(void *ctx);
  /* Registers a new source (its sink already set). */
  void (*add_source)(void *ctx, sc_source_t *s);
  /* The source read its input to the end (--once), or failed for good (fatal: the engine
   * stops); either way it is synced. */
  void (*source_done)(void *ctx, sc_source_t *s, bool fatal);
  /* The source delivered its initial state: a config dir its first scan, a file its size
   * at start, a stream a BOOKMARK ending the initial events, or its end. */
  void (*source_synced)(void *ctx, sc_source_t *s);
  /* The parse options for text from `source` (a name kept by the caller). */
  sc_parse_opts_t (*parse_opts)(void *ctx, const char *source);
} sc__sink_ops_t;

/* What the engine gives a source: its loop and logger, the options, and the calls. */
struct sc__sink_s {
  uv_loop_t *loop;
  const sc_logger_t *log;
  sc__ingest_opts_t opts;
  const sc__sink_ops_t *ops;
  void *ctx;
};

static inline void sc__sink_submit(const sc__sink_t *k, sc_event_type_t type, sc_obj_t *obj) {
  k->ops->submit(k->ctx, type, obj);
}
static inline void sc__sink_item(const sc__sink_t *k, const sc_parse_item_t *item) {
  k->ops->item(k->ctx, item);
}
static inline void sc__sink_rejected(const sc__sink_t *k) { k->ops->rejected(k->ctx); }
static inline void sc__sink_add_source(const sc__sink_t *k, sc_source_t *s) {
  s->sink = k;
  k->ops->add_source(k->ctx, s);
}
static inline void sc__sink_source_done(sc_source_t *s, bool fatal) {
  s->sink->ops->source_done(s->sink->ctx, s, fatal);
}
static inline void sc__sink_source_synced(sc_source_t *s) {
  s->sink->ops->source_synced(s->sink->ctx, s);
}
static inline sc_parse_opts_t sc__sink_parse_opts(const sc__sink_t *k, const char *source) {
  return k->ops->parse_opts(k->ctx, source);
}

/* ---- sources ------------------------------------------------------------------------- */

/* A --watch source (-, file:PATH, unix:PATH, tcp:HOST:PORT). An error (a bad spec: logged)
 * means no source was created and the engine cannot start. */
int sc__watch_source_new(const sc__sink_t *sink, const char *spec);
/* A --config-dir source; an error means no source was created. A directory that cannot be
 * read at start is a source that is done and failed (the engine stops). */
int sc__configdir_source_new(const sc__sink_t *sink, const char *dir);
/* Reads the --mesh-config file and submits it. An error is logged; initial (at start): the
 * caller treats it as fatal; else (SIGHUP) the mesh config in force stays, and an invalid
 * one is counted as rejected. */
int sc__filesrc_mesh_load(const sc__sink_t *sink, const char *path, bool initial);

/* Reads a whole file up to max bytes into a new buffer (free with sc__free). */
int sc__filesrc_read(const char *path, size_t max, char **out, size_t *len, char *errbuf,
                  size_t errlen);

#endif
