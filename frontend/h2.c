/* gRPC over HTTP/2 on libuv and nghttp2 (see h2.h). nghttp2 1.52 API (Debian 12). */
#include "store/mem.h"
#include "frontend/h2.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire/grpc_frame.h"
#include "scopecast/error.h"

#define PATH_SOTW "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
#define PATH_DELTA "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"

enum {
  WRITE_QUEUE_HIGH = 256 * 1024, /* stop framing while the socket holds this much */
  WRITE_CHUNK = 64 * 1024,       /* bytes gathered from nghttp2 per uv_write */
  RECV_WINDOW_STREAM = 1 << 20,
  RECV_WINDOW_CONNECTION = 16 << 20,
  MAX_HEADER_LIST = 16 * 1024,
  LISTEN_BACKLOG = 4096, /* a connect storm of thousands of proxies (the kernel caps it at somaxconn) */
};

typedef struct conn_s conn_t;

/* A listening or connected socket: TCP or unix. */
typedef union {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
} socket_handle_t;

/* A listener's lifecycle (listener_set_state). */
typedef enum {
  LISTENER_LISTENING = 0, /* accepting connections */
  LISTENER_CLOSING        /* the listening handle is closing (drain, or a failed listen) */
} listener_state_t;

/* The listener's reject handle, which takes a connection that cannot get its memory
 * (reject_set_state). */
typedef enum {
  REJECT_IDLE = 0,       /* free */
  REJECT_CLOSING,        /* closing the connection it accepted */
  REJECT_CLOSING_PENDING /* the same, and another connection waits for it */
} reject_state_t;

typedef struct listener_s {
  struct listener_s *next;
  sc_h2_server_t *server;
  socket_handle_t h;
  bool unix_socket;
  char *path; /* unix socket path, unlinked on close */
  char *name;
  /* A connection that cannot get its memory is accepted into this handle and closed at
   * once: left unaccepted, it would stop libuv from accepting any other. */
  socket_handle_t reject;
  reject_state_t reject_state;
  listener_state_t state;
  int open_handles;    /* the memory goes with the last */
} listener_t;

/* A call's lifecycle; call_set_state is the only place it changes. Legal transitions:
 *   HEADERS -> OPEN          the request is routed and the handler opened it
 *   HEADERS -> REFUSED       refused when routed, the handler could not open it, or the
 *                            request ended before it was routed
 *   OPEN    -> FINISHING     sc__h2_call_finish (by the handler, the request's end, a
 *                            request error, or the connection going away)
 * A call is freed in any state, when its stream closes or its connection does; the
 * handler's `closed` runs for OPEN and FINISHING calls. The client's half (its END_STREAM)
 * is apart from this, in remote_closed, as nghttp2 keeps a stream's shut flags apart
 * from its state. */
typedef enum {
  CALL_HEADERS = 0, /* the request's headers arrive; not routed yet (also when its response
                     * could not be submitted: the stream is being reset) */
  CALL_OPEN,        /* the handler's: request messages go to it, it sends responses */
  CALL_FINISHING,   /* the handler's; its status is set: the queued message, then the
                     * trailers; no more messages either way */
  CALL_REFUSED,     /* never the handler's: its response ends the stream (Trailers-Only or
                     * a plain HTTP status), or its status follows as trailers */
} call_state_t;

struct sc_h2_call_s {
  sc_h2_call_t *prev, *next; /* the connection's calls */
  conn_t *conn;
  int32_t stream_id;
  call_state_t state;
  void *user; /* the handler's state for the call, once OPEN */
  sc_h2_method_t method;
  char path[128];
  bool grpc_content_type, compressed_encoding;
  bool remote_closed;   /* the client's END_STREAM came */
  bool notify_writable; /* its message is framed: tell the handler at the end of the flush */
  int status;
  char message[160];
  sc_grpc_deframer_t deframer;
  /* The queued message: the prefix and the caller's parts, and where framing is. */
  uint8_t prefix[SC_GRPC_PREFIX_BYTES];
  sc_h2_part_t parts[SC_H2_MAX_PARTS + 1];
  size_t nparts, part, offset, pending;
  void (*release)(void *);
  void *release_arg;
};

/* A connection's lifecycle; conn_set_state is the only place it changes. Legal transitions:
 *   OPEN -> GOING_AWAY                its maximum age is reached, or the server drains
 *   OPEN, GOING_AWAY -> CLOSING       conn_close (the peer left, an error, or all is done)
 * Its memory goes when the last of its handles has closed. */
typedef enum {
  CONN_OPEN = 0,   /* serving calls */
  CONN_GOING_AWAY, /* a GOAWAY is announced: its calls end with UNAVAILABLE (after the grace
                    * for its age, at once for a drain), then the final GOAWAY */
  CONN_CLOSING,    /* its session is gone and its handles are closing: nothing is read,
                    * framed or sent any more */
} conn_state_t;

