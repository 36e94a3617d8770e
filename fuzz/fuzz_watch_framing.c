/* Fuzz target: the watch-stream framer (ingest/framer.c), fed the input in pieces whose
 * sizes the input's own length picks, then finished; each value it frames goes to the
 * watch-event parser. */
#include <stdint.h>
#include <stdlib.h>

#include "ingest/framer.h"
#include "pieces.h"
#include "scopecast/store.h"

#define MAX_VALUE (1u << 16)

static int release(void *arg, const sc_parse_item_t *item) {
  (void)arg;
  if (item->status == SC_ITEM_OBJECT)
    sc_obj_unref(item->obj);
  return 0;
}

/* A value goes on to the event parser, as the engine does; an error needs a reason. */
static int check_frame(void *arg, const sc_frame_t *frame) {
  (void)arg;
  if (frame->is_error) {
    if (frame->reason == NULL)
      abort();
    return 0;
  }
  if (frame->len > MAX_VALUE || (frame->len > 0 && frame->data == NULL))
    abort();
  sc_parse_opts_t opts = {.source = "fuzz", .max_object_bytes = MAX_VALUE, .max_depth = 32};
  sc_parse_watch_event(frame->data, frame->len, &opts, release, NULL);
  return 0;
}

static int push(void *arg, const uint8_t *piece, size_t n) {
  return sc__framer_push(arg, (const char *)piece, n, check_frame, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t pieces[] = {1, 7, 64, 4096, 3, 1 << 16};
  sc_framer_t f;
  sc__framer_init(&f, MAX_VALUE);
  sc_fuzz_feed(data, size, pieces, 6, push, &f);
  sc__framer_finish(&f, check_frame, NULL);
  sc__framer_free(&f);
  return 0;
}
