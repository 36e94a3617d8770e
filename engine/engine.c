/* The engine core: batching, applying events to the store, publishing, lifecycle. */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "engine/engine_internal.h"
#include "store/mem.h"

void sc_engine_opts_init(sc_engine_opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->batch_quiet_ms = 50;
  o->batch_max_ms = 1000;
  o->batch_max_events = 10000;
  o->batch_max_bytes = 64u << 20;
  o->max_object_bytes = SC_PARSE_DEFAULT_MAX_OBJECT_BYTES;
  o->max_file_bytes = 256u << 20;
  o->max_depth = SC_PARSE_DEFAULT_MAX_DEPTH;
  o->reconnect_max_ms = 5000;
  o->rescan_ms = 5000;
  o->history_versions = 16;
  o->sync_timeout_ms = 30000;
  o->log_level = SC_LOG_INFO;
}

static sc_parse_opts_t engine_parse_opts(const sc_engine_t *e, const char *source) {
  sc_parse_opts_t o = e->parse_opts;
  o.source = source;
  return o;
}

/* ---- handles ------------------------------------------------------------------------- */

static void handle_closed(uv_handle_t *h) {
  sc_engine_t *e = h->data;
  e->open_handles--;
}

static void close_engine_handles(sc_engine_t *e) {
  uv_handle_t *handles[] = {(uv_handle_t *)&e->quiet_timer, (uv_handle_t *)&e->max_timer,
                            (uv_handle_t *)&e->sync_timer, (uv_handle_t *)&e->sigint,
                            (uv_handle_t *)&e->sigterm, (uv_handle_t *)&e->sighup};
  for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++)
    if (!uv_is_closing(handles[i]))
      uv_close(handles[i], handle_closed);
}

/* ---- publishing ---------------------------------------------------------------------- */

static void fill_meta(const sc_engine_t *e, sc_snapshot_meta_t *m) {
  memset(m, 0, sizeof(*m));
  for (int k = 0; k < SC_KIND__COUNT; k++) {
    m->objects_by_kind[k] = sc_store_count(e->store, (sc_kind_t)k);
    m->objects_total += m->objects_by_kind[k];
  }
  m->rejected_total = e->stats.rejected;
  m->skipped_total = e->stats.skipped;
  m->warnings_total = e->stats.warnings;
  memcpy(m->skipped_by_kind, e->stats.skipped_by_kind, sizeof(m->skipped_by_kind));
  m->nskipped_kinds = e->stats.nskipped_kinds;
}

static double ms_since(uint64_t t0) { return (double)(uv_hrtime() - t0) / 1e6; }

/* Wall-clock time in nanoseconds since the Unix epoch (commit notices). */
static uint64_t realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct {
  sc_scopes_t *scopes;
  size_t written, deleted;
} scope_write_t;

static int write_scopes(void *arg, sc_snapshot_txn_t *txn) {
  scope_write_t *sw = arg;
  return sc__scopes_write(sw->scopes, txn, &sw->written, &sw->deleted);
}

/* Recomputes the scopes the batch's changes can affect (sc__scopes_update does nothing
 * when none can change: an endpoint change needs no world and no scope). */
static int update_scopes(sc_engine_t *e, const sc_changes_t *changes, bool all,
                         sc_scopes_stats_t *stats) {
  return sc__scopes_update(&e->scopes, e->store, changes, all,
                          sc_snapshot_writer_head(e->snapshot) + 1, stats);
}

/* What the writer did besides the commit: the map it grew and the reader slots of dead
 * processes it cleared (a killed frontend's slot would pin old pages and grow the file). */
static void log_snapshot_upkeep(sc_engine_t *e, size_t map_before, uint64_t stale_before) {
  size_t map_now = sc_snapshot_writer_map_size(e->snapshot);
  uint64_t stale_now = sc_snapshot_writer_stale_readers(e->snapshot);
  if (map_now != map_before)
    sc__log(&e->log, SC_LOG_INFO, "snapshot: map grown from %zu to %zu bytes", map_before, map_now);
  if (stale_now != stale_before)
    sc__log(&e->log, SC_LOG_INFO, "snapshot: cleared %" PRIu64 " reader slots of dead processes",
           stale_now - stale_before);
}

/* What one batch did, for its log line. */
typedef struct {
  size_t events, changed, noops, unknown_deletes;
  double apply_ms, compute_ms, publish_ms;
} batch_report_t;

