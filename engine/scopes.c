/* Incremental scopes (see scopes.h). */
#include <stdlib.h>
#include <string.h>

#include "scopes.h"

static const sc_str_t none = {"", 0};

void sc_scopes_init(sc_scopes_t *ss) {
  memset(ss, 0, sizeof(*ss));
  sc__strmap_init(&ss->by_id);
  sc__hashmap_init(&ss->by_key);
  ss->resync = true; /* whatever an earlier engine left in the snapshot goes */
}

static void free_ids(sc_vec_t *v) {
  for (uint32_t i = 0; i < v->n; i++)
    free(v->items[i]);
  v->n = 0;
}

void sc_scopes_free(sc_scopes_t *ss) {
  for (uint32_t i = 0; i < ss->states.n; i++) {
    sc_scope_state_t *st = ss->states.items[i];
    sc_record_free(&st->rec);
    sc_keys_free(&st->keys);
    free(st->id);
    free(st);
  }
  for (size_t i = 0; i < ss->by_key.cap; i++) {
    sc_vec_t *v = ss->by_key.values[i];
    if (v != NULL) {
      sc__vec_free(v);
      free(v);
    }
  }
  sc__hashmap_free(&ss->by_key);
  sc__strmap_free(&ss->by_id, NULL);
  for (size_t i = 0; i < ss->nselectors; i++)
    sc_record_free(&ss->selectors[i]);
  free(ss->selectors);
  free_ids(&ss->deleted);
  free_ids(&ss->sel_deleted);
  sc__vec_free(&ss->deleted);
  sc__vec_free(&ss->sel_deleted);
  sc__vec_free(&ss->write);
  sc__vec_free(&ss->sel_write);
  sc__vec_free(&ss->states);
}

/* ---- the dependency index ------------------------------------------------------------------ */

static int index_add(sc_scopes_t *ss, sc_scope_state_t *st) {
  for (uint32_t i = 0; i < st->keys.n; i++) {
    uint64_t k = st->keys.keys[i];
    sc_vec_t *v = sc__hashmap_get(&ss->by_key, k);
    if (v == NULL) {
      v = calloc(1, sizeof(*v));
      if (v == NULL || sc__hashmap_put(&ss->by_key, k, v) != 0) {
        free(v);
        return SC_ENOMEM;
      }
    }
    if (sc__vec_push(v, st) != 0)
      return SC_ENOMEM;
  }
  return 0;
}

static void index_remove(sc_scopes_t *ss, sc_scope_state_t *st) {
  for (uint32_t i = 0; i < st->keys.n; i++) {
    uint64_t k = st->keys.keys[i];
    sc_vec_t *v = sc__hashmap_get(&ss->by_key, k);
    for (uint32_t j = 0; v && j < v->n; j++) {
      if (v->items[j] == st) {
        v->items[j] = v->items[--v->n];
        break;
      }
    }
    if (v != NULL && v->n == 0) {
      sc__hashmap_remove(&ss->by_key, k);
      sc__vec_free(v);
      free(v);
    }
  }
}

/* ---- emitted keys ------------------------------------------------------------------------- */

/* Keys by visibility: "*" is public, "." the own namespace, a name that namespace; a set
 * with "~" and not "*" hides (semantics 3.1.4, 11 Q4). ns_kind/any_kind take (ns, N) and
 * (N); the public kinds take (ns) and nothing. */
static int emit_visibility(sc_keys_t *out, const sc_strlist_t *e, sc_str_t ns, bool tilde_hides,
                           sc_dep_kind_t ns_vis, sc_dep_kind_t ns_pub, sc_dep_kind_t any_vis,
                           sc_dep_kind_t any_pub) {
  if (sc_strlist_hasz(e, "*"))
    return sc_keys_add(out, sc_dep_key(ns_pub, ns, none)) ||
           sc_keys_add(out, sc_dep_key(any_pub, none, none));
  if (tilde_hides && sc_strlist_hasz(e, "~"))
    return 0;
  for (uint32_t i = 0; i < e->n; i++) {
    sc_str_t v = sc_str_eqz(e->items[i], ".") ? ns : e->items[i];
    if (sc_keys_add(out, sc_dep_key(ns_vis, ns, v)) || sc_keys_add(out, sc_dep_key(any_vis, v, none)))
      return SC_ENOMEM;
  }
  return 0;
}