struct conn_s {
  conn_t *prev, *next;
  conn_state_t state;
  conn_t *next_flush; /* the server's connections with output to frame */
  bool flush_queued;
  sc_h2_server_t *server;
  socket_handle_t h;
  uv_timer_t keepalive, age;
  int open_handles;
  nghttp2_session *session;
  sc_h2_call_t *calls;
  char peer[64];
  size_t write_queue;
  uint8_t *outbuf; /* WRITE_CHUNK bytes, allocated on first use */
  bool flushing, reflush, in_recv; /* re-entrance: a flush (or a recv) running takes a new one */
  bool ping_outstanding;
  uint64_t ping_sent_ms;
  uint64_t window_start_ms;
  uint32_t opens_in_window;
};

/* The server's lifecycle; server_set_state is the only place it changes. Legal transitions:
 *   SERVING -> DRAINING -> DRAINED     sc__h2_server_drain, then its last connection gone
 *   SERVING -> DRAINED                 sc__h2_server_drain without connections */
typedef enum {
  SERVER_SERVING = 0, /* listening (once sc__h2_server_listen is called) and taking calls */
  SERVER_DRAINING,    /* the listeners are closed; connections go away; new calls refused */
  SERVER_DRAINED,     /* every connection is gone and drain's done has been called */
} server_state_t;

struct sc_h2_server_s {
  server_state_t state;
  uv_loop_t *loop;
  sc_h2_limits_t limits;
  sc_h2_handlers_t handlers;
  void *app;
  const sc_logger_t *log;
  listener_t *listeners;
  conn_t *conns;
  sc_h2_stats_t stats;
  char drain_message[128];
  void (*drained)(void *);
  void *drained_arg;
  uv_timer_t drain_timer;
  bool drain_timer_open;
  /* Output queued by callers is framed from an idle handle: once per connection per loop
   * turn however many calls queued, and never inside a caller's own callback. */
  uv_idle_t flusher;
  conn_t *flush_list;
};

static void conn_flush(conn_t *c);
static void conn_close(conn_t *c);

static void call_set_state(sc_h2_call_t *call, call_state_t to) {
  static const unsigned legal_from[] = {
      [CALL_HEADERS] = 0,
      [CALL_OPEN] = 1u << CALL_HEADERS,
      [CALL_FINISHING] = 1u << CALL_OPEN,
      [CALL_REFUSED] = 1u << CALL_HEADERS,
  };
  assert(legal_from[to] & (1u << call->state));
  (void)legal_from; /* NDEBUG */
  call->state = to;
}

static void conn_set_state(conn_t *c, conn_state_t to) {
  static const unsigned legal_from[] = {
      [CONN_OPEN] = 0,
      [CONN_GOING_AWAY] = 1u << CONN_OPEN,
      [CONN_CLOSING] = 1u << CONN_OPEN | 1u << CONN_GOING_AWAY,
  };
  assert(legal_from[to] & (1u << c->state));
  (void)legal_from; /* NDEBUG */
  c->state = to;
}

static void server_set_state(sc_h2_server_t *s, server_state_t to) {
  static const unsigned legal_from[] = {
      [SERVER_SERVING] = 0,
      [SERVER_DRAINING] = 1u << SERVER_SERVING,
      [SERVER_DRAINED] = 1u << SERVER_SERVING | 1u << SERVER_DRAINING,
  };
  assert(legal_from[to] & (1u << s->state));
  (void)legal_from; /* NDEBUG */
  s->state = to;
}

static void listener_set_state(listener_t *l, listener_state_t to) {
  assert(to == LISTENER_CLOSING && l->state == LISTENER_LISTENING);
  l->state = to;
}

static void reject_set_state(listener_t *l, reject_state_t to) {
  static const unsigned legal_from[] = {
      [REJECT_IDLE] = 1u << REJECT_CLOSING | 1u << REJECT_CLOSING_PENDING,
      [REJECT_CLOSING] = 1u << REJECT_IDLE,
      [REJECT_CLOSING_PENDING] = 1u << REJECT_CLOSING | 1u << REJECT_CLOSING_PENDING,
  };
  assert(legal_from[to] & (1u << l->reject_state));
  (void)legal_from; /* NDEBUG */
  l->reject_state = to;
}

/* Whether the handler has the call (it is told when the call is closed). */
static bool call_opened(const sc_h2_call_t *call) {
  return call->state == CALL_OPEN || call->state == CALL_FINISHING;
}

/* Whether the call's status is set: nothing more comes from it but trailers. */
static bool call_ending(const sc_h2_call_t *call) {
  return call->state == CALL_FINISHING || call->state == CALL_REFUSED;
}

static void on_flush_idle(uv_idle_t *idle) {
  sc_h2_server_t *s = idle->data;
  while (s->flush_list != NULL) {
    conn_t *c = s->flush_list;
    s->flush_list = c->next_flush;
    c->flush_queued = false;
    conn_flush(c);
  }
  uv_idle_stop(idle);
}

static void queue_flush(conn_t *c) {
  if (c->flushing || c->in_recv) { /* the running flush (or the one after recv) takes it */
    c->reflush = true;
    return;
  }
  if (c->flush_queued || c->state == CONN_CLOSING)
    return;
  c->flush_queued = true;
  c->next_flush = c->server->flush_list;
  c->server->flush_list = c;
  uv_idle_start(&c->server->flusher, on_flush_idle);
}

/* ---- calls ------------------------------------------------------------------------------ */