/* Applies the pending events to the store and notes what they changed in *changes (then
 * finished); the queue is empty after. Returns whether a change could not be noted (out
 * of memory). */
static bool apply_pending(sc_engine_t *e, sc_changes_t *changes, batch_report_t *r) {
  bool oom = false;
  r->events = e->pending.n;
  for (size_t i = 0; i < e->pending.n; i++) {
    sc_pending_event_t *ev = &e->pending.items[i];
    sc_change_t change;
    int rc;
    if (ev->type == SC_EVENT_DELETED) {
      rc = sc_store_delete(e->store, ev->obj->kind, ev->obj->namespace_, ev->obj->name, &change);
      sc_obj_unref(ev->obj);
      if (rc == 0 && change.op == SC_CHANGE_NOOP)
        r->unknown_deletes++;
    } else {
      rc = sc_store_put(e->store, ev->obj, &change); /* takes the reference */
      if (rc == 0 && change.op == SC_CHANGE_NOOP)
        r->noops++;
    }
    if (rc != 0) {
      sc__log(&e->log, SC_LOG_ERROR, "store: %s (event dropped)", sc_strerror(rc));
      continue;
    }
    if (change.op != SC_CHANGE_NOOP)
      r->changed++;
    oom |= sc__changes_note(e->store, &change, changes) != 0;
    sc_change_release(&change);
  }
  sc__changes_finish(changes);
  e->pending.n = 0;
  e->pending_bytes = 0;
  e->stats.events += r->events;
  e->stats.applied += r->changed;
  e->stats.noops += r->noops;
  e->stats.unknown_deletes += r->unknown_deletes;
  return oom;
}

static void log_batch_published(sc_engine_t *e, const batch_report_t *r,
                                const sc_snapshot_meta_t *meta, const sc_scopes_stats_t *ss,
                                size_t heads_written) {
  sc__log(&e->log, SC_LOG_INFO,
         "batch: %zu events, %zu changed, %zu no-op, %zu unknown deletes; head %" PRIu64
         ", %" PRIu64 " objects, %" PRIu64 " scopes: %" PRIu64 " affected, %" PRIu64
         " recomputed, %" PRIu64 " patched, %" PRIu64 " unchanged, %" PRIu64 " added, %" PRIu64
         " removed; %zu heads and %" PRIu64 " entries written, %" PRIu64
         " entries deleted; %" PRIu64 " assignments built, %" PRIu64 " written, %" PRIu64
         " deleted; apply %.3f ms, compute %.3f ms, publish %.3f ms",
         r->events, r->changed, r->noops, r->unknown_deletes, meta->head_version,
         meta->objects_total, meta->scopes, ss->affected, ss->recomputed, ss->patched,
         ss->unchanged, ss->added, ss->removed, heads_written, ss->entries_written,
         ss->entries_deleted, ss->endpoints_built, ss->endpoints_written, ss->endpoints_deleted,
         r->apply_ms, r->compute_ms, r->publish_ms);
}

/* Writes the recomputed scopes to the snapshot in one commit and notifies the frontends;
 * on failure the store keeps the batch and everything is rewritten at the next chance. */
static void publish_scopes(sc_engine_t *e, uint64_t t0, uint64_t counters, batch_report_t *r,
                           const sc_scopes_stats_t *ss) {
  uint64_t t1 = uv_hrtime();
  sc_snapshot_meta_t meta;
  fill_meta(e, &meta);
  meta.scopes = sc__scopes_count(&e->scopes);
  meta.resources = sc__scopes_resource_count(&e->scopes);
  meta.endpoints = sc__scopes_endpoint_count(&e->scopes);
  meta.history_versions = sc__scopes_history(&e->scopes);
  scope_write_t sw = {&e->scopes, 0, 0};
  size_t map_before = sc_snapshot_writer_map_size(e->snapshot);
  uint64_t stale_before = sc_snapshot_writer_stale_readers(e->snapshot);
  int rc = sc_snapshot_publish(e->snapshot, &meta, write_scopes, &sw);
  log_snapshot_upkeep(e, map_before, stale_before);
  uint64_t commit_ns = realtime_ns(); /* right after the LMDB commit returned */
  r->publish_ms = ms_since(t1);
  e->stats.batches++;
  sc__engine_http_batch(e, t0, rc == 0 ? commit_ns : 0); /* --http: duration, last commit */
  if (rc != 0) {
    e->stats.publish_failures++;
    e->publish_failed = true;
    sc__scopes_resync(&e->scopes); /* the snapshot keeps what it had: rewrite it all next time */
    sc__log(&e->log, SC_LOG_ERROR, "publish failed: %s (%s); the store keeps the batch",
           sc_snapshot_writer_errmsg(e->snapshot), sc_strerror(rc));
    if (e->opts.once)
      e->fatal = true;
    return;
  }
  sc__notify_commit(e->notify, meta.head_version, commit_ns);
  sc__scopes_commit(&e->scopes);
  e->published_once = true;
  e->publish_failed = false;
  e->counters_at_publish = counters;
  log_batch_published(e, r, &meta, ss, sw.written);
}