static int emit_service(const sc_obj_t *o, const sc_mesh_config_t *mesh, const sc_strlist_t *hosts,
                        const sc_strlist_t *export_to, sc_keys_t *out) {
  int rc = 0;
  for (uint32_t i = 0; i < hosts->n && rc == 0; i++) {
    rc = sc_keys_add(out, sc_dep_key(SC_DEP_SVC_EXACT, o->namespace_, hosts->items[i]));
    if (rc == 0)
      rc = sc_keys_add(out, sc_dep_key(SC_DEP_SVC_HOST, hosts->items[i], none));
  }
  const sc_strlist_t *e = export_to->n ? export_to : &mesh->default_service_export_to;
  return rc ? rc
            : emit_visibility(out, e, o->namespace_, true, SC_DEP_SVC_NS_VIS, SC_DEP_SVC_NS_PUBLIC,
                              SC_DEP_SVC_ANY_VIS, SC_DEP_SVC_ANY_PUBLIC);
}

/* The keys of the DestinationRule indexes the rule is filed in (semantics 3.3). */
static int emit_destination_rule(const sc_obj_t *o, const sc_mesh_config_t *mesh, sc_keys_t *out) {
  sc_dr_placement_t p;
  sc_dr_placement(o, mesh, &p);
  sc_str_t ns = o->namespace_, host = o->u.destination_rule.host;
  bool wild = host.len > 0 && host.ptr[0] == '*';
  int rc = 0;
  if (p.local)
    rc = sc_keys_add(out, wild ? sc_dep_key(SC_DEP_DR_LOCAL_WILD, ns, none)
                               : sc_dep_key(SC_DEP_DR_LOCAL_HOST, ns, host));
  if (rc == 0 && p.exported)
    rc = sc_keys_add(out, wild ? sc_dep_key(SC_DEP_DR_EXP_WILD, ns, none)
                               : sc_dep_key(SC_DEP_DR_EXP_HOST, ns, host));
  if (rc == 0 && p.root_local)
    rc = sc_keys_add(out, wild ? sc_dep_key(SC_DEP_DR_ROOT_WILD, none, none)
                               : sc_dep_key(SC_DEP_DR_ROOT_HOST, host, none));
  return rc;
}

int sc_scopes_emit(const sc_obj_t *o, const sc_mesh_config_t *mesh, sc_keys_t *out) {
  switch (o->kind) {
  case SC_KIND_SERVICE: {
    sc_strlist_t hosts = {1, (sc_str_t *)&o->u.service.hostname};
    int rc = emit_service(o, mesh, &hosts, &o->u.service.export_to, out);
    /* An ExternalName service changes the aliases of what it points at. */
    if (rc == 0 && o->u.service.external_name.len > 0)
      rc = sc_keys_add(out, sc_dep_key(SC_DEP_SVC_HOST, o->u.service.external_name, none));
    return rc;
  }
  case SC_KIND_SERVICE_ENTRY:
    return emit_service(o, mesh, &o->u.service_entry.hosts, &o->u.service_entry.export_to, out);
  case SC_KIND_VIRTUAL_SERVICE: {
    /* Normalised as in 1.9 step 3: "." already means the own namespace. */
    const sc_strlist_t *e = o->u.virtual_service.export_to.n ? &o->u.virtual_service.export_to
                                                             : &mesh->default_virtual_service_export_to;
    return emit_visibility(out, e, o->namespace_, true, SC_DEP_VS_NS_VIS, SC_DEP_VS_NS_PUBLIC,
                           SC_DEP_VS_ANY_VIS, SC_DEP_VS_ANY_PUBLIC);
  }
  case SC_KIND_DESTINATION_RULE:
    return emit_destination_rule(o, mesh, out);
  case SC_KIND_SIDECAR:
    return sc_keys_add(out, sc_dep_object(SC_KIND_SIDECAR, o->namespace_, o->name));
  case SC_KIND_MESH_CONFIG:
    return sc_keys_add(out, sc_dep_key(SC_DEP_MESH, none, none));
  default: /* Namespaces only change which scopes exist; Pods and endpoints no scope */
    return 0;
  }
}