static void call_release_message(sc_h2_call_t *call) {
  if (call->pending > 0)
    call->conn->server->stats.queued_bytes -= call->pending;
  call->pending = 0;
  call->nparts = call->part = call->offset = 0;
  if (call->release != NULL) {
    void (*release)(void *) = call->release;
    call->release = NULL;
    release(call->release_arg);
  }
}

static void call_free(sc_h2_call_t *call) {
  conn_t *c = call->conn;
  sc_h2_server_t *s = c->server;
  call_release_message(call);
  if (call_opened(call))
    s->handlers.closed(s->app, call->user);
  if (call->prev)
    call->prev->next = call->next;
  else
    c->calls = call->next;
  if (call->next)
    call->next->prev = call->prev;
  sc__grpc_deframer_free(&call->deframer);
  sc__free(call);
}

int sc__h2_call_send(sc_h2_call_t *call, const sc_h2_part_t *parts, size_t nparts, void (*release)(void *arg),
                    void *arg) {
  if (call_ending(call) || nparts > SC_H2_MAX_PARTS)
    return SC_EINVAL;
  if (call->nparts > 0)
    return SC_EBUSY;
  size_t total = 0;
  for (size_t i = 0; i < nparts; i++)
    total += parts[i].len;
  if (total > UINT32_MAX)
    return SC_EINVAL;
  sc__grpc_frame_prefix(call->prefix, (uint32_t)total);
  call->parts[0] = (sc_h2_part_t){call->prefix, SC_GRPC_PREFIX_BYTES};
  memcpy(call->parts + 1, parts, nparts * sizeof(*parts));
  call->nparts = nparts + 1;
  call->part = call->offset = 0;
  call->pending = total + SC_GRPC_PREFIX_BYTES;
  call->release = release;
  call->release_arg = arg;
  sc_h2_server_t *s = call->conn->server;
  s->stats.queued_bytes += call->pending;
  nghttp2_session_resume_data(call->conn->session, call->stream_id);
  queue_flush(call->conn);
  return 0;
}

bool sc__h2_call_busy(const sc_h2_call_t *call) { return call->nparts > 0; }

const char *sc__h2_call_peer(const sc_h2_call_t *call) { return call->conn->peer; }

void sc__h2_call_finish(sc_h2_call_t *call, int status, const char *message) {
  if (call_ending(call))
    return;
  call_set_state(call, call->state == CALL_OPEN ? CALL_FINISHING : CALL_REFUSED);
  call->status = status;
  snprintf(call->message, sizeof(call->message), "%s", message ? message : "");
  nghttp2_session_resume_data(call->conn->session, call->stream_id);
  queue_flush(call->conn);
}

/* grpc-message is percent-encoded (the gRPC over HTTP/2 protocol). */
static void percent_encode(const char *in, char *out, size_t outlen) {
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < outlen; p++) {
    if (*p >= 0x20 && *p <= 0x7e && *p != '%')
      out[o++] = (char)*p;
    else
      o += (size_t)snprintf(out + o, outlen - o, "%%%02X", *p);
  }
  out[o] = 0;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

static int submit_trailers(nghttp2_session *session, sc_h2_call_t *call) {
  char status[12], message[480];
  snprintf(status, sizeof(status), "%d", call->status);
  percent_encode(call->message, message, sizeof(message));
  nghttp2_nv nv[2] = {NV("grpc-status", status), NV("grpc-message", message)};
  return nghttp2_submit_trailer(session, call->stream_id, nv, message[0] ? 2 : 1);
}

/* nghttp2 asks for a call's DATA: the queued message's bytes, then the trailers. */
static ssize_t read_data(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data) {
  (void)stream_id;
  (void)user_data;
  sc_h2_call_t *call = source->ptr;
  size_t n = 0;
  while (n < length && call->part < call->nparts) {
    const sc_h2_part_t *p = &call->parts[call->part];
    size_t take = p->len - call->offset < length - n ? p->len - call->offset : length - n;
    memcpy(buf + n, p->data + call->offset, take);
    n += take;
    call->offset += take;
    if (call->offset == p->len) {
      call->part++;
      call->offset = 0;
    }
  }
  if (n > 0) {
    call->pending -= n;
    call->conn->server->stats.queued_bytes -= n;
    call->conn->server->stats.bytes_sent += n;
    if (call->part == call->nparts) { /* all framed: the caller may queue the next */
      call->pending = 0;
      call_release_message(call);
      call->notify_writable = true;
    }
    return (ssize_t)n;
  }
  if (call_ending(call)) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    if (submit_trailers(session, call) != 0)
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
  }
  return NGHTTP2_ERR_DEFERRED;
}

/* A call the server refuses before it starts: Trailers-Only with a gRPC status, or a plain
 * HTTP status (415 for a request that is not gRPC). */
static void refuse(nghttp2_session *session, sc_h2_call_t *call, const char *http_status, int grpc_status,
                   const char *message) {
  char status[12], msg[480];
  snprintf(status, sizeof(status), "%d", grpc_status);
  percent_encode(message, msg, sizeof(msg));
  nghttp2_nv nv[4] = {NV(":status", http_status), NV("content-type", "application/grpc"),
                      NV("grpc-status", status), NV("grpc-message", msg)};
  call_set_state(call, CALL_REFUSED);
  nghttp2_submit_response(session, call->stream_id, nv, grpc_status >= 0 ? 4 : 1, NULL);
}