/* Publishes the pending batch now. */
static void engine_flush(sc_engine_t *e) {
  uv_timer_stop(&e->quiet_timer);
  uv_timer_stop(&e->max_timer);
  uint64_t counters = e->stats.rejected + e->stats.skipped + e->stats.warnings;
  if (e->pending.n == 0 && e->published_once && counters == e->counters_at_publish &&
      !e->publish_failed)
    return;
  uint64_t t0 = uv_hrtime();
  batch_report_t r = {0};
  sc_changes_t changes;
  sc__changes_init(&changes);
  bool all = !e->published_once || e->publish_failed;
  if (apply_pending(e, &changes, &r))
    all = true; /* a key may be missing: recompute everything rather than miss a scope */
  r.apply_ms = ms_since(t0);

  if (e->state != SC_ENGINE_RUNNING) {
    /* Applied to the store (the batch's memory is free again), published once every
     * input has delivered its initial state: the first publish computes every scope. */
    if (r.events > 0 && e->state < SC_ENGINE_RUNNING)
      sc__log(&e->log, SC_LOG_INFO,
             "batch: %zu events, %zu changed, %zu no-op, %zu unknown deletes; applied, published "
             "once every input delivered its initial state (apply %.3f ms)",
             r.events, r.changed, r.noops, r.unknown_deletes, r.apply_ms);
    sc__changes_free(&changes);
    return;
  }

  if (r.changed == 0 && e->published_once && counters == e->counters_at_publish &&
      !e->publish_failed) {
    sc__log(&e->log, SC_LOG_INFO, "batch: %zu events, %zu no-op, %zu unknown deletes: nothing to publish",
           r.events, r.noops, r.unknown_deletes);
    sc__changes_free(&changes);
    return;
  }
  uint64_t t_compute = uv_hrtime();
  sc_scopes_stats_t ss;
  int rc = update_scopes(e, &changes, all, &ss);
  sc__changes_free(&changes);
  if (rc != 0) {
    sc__log(&e->log, SC_LOG_ERROR, "computing scopes failed: %s; nothing published", sc_strerror(rc));
    sc__scopes_resync(&e->scopes);
    e->publish_failed = true;
    if (e->opts.once)
      e->fatal = true;
    return;
  }
  r.compute_ms = ms_since(t_compute);
  publish_scopes(e, t0, counters, &r, &ss);
}

/* ---- batching ------------------------------------------------------------------------ */

static void batch_timer_cb(uv_timer_t *t) { engine_flush(t->data); }

/* Something for the next batch arrived (an event, or a rejection whose count is
 * published): close the batch after the quiet time, or the longest time after its start. */
static void batch_arm(sc_engine_t *e) {
  if (e->state == SC_ENGINE_STOPPING)
    return;
  uv_timer_start(&e->quiet_timer, batch_timer_cb, e->opts.batch_quiet_ms, 0);
  if (!uv_is_active((uv_handle_t *)&e->max_timer))
    uv_timer_start(&e->max_timer, batch_timer_cb, e->opts.batch_max_ms, 0);
}