/* Objects that mention namespace ns: its Namespace object and everything in it. */
static size_t namespace_objects(const sc_store_t *store, sc_str_t ns) {
  size_t n = sc_store_get(store, SC_KIND_NAMESPACE, none, ns) != NULL;
  for (int k = 0; k < SC_KIND__COUNT; k++)
    if (k != SC_KIND_NAMESPACE)
      n += sc_store_list_namespace(store, (sc_kind_t)k, ns).n;
  return n;
}

int sc_scopes_note_change(const sc_store_t *store, const sc_change_t *c, sc_keys_t *emitted,
                          bool *plan_dirty) {
  const sc_mesh_config_t *mesh = sc_store_mesh(store);
  const sc_obj_t *o = c->new_obj ? c->new_obj : c->old_obj;
  if (o == NULL)
    return 0; /* a no-op */
  int rc = 0;
  if (c->old_obj != NULL)
    rc = sc_scopes_emit(c->old_obj, mesh, emitted);
  if (rc == 0 && c->new_obj != NULL)
    rc = sc_scopes_emit(c->new_obj, mesh, emitted);
  if (o->kind != SC_KIND_POD && o->kind != SC_KIND_ENDPOINT_SLICE) {
    *plan_dirty = true;
  } else if (c->op != SC_CHANGE_UPDATED) {
    /* The store already holds the change: a namespace came with its first object or
     * went with its last one. */
    size_t left = namespace_objects(store, o->namespace_);
    if ((c->op == SC_CHANGE_ADDED && left == 1) || (c->op == SC_CHANGE_DELETED && left == 0))
      *plan_dirty = true;
  }
  return rc;
}

bool sc_scopes_needs_update(const sc_scopes_t *ss, const sc_keys_t *emitted, bool all,
                            bool plan_dirty) {
  if (all || plan_dirty || ss->resync)
    return true;
  for (uint32_t i = 0; emitted && i < emitted->n; i++)
    if (sc__hashmap_get(&ss->by_key, emitted->keys[i]) != NULL)
      return true;
  return false;
}

/* ---- update ---------------------------------------------------------------------------------- */

static void mark_affected(sc_scopes_t *ss, const sc_keys_t *emitted) {
  for (uint32_t i = 0; emitted && i < emitted->n; i++) {
    const sc_vec_t *v = sc__hashmap_get(&ss->by_key, emitted->keys[i]);
    for (uint32_t j = 0; v && j < v->n; j++)
      ((sc_scope_state_t *)v->items[j])->affected = true;
  }
}

static int copy_keys(const sc_keys_t *from, sc_keys_t *to) {
  for (uint32_t i = 0; i < from->n; i++)
    if (sc_keys_add(to, from->keys[i]) != 0)
      return SC_ENOMEM;
  return 0;
}

/* Recomputes one scope into st (a new one when st->id is NULL). A shared scope takes a
 * reference to its target's record and the target's keys, so that it is revisited
 * whenever the target is. */
static int recompute(sc_scopes_t *ss, const sc_world_t *w, const sc_scope_desc_t *d,
                     sc_scope_state_t *st, uint64_t head_next, sc_scopes_stats_t *stats) {
  sc_record_t rec;
  sc_keys_t keys = {0};
  int rc;
  if (d->same_as != NULL) {
    const sc_scope_state_t *target = sc__strmap_get(&ss->by_id, sc_str(d->same_as));
    if (target == NULL)
      return SC_EINVAL; /* the plan always has the "*" scope */
    rc = sc_scope_render_shared(d, &target->rec, head_next, &rec);
    if (rc == 0 && (rc = copy_keys(&target->keys, &keys)) != 0)
      sc_record_free(&rec);
  } else {
    rc = sc_scope_render(w, d, head_next, &rec, &keys);
  }
  if (rc != 0) {
    sc_keys_free(&keys);
    return rc;
  }
  st->shared = d->same_as != NULL;
  bool is_new = st->id == NULL;
  if (!is_new)
    index_remove(ss, st);
  sc_keys_free(&st->keys);
  st->keys = keys;
  if (!is_new && st->rec.hash == rec.hash) {
    sc_record_free(&rec); /* same content: keep the record and its changedAt */
    stats->unchanged++;
  } else {
    sc_record_free(&st->rec);
    st->rec = rec;
    st->changed_at = head_next;
    if (sc__vec_push(&ss->write, st) != 0)
      return SC_ENOMEM;
  }
  return index_add(ss, st);
}