/* The request's headers are complete: route it. */
static void start_call(nghttp2_session *session, sc_h2_call_t *call) {
  sc_h2_server_t *s = call->conn->server;
  if (!call->grpc_content_type) {
    refuse(session, call, "415", -1, "");
    return;
  }
  if (strcmp(call->path, PATH_SOTW) == 0)
    call->method = SC_H2_SOTW;
  else if (strcmp(call->path, PATH_DELTA) == 0)
    call->method = SC_H2_DELTA;
  else {
    char msg[200];
    snprintf(msg, sizeof(msg), "unknown method %s", call->path);
    refuse(session, call, "200", SC_GRPC_UNIMPLEMENTED, msg);
    return;
  }
  if (call->compressed_encoding) {
    refuse(session, call, "200", SC_GRPC_UNIMPLEMENTED, "only the identity encoding is supported");
    return;
  }
  if (s->state != SERVER_SERVING) {
    refuse(session, call, "200", SC_GRPC_UNAVAILABLE, s->drain_message);
    return;
  }
  nghttp2_nv nv[3] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                      NV("grpc-accept-encoding", "identity")};
  nghttp2_data_provider provider = {.source.ptr = call, .read_callback = read_data};
  if (nghttp2_submit_response(session, call->stream_id, nv, 3, &provider) != 0) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_INTERNAL_ERROR);
    return;
  }
  call->user = s->handlers.open(s->app, call, call->method);
  if (call->user == NULL) {
    sc__h2_call_finish(call, SC_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  call_set_state(call, CALL_OPEN);
}

/* ---- nghttp2 callbacks ------------------------------------------------------------------ */

static uint64_t now_ms(conn_t *c) { return uv_now(c->server->loop); }

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data) {
  conn_t *c = user_data;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  /* Rapid reset (CVE-2023-44487): bound the streams a connection opens per second. */
  uint64_t now = now_ms(c);
  if (now - c->window_start_ms >= 1000) {
    c->window_start_ms = now;
    c->opens_in_window = 0;
  }
  if (++c->opens_in_window > c->server->limits.max_streams_per_second) {
    sc__log(c->server->log, SC_LOG_WARN, "%s: more than %u streams per second: closing the connection", c->peer,
           c->server->limits.max_streams_per_second);
    nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
    return 0;
  }
  sc_h2_call_t *call = sc__calloc(1, sizeof(*call));
  if (call == NULL)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
  call->conn = c;
  call->stream_id = frame->hd.stream_id;
  sc__grpc_deframer_init(&call->deframer, c->server->limits.max_message);
  call->next = c->calls;
  if (c->calls)
    c->calls->prev = call;
  c->calls = call;
  nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call);
  return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data) {
  (void)flags;
  (void)user_data;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  sc_h2_call_t *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (call == NULL)
    return 0;
  if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
    size_t n = valuelen < sizeof(call->path) - 1 ? valuelen : sizeof(call->path) - 1;
    memcpy(call->path, value, n);
    call->path[n] = 0;
  } else if (namelen == 12 && memcmp(name, "content-type", 12) == 0) {
    call->grpc_content_type = valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
                              (valuelen == 16 || value[16] == '+' || value[16] == ';');
  } else if (namelen == 13 && memcmp(name, "grpc-encoding", 13) == 0) {
    call->compressed_encoding = !(valuelen == 8 && memcmp(value, "identity", 8) == 0);
  }
  return 0;
}

static int deliver(void *arg, const uint8_t *msg, size_t len) {
  sc_h2_call_t *call = arg;
  sc_h2_server_t *s = call->conn->server;
  if (call->state == CALL_OPEN) /* the handler may have finished it at an earlier message */
    s->handlers.message(s->app, call->user, msg, len);
  return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
                         void *user_data) {
  (void)flags;
  (void)user_data;
  sc_h2_call_t *call = nghttp2_session_get_stream_user_data(session, stream_id);
  if (call == NULL || call->state != CALL_OPEN)
    return 0;
  int rc = sc__grpc_deframer_push(&call->deframer, data, len, deliver, call);
  if (rc == SC_GRPC_RESOURCE_EXHAUSTED)
    sc__h2_call_finish(call, rc, "request message larger than the limit (--max-message-size)");
  else if (rc == SC_GRPC_INTERNAL)
    sc__h2_call_finish(call, rc, "compressed message without a negotiated encoding");
  else if (rc != 0)
    sc__h2_call_finish(call, SC_GRPC_INTERNAL, "out of memory");
  return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data) {
  conn_t *c = user_data;
  if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK)) {
    c->ping_outstanding = false;
    return 0;
  }
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
    return 0;
  sc_h2_call_t *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (call == NULL)
    return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    start_call(session, call);
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !call->remote_closed) {
    call->remote_closed = true; /* the client half-closed: the call is over */
    if (sc__grpc_deframer_partial(&call->deframer))
      sc__h2_call_finish(call, SC_GRPC_INTERNAL, "the request ended inside a message");
    else
      sc__h2_call_finish(call, SC_GRPC_OK, NULL);
  }
  return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data) {
  (void)user_data;
  if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  sc_h2_call_t *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  /* Trailers before the client's END_STREAM: tell it to stop sending. */
  if (call != NULL && !call->remote_closed)
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
  return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data) {
  (void)error_code;
  (void)user_data;
  sc_h2_call_t *call = nghttp2_session_get_stream_user_data(session, stream_id);
  if (call != NULL) {
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    call_free(call);
  }
  return 0;
}