/* Queues an event (taking obj) and closes the batch when it is full. */
static void engine_submit(sc_engine_t *e, sc_event_type_t type, sc_obj_t *obj) {
  if (SC__ARRAY_RESERVE(&e->pending, 1) != 0) {
    /* Apply what we have, then retry with an empty queue. */
    engine_flush(e);
    if (e->pending.cap == 0) {
      sc__log(&e->log, SC_LOG_ERROR, "out of memory: event for %s %s/%s dropped",
             sc_kind_name(obj->kind), obj->namespace_.ptr, obj->name.ptr);
      sc_obj_unref(obj);
      return;
    }
  }
  e->pending.items[e->pending.n++] = (sc_pending_event_t){type, obj};
  e->pending_bytes += sc_obj_bytes(obj);
  /* Applying the batch here, inside the source's read callback, is the back-pressure: no
   * source is read while it runs, so a faster sender waits in its socket or pipe. */
  if (e->pending.n >= e->opts.batch_max_events || e->pending_bytes >= e->opts.batch_max_bytes) {
    engine_flush(e);
    return;
  }
  batch_arm(e);
}

/* An object of a kind the engine does not process: counted by kind, and logged at
 * warning the first time a source carries that kind (debug after). */
static void note_skipped(sc_engine_t *e, const sc_diag_t *d, const char *line) {
  const char *slash = strrchr(d->kind, '/'); /* "security.istio.io/v1/AuthorizationPolicy" */
  const char *kind = slash ? slash + 1 : d->kind[0] ? d->kind : "(no kind)";
  sc_engine_stats_t *st = &e->stats;
  st->skipped++;
  /* The last entry, once taken, is "(other kinds)": entries are never renamed, so a
   * published count is never counted again under another kind. */
  size_t last = SC_SNAPSHOT_MAX_SKIPPED_KINDS - 1, i = 0;
  while (i < st->nskipped_kinds && i < last && strcmp(st->skipped_by_kind[i].kind, kind) != 0)
    i++;
  if (i == st->nskipped_kinds) {
    snprintf(st->skipped_by_kind[i].kind, sizeof(st->skipped_by_kind[i].kind), "%s",
             i == last ? "(other kinds)" : kind);
    st->nskipped_kinds++;
  }
  st->skipped_by_kind[i].count++;
  uint64_t key = XXH3_64bits_withSeed(kind, strlen(kind), XXH3_64bits(d->source, strlen(d->source)));
  bool first = sc__hashmap_get(&e->skip_warned, key) == NULL &&
               sc__hashmap_put(&e->skip_warned, key, (void *)1) == 0;
  if (first)
    sc__log(&e->log, SC_LOG_WARN, "skipped %s (objects of kind %s from this source are not "
                                 "processed; counted in skippedByKind, logged once)", line, kind);
  else
    sc__log(&e->log, SC_LOG_DEBUG, "skipped %s", line);
}

/* The rejection line; in JSON each part of the diagnostic is a field of its own. */
static void log_rejected(sc_engine_t *e, const sc_diag_t *d, const char *line) {
  char lineno[24], column[24];
  snprintf(lineno, sizeof(lineno), "%" PRIu64, d->line);
  snprintf(column, sizeof(column), "%" PRIu64, d->column);
  sc_log_field_t fields[] = {{"source", d->source}, {"line", d->line ? lineno : ""},
                             {"column", d->column ? column : ""}, {"kind", d->kind},
                             {"namespace", d->namespace_}, {"name", d->name},
                             {"field", d->field}, {"reason", d->reason}};
  sc__log_fields(&e->log, SC_LOG_WARN, fields, sizeof(fields) / sizeof(fields[0]), "rejected %s",
                line);
}

/* Past this many object versions remembered, the memory of which were warned about
 * starts over (a version may then be warned about once more). */
#define OBJ_WARNED_MAX 65536u

/* The warnings about an accepted object: logged at warning level (one line each, in JSON
 * each part a field of its own) and counted, once per object version; a version seen
 * again (a relist, a resync) is logged at debug level only. */
