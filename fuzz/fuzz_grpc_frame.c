/* Fuzz target: the gRPC deframer, fed the input in pieces; every message it delivers must
 * be within the limit. */
#include <stdint.h>
#include <stdlib.h>

#include "wire/grpc_frame.h"
#include "pieces.h"

#define LIMIT 4096

static int check_message(void *arg, const uint8_t *msg, size_t len) {
  (void)arg;
  (void)msg;
  if (len > LIMIT)
    abort();
  return 0;
}

static int push(void *arg, const uint8_t *piece, size_t n) {
  return sc__grpc_deframer_push(arg, piece, n, check_message, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t pieces[] = {1, 2, 5, 9, 300, 5000};
  sc_grpc_deframer_t d;
  sc__grpc_deframer_init(&d, LIMIT);
  sc_fuzz_feed(data, size, pieces, 6, push, &d);
  sc__grpc_deframer_partial(&d);
  sc__grpc_deframer_free(&d);
  return 0;
}
