/* Fuzz target: the manifest and event parsers (YAML, strict JSON, one watch event, mesh
 * config) on the same bytes. Every accepted object is released; a rejected one must come
 * with a diagnostic. Built with -DSC_FUZZ=ON (clang, libFuzzer). */
#include <stdint.h>
#include <stdlib.h>

#include "scopecast/store.h"

static int release(void *arg, const sc_parse_item_t *item) {
  (void)arg;
  if (item->status == SC_ITEM_OBJECT)
    sc_obj_unref(item->obj);
  else if (item->diag == NULL)
    abort(); /* a rejection without a reason */
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  sc_parse_opts_t opts = {.source = "fuzz", .max_object_bytes = 1u << 20, .max_depth = 32};
  sc_parse_yaml(buf, size, &opts, release, NULL);
  sc_parse_json(buf, size, &opts, release, NULL);
  sc_parse_watch_event(buf, size, &opts, release, NULL);
  sc_obj_t *mesh = NULL;
  sc_diag_t diag;
  if (sc_parse_mesh_config(buf, size, &opts, &mesh, &diag) == 0)
    sc_obj_unref(mesh);
  return 0;
}