static void note_warnings(sc_engine_t *e, const sc_parse_item_t *item) {
  uint64_t key = item->obj->key_hash ^ (item->obj->spec_hash * 0x9e3779b97f4a7c15u);
  key = XXH3_64bits_withSeed(&item->nwarnings_total, sizeof(item->nwarnings_total), key);
  for (uint32_t i = 0; i < item->nwarnings; i++) {
    const sc_diag_t *d = &item->warnings[i];
    key = XXH3_64bits_withSeed(d->field, strlen(d->field), key);
    key = XXH3_64bits_withSeed(d->reason, strlen(d->reason), key);
  }
  bool first = sc__hashmap_get(&e->obj_warned, key) == NULL;
  if (first) {
    if (e->obj_warned.n >= OBJ_WARNED_MAX) {
      sc__hashmap_free(&e->obj_warned);
      sc__hashmap_init(&e->obj_warned);
    }
    (void)sc__hashmap_put(&e->obj_warned, key, (void *)1); /* no memory: warned again later */
    e->stats.warnings += item->nwarnings_total;
    batch_arm(e); /* the counters are published too */
  }
  sc_log_level_t level = first ? SC_LOG_WARN : SC_LOG_DEBUG;
  char line[1200], lineno[24], column[24];
  for (uint32_t i = 0; i < item->nwarnings; i++) {
    const sc_diag_t *d = &item->warnings[i];
    sc_diag_format(d, line, sizeof(line));
    snprintf(lineno, sizeof(lineno), "%" PRIu64, d->line);
    snprintf(column, sizeof(column), "%" PRIu64, d->column);
    sc_log_field_t fields[] = {{"source", d->source}, {"line", d->line ? lineno : ""},
                               {"column", d->column ? column : ""}, {"kind", d->kind},
                               {"namespace", d->namespace_}, {"name", d->name},
                               {"field", d->field}, {"reason", d->reason}};
    sc__log_fields(&e->log, level, fields, sizeof(fields) / sizeof(fields[0]),
                   "accepted with a warning: %s", line);
  }
  if (item->nwarnings_total > item->nwarnings)
    sc__log(&e->log, level, "accepted with a warning: %s %s/%s: %u more warnings not shown",
            sc_kind_name(item->obj->kind), item->obj->namespace_.ptr, item->obj->name.ptr,
            item->nwarnings_total - item->nwarnings);
}

/* Handles one parse result: queue objects, log and count rejects, skips and warnings. */
static void engine_item(sc_engine_t *e, const sc_parse_item_t *item) {
  char line[1200];
  switch (item->status) {
  case SC_ITEM_OBJECT:
    if (item->nwarnings_total > 0)
      note_warnings(e, item);
    engine_submit(e, item->event, item->obj);
    break;
  case SC_ITEM_REJECTED:
    e->stats.rejected++;
    if (item->key_known)
      e->stats.rejected_by_kind[item->key_kind]++;
    sc_diag_format(item->diag, line, sizeof(line));
    log_rejected(e, item->diag, line);
    batch_arm(e); /* the counters are published too */
    break;
  case SC_ITEM_SKIPPED:
    if (item->event == SC_EVENT_BOOKMARK)
      break;
    sc_diag_format(item->diag, line, sizeof(line));
    if (item->event == SC_EVENT_ERROR) {
      sc__log(&e->log, SC_LOG_WARN, "%s", line);
      break;
    }
    note_skipped(e, item->diag, line);
    batch_arm(e); /* the counters are published too */
    break;
  }
}

/* ---- sources ------------------------------------------------------------------------- */

static void engine_add_source(sc_engine_t *e, sc_source_t *s) {
  s->next = e->sources;
  e->sources = s;
  e->active_sources++;
}

/* The one place the lifecycle moves; anything else is a bug. */
static void engine_set_state(sc_engine_t *e, sc_engine_state_t to) {
  static const unsigned legal_from[] = {
      [SC_ENGINE_CREATED] = 0,
      [SC_ENGINE_STARTING] = 1u << SC_ENGINE_CREATED,
      [SC_ENGINE_SYNCING] = 1u << SC_ENGINE_STARTING,
      [SC_ENGINE_RUNNING] = 1u << SC_ENGINE_SYNCING,
      [SC_ENGINE_STOPPING] = 1u << SC_ENGINE_CREATED | 1u << SC_ENGINE_STARTING |
                             1u << SC_ENGINE_SYNCING | 1u << SC_ENGINE_RUNNING,
  };
  assert(legal_from[to] & (1u << e->state));
  (void)legal_from; /* NDEBUG */
  e->state = to;
}

static void maybe_finish_once(sc_engine_t *e) {
  /* Not before every source exists: the first one done is not the last. */
  if (e->opts.once && e->active_sources == 0 &&
      (e->state == SC_ENGINE_SYNCING || e->state == SC_ENGINE_RUNNING))
    sc_engine_stop(e);
}

/* Every input has delivered its initial state (or the wait is over): the first publish
 * follows at once. */
