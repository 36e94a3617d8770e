/* Incremental scopes (see scopes.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_gen.h>

#include "store/mem.h"
#include "model/host.h"
#include "wire/registry.h"
#include "publish/scopes.h"


/* ---- scope states ------------------------------------------------------------------------ */

void sc__scopes_init(sc_scopes_t *ss) {
  memset(ss, 0, sizeof(*ss));
  sc__strmap_init(&ss->by_id);
  sc__index_init(&ss->index);
  sc__refs_init(&ss->refs);
  sc__selectors_init(&ss->selectors);
  sc__basis_init(&ss->basis);
  sc__cds_cache_init(&ss->clusters);
  sc__endpoints_init(&ss->eds);
  ss->changelog_keep = 1024;
  sc__history_init(&ss->history, 16);
  ss->resync = true; /* whatever an earlier engine left in the snapshot goes */
}

static void free_entry(void *p) {
  sc__render_entry_free(p);
  sc__free(p);
}

static void free_strs(sc_vec_t *v) {
  for (uint32_t i = 0; i < v->n; i++)
    sc__free(v->items[i]);
  v->n = 0;
}

static void state_free(sc_scope_state_t *st) {
  sc__render_record_free(&st->rec);
  sc__strmap_free(&st->entries, free_entry);
  sc__deps_keys_free(&st->keys);
  sc__render_aux_free(&st->aux);
  sc__vec_free(&st->put);
  free_strs(&st->del);
  sc__vec_free(&st->del);
  sc__free(st->id);
  sc__free(st);
}

void sc__scopes_free(sc_scopes_t *ss) {
  for (uint32_t i = 0; i < ss->states.n; i++)
    state_free(ss->states.items[i]);
  for (uint32_t i = 0; i < ss->deleted.n; i++)
    state_free(ss->deleted.items[i]);
  sc__index_free(&ss->index);
  sc__strmap_free(&ss->by_id, NULL);
  sc__selectors_free(&ss->selectors);
  if (ss->base != NULL)
    state_free(ss->base);
  sc__endpoints_free(&ss->eds);
  sc__history_free(&ss->history);
  sc__cds_cache_free(&ss->clusters);
  sc__refs_free(&ss->refs);
  sc__basis_free(&ss->basis);
  sc__vec_free(&ss->deleted);
  sc__vec_free(&ss->write);
  sc__vec_free(&ss->states);
}

/* ---- the dependency index ------------------------------------------------------------------ */

static int index_add(sc_scopes_t *ss, sc_scope_state_t *st) { return sc__index_add(&ss->index, st, &st->keys); }

static void index_remove(sc_scopes_t *ss, sc_scope_state_t *st) { sc__index_remove(&ss->index, st, &st->keys); }

/* Whether an update is needed at all; when not, the world need not even be built. */
static bool scopes_needs_update(const sc_scopes_t *ss, const sc_changes_t *changes, bool all) {
  if (all || ss->resync || changes == NULL || changes->plan_dirty)
    return true;
  return sc__index_any(&ss->index, &changes->full) || sc__index_any(&ss->index, &changes->patch);
}

/* ---- staging ----------------------------------------------------------------------------- */

static int stage_state(sc_scopes_t *ss, sc_scope_state_t *st) {
  if (st->listed || (!st->put_head && st->put.n == 0 && st->del.n == 0))
    return 0;
  st->listed = true;
  return sc__vec_push(&ss->write, st);
}

/* ---- resources by content hash --------------------------------------------------------- */

/* One more reference to each resource of res (and the assignment its EDS cluster names). */
static int res_ref_all(sc_scopes_t *ss, const sc_resources_t *res) {
  for (size_t i = 0; i < res->n; i++)
    if (sc__endpoints_ref(&ss->eds, &res->items[i]) != 0 || sc__refs_ref(&ss->refs, &res->items[i]) != 0)
      return SC_ENOMEM;
  return 0;
}

/* One reference less to each resource of res (sc__refs_unref). */
static int res_unref_all(sc_scopes_t *ss, const sc_resources_t *res) {
  int rc = 0;
  for (size_t i = 0; i < res->n; i++) {
    if (sc__endpoints_unref(&ss->eds, &res->items[i]) != 0)
      rc = SC_ENOMEM; /* it stays in the snapshot: harmless, gone at the next resync */
    if (sc__refs_unref(&ss->refs, res->items[i].hash, &ss->history, ss->head_next) != 0)
      rc = SC_ENOMEM;
  }
  return rc;
}

static void res_drop_all(sc_scopes_t *ss) {
  sc__refs_reset(&ss->refs);
  sc__endpoints_reset(&ss->eds);
}

/* ---- entries ------------------------------------------------------------------------------ */

/* Replaces the entry of e->host by e (taken over), or removes the hostname (e NULL);
 * stages what changed. write_all stages e even when unchanged (after a resync). */
