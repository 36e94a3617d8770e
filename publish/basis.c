/* The world and the plan kept across batches (see basis.h). */
#include <string.h>

#include "publish/basis.h"

void sc__basis_init(sc_basis_t *b) { memset(b, 0, sizeof(*b)); }

void sc__basis_free(sc_basis_t *b) {
  sc__world_free(b->world);
  sc__basis_drop_plan(b);
  b->world = NULL;
}

int sc__basis_note(sc_basis_t *b, const sc_changes_t *changes, bool all) {
  b->stale |= all ? SC_WORLD_ALL : changes->world_parts;
  for (uint32_t i = 0; !all && b->world != NULL && i < changes->objects.n; i++) {
    const sc_obj_t *o = changes->objects.items[i];
    int rc = o->kind == SC_KIND_DESTINATION_RULE
                 ? sc__world_note_rule(b->world, o->namespace_)
                 : sc__world_note_object(b->world, o->kind, o->namespace_, o->name);
    if (rc != 0) {
      b->stale = SC_WORLD_ALL; /* a change went unnoted: rebuild everything */
      return rc;
    }
  }
  return 0;
}

bool sc__basis_sidecars_stale(const sc_basis_t *b) {
  return (b->stale & (1u << SC_WORLD_PART_SIDECARS)) != 0;
}

int sc__basis_update_world(sc_basis_t *b, const sc_store_t *store) {
  int rc = b->world == NULL ? sc__world_new(store, &b->world) : 0;
  if (rc == 0)
    rc = sc__world_update(b->world, b->stale);
  b->stale = rc == 0 ? 0 : SC_WORLD_ALL;
  return rc;
}

/* A kept plan's Sidecars, after Sidecars changed in place: the current objects. */
static void refresh_sidecars(sc_basis_t *b, const sc_store_t *store) {
  for (size_t i = 0; i < b->plan.nscopes; i++) {
    sc_scope_desc_t *d = &b->plan.scopes[i];
    if (d->kind == SC_SCOPE_ROOT_DERIVED) {
      d->sidecar = b->world->root_sidecar;
    } else if (d->kind == SC_SCOPE_RESOURCE) { /* the id is "ns/name" */
      const char *slash = strchr(d->id, '/');
      sc_str_t ns = {d->id, (uint32_t)(slash - d->id)}, name = sc_str(slash + 1);
      d->sidecar = sc_store_get(store, SC_KIND_SIDECAR, ns, name);
    }
  }
}

int sc__basis_update_plan(sc_basis_t *b, const sc_store_t *store, bool replan, bool sidecars,
                         sc_selectors_t *selectors, bool write_all, uint64_t *selectors_written,
                         bool *replanned) {
  if (b->have_plan && !replan) {
    if (sidecars)
      refresh_sidecars(b, store);
    return 0;
  }
  sc_scope_plan_t plan;
  int rc = sc__plan_compute(b->world, &plan);
  if (rc != 0)
    return rc;
  rc = sc__selectors_take(selectors, &plan, write_all, selectors_written);
  sc__basis_drop_plan(b);
  b->plan = plan;
  b->have_plan = true;
  *replanned = true;
  return rc;
}

void sc__basis_drop_plan(sc_basis_t *b) {
  if (b->have_plan)
    sc__plan_free(&b->plan);
  b->have_plan = false;
}

const sc_world_t *sc__basis_world(const sc_basis_t *b) { return b->world; }

const sc_scope_plan_t *sc__basis_plan(const sc_basis_t *b) { return &b->plan; }