static void sync_complete(sc_engine_t *e) {
  engine_set_state(e, SC_ENGINE_RUNNING);
  uv_timer_stop(&e->sync_timer);
  uv_timer_start(&e->quiet_timer, batch_timer_cb, 0, 0);
}

static void check_synced(sc_engine_t *e) {
  if (e->state != SC_ENGINE_SYNCING)
    return;
  for (sc_source_t *s = e->sources; s != NULL; s = s->next)
    if (!s->synced)
      return;
  sc__log(&e->log, SC_LOG_INFO, "every input delivered its initial state: publishing");
  sync_complete(e);
}

static void sync_timeout_cb(uv_timer_t *t) {
  sc_engine_t *e = t->data;
  char names[1024] = "";
  size_t n = 0, len = 0;
  for (sc_source_t *s = e->sources; s != NULL; s = s->next) {
    if (s->synced)
      continue;
    int w = snprintf(names + len, sizeof(names) - len, "%s%s", n++ ? ", " : "", s->name);
    if (w > 0)
      len = (size_t)w >= sizeof(names) - len ? sizeof(names) - 1 : len + (size_t)w;
  }
  sc__log(&e->log, SC_LOG_WARN,
         "sync: after %" PRIu64 " ms (--sync-timeout-ms), publishing without the initial state of "
         "%zu input(s): %s",
         e->opts.sync_timeout_ms, n, names);
  sync_complete(e);
}

/* A source has delivered its initial state: a config dir its first scan, a file its size
 * at start, a stream a BOOKMARK ending the initial events, or its end. */
static void engine_source_synced(sc_engine_t *e, sc_source_t *s) {
  if (s->synced)
    return;
  s->synced = true;
  sc__log(&e->log, SC_LOG_INFO, "%s: initial state delivered", s->name);
  check_synced(e);
}

/* A source has read its input to the end (--once), or failed for good (fatal); either
 * way it is synced. */
static void engine_source_done(sc_engine_t *e, sc_source_t *s, bool fatal) {
  if (s->done)
    return;
  s->done = true;
  e->active_sources--;
  engine_source_synced(e, s);
  if (fatal) {
    e->fatal = true;
    sc__log(&e->log, SC_LOG_ERROR, "%s: input failed; stopping", s->name);
    sc_engine_stop(e);
    return;
  }
  maybe_finish_once(e);
}

/* The sink the sources deliver to (ingest/source.h): ctx is the engine. */
static void sink_submit(void *ctx, sc_event_type_t type, sc_obj_t *obj) {
  engine_submit(ctx, type, obj);
}
static void sink_item(void *ctx, const sc_parse_item_t *item) { engine_item(ctx, item); }
static void sink_rejected(void *ctx) { ((sc_engine_t *)ctx)->stats.rejected++; }
static void sink_add_source(void *ctx, sc_source_t *s) { engine_add_source(ctx, s); }
static void sink_source_done(void *ctx, sc_source_t *s, bool fatal) {
  engine_source_done(ctx, s, fatal);
}
static void sink_source_synced(void *ctx, sc_source_t *s) { engine_source_synced(ctx, s); }
static sc_parse_opts_t sink_parse_opts(void *ctx, const char *source) {
  return engine_parse_opts(ctx, source);
}

static const sc__sink_ops_t sink_ops = {
    .submit = sink_submit, .item = sink_item, .rejected = sink_rejected,
    .add_source = sink_add_source, .source_done = sink_source_done,
    .source_synced = sink_source_synced, .parse_opts = sink_parse_opts};

/* ---- lifecycle ----------------------------------------------------------------------- */

/* SIGHUP: every source looks at its input again (config dirs are rescanned) and the
 * mesh config file is read again; what fails to read keeps what is in force. */
static void sighup_cb(uv_signal_t *h, int signum) {
  (void)signum;
  sc_engine_t *e = h->data;
  sc__log(&e->log, SC_LOG_INFO, "SIGHUP: rescanning the config directories%s",
         e->opts.mesh_config_file ? " and reading the mesh config again" : "");
  if (e->opts.mesh_config_file != NULL)
    sc__filesrc_mesh_load(&e->sink, e->opts.mesh_config_file, false);
  for (sc_source_t *s = e->sources; s != NULL; s = s->next)
    if (s->reload != NULL && !s->done)
      s->reload(s);
}

