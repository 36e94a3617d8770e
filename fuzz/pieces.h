/* Feeds a fuzz input to a stream consumer in pieces of varying sizes (the input's length
 * picks where the cycle starts), as sockets deliver bytes. Stops when push returns non-zero. */
#ifndef SC_FUZZ_PIECES_H
#define SC_FUZZ_PIECES_H

#include <stddef.h>
#include <stdint.h>

typedef int (*sc_fuzz_push_fn)(void *arg, const uint8_t *piece, size_t n);

static inline void sc_fuzz_feed(const uint8_t *data, size_t size, const size_t *sizes, size_t nsizes,
                                sc_fuzz_push_fn push, void *arg) {
  size_t at = 0, k = size % nsizes;
  while (at < size) {
    size_t n = sizes[k++ % nsizes];
    if (n > size - at)
      n = size - at;
    if (push(arg, data + at, n) != 0)
      return;
    at += n;
  }
}

#endif
