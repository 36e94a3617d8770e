/* For tests of what is built from a world: a store loaded with YAML manifests (every
 * object must be accepted) and the world over it. */
#ifndef SC_TEST_WORLD_FIXTURE_H
#define SC_TEST_WORLD_FIXTURE_H

#include "scopecast/store.h"
#include "model/world.h"

typedef struct {
  sc_store_t *store;
  sc_world_t *world;
} fixture_t;

static inline int fixture_put(void *arg, const sc_parse_item_t *item) {
  if (item->status != SC_ITEM_OBJECT)
    return 1; /* a test manifest that does not load is a broken test */
  sc_change_t ch;
  int rc = sc_store_put(arg, item->obj, &ch);
  if (rc == 0)
    sc_change_release(&ch);
  return rc;
}

static inline int fixture_load(fixture_t *f, const char *yaml, size_t len) {
  sc_parse_opts_t po = {.source = "test"};
  f->world = NULL;
  if (sc_store_new(&f->store) != 0)
    return -1;
  if (sc_parse_yaml(yaml, len, &po, fixture_put, f->store) != 0 || sc__world_build(f->store, &f->world) != 0) {
    sc_store_del(f->store);
    return -1;
  }
  return 0;
}

static inline void fixture_free(fixture_t *f) {
  sc__world_free(f->world);
  sc_store_del(f->store);
}

#endif