static const sc_record_t *find_selector(const sc_record_t *r, size_t n, const char *key) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(r[mid].key, key);
    if (c == 0)
      return &r[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* Takes the plan's selector records; stages the ones that changed. */
static int update_selectors(sc_scopes_t *ss, sc_scope_plan_t *plan, sc_scopes_stats_t *stats) {
  for (size_t i = 0; i < ss->nselectors; i++) {
    if (find_selector(plan->selectors, plan->nselectors, ss->selectors[i].key) == NULL) {
      char *k = strdup(ss->selectors[i].key);
      if (k == NULL || sc__vec_push(&ss->sel_deleted, k) != 0) {
        free(k);
        return SC_ENOMEM;
      }
    }
  }
  ss->sel_write.n = 0;
  for (size_t i = 0; i < plan->nselectors; i++) {
    const sc_record_t *old = find_selector(ss->selectors, ss->nselectors, plan->selectors[i].key);
    if (old != NULL && old->hash == plan->selectors[i].hash)
      continue;
    stats->selectors_written++;
    /* Points into plan->selectors, which becomes ss->selectors below. */
    if (sc__vec_push(&ss->sel_write, &plan->selectors[i]) != 0)
      return SC_ENOMEM;
  }
  for (size_t i = 0; i < ss->nselectors; i++)
    sc_record_free(&ss->selectors[i]);
  free(ss->selectors);
  ss->selectors = plan->selectors;
  ss->nselectors = plan->nselectors;
  plan->selectors = NULL;
  plan->nselectors = 0;
  return 0;
}

int sc_scopes_update(sc_scopes_t *ss, const sc_world_t *w, const sc_keys_t *emitted, bool all,
                     uint64_t head_next, sc_scopes_stats_t *stats) {
  memset(stats, 0, sizeof(*stats));
  sc_scope_plan_t plan;
  int rc = sc_scope_plan(w, &plan);
  if (rc != 0)
    return rc;
  for (uint32_t i = 0; i < ss->states.n; i++) {
    sc_scope_state_t *st = ss->states.items[i];
    st->seen = false;
    st->affected = all;
  }
  mark_affected(ss, emitted);
  /* Scopes with content of their own first: shared ones reference them. */
  for (int pass = 0; pass < 2 && rc == 0; pass++) {
    for (size_t i = 0; i < plan.nscopes && rc == 0; i++) {
      const sc_scope_desc_t *d = &plan.scopes[i];
      if ((d->same_as != NULL) != (pass == 1))
        continue;
      sc_scope_state_t *st = sc__strmap_get(&ss->by_id, sc_str(d->id));
      if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL || sc__vec_push(&ss->states, st) != 0) {
          free(st);
          rc = SC_ENOMEM;
          break;
        }
        rc = recompute(ss, w, d, st, head_next, stats);
        if (rc == 0 && (st->id = strdup(d->id)) == NULL)
          rc = SC_ENOMEM;
        if (rc == 0)
          rc = sc__strmap_put(&ss->by_id, sc_str(st->id), st);
        stats->added++;
      } else if (st->affected || st->shared != (d->same_as != NULL)) {
        /* A namespace that gains or loses config of its own switches between sharing
         * and having its own content. */
        stats->affected++;
        st->affected = true;
        rc = recompute(ss, w, d, st, head_next, stats);
      }
      st->seen = true;
      stats->recomputed += st->affected;
    }
  }
  /* Scopes the plan no longer has. */
  for (uint32_t i = 0; i < ss->states.n && rc == 0;) {
    sc_scope_state_t *st = ss->states.items[i];
    if (st->seen || st->id == NULL) {
      i++;
      continue;
    }
    index_remove(ss, st);
    for (uint32_t j = 0; j < ss->write.n; j++)
      if (ss->write.items[j] == st)
        ss->write.items[j] = ss->write.items[--ss->write.n];
    sc__strmap_remove(&ss->by_id, sc_str(st->id));
    rc = sc__vec_push(&ss->deleted, st->id); /* the id moves to the delete list */
    sc_record_free(&st->rec);
    sc_keys_free(&st->keys);
    free(st);
    ss->states.items[i] = ss->states.items[--ss->states.n];
    stats->removed++;
  }
  if (rc == 0)
    rc = update_selectors(ss, &plan, stats);
  sc_scope_plan_free(&plan);
  return rc;
}

