/* gRPC message framing (see grpc_frame.h). */
#include <stdlib.h>
#include <string.h>

#include "store/mem.h"
#include "wire/grpc_frame.h"
#include "scopecast/error.h"

void sc__grpc_deframer_init(sc_grpc_deframer_t *d, size_t max_message) {
  memset(d, 0, sizeof(*d));
  d->max_message = max_message;
}

void sc__grpc_deframer_free(sc_grpc_deframer_t *d) {
  sc__free(d->buf);
  d->buf = NULL;
}

/* The prefix is complete: check it and get ready for the message's bytes. */
static int start_message(sc_grpc_deframer_t *d) {
  uint32_t len = (uint32_t)d->prefix[1] << 24 | (uint32_t)d->prefix[2] << 16 | (uint32_t)d->prefix[3] << 8 |
                 d->prefix[4];
  if (d->prefix[0] != 0) /* compressed (or an unknown flag): no encoding was negotiated */
    return d->status = SC_GRPC_INTERNAL;
  if (len > d->max_message)
    return d->status = SC_GRPC_RESOURCE_EXHAUSTED;
  d->need = len;
  d->have = 0;
  return 0;
}

int sc__grpc_deframer_push(sc_grpc_deframer_t *d, const uint8_t *data, size_t len, sc_grpc_message_cb cb,
                          void *arg) {
  if (d->status != 0)
    return d->status;
  while (len > 0) {
    if (d->have_prefix < SC_GRPC_PREFIX_BYTES) {
      size_t take = SC_GRPC_PREFIX_BYTES - d->have_prefix;
      if (take > len)
        take = len;
      memcpy(d->prefix + d->have_prefix, data, take);
      d->have_prefix += take;
      data += take;
      len -= take;
      if (d->have_prefix < SC_GRPC_PREFIX_BYTES)
        return 0;
      int rc = start_message(d);
      if (rc != 0)
        return rc;
      if (d->need == 0) { /* an empty message is complete with its prefix */
        d->have_prefix = 0;
        if ((rc = cb(arg, (const uint8_t *)"", 0)) != 0)
          return rc;
        continue;
      }
    }
    if (len == 0)
      return 0; /* the prefix ended the bytes: the message's come next */
    size_t missing = d->need - d->have;
    int rc = 0;
    if (d->have == 0 && len >= missing) { /* the whole message at hand: no copy */
      rc = cb(arg, data, missing);
      data += missing;
      len -= missing;
    } else {
      if (d->buf == NULL && (d->buf = sc__malloc(d->need ? d->need : 1)) == NULL)
        return SC_ENOMEM;
      size_t take = len < missing ? len : missing;
      memcpy(d->buf + d->have, data, take);
      d->have += take;
      data += take;
      len -= take;
      if (d->have < d->need)
        return 0;
      rc = cb(arg, d->buf, d->need);
      sc__free(d->buf);
      d->buf = NULL;
    }
    d->have_prefix = 0;
    d->need = d->have = 0;
    if (rc != 0)
      return rc;
  }
  return 0;
}

bool sc__grpc_deframer_partial(const sc_grpc_deframer_t *d) { return d->have_prefix > 0; }

void sc__grpc_frame_prefix(uint8_t out[SC_GRPC_PREFIX_BYTES], uint32_t len) {
  out[0] = 0;
  out[1] = (uint8_t)(len >> 24);
  out[2] = (uint8_t)(len >> 16);
  out[3] = (uint8_t)(len >> 8);
  out[4] = (uint8_t)len;
}