/* ---- connections ------------------------------------------------------------------------ */

typedef struct {
  uv_write_t req;
  conn_t *conn;
  size_t len;
  uint8_t data[];
} write_req_t;

static void on_written(uv_write_t *req, int status) {
  write_req_t *w = (write_req_t *)req;
  conn_t *c = w->conn;
  c->write_queue -= w->len;
  c->server->stats.queued_bytes -= w->len;
  sc__free(w);
  if (status < 0) {
    conn_close(c);
    return;
  }
  conn_flush(c);
}

/* Writes data: straight to the socket when nothing is queued before it (the common case
 * on a healthy connection: no copy), the rest through a queued write with its own copy. */
static int write_out(conn_t *c, const uint8_t *data, size_t len) {
  if (c->write_queue == 0) {
    uv_buf_t direct = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write(&c->h.stream, &direct, 1);
    if (n > 0) {
      data += n;
      len -= (size_t)n;
    } else if (n != UV_EAGAIN) {
      return SC_EIO;
    }
    if (len == 0)
      return 0;
  }
  write_req_t *w = sc__malloc(sizeof(*w) + len);
  if (w == NULL)
    return SC_ENOMEM;
  memcpy(w->data, data, len);
  w->conn = c;
  w->len = len;
  uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
  if (uv_write(&w->req, &c->h.stream, &buf, 1, on_written) != 0) {
    sc__free(w);
    return SC_EIO;
  }
  c->write_queue += len;
  c->server->stats.queued_bytes += len;
  return 0;
}

/* Tells the calls whose message was framed that they can take the next. */
static void notify_writable(conn_t *c) {
  sc_h2_server_t *s = c->server;
  for (sc_h2_call_t *call = c->calls, *next; call != NULL; call = next) {
    next = call->next;
    if (call->notify_writable) {
      call->notify_writable = false;
      if (call->state == CALL_OPEN)
        s->handlers.writable(s->app, call->user);
    }
  }
}

/* Frames what nghttp2 has to send while the socket's queue is short. */
static void conn_flush(conn_t *c) {
  if (c->state == CONN_CLOSING)
    return;
  if (c->flushing || c->in_recv) {
    c->reflush = true;
    return;
  }
  c->flushing = true;
  uint8_t *chunk = c->outbuf; /* gathers nghttp2's frames into few writes */
  size_t used = 0;
  do {
    c->reflush = false;
    while (c->write_queue < WRITE_QUEUE_HIGH && nghttp2_session_want_write(c->session)) {
      const uint8_t *data;
      ssize_t n = nghttp2_session_mem_send(c->session, &data);
      if (n < 0) {
        sc__log(c->server->log, SC_LOG_WARN, "%s: nghttp2: %s", c->peer, nghttp2_strerror((int)n));
        c->flushing = false;
        conn_close(c);
        return;
      }
      if (n == 0)
        break;
      if (used + (size_t)n > WRITE_CHUNK && used > 0) {
        if (write_out(c, chunk, used) != 0)
          goto fail;
        used = 0;
      }
      if (chunk == NULL && (chunk = c->outbuf = sc__malloc(WRITE_CHUNK)) == NULL)
        goto fail;
      if ((size_t)n > WRITE_CHUNK) {
        if (write_out(c, data, (size_t)n) != 0)
          goto fail;
        continue;
      }
      memcpy(chunk + used, data, (size_t)n);
      used += (size_t)n;
    }
    if (used > 0 && write_out(c, chunk, used) != 0)
      goto fail;
    used = 0;
    notify_writable(c);
  } while (c->reflush && c->state != CONN_CLOSING);
  c->flushing = false;
  if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session) && c->write_queue == 0)
    conn_close(c);
  return;
fail:
  c->flushing = false;
  conn_close(c);
}

static void on_handle_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  if (--c->open_handles > 0)
    return;
  sc_h2_server_t *s = c->server;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  sc__free(c->outbuf);
  sc__free(c);
  if (s->state == SERVER_DRAINING && s->conns == NULL) {
    void (*done)(void *) = s->drained;
    s->drained = NULL;
    server_set_state(s, SERVER_DRAINED);
    if (s->drain_timer_open) {
      uv_close((uv_handle_t *)&s->drain_timer, NULL);
      s->drain_timer_open = false;
    }
    done(s->drained_arg);
  }
}