/* ---- writing ---------------------------------------------------------------------------------- */

/* A scope record and its summary in the index. */
static int put_scope(sc_snapshot_txn_t *txn, const sc_record_t *r) {
  int rc = sc_snapshot_txn_put(txn, SC_TABLE_SCOPES, r->key, strlen(r->key), r->json, r->len);
  if (rc == 0 && r->summary != NULL)
    rc = sc_snapshot_txn_put(txn, SC_TABLE_SCOPE_INDEX, r->key, strlen(r->key), r->summary,
                             r->summary_len);
  return rc;
}

int sc_scopes_write(sc_scopes_t *ss, sc_snapshot_txn_t *txn, size_t *written, size_t *deleted) {
  int rc = 0;
  *written = *deleted = 0;
  if (ss->resync) { /* the snapshot may hold anything: replace it all */
    rc = sc_snapshot_txn_clear(txn, SC_TABLE_SCOPES);
    if (rc == 0)
      rc = sc_snapshot_txn_clear(txn, SC_TABLE_SCOPE_INDEX);
    if (rc == 0)
      rc = sc_snapshot_txn_clear(txn, SC_TABLE_SELECTORS);
    for (uint32_t i = 0; i < ss->states.n && rc == 0; i++) {
      rc = put_scope(txn, &((sc_scope_state_t *)ss->states.items[i])->rec);
      (*written)++;
    }
    for (size_t i = 0; i < ss->nselectors && rc == 0; i++) {
      const sc_record_t *r = &ss->selectors[i];
      rc = sc_snapshot_txn_put(txn, SC_TABLE_SELECTORS, r->key, strlen(r->key), r->json, r->len);
    }
    return rc;
  }
  for (uint32_t i = 0; i < ss->write.n && rc == 0; i++) {
    rc = put_scope(txn, &((sc_scope_state_t *)ss->write.items[i])->rec);
    (*written)++;
  }
  for (uint32_t i = 0; i < ss->deleted.n && rc == 0; i++) {
    const char *k = ss->deleted.items[i];
    rc = sc_snapshot_txn_del(txn, SC_TABLE_SCOPES, k, strlen(k));
    if (rc == 0)
      rc = sc_snapshot_txn_del(txn, SC_TABLE_SCOPE_INDEX, k, strlen(k));
    (*deleted)++;
  }
  for (uint32_t i = 0; i < ss->sel_write.n && rc == 0; i++) {
    const sc_record_t *r = ss->sel_write.items[i];
    rc = sc_snapshot_txn_put(txn, SC_TABLE_SELECTORS, r->key, strlen(r->key), r->json, r->len);
  }
  for (uint32_t i = 0; i < ss->sel_deleted.n && rc == 0; i++) {
    const char *k = ss->sel_deleted.items[i];
    rc = sc_snapshot_txn_del(txn, SC_TABLE_SELECTORS, k, strlen(k));
  }
  return rc;
}

void sc_scopes_commit(sc_scopes_t *ss) {
  ss->write.n = 0;
  ss->sel_write.n = 0;
  free_ids(&ss->deleted);
  free_ids(&ss->sel_deleted);
  ss->resync = false;
}

void sc_scopes_resync(sc_scopes_t *ss) {
  sc_scopes_commit(ss);
  ss->resync = true;
}