static int apply_entry(sc_scopes_t *ss, sc_scope_state_t *st, sc_str_t host, sc_entry_t *e,
                       bool write_all) {
  sc_entry_t *old = sc__strmap_get(&st->entries, host);
  if (e != NULL && old != NULL && e->hash == old->hash && !write_all) {
    sc__render_entry_free(e);
    sc__free(e);
    return 0;
  }
  /* The new entry's resources are counted before the old one's are released, so that a
   * resource both name is never deleted. After a resync (write_all) the counts start
   * from nothing: the old entry's were dropped with them. */
  if (e != NULL && res_ref_all(ss, &e->res) != 0) {
    free_entry(e);
    return SC_ENOMEM;
  }
  st->types |= sc__resources_types_changed(old ? &old->res : NULL, e ? &e->res : NULL);
  if (old != NULL && !write_all && res_unref_all(ss, &old->res) != 0) {
    if (e != NULL)
      free_entry(e);
    return SC_ENOMEM;
  }
  if (old != NULL) {
    st->entries_mix ^= old->hash;
    for (uint32_t i = 0; i < st->put.n; i++) /* a staged write of the old one goes */
      if (st->put.items[i] == old)
        st->put.items[i] = st->put.items[--st->put.n];
    sc__strmap_remove(&st->entries, host);
    if (e == NULL) {
      char *h = sc__strdup(old->host);
      if (h == NULL || sc__vec_push(&st->del, h) != 0) {
        sc__free(h);
        free_entry(old);
        return SC_ENOMEM;
      }
    }
    free_entry(old);
  }
  if (e == NULL)
    return 0;
  if (sc__strmap_put(&st->entries, sc_str(e->host), e) != 0) {
    free_entry(e);
    return SC_ENOMEM;
  }
  st->entries_mix ^= e->hash; /* only what the map holds counts */
  for (uint32_t i = 0; i < st->del.n; i++) /* deleted earlier, back now: not deleted */
    if (strcmp(st->del.items[i], e->host) == 0) {
      sc__free(st->del.items[i]);
      st->del.items[i] = st->del.items[--st->del.n];
      break;
    }
  return sc__vec_push(&st->put, e);
}

/* After entries changed: a new version, changedAt and head record when the content did.
 * (A scope sharing the base keeps its own version when only the base changes: readers
 * combine the two.) */
static int reversion(sc_scope_state_t *st, const sc_scope_desc_t *d, uint64_t head_next,
                     bool force) {
  uint64_t version = sc__render_version(st->rec.body_hash, st->entries_mix);
  if (version == st->rec.hash && !force)
    return 0;
  st->changed_at = head_next;
  st->put_head = true;
  return sc__render_reversion(d, &st->rec, version, head_next, (uint32_t)st->entries.n);
}

/* ---- update ---------------------------------------------------------------------------------- */

static void mark(sc_scopes_t *ss, const sc_keys_t *keys, bool full) {
  for (uint32_t i = 0; i < keys->n; i++) {
    const sc_vec_t *v = sc__index_get(&ss->index, keys->keys[i]);
    for (uint32_t j = 0; v && j < v->n; j++) {
      sc_scope_state_t *st = v->items[j];
      if (full)
        st->affected = true;
      else
        st->patched = true;
    }
  }
}

static int copy_keys(const sc_keys_t *from, sc_keys_t *to) {
  for (uint32_t i = 0; i < from->n; i++)
    if (sc__deps_keys_add(to, from->keys[i]) != 0)
      return SC_ENOMEM;
  return 0;
}

static void collect_entry(void *arg, sc_str_t key, void *value) {
  (void)key;
  sc__vec_push(arg, value); /* reserved beforehand: cannot fail */
}

/* The scope's entries (pointers), to walk while the map changes. */
static int list_entries(const sc_scope_state_t *st, sc_vec_t *out) {
  for (uint32_t i = 0; i < st->entries.n; i++)
    if (sc__vec_push(out, NULL) != 0)
      return SC_ENOMEM;
  out->n = 0;
  sc__strmap_foreach(&st->entries, collect_entry, out);
  return 0;
}

/* Full recomputation of a scope with content of its own: every entry compared with the
 * one published, only differences staged. */
