/* What every update of the scopes starts from, kept across batches: the world (model/
 * world.h), rebuilt only in the parts whose inputs changed, and the plan (scope/plan.h:
 * which scopes exist), recomputed only when a batch can change it.
 *
 *   sc__basis_note()          for a batch: mark what its changes make stale
 *   sc__basis_update_world()  bring the world up to date with the store
 *   sc__basis_update_plan()   recompute the plan if asked, else refresh its Sidecars */
#ifndef SC_BASIS_H
#define SC_BASIS_H

#include <stdbool.h>
#include <stdint.h>

#include "incr/changes.h"
#include "model/world.h"
#include "publish/selectors.h"
#include "scope/plan.h"

typedef struct {
  sc_world_t *world;    /* NULL until the first update */
  unsigned stale;       /* parts whose inputs changed since the last world update */
  sc_scope_plan_t plan;
  bool have_plan;
} sc_basis_t;

void sc__basis_init(sc_basis_t *b);
void sc__basis_free(sc_basis_t *b);

/* Marks the world parts the batch's changes touch stale (every part with all) and lets a
 * built world update only what the changed objects touch; on failure every part is
 * stale. */
int sc__basis_note(sc_basis_t *b, const sc_changes_t *changes, bool all);
/* Whether the Sidecars part is stale (before sc__basis_update_world). */
bool sc__basis_sidecars_stale(const sc_basis_t *b);
/* Builds or updates the world: only the stale parts are rebuilt. */
int sc__basis_update_world(sc_basis_t *b, const sc_store_t *store);
/* With replan (or no plan yet) recomputes the plan and hands its selector records to
 * selectors (sc__selectors_take; *replanned set); otherwise, when sidecars changed in
 * place, points the kept plan at the current objects. */
int sc__basis_update_plan(sc_basis_t *b, const sc_store_t *store, bool replan, bool sidecars,
                         sc_selectors_t *selectors, bool write_all, uint64_t *selectors_written,
                         bool *replanned);
/* Forgets the plan (after a failed update: recomputed next time). */
void sc__basis_drop_plan(sc_basis_t *b);

/* The world (NULL before the first update) and the plan (after a successful update). */
const sc_world_t *sc__basis_world(const sc_basis_t *b);
const sc_scope_plan_t *sc__basis_plan(const sc_basis_t *b);

#endif