static void signal_cb(uv_signal_t *h, int signum) {
  sc_engine_t *e = h->data;
  sc__log(&e->log, SC_LOG_INFO, "%s: publishing what is pending and shutting down",
         signum == SIGINT ? "SIGINT" : "SIGTERM");
  sc_engine_stop(e);
}

int sc_engine_new(uv_loop_t *loop, const sc_engine_opts_t *opts, sc_engine_t **out,
                  char *errbuf, size_t errlen) {
  sc_engine_t *e = sc__calloc(1, sizeof(*e));
  if (e == NULL)
    return SC_ENOMEM;
  int rc;
  e->loop = loop;
  e->opts = *opts;
  if (e->opts.batch_max_events == 0)
    e->opts.batch_max_events = 1;
  if (e->opts.batch_max_bytes == 0)
    e->opts.batch_max_bytes = 1;
  e->log = (sc_logger_t){opts->log_stream ? opts->log_stream : stderr,
                         (sc_log_level_t)opts->log_level, "scopecast",
                         opts->log_json ? SC_LOG_JSON : SC_LOG_TEXT};
  e->parse_opts = (sc_parse_opts_t){.default_namespace = opts->default_namespace,
                                    .system_namespace = opts->system_namespace,
                                    .domain_suffix = opts->domain_suffix,
                                    .max_object_bytes = opts->max_object_bytes,
                                    .max_depth = opts->max_depth,
                                    .ignore_mesh_configmap = opts->mesh_config_file != NULL};
  e->sink = (sc__sink_t){loop, &e->log,
                         (sc__ingest_opts_t){.max_object_bytes = opts->max_object_bytes,
                                             .max_file_bytes = opts->max_file_bytes,
                                             .reconnect_max_ms = opts->reconnect_max_ms,
                                             .rescan_ms = opts->rescan_ms,
                                             .once = opts->once},
                         &sink_ops, e};
  if ((rc = sc_store_new(&e->store)) != 0) {
    snprintf(errbuf, errlen, "store: %s", sc_strerror(rc));
    goto fail_alloc;
  }
  sc_snapshot_writer_opts_t wo = {opts->snapshot_map_size, opts->snapshot_max_map_size,
                                  opts->snapshot_no_sync};
  if ((rc = sc_snapshot_writer_open(opts->snapshot_dir, &wo, &e->snapshot, errbuf, errlen)) != 0)
    goto fail_store;
  uv_timer_init(loop, &e->quiet_timer);
  uv_timer_init(loop, &e->max_timer);
  uv_timer_init(loop, &e->sync_timer);
  uv_signal_init(loop, &e->sigint);
  uv_signal_init(loop, &e->sigterm);
  uv_signal_init(loop, &e->sighup);
  e->quiet_timer.data = e->max_timer.data = e->sync_timer.data = e;
  e->sigint.data = e->sigterm.data = e->sighup.data = e;
  e->open_handles = 6;
  sc__scopes_init(&e->scopes);
  sc__hashmap_init(&e->skip_warned);
  sc__hashmap_init(&e->obj_warned);
  sc__scopes_set_history(&e->scopes, opts->history_versions);
  *out = e;
  return 0;
fail_store:
  sc_store_del(e->store);
fail_alloc:
  sc__free(e);
  return rc;
}

/* Listens for frontends to notify of commits. Failing to is not fatal: frontends also
 * poll the snapshot, so the engine logs why and runs without notifications. */
static void start_notify(sc_engine_t *e) {
  if (e->opts.notify_disabled)
    return;
  char path[4096];
  const char *dir = e->opts.snapshot_dir;
  size_t dlen = strlen(dir);
  if (e->opts.notify_socket != NULL)
    snprintf(path, sizeof(path), "%s", e->opts.notify_socket);
  else
    snprintf(path, sizeof(path), "%s%s%s", dir, dlen > 0 && dir[dlen - 1] == '/' ? "" : "/",
             SC_NOTIFY_SOCKET_NAME);
  sc_notify_opts_t no = {.path = path,
                         .head_version = sc_snapshot_writer_head(e->snapshot),
                         .commit_ns = 0, /* no commit of this engine yet */
                         .log = &e->log};
  char err[1024];
  int rc = sc__notify_new(e->loop, &no, &e->notify, err, sizeof(err));
  if (rc != 0) {
    sc__log(&e->log, SC_LOG_WARN,
           "notify: %s; running without commit notifications (frontends fall back to polling)",
           err[0] ? err : sc_strerror(rc));
    return;
  }
  sc__log(&e->log, SC_LOG_INFO, "notify: commit notifications on %s", path);
}