static void conn_close(conn_t *c) {
  if (c->state == CONN_CLOSING)
    return;
  conn_set_state(c, CONN_CLOSING);
  sc_h2_server_t *s = c->server;
  for (conn_t **p = &s->flush_list; *p != NULL; p = &(*p)->next_flush)
    if (*p == c) {
      *p = c->next_flush;
      break;
    }
  sc__log(s->log, SC_LOG_INFO, "%s: connection closed", c->peer);
  s->stats.connections--;
  while (c->calls != NULL) /* nghttp2_session_del does not report the streams it drops */
    call_free(c->calls);
  nghttp2_session_del(c->session);
  c->session = NULL;
  uv_close(&c->h.handle, on_handle_closed);
  uv_close((uv_handle_t *)&c->keepalive, on_handle_closed);
  uv_close((uv_handle_t *)&c->age, on_handle_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = sc__malloc(suggested);
  buf->len = buf->base ? suggested : 0;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = stream->data;
  if (nread < 0) {
    sc__free(buf->base);
    conn_close(c);
    return;
  }
  if (nread > 0 && c->state != CONN_CLOSING) {
    c->in_recv = true; /* nghttp2 must not be asked to send from inside its callbacks */
    ssize_t n = nghttp2_session_mem_recv(c->session, (const uint8_t *)buf->base, (size_t)nread);
    c->in_recv = false;
    if (n < 0) {
      sc__log(c->server->log, SC_LOG_INFO, "%s: bad HTTP/2: %s", c->peer, nghttp2_strerror((int)n));
      sc__free(buf->base);
      conn_close(c);
      return;
    }
    conn_flush(c);
  }
  sc__free(buf->base);
}

static void on_keepalive(uv_timer_t *t) {
  conn_t *c = t->data;
  sc_h2_server_t *s = c->server;
  if (c->ping_outstanding && now_ms(c) - c->ping_sent_ms >= s->limits.keepalive_timeout_ms) {
    sc__log(s->log, SC_LOG_INFO, "%s: no PING ACK within %llu ms: closing", c->peer,
           (unsigned long long)s->limits.keepalive_timeout_ms);
    conn_close(c);
    return;
  }
  if (!c->ping_outstanding) {
    nghttp2_submit_ping(c->session, NGHTTP2_FLAG_NONE, NULL);
    c->ping_outstanding = true;
    c->ping_sent_ms = now_ms(c);
    conn_flush(c);
  }
}

/* Ends a connection's calls with status and sends the final GOAWAY. */
static void conn_go_away(conn_t *c, int status, const char *message) {
  for (sc_h2_call_t *call = c->calls; call != NULL; call = call->next)
    if (call->state == CALL_OPEN)
      sc__h2_call_finish(call, status, message);
  nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->session),
                        NGHTTP2_NO_ERROR, (const uint8_t *)message, strlen(message));
  conn_flush(c);
}

static void on_age_grace(uv_timer_t *t) {
  conn_t *c = t->data;
  conn_go_away(c, SC_GRPC_UNAVAILABLE, "max_age");
}

/* Connection age (gRPC A9): announce the GOAWAY, let calls end during the grace. */
static void on_age(uv_timer_t *t) {
  conn_t *c = t->data;
  sc__log(c->server->log, SC_LOG_INFO, "%s: max connection age: going away", c->peer);
  if (c->state == CONN_OPEN) /* not when the server drains */
    conn_set_state(c, CONN_GOING_AWAY);
  nghttp2_submit_shutdown_notice(c->session);
  conn_flush(c);
  uv_timer_start(&c->age, on_age_grace, c->server->limits.max_age_grace_ms, 0);
}

static int conn_start_session(conn_t *c) {
  sc_h2_server_t *s = c->server;
  nghttp2_session_callbacks *cbs;
  if (nghttp2_session_callbacks_new(&cbs) != 0)
    return SC_ENOMEM;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_option *opt;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    return SC_ENOMEM;
  }
  nghttp2_option_set_max_send_header_block_length(opt, 64 * 1024);
  int rc = nghttp2_session_server_new2(&c->session, cbs, c, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rc != 0)
    return SC_ENOMEM;
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, RECV_WINDOW_STREAM},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST},
  };
  nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, sizeof(settings) / sizeof(settings[0]));
  nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, RECV_WINDOW_CONNECTION);
  return 0;
}

static void peer_name(conn_t *c, bool unix_socket) {
  snprintf(c->peer, sizeof(c->peer), "unix");
  if (unix_socket)
    return;
  struct sockaddr_storage sa;
  int len = sizeof(sa);
  if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&sa, &len) != 0)
    return;
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa.ss_family == AF_INET) {
    uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof(ip));
    port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
  } else if (sa.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof(ip));
    port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
  }
  snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
}

static void free_listener(uv_handle_t *h);
static void reject_connection(listener_t *l);

static void on_rejected(uv_handle_t *h) {
  listener_t *l = h->data;
  bool retry = l->reject_state == REJECT_CLOSING_PENDING && l->state == LISTENER_LISTENING;
  reject_set_state(l, REJECT_IDLE);
  free_listener(h); /* the listening handle is still open when retry is set */
  if (retry)
    reject_connection(l);
}

