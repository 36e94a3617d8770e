/* gRPC message framing over HTTP/2 DATA (the gRPC over HTTP/2 protocol): each message is
 * a 1-byte compressed flag, a 4-byte big-endian length and the bytes. DATA frame
 * boundaries are unrelated to message boundaries, so the deframer takes a stream's bytes
 * in any pieces (split anywhere, inside the 5-byte prefix too) and calls back with
 * complete messages. No I/O; memory is bounded by the message limit.
 *
 * Errors are gRPC status codes, as the stream must end with them: a message longer than
 * the limit is RESOURCE_EXHAUSTED (8), found from its prefix before anything is buffered;
 * a compressed message is INTERNAL (13), since scopecast never negotiates an encoding. */
#ifndef SC_GRPC_FRAME_H
#define SC_GRPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_GRPC_PREFIX_BYTES 5
#define SC_GRPC_RESOURCE_EXHAUSTED 8
#define SC_GRPC_INTERNAL 13

typedef struct {
  size_t max_message;    /* largest message accepted */
  uint8_t prefix[SC_GRPC_PREFIX_BYTES];
  size_t have_prefix;    /* prefix bytes seen of the current message */
  uint8_t *buf;          /* the current message's bytes when split across pushes (owned) */
  size_t need, have;     /* its length, and bytes of it seen */
  int status;            /* 0, or the gRPC status that ended the stream */
} sc_grpc_deframer_t;

/* Called with each complete message (borrowed bytes, valid during the call). Return
 * non-zero to stop; sc__grpc_deframer_push returns that value. */
typedef int (*sc_grpc_message_cb)(void *arg, const uint8_t *msg, size_t len);

void sc__grpc_deframer_init(sc_grpc_deframer_t *d, size_t max_message);
void sc__grpc_deframer_free(sc_grpc_deframer_t *d);

/* Feeds the next bytes of a stream. Returns 0, a gRPC status (the deframer then refuses
 * everything after: the stream is over), SC_ENOMEM, or what cb returned. */
int sc__grpc_deframer_push(sc_grpc_deframer_t *d, const uint8_t *data, size_t len, sc_grpc_message_cb cb,
                          void *arg);

/* Whether the bytes fed end inside a message (a stream ending so is malformed). */
bool sc__grpc_deframer_partial(const sc_grpc_deframer_t *d);

/* The 5-byte prefix of an uncompressed message of len bytes. */
void sc__grpc_frame_prefix(uint8_t out[SC_GRPC_PREFIX_BYTES], uint32_t len);

#endif