/* An input could not be set up (the source logged why): fatal. */
static int input_failed(sc_engine_t *e, int rc) {
  e->fatal = true;
  return rc;
}

int sc_engine_start(sc_engine_t *e) {
  int rc;
  uv_signal_start(&e->sigint, signal_cb, SIGINT);
  uv_signal_start(&e->sigterm, signal_cb, SIGTERM);
  uv_signal_start(&e->sighup, sighup_cb, SIGHUP);
  sc__log(&e->log, SC_LOG_INFO, "snapshot %s: head version %" PRIu64 ", map %zu bytes",
         e->opts.snapshot_dir, sc_snapshot_writer_head(e->snapshot),
         sc_snapshot_writer_map_size(e->snapshot));
  engine_set_state(e, SC_ENGINE_STARTING);
  start_notify(e);
  if ((rc = sc__engine_http_start(e)) != 0) /* --http */
    return rc;
  if (e->opts.mesh_config_file != NULL &&
      (rc = sc__filesrc_mesh_load(&e->sink, e->opts.mesh_config_file, true)) != 0)
    return input_failed(e, rc);
  /* A source that fails for good stops the engine: no more are created then. */
  for (size_t i = 0; i < e->opts.nconfig_dirs && e->state == SC_ENGINE_STARTING; i++)
    if ((rc = sc__configdir_source_new(&e->sink, e->opts.config_dirs[i])) != 0)
      return input_failed(e, rc);
  for (size_t i = 0; i < e->opts.nwatch_sources && e->state == SC_ENGINE_STARTING; i++)
    if ((rc = sc__watch_source_new(&e->sink, e->opts.watch_sources[i])) != 0)
      return input_failed(e, rc);
  if (e->state != SC_ENGINE_STARTING)
    return 0;
  /* The first publish waits for every input's initial state, so that no proxy is ever
   * served a partial mesh; a snapshot a previous run left stays in place until then. */
  engine_set_state(e, SC_ENGINE_SYNCING);
  check_synced(e);
  if (e->state == SC_ENGINE_SYNCING) {
    if (e->opts.sync_timeout_ms == 0)
      sync_complete(e);
    else
      uv_timer_start(&e->sync_timer, sync_timeout_cb, e->opts.sync_timeout_ms, 0);
  }
  maybe_finish_once(e);
  return 0;
}

void sc_engine_stop(sc_engine_t *e) {
  if (e->state == SC_ENGINE_STOPPING)
    return;
  /* After a fatal error nothing more is published. */
  if (!e->fatal && e->state == SC_ENGINE_RUNNING)
    engine_flush(e); /* the pending batch */
  else if (!e->fatal && e->state == SC_ENGINE_SYNCING)
    sc__log(&e->log, SC_LOG_WARN, "stopping before every input delivered its initial state: "
                                 "nothing more is published");
  engine_set_state(e, SC_ENGINE_STOPPING);
  for (sc_source_t *s = e->sources; s != NULL; s = s->next)
    s->close(s);
  sc__notify_close(e->notify); /* after the last publish: subscribers read it, then EOF */
  e->notify = NULL;
  sc__engine_http_close(e); /* --http */
  close_engine_handles(e);
}

int sc_engine_exit_code(const sc_engine_t *e) {
  if (e->fatal)
    return 1;
  return e->opts.strict && e->stats.rejected > 0 ? 3 : 0;
}

void sc_engine_del(sc_engine_t *e) {
  if (e == NULL)
    return;
  for (size_t i = 0; i < e->pending.n; i++)
    sc_obj_unref(e->pending.items[i].obj);
  SC__ARRAY_FREE(&e->pending);
  sc__scopes_free(&e->scopes);
  sc__hashmap_free(&e->skip_warned);
  sc__hashmap_free(&e->obj_warned);
  /* Sources free themselves in their close callbacks; unlink whatever is left. */
  sc_snapshot_writer_close(e->snapshot);
  sc_store_del(e->store);
  sc__free(e);
}