static void reject_connection(listener_t *l) {
  if (l->reject_state != REJECT_IDLE) {
    reject_set_state(l, REJECT_CLOSING_PENDING);
    return;
  }
  if (l->unix_socket)
    uv_pipe_init(l->h.handle.loop, &l->reject.pipe, 0);
  else
    uv_tcp_init(l->h.handle.loop, &l->reject.tcp);
  l->reject.handle.data = l;
  reject_set_state(l, REJECT_CLOSING);
  l->open_handles++;
  (void)uv_accept(&l->h.stream, &l->reject.stream); /* nothing to do when it fails */
  uv_close(&l->reject.handle, on_rejected);
}

static void on_connection(uv_stream_t *server_stream, int status) {
  listener_t *l = server_stream->data;
  sc_h2_server_t *s = l->server;
  if (status < 0 || s->state != SERVER_SERVING)
    return;
  conn_t *c = sc__calloc(1, sizeof(*c));
  if (c == NULL) {
    sc__log(s->log, SC_LOG_WARN, "out of memory: connection on %s refused", l->name);
    reject_connection(l);
    return;
  }
  c->server = s;
  if (l->unix_socket)
    uv_pipe_init(s->loop, &c->h.pipe, 0);
  else
    uv_tcp_init(s->loop, &c->h.tcp);
  c->h.handle.data = c;
  uv_timer_init(s->loop, &c->keepalive);
  uv_timer_init(s->loop, &c->age);
  c->keepalive.data = c->age.data = c;
  c->open_handles = 3;
  c->next = s->conns;
  if (s->conns)
    s->conns->prev = c;
  s->conns = c;
  s->stats.connections++;
  s->stats.connections_total++;
  if (uv_accept(server_stream, &c->h.stream) != 0 || conn_start_session(c) != 0) {
    conn_close(c);
    return;
  }
  if (!l->unix_socket)
    uv_tcp_nodelay(&c->h.tcp, 1);
  peer_name(c, l->unix_socket);
  sc__log(s->log, SC_LOG_INFO, "%s: connection on %s", c->peer, l->name);
  if (s->limits.keepalive_ms > 0)
    uv_timer_start(&c->keepalive, on_keepalive, s->limits.keepalive_ms, s->limits.keepalive_ms);
  if (s->limits.max_age_ms > 0) { /* +-10% so that connections made together do not all leave together */
    uint64_t jitter = s->limits.max_age_ms / 5;
    uint64_t age = s->limits.max_age_ms - jitter / 2 + (jitter ? (uint64_t)rand() % (jitter + 1) : 0);
    uv_timer_start(&c->age, on_age, age, 0);
  }
  uv_read_start(&c->h.stream, on_alloc, on_read);
  conn_flush(c);
}

/* ---- server ----------------------------------------------------------------------------- */

int sc__h2_server_new(uv_loop_t *loop, const sc_h2_limits_t *limits, const sc_h2_handlers_t *handlers, void *app,
                     const sc_logger_t *log, sc_h2_server_t **out) {
  sc_h2_server_t *s = sc__calloc(1, sizeof(*s));
  if (s == NULL)
    return SC_ENOMEM;
  s->loop = loop;
  s->limits = *limits;
  s->handlers = *handlers;
  s->app = app;
  s->log = log;
  uv_idle_init(loop, &s->flusher);
  s->flusher.data = s;
  *out = s;
  return 0;
}

static int failf(char *err, size_t errlen, int rc, const char *addr, const char *what, int uverr) {
  snprintf(err, errlen, "cannot listen on %s: %s: %s", addr, what, uv_strerror(uverr));
  return rc;
}

static int listen_unix(sc_h2_server_t *s, listener_t *l, const char *path, char *err, size_t errlen) {
  struct stat st;
  if (lstat(path, &st) == 0) { /* a socket a dead frontend left; anything else is not ours */
    if (!S_ISSOCK(st.st_mode)) {
      snprintf(err, errlen, "cannot listen on unix:%s: exists and is not a socket", path);
      return SC_EEXISTS;
    }
    unlink(path);
  }
  l->unix_socket = true;
  uv_pipe_init(s->loop, &l->h.pipe, 0);
  int rc = uv_pipe_bind(&l->h.pipe, path);
  if (rc != 0)
    return failf(err, errlen, SC_EIO, path, "bind", rc);
  if ((l->path = sc__strdup(path)) == NULL) {
    snprintf(err, errlen, "cannot listen on unix:%s: out of memory", path);
    return SC_ENOMEM;
  }
  return 0;
}

/* "HOST:PORT" or "[V6]:PORT" -> a socket address. */
static int parse_hostport(const char *addr, struct sockaddr_storage *sa) {
  char host[64];
  const char *colon = strrchr(addr, ':');
  if (colon == NULL || colon == addr)
    return SC_EINVAL;
  const char *h = addr;
  size_t hlen = (size_t)(colon - addr);
  if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
    h++;
    hlen -= 2;
  }
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (hlen == 0 || hlen >= sizeof(host) || *end != 0 || port < 0 || port > 65535 || end == colon + 1)
    return SC_EINVAL;
  memcpy(host, h, hlen);
  host[hlen] = 0;
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)sa) == 0)
    return 0;
  if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)sa) == 0)
    return 0;
  return SC_EINVAL;
}

