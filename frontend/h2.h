/* gRPC over HTTP/2 (cleartext, prior knowledge) for the xDS frontend: listeners (TCP with
 * SO_REUSEPORT so several frontends share a port, unix sockets), connections driven by
 * nghttp2 on a libuv loop, and calls: the ADS streaming methods, with gRPC framing,
 * status trailers and the HTTP/2 limits. Everything protocol-specific above messages is the
 * caller's (ads.h).
 *
 * Output is flow-controlled end to end: a call holds at most one outgoing message; bytes
 * are produced only when nghttp2 may send them (the peer's windows) and only while the
 * socket's write queue is short. The caller learns that a call can take its next message
 * from the `writable` handler, so it can always send the latest state (latest wins). */
#ifndef SC_H2_H
#define SC_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "obs/log.h"

typedef struct sc_h2_server_s sc_h2_server_t;
typedef struct sc_h2_call_s sc_h2_call_t;

typedef enum { SC_H2_SOTW = 0, SC_H2_DELTA } sc_h2_method_t;

#define SC_GRPC_OK 0
#define SC_GRPC_INVALID_ARGUMENT 3
#define SC_GRPC_UNIMPLEMENTED 12
#define SC_GRPC_UNAVAILABLE 14

typedef struct {
  size_t max_message;               /* largest request message: RESOURCE_EXHAUSTED above */
  uint32_t max_concurrent_streams;  /* advertised in SETTINGS; nghttp2 refuses more */
  uint32_t max_streams_per_second;  /* per connection (rapid reset): GOAWAY ENHANCE_YOUR_CALM above */
  uint64_t keepalive_ms;            /* server PING interval; 0: none */
  uint64_t keepalive_timeout_ms;    /* no PING ACK within it: the connection is closed */
  uint64_t max_age_ms;              /* connection age (+-10% jitter) before GOAWAY; 0: unlimited */
  uint64_t max_age_grace_ms;        /* then calls get this long before they end with 14 */
} sc_h2_limits_t;

/* What the caller does with calls. `open` returns the caller's state for the call (NULL:
 * out of memory, the call ends with RESOURCE_EXHAUSTED); it neither sends on the call nor
 * finishes it. Every opened call is `closed` exactly once, after which the call pointer is
 * gone. */
typedef struct {
  void *(*open)(void *app, sc_h2_call_t *call, sc_h2_method_t method);
  void (*message)(void *app, void *call_state, const uint8_t *msg, size_t len);
  void (*writable)(void *app, void *call_state); /* the call can take a message */
  void (*closed)(void *app, void *call_state);
} sc_h2_handlers_t;

typedef struct {
  uint64_t connections, connections_total;
  uint64_t bytes_sent;
  uint64_t queued_bytes; /* in messages not yet framed and in socket write queues */
} sc_h2_stats_t;

int sc__h2_server_new(uv_loop_t *loop, const sc_h2_limits_t *limits, const sc_h2_handlers_t *handlers, void *app,
                     const sc_logger_t *log, sc_h2_server_t **out);
/* Whether addr is a form sc__h2_server_listen takes (nothing is bound). */
int sc__h2_server_check_address(const char *addr, char *err, size_t errlen);
/* Listens on "HOST:PORT" ("[V6]:PORT") or "unix:PATH". On failure err says why. */
int sc__h2_server_listen(sc_h2_server_t *s, const char *addr, char *err, size_t errlen);
/* Graceful shutdown: stops listening, sends GOAWAY, ends every call with status (14) and
 * message, closes each connection once flushed (or after the grace), then calls done. */
void sc__h2_server_drain(sc_h2_server_t *s, int status, const char *message, void (*done)(void *arg), void *arg);
/* Frees the server; only after drain's done (or before any listen). */
void sc__h2_server_free(sc_h2_server_t *s);
void sc__h2_server_stats(const sc_h2_server_t *s, sc_h2_stats_t *out);

/* A message part: bytes the caller keeps alive until release (below) is called. */
typedef struct {
  const uint8_t *data;
  size_t len;
} sc_h2_part_t;

#define SC_H2_MAX_PARTS 4

/* Queues one gRPC message (the concatenation of parts; the 5-byte prefix is added) on
 * call. release(arg) is called once the bytes are framed or the call is gone. Returns 0,
 * SC_EBUSY while the previous message is still queued (wait for `writable`), SC_EINVAL
 * for a finished call. */
int sc__h2_call_send(sc_h2_call_t *call, const sc_h2_part_t *parts, size_t nparts, void (*release)(void *arg),
                    void *arg);
bool sc__h2_call_busy(const sc_h2_call_t *call);
/* Ends the call with a gRPC status (and message, may be NULL) after its queued message. */
void sc__h2_call_finish(sc_h2_call_t *call, int status, const char *message);
/* The peer's address, for logs ("127.0.0.1:5555", "unix"). */
const char *sc__h2_call_peer(const sc_h2_call_t *call);

#endif