static int recompute_own(sc_scopes_t *ss, const sc_world_t *w, const sc_scope_desc_t *d,
                         sc_scope_state_t *st, uint64_t head_next, bool write_all) {
  sc_record_t rec;
  sc_scope_aux_t aux;
  sc_render_opts_t opts = {d == &sc_base_desc, &ss->clusters};
  int rc = sc__render_scope(w, d, &opts, head_next, &rec, &aux);
  if (rc != 0)
    return rc;
  index_remove(ss, st);
  sc__deps_keys_free(&st->keys);
  st->keys = aux.keys;
  aux.keys = (sc_keys_t){NULL, 0, 0};
  sc__render_aux_free(&st->aux);
  st->aux = aux;
  rc = index_add(ss, st);
  /* Entries that are gone: every old hostname the new record does not have. */
  sc_vec_t old_entries = {0};
  if (rc == 0)
    rc = list_entries(st, &old_entries);
  for (uint32_t i = 0; i < old_entries.n && rc == 0; i++) {
    sc_entry_t *old = old_entries.items[i];
    bool kept = false;
    size_t lo = 0, hi = rec.nentries;
    while (lo < hi && !kept) {
      size_t mid = lo + (hi - lo) / 2;
      int c = strcmp(rec.entries[mid].host, old->host);
      kept = c == 0;
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (!kept)
      rc = apply_entry(ss, st, sc_str(old->host), NULL, write_all);
  }
  sc__vec_free(&old_entries);
  for (size_t i = 0; i < rec.nentries && rc == 0; i++) {
    sc_entry_t *e = sc__malloc(sizeof(*e));
    if (e == NULL) {
      rc = SC_ENOMEM;
      break;
    }
    *e = rec.entries[i];
    memset(&rec.entries[i], 0, sizeof(rec.entries[i]));
    rc = apply_entry(ss, st, sc_str(e->host), e, write_all);
  }
  bool body_changed = st->rec.body == NULL || st->rec.body_hash != rec.body_hash;
  if (rc == 0 && (body_changed || write_all))
    st->types |= sc__resources_types_changed(&st->rec.res, &rec.res);
  if (rc == 0 && (body_changed || write_all) && (rc = res_ref_all(ss, &rec.res)) == 0) {
    rc = write_all ? 0 : res_unref_all(ss, &st->rec.res);
    sc_resources_t old = st->rec.res; /* the head's resources: the new ones */
    st->rec.res = rec.res;
    rec.res = old;
  }
  if (rc == 0 && body_changed) {
    sc__free(st->rec.body);
    sc__free(st->rec.key);
    st->rec.body = rec.body;
    st->rec.body_len = rec.body_len;
    st->rec.body_hash = rec.body_hash;
    st->rec.key = rec.key;
    rec.body = NULL;
    rec.key = NULL;
  }
  /* The mix from the map itself: a full recomputation also repairs what a failed update
   * may have left half-applied. */
  sc_vec_t all = {0};
  if (rc == 0 && (rc = list_entries(st, &all)) == 0) {
    st->entries_mix = 0;
    for (uint32_t i = 0; i < all.n; i++)
      st->entries_mix ^= ((const sc_entry_t *)all.items[i])->hash;
  }
  sc__vec_free(&all);
  bool base_flip = st->rec.has_base != rec.has_base; /* "base" is in the record */
  st->rec.has_base = rec.has_base;
  sc__render_record_free(&rec);
  if (rc == 0)
    rc = reversion(st, d, head_next, write_all || body_changed || base_flip);
  return rc == 0 ? stage_state(ss, st) : rc;
}

/* Recomputes only the batch's hostnames of a scope. */
static int recompute_patch(sc_scopes_t *ss, const sc_world_t *w, const sc_scope_desc_t *d,
                           sc_scope_state_t *st, const sc_changes_t *changes,
                           uint64_t head_next) {
  sc_scope_patch_t patch = {&changes->hosts, &changes->host_set, st->aux.vs_positions,
                            st->aux.nlisteners};
  sc_entry_t *entries;
  size_t n;
  sc_keys_t keys = {0};
  int rc = sc__render_patch(w, d, &patch, &st->aux.owners, &ss->clusters, &entries, &n, &keys);
  if (rc != 0)
    return rc;
  sc__deps_keys_finish(&keys);
  rc = sc__index_merge(&ss->index, st, &st->keys, &keys);
  sc__deps_keys_free(&keys);
  for (uint32_t h = 0; h < changes->hosts.n && rc == 0; h++) {
    sc_str_t host = *(const sc_str_t *)changes->hosts.items[h];
    sc_entry_t *e = NULL;
    for (size_t i = 0; i < n && e == NULL; i++)
      if (entries[i].host != NULL && sc_str_eqz(host, entries[i].host))
        e = &entries[i];
    sc_entry_t *copy = NULL;
    if (e != NULL) {
      if ((copy = sc__malloc(sizeof(*copy))) == NULL) {
        rc = SC_ENOMEM;
        break;
      }
      *copy = *e;
      memset(e, 0, sizeof(*e));
    }
    rc = apply_entry(ss, st, host, copy, false);
  }
  for (size_t i = 0; i < n; i++)
    sc__render_entry_free(&entries[i]);
  sc__free(entries);
  if (rc == 0)
    rc = reversion(st, d, head_next, false);
  return rc == 0 ? stage_state(ss, st) : rc;
}

/* A scope that shares target's content: a head referencing it, registered on the
 * target's keys so that it is revisited whenever the target is. */
static int recompute_shared(sc_scopes_t *ss, const sc_scope_desc_t *d, sc_scope_state_t *st,
                            uint64_t head_next, bool write_all) {
  const sc_scope_state_t *target = sc__strmap_get(&ss->by_id, sc_str(d->same_as));
  if (target == NULL)
    return SC_EINVAL; /* the plan always has the "*" scope */
  sc_record_t rec;
  sc_keys_t keys = {0};
  int rc = sc__render_shared(d, &target->rec, head_next, &rec);
  if (rc == 0 && (rc = copy_keys(&target->keys, &keys)) != 0)
    sc__render_record_free(&rec);
  if (rc != 0) {
    sc__deps_keys_free(&keys);
    return rc;
  }
  index_remove(ss, st);
  sc__deps_keys_free(&st->keys);
  st->keys = keys;
  rc = index_add(ss, st);
  sc_vec_t own = {0}; /* entries from when it had content of its own */
  if (rc == 0)
    rc = list_entries(st, &own);
  for (uint32_t j = 0; j < own.n && rc == 0; j++)
    rc = apply_entry(ss, st, sc_str(((sc_entry_t *)own.items[j])->host), NULL, write_all);
  sc__vec_free(&own);
  sc__render_aux_free(&st->aux);
  if (rc == 0 && (write_all || !st->shared || st->rec.hash != rec.hash)) {
    rc = write_all ? 0 : res_unref_all(ss, &st->rec.res); /* a head of its own had some */
    sc__render_record_free(&st->rec);
    st->rec = rec;
    st->changed_at = head_next;
    st->put_head = true;
    rc = stage_state(ss, st);
  } else {
    sc__render_record_free(&rec);
  }
  st->shared = true;
  return rc;
}

/* Drops the states the plan no longer has; their records are deleted at the write. */
static int drop_unseen(sc_scopes_t *ss, bool write_all, sc_scopes_stats_t *stats) {
  for (uint32_t i = 0; i < ss->states.n;) {
    sc_scope_state_t *st = ss->states.items[i];
    if (st->seen || st->id == NULL) {
      i++;
      continue;
    }
    index_remove(ss, st);
    for (uint32_t j = 0; j < ss->write.n; j++)
      if (ss->write.items[j] == st)
        ss->write.items[j] = ss->write.items[--ss->write.n];
    /* Its resources lose a reference (the state itself goes at the commit). */
    sc_vec_t entries = {0};
    int rc = write_all ? 0 : list_entries(st, &entries); /* after a resync: nothing counted */
    for (uint32_t j = 0; j < entries.n && rc == 0; j++)
      rc = res_unref_all(ss, &((sc_entry_t *)entries.items[j])->res);
    sc__vec_free(&entries);
    if (rc == 0 && !write_all)
      rc = res_unref_all(ss, &st->rec.res);
    if (rc != 0)
      return rc;
    sc__strmap_remove(&ss->by_id, sc_str(st->id));
    if (sc__vec_push(&ss->deleted, st) != 0)
      return SC_ENOMEM;
    ss->states.items[i] = ss->states.items[--ss->states.n];
    stats->removed++;
  }
  return 0;
}

/* Whether the batch recomputes a patched scope in full: its head reads a changed
 * hostname, or a service behind one of its VirtualService hosts came or went
 * (sc__render_vs_covers). */
static bool escalates(const sc_scope_aux_t *aux, const sc_changes_t *changes) {
  for (uint32_t h = 0; h < changes->hosts.n; h++) {
    sc_str_t host = *(const sc_str_t *)changes->hosts.items[h];
    if (sc__render_vs_covers(aux, host, sc__strmap_get(&changes->flip_set, host) != NULL))
      return true;
  }
  for (uint32_t h = 0; h < changes->flip_hosts.n; h++)
    if (sc__render_vs_covers(aux, *(const sc_str_t *)changes->flip_hosts.items[h], true))
      return true;
  return false;
}

static int update_one(sc_scopes_t *ss, const sc_world_t *w, const sc_scope_desc_t *d,
                      const sc_changes_t *changes, bool write_all, uint64_t head_next,
                      sc_scopes_stats_t *stats) {
  sc_scope_state_t *st = sc__strmap_get(&ss->by_id, sc_str(d->id));
  bool is_new = st == NULL;
  if (is_new) {
    st = sc__calloc(1, sizeof(*st));
    if (st == NULL)
      return SC_ENOMEM;
    sc__strmap_init(&st->entries);
    if ((st->id = sc__strdup(d->id)) == NULL || sc__strmap_put(&ss->by_id, sc_str(st->id), st) != 0) {
      sc__free(st->id);
      sc__free(st);
      return SC_ENOMEM;
    }
    if (sc__vec_push(&ss->states, st) != 0) {
      sc__strmap_remove(&ss->by_id, sc_str(st->id));
      sc__free(st->id);
      sc__free(st);
      return SC_ENOMEM;
    }
    st->affected = true;
    stats->added++;
  }
  st->seen = true;
  bool shared = d->same_as != NULL;
  /* A namespace that gains or loses config of its own switches between sharing and
   * having its own content; a reference follows the content it refers to. */
  const sc_scope_state_t *target = shared ? sc__strmap_get(&ss->by_id, sc_str(d->same_as)) : NULL;
  bool full = st->affected || write_all || st->shared != shared || (target && target->put_head);
  if (!full && !st->patched)
    return 0;
  if (!full && !shared && changes != NULL)
    full = escalates(&st->aux, changes);
  if (!is_new)
    stats->affected++;
  uint64_t version = st->rec.hash;
  int rc;
  if (shared)
    rc = recompute_shared(ss, d, st, head_next, write_all);
  else if (full)
  {
    st->shared = false;
    rc = recompute_own(ss, w, d, st, head_next, write_all);
  }
  else
    rc = recompute_patch(ss, w, d, st, changes, head_next);
  if (full)
    stats->recomputed++;
  else
    stats->patched++;
  if (rc == 0 && !is_new && st->rec.hash == version && !st->put_head)
    stats->unchanged++;
  return rc;
}

/* The base (SC_BASE_ID): entries only, never a head; recomputed or patched like a scope,
 * before the scopes that refer to it. */
static int update_base(sc_scopes_t *ss, const sc_world_t *w, const sc_changes_t *changes, bool full,
                       bool write_all, uint64_t head_next) {
  sc_scope_state_t *b = ss->base;
  if (b == NULL) {
    if ((b = sc__calloc(1, sizeof(*b))) == NULL || (b->id = sc__strdup(SC_BASE_ID)) == NULL) {
      sc__free(b);
      return SC_ENOMEM;
    }
    sc__strmap_init(&b->entries);
    b->is_base = true;
    ss->base = b;
    full = true;
  }
  int rc = 0;
  if (!full && b->patched && changes != NULL)
    full = escalates(&b->aux, changes);
  if (full || b->affected)
    rc = recompute_own(ss, w, &sc_base_desc, b, head_next, write_all);
  else if (b->patched)
    rc = recompute_patch(ss, w, &sc_base_desc, b, changes, head_next);
  b->affected = b->patched = false;
  return rc;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The batch's hostnames and those of the VirtualServices routing to them (exact hosts;
 * a scope with a wildcard-host VirtualService recomputes in full instead,
 * sc__render_vs_covers). Borrowed strings. */
static int expand_hosts(const sc_world_t *w, const sc_changes_t *c, sc_vec_t *hosts, sc_strmap_t *set) {
  int rc = 0;
  for (uint32_t i = 0; i < c->hosts.n && rc == 0; i++) {
    sc_str_t *h = c->hosts.items[i];
    if ((rc = sc__vec_push(hosts, h)) == 0)
      rc = sc__strmap_put(set, *h, h);
  }
  for (uint32_t i = 0; i < c->hosts.n && rc == 0; i++) {
    const sc_vec_t *vss = sc__strmap_get(&w->vs_by_dest, *(const sc_str_t *)c->hosts.items[i]);
    for (uint32_t v = 0; vss && v < vss->n && rc == 0; v++) {
      const sc_strlist_t *vh = &((const sc_obj_t *)vss->items[v])->u.virtual_service.hosts;
      for (uint32_t k = 0; k < vh->n && rc == 0; k++) {
        sc_str_t *h = &vh->items[k];
        if (sc__host_is_wildcard(*h) || sc__strmap_get(set, *h) != NULL)
          continue;
        if ((rc = sc__vec_push(hosts, h)) == 0)
          rc = sc__strmap_put(set, *h, h);
      }
    }
  }
  return rc;
}

/* The assignments named for the first time, and those of namespaces whose endpoints changed. */
static int update_endpoints(sc_scopes_t *ss, const sc_store_t *store, const sc_changes_t *changes,
                            bool all, sc_scopes_stats_t *stats) {
  int rc = sc__endpoints_update(&ss->eds, store, sc__basis_world(&ss->basis), changes ? &changes->endpoint_ns : NULL, all);
  stats->endpoints_built = ss->eds.built;
  stats->endpoints_written = ss->eds.put.n;
  stats->endpoints_deleted = ss->eds.del.n;
  return rc;
}

int sc__scopes_update(sc_scopes_t *ss, const sc_store_t *store, const sc_changes_t *changes,
                     bool all, uint64_t head_next, sc_scopes_stats_t *stats) {
  memset(stats, 0, sizeof(*stats));
  ss->head_next = head_next;
  all |= changes == NULL;
  int rc = sc__basis_note(&ss->basis, changes, all);
  if (rc != 0)
    return rc;
  if (!scopes_needs_update(ss, changes, all)) {
    /* No scope can change; assignments of the scopes' EDS clusters may. */
    if (sc__basis_world(&ss->basis) == NULL || changes->endpoint_ns.n == 0)
      return 0;
    return update_endpoints(ss, store, changes, false, stats);
  }
  stats->updated = true;
  bool write_all = ss->resync;
  double t0 = now_ms();
  bool sidecars = all || sc__basis_sidecars_stale(&ss->basis);
  rc = sc__basis_update_world(&ss->basis, store);
  double t1 = now_ms();
  if (rc == 0)
    rc = sc__basis_update_plan(&ss->basis, store, all || write_all || changes->plan_dirty, sidecars,
                              &ss->selectors, write_all, &stats->selectors_written,
                              &stats->replanned);
  double t2 = now_ms();
  stats->world_ms = t1 - t0;
  stats->plan_ms = t2 - t1;
  if (rc != 0) {
    sc__basis_drop_plan(&ss->basis); /* recomputed next time */
    return rc;
  }
  const sc_world_t *w = sc__basis_world(&ss->basis);
  const sc_scope_plan_t plan = *sc__basis_plan(&ss->basis);
  sc__cds_cache_reset(&ss->clusters); /* records and rules may have moved since the last */
  for (uint32_t i = 0; i < ss->states.n; i++) {
    sc_scope_state_t *st = ss->states.items[i];
    st->seen = false;
    st->affected = all || write_all;
    st->patched = false;
  }
  if (changes != NULL) {
    mark(ss, &changes->full, true);
    mark(ss, &changes->patch, false);
  }
  /* A hostname whose VirtualService routes to a changed one has routes to recompute too. */
  sc_changes_t expanded;
  sc_vec_t more_hosts = {0};
  sc_strmap_t more_set;
  sc__strmap_init(&more_set);
  if (changes != NULL) {
    expanded = *changes;
    rc = expand_hosts(w, changes, &more_hosts, &more_set);
    if (rc == 0 && more_hosts.n > changes->hosts.n) {
      expanded.hosts = more_hosts;
      expanded.host_set = more_set;
      changes = &expanded;
    }
  }
  if (rc == 0)
    rc = update_base(ss, w, changes, all || write_all, write_all, head_next);
  /* Scopes with content of their own first: shared ones reference them. */
  for (int pass = 0; pass < 2 && rc == 0; pass++)
    for (size_t i = 0; i < plan.nscopes && rc == 0; i++)
      if ((plan.scopes[i].same_as != NULL) == (pass == 1))
        rc = update_one(ss, w, &plan.scopes[i], changes, write_all, head_next, stats);
  if (rc == 0)
    rc = drop_unseen(ss, write_all, stats);
  if (rc == 0)
    rc = update_endpoints(ss, store, changes, all || write_all, stats);
  sc__vec_free(&more_hosts);
  sc__strmap_free(&more_set, NULL);
  for (uint32_t i = 0; i < ss->write.n; i++) {
    const sc_scope_state_t *st = ss->write.items[i];
    stats->entries_written += st->put.n;
    stats->entries_deleted += st->del.n;
  }
  stats->scopes_ms = now_ms() - t2;
  return rc;
}

/* ---- writing ---------------------------------------------------------------------------------- */

/* The key of a scope's entry: the scope id, a NUL, the hostname (FORMAT.md). */
static size_t entry_key(char *buf, size_t cap, const char *id, const char *host) {
  size_t a = strlen(id), b = strlen(host);
  if (a + 1 + b > cap)
    return 0;
  memcpy(buf, id, a);
  buf[a] = '\0';
  memcpy(buf + a + 1, host, b);
  return a + 1 + b;
}

/* History of a record about to change (not after a resync, which clears the table). */
static int remember(sc_scopes_t *ss, sc_snapshot_txn_t *txn, const char *table, const void *key, size_t klen,
                    const char *id, char kind, const char *host) {
  return ss->resync ? 0 : sc__history_remember(&ss->history, txn, table, key, klen, id, kind, host);
}

static int put_entry(sc_scopes_t *ss, sc_snapshot_txn_t *txn, const char *id, const sc_entry_t *e) {
  char key[2048];
  size_t klen = entry_key(key, sizeof(key), id, e->host);
  if (klen == 0 || e->json == NULL)
    return SC_EINVAL;
  int rc = remember(ss, txn, SC_TABLE_SCOPE_ENTRIES, key, klen, id, 'e', e->host);
  return rc ? rc : sc_snapshot_txn_put(txn, SC_TABLE_SCOPE_ENTRIES, key, klen, e->json, e->len);
}

static int del_entry(sc_scopes_t *ss, sc_snapshot_txn_t *txn, const char *id, const char *host) {
  char key[2048];
  size_t klen = entry_key(key, sizeof(key), id, host);
  if (klen == 0)
    return SC_EINVAL;
  int rc = remember(ss, txn, SC_TABLE_SCOPE_ENTRIES, key, klen, id, 'e', host);
  return rc ? rc : sc_snapshot_txn_del(txn, SC_TABLE_SCOPE_ENTRIES, key, klen);
}

/* A scope head and its summary in the index. */
static int put_head(sc_scopes_t *ss, sc_snapshot_txn_t *txn, const sc_record_t *r) {
  int rc = remember(ss, txn, SC_TABLE_SCOPES, r->key, strlen(r->key), r->key, 'h', NULL);
  if (rc == 0)
    rc = sc_snapshot_txn_put(txn, SC_TABLE_SCOPES, r->key, strlen(r->key), r->json, r->len);
  if (rc == 0 && r->summary != NULL)
    rc = sc_snapshot_txn_put(txn, SC_TABLE_SCOPE_INDEX, r->key, strlen(r->key), r->summary,
                             r->summary_len);
  return rc;
}

static int write_state(sc_scopes_t *ss, sc_snapshot_txn_t *txn, const sc_scope_state_t *st) {
  int rc = 0;
  if (st->put_head && st->is_base) { /* its version and changedAt; not a scope to list */
    rc = remember(ss, txn, SC_TABLE_SCOPES, st->rec.key, strlen(st->rec.key), st->rec.key, 'h', NULL);
    if (rc == 0)
      rc = sc_snapshot_txn_put(txn, SC_TABLE_SCOPES, st->rec.key, strlen(st->rec.key), st->rec.json,
                               st->rec.len);
  } else if (st->put_head) {
    rc = put_head(ss, txn, &st->rec);
  }
  for (uint32_t i = 0; i < st->put.n && rc == 0; i++)
    rc = put_entry(ss, txn, st->id, st->put.items[i]);
  for (uint32_t i = 0; i < st->del.n && rc == 0; i++)
    rc = del_entry(ss, txn, st->id, st->del.items[i]);
  return rc;
}

typedef struct {
  sc_scopes_t *ss;
  sc_snapshot_txn_t *txn;
  const char *id;
  int rc;
} del_all_t;

static void del_one(void *arg, sc_str_t key, void *value) {
  (void)value;
  del_all_t *d = arg;
  if (d->rc == 0)
    d->rc = del_entry(d->ss, d->txn, d->id, key.ptr);
}

static int delete_state(sc_scopes_t *ss, sc_snapshot_txn_t *txn, sc_scope_state_t *st) {
  int rc = remember(ss, txn, SC_TABLE_SCOPES, st->id, strlen(st->id), st->id, 'h', NULL);
  if (rc == 0)
    rc = sc_snapshot_txn_del(txn, SC_TABLE_SCOPES, st->id, strlen(st->id));
  if (rc == 0)
    rc = sc_snapshot_txn_del(txn, SC_TABLE_SCOPE_INDEX, st->id, strlen(st->id));
  del_all_t d = {ss, txn, st->id, rc};
  sc__strmap_foreach(&st->entries, del_one, &d);
  for (uint32_t i = 0; i < st->del.n && d.rc == 0; i++) /* removed before the scope went */
    d.rc = del_entry(ss, txn, st->id, st->del.items[i]);
  return d.rc;
}

static void changelog_key(uint64_t version, uint8_t key[8]) {
  for (int i = 0; i < 8; i++) /* big-endian: records in version order */
    key[i] = (uint8_t)(version >> (56 - 8 * i));
}

static void gen_str(yajl_gen g, const char *s) { yajl_gen_string(g, (const unsigned char *)s, strlen(s)); }

static int cmp_ids(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What this write changes, under its head version (FORMAT.md "changelog"); the record
 * changelog_keep versions older goes. */
static int write_changelog(sc_scopes_t *ss, sc_snapshot_txn_t *txn) {
  uint64_t version = sc_snapshot_txn_version(txn);
  yajl_gen g = yajl_gen_alloc(NULL);
  sc_vec_t ids = {0};
  int rc = g ? 0 : SC_ENOMEM;
  bool base = false;
  for (uint32_t i = 0; i < ss->write.n && rc == 0; i++) {
    const sc_scope_state_t *st = ss->write.items[i];
    if (st->is_base)
      base = true;
    else
      rc = sc__vec_push(&ids, st->id);
  }
  sc__vec_sort(&ids, cmp_ids);
  if (rc == 0) {
    yajl_gen_map_open(g);
    gen_str(g, "version");
    yajl_gen_integer(g, (long long)version);
    gen_str(g, "resync");
    yajl_gen_bool(g, ss->resync);
    gen_str(g, "scopes");
    yajl_gen_array_open(g);
    for (uint32_t i = 0; i < ids.n; i++)
      gen_str(g, ids.items[i]);
    yajl_gen_array_close(g);
    gen_str(g, "removed");
    yajl_gen_array_open(g);
    for (uint32_t i = 0; i < ss->deleted.n; i++)
      gen_str(g, ((const sc_scope_state_t *)ss->deleted.items[i])->id);
    yajl_gen_array_close(g);
    gen_str(g, "base");
    yajl_gen_bool(g, base);
    /* Per scope whose records were written (and the base), the xDS types it changed. */
    gen_str(g, "types");
    yajl_gen_map_open(g);
    for (uint32_t i = 0; i < ss->write.n; i++) {
      const sc_scope_state_t *st = ss->write.items[i];
      if (st->types == 0)
        continue;
      gen_str(g, st->id);
      yajl_gen_array_open(g);
      for (int t = 0; t < SC_XDS__TYPES; t++)
        if (st->types & (1u << t))
          gen_str(g, sc_xds_types[t].name);
      yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
    gen_str(g, "selectors");
    yajl_gen_bool(g, sc__selectors_staged(&ss->selectors));
    gen_str(g, "resourcesAdded");
    yajl_gen_integer(g, (long long)sc__refs_added(&ss->refs));
    gen_str(g, "resourcesRemoved");
    yajl_gen_integer(g, (long long)sc__refs_removed(&ss->refs));
    if (!ss->resync) { /* after a resync everything was written: readers compare all */
      gen_str(g, "endpoints");
      yajl_gen_array_open(g);
      for (uint32_t i = 0; i < ss->eds.put.n; i++)
        gen_str(g, sc__endpoints_key(ss->eds.put.items[i]));
      yajl_gen_array_close(g);
      gen_str(g, "endpointsRemoved");
      yajl_gen_array_open(g);
      for (uint32_t i = 0; i < ss->eds.del.n; i++)
        gen_str(g, ss->eds.del.items[i]);
      yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
    const unsigned char *text;
    size_t len;
    uint8_t key[8];
    changelog_key(version, key);
    rc = yajl_gen_get_buf(g, &text, &len) == yajl_gen_status_ok
             ? sc_snapshot_txn_put(txn, SC_TABLE_CHANGELOG, key, 8, text, len)
             : SC_ENOMEM;
    if (rc == 0 && ss->changelog_keep > 0 && version > ss->changelog_keep) {
      changelog_key(version - ss->changelog_keep, key);
      rc = sc_snapshot_txn_del(txn, SC_TABLE_CHANGELOG, key, 8);
    }
  }
  sc__vec_free(&ids);
  if (g != NULL)
    yajl_gen_free(g);
  return rc;
}

/* Whether a current record names the resource (sc__history_expire). */
static bool named_now(void *arg, const uint8_t hash[16]) { return sc__refs_find(arg, hash) != NULL; }

int sc__scopes_write(sc_scopes_t *ss, sc_snapshot_txn_t *txn, size_t *written, size_t *deleted) {
  int rc = 0;
  *written = *deleted = 0;
  sc__history_begin(&ss->history); /* a retried write starts over */
  if (ss->resync) { /* the snapshot may hold anything: the update staged everything */
    const char *tables[] = {SC_TABLE_SCOPES, SC_TABLE_SCOPE_INDEX, SC_TABLE_SCOPE_ENTRIES,
                            SC_TABLE_SELECTORS, SC_TABLE_RESOURCES, SC_TABLE_ENDPOINTS,
                            SC_TABLE_HISTORY};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]) && rc == 0; i++)
      rc = sc_snapshot_txn_clear(txn, tables[i]);
  }
  /* Resources: deletes first, so that one deleted and added back stays. */
  if (rc == 0)
    rc = sc__refs_write(&ss->refs, txn, ss->resync);
  if (rc == 0)
    rc = sc__endpoints_write(&ss->eds, txn);
  for (uint32_t i = 0; i < ss->write.n && rc == 0; i++) {
    const sc_scope_state_t *st = ss->write.items[i];
    rc = write_state(ss, txn, st);
    *written += st->put_head;
  }
  for (uint32_t i = 0; i < ss->deleted.n && rc == 0 && !ss->resync; i++) {
    rc = delete_state(ss, txn, ss->deleted.items[i]);
    (*deleted)++;
  }
  if (rc == 0)
    rc = sc__selectors_write(&ss->selectors, txn, ss->resync);
  if (rc == 0 && !ss->resync)
    rc = sc__history_expire(&ss->history, txn, named_now, &ss->refs);
  if (rc == 0)
    rc = write_changelog(ss, txn);
  ss->written_version = sc_snapshot_txn_version(txn);
  return rc;
}

/* Forgets what a state staged (a failed update may have staged without listing it). */
static void unstage(sc_scope_state_t *st) {
  st->put.n = 0;
  free_strs(&st->del);
  st->put_head = false;
  st->listed = false;
  st->types = 0;
}

static void drop_bytes(sc_resources_t *res) {
  for (size_t i = 0; i < res->n; i++) {
    sc__free(res->items[i].bytes); /* written: the hash (and EDS id) is all that is needed now */
    res->items[i].bytes = NULL;
    sc__free(res->items[i].eds);
    res->items[i].eds = NULL;
  }
}

void sc__scopes_commit(sc_scopes_t *ss) {
  sc__refs_commit(&ss->refs);
  sc__endpoints_commit(&ss->eds);
  sc__history_commit(&ss->history, ss->written_version);
  for (uint32_t i = 0; i < ss->write.n; i++) {
    sc_scope_state_t *st = ss->write.items[i];
    for (uint32_t j = 0; j < st->put.n; j++) {
      sc_entry_t *e = st->put.items[j];
      drop_bytes(&e->res);
      if (ss->keep_entry_json)
        continue;
      sc__free(e->json); /* written: only the hash is needed from now on */
      e->json = NULL;
    }
    if (st->put_head)
      drop_bytes(&st->rec.res);
    unstage(st);
  }
  ss->write.n = 0;
  for (uint32_t i = 0; i < ss->deleted.n; i++)
    state_free(ss->deleted.items[i]);
  ss->deleted.n = 0;
  sc__selectors_commit(&ss->selectors);
  ss->resync = false;
}

size_t sc__scopes_resource_count(const sc_scopes_t *ss) { return sc__refs_count(&ss->refs); }

size_t sc__scopes_endpoint_count(const sc_scopes_t *ss) { return sc__endpoints_count(&ss->eds); }

void sc__scopes_resync(sc_scopes_t *ss) {
  sc__history_begin(&ss->history); /* not committed */
  sc__scopes_commit(ss);
  sc__history_reset(&ss->history); /* the next write clears the table: counted again from there */
  res_drop_all(ss); /* counted again from what the next update recomputes */
  for (uint32_t i = 0; i < ss->states.n; i++)
    unstage(ss->states.items[i]);
  if (ss->base != NULL)
    unstage(ss->base);
  ss->resync = true;
}

size_t sc__scopes_count(const sc_scopes_t *ss) { return ss->states.n; }

void sc__scopes_set_history(sc_scopes_t *ss, uint32_t keep) { ss->history.keep = keep; }

uint32_t sc__scopes_history(const sc_scopes_t *ss) { return ss->history.keep; }

const sc_refs_t *sc__scopes_refs(const sc_scopes_t *ss) { return &ss->refs; }