static int listen_tcp(sc_h2_server_t *s, listener_t *l, const char *addr, char *err, size_t errlen) {
  struct sockaddr_storage sa;
  if (parse_hostport(addr, &sa) != 0) {
    snprintf(err, errlen, "cannot listen on %s: not HOST:PORT, [IPV6]:PORT or unix:PATH (HOST an IP address)",
             addr);
    return SC_EINVAL;
  }
  int rc = uv_tcp_init_ex(s->loop, &l->h.tcp, sa.ss_family);
  if (rc != 0)
    return failf(err, errlen, SC_EIO, addr, "socket", rc);
  /* SO_REUSEPORT: several frontends share the port and the kernel spreads connections. */
  uv_os_fd_t fd;
  int one = 1;
  if ((rc = uv_fileno(&l->h.handle, &fd)) != 0 ||
      (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 && (rc = -errno) != 0))
    return failf(err, errlen, SC_EIO, addr, "SO_REUSEPORT", rc);
  if ((rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&sa, 0)) != 0)
    return failf(err, errlen, SC_EIO, addr, "bind", rc);
  return 0;
}

static void free_listener(uv_handle_t *h) {
  listener_t *l = h->data;
  if (--l->open_handles > 0)
    return;
  sc__free(l->path);
  sc__free(l->name);
  sc__free(l);
}

int sc__h2_server_check_address(const char *addr, char *err, size_t errlen) {
  struct sockaddr_storage sa;
  if (strncmp(addr, "unix:", 5) == 0 ? addr[5] != 0 : parse_hostport(addr, &sa) == 0)
    return 0;
  snprintf(err, errlen, "cannot listen on %s: not HOST:PORT, [IPV6]:PORT or unix:PATH (HOST an IP address)",
           addr);
  return SC_EINVAL;
}

int sc__h2_server_listen(sc_h2_server_t *s, const char *addr, char *err, size_t errlen) {
  listener_t *l = sc__calloc(1, sizeof(*l));
  if (l == NULL || (l->name = sc__strdup(addr)) == NULL) {
    sc__free(l);
    snprintf(err, errlen, "cannot listen on %s: out of memory", addr);
    return SC_ENOMEM;
  }
  l->server = s;
  l->open_handles = 1;
  int rc = strncmp(addr, "unix:", 5) == 0 ? listen_unix(s, l, addr + 5, err, errlen)
                                          : listen_tcp(s, l, addr, err, errlen);
  l->h.handle.data = l;
  if (rc == 0 && (rc = uv_listen(&l->h.stream, LISTEN_BACKLOG, on_connection)) != 0)
    rc = failf(err, errlen, SC_EIO, addr, "listen", rc);
  if (rc != 0) {
    listener_set_state(l, LISTENER_CLOSING);
    if (l->h.handle.type != UV_UNKNOWN_HANDLE && l->h.handle.loop != NULL)
      uv_close(&l->h.handle, free_listener);
    else
      free_listener(&l->h.handle);
    return rc;
  }
  l->next = s->listeners;
  s->listeners = l;
  return 0;
}

static void on_drain_timeout(uv_timer_t *t) {
  sc_h2_server_t *s = t->data;
  for (conn_t *c = s->conns, *next; c != NULL; c = next) {
    next = c->next;
    conn_close(c);
  }
}

void sc__h2_server_drain(sc_h2_server_t *s, int status, const char *message, void (*done)(void *arg), void *arg) {
  server_set_state(s, SERVER_DRAINING);
  snprintf(s->drain_message, sizeof(s->drain_message), "%s", message);
  s->drained = done;
  s->drained_arg = arg;
  for (listener_t *l = s->listeners, *next; l != NULL; l = next) {
    next = l->next;
    if (l->path != NULL)
      unlink(l->path);
    listener_set_state(l, LISTENER_CLOSING);
    uv_close(&l->h.handle, free_listener);
  }
  s->listeners = NULL;
  if (s->conns == NULL) {
    s->drained = NULL;
    server_set_state(s, SERVER_DRAINED);
    done(arg);
    return;
  }
  for (conn_t *c = s->conns, *next; c != NULL; c = next) {
    next = c->next;
    if (c->state == CONN_CLOSING) /* its session is gone; its handles are closing */
      continue;
    if (c->state == CONN_OPEN) /* not when its age already sent it away */
      conn_set_state(c, CONN_GOING_AWAY);
    nghttp2_submit_shutdown_notice(c->session);
    conn_go_away(c, status, message);
  }
  /* A client that never reads its GOAWAY does not hold the process. */
  uv_timer_init(s->loop, &s->drain_timer);
  s->drain_timer.data = s;
  s->drain_timer_open = true;
  uint64_t grace = s->limits.max_age_grace_ms ? s->limits.max_age_grace_ms : 5000;
  uv_timer_start(&s->drain_timer, on_drain_timeout, grace, 0);
}

static void free_server(uv_handle_t *h) { sc__free(h->data); }

/* The idle handle is closed first: the memory goes when the loop next runs. */
void sc__h2_server_free(sc_h2_server_t *s) {
  if (s != NULL)
    uv_close((uv_handle_t *)&s->flusher, free_server);
}

void sc__h2_server_stats(const sc_h2_server_t *s, sc_h2_stats_t *out) { *out = s->stats; }
