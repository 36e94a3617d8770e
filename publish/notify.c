/* Commit notifications on a unix stream socket (notify.h, snapshot/FORMAT.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "store/mem.h"
#include "publish/notify.h"
#include "scopecast/error.h"

#define NOTIFY_BACKLOG 128
#define NOTIFY_DISCARD_BYTES 4096

typedef struct sub_s sub_t;

struct sub_s {
  uv_pipe_t pipe;
  sc_notify_t *owner;
  sub_t *prev, *next;
  uint64_t id;
};

struct sc_notify_s {
  uv_loop_t *loop;
  const sc_logger_t *log;
  char *path;
  dev_t dev; /* of the socket file we bound, to remove only that one */
  ino_t ino;
  bool bound;
  uv_pipe_t server;
  /* Takes a connection that cannot be served (too many subscribers, out of memory) and
   * closes it: libuv stops accepting until a pending connection is taken. */
  uv_pipe_t spare;
  bool spare_busy, spare_wanted;
  uv_signal_t sigpipe; /* a subscriber gone mid-write must give EPIPE, not kill the engine */
  bool sigpipe_active;
  sub_t *subs;
  size_t nsubs, max_subs;
  uint64_t next_id;
  uint64_t head, commit_ns;
  int open_handles;
  bool closing;
  bool refusing;      /* a refusal was logged; logged again once a subscriber is accepted */
  bool accept_failed; /* likewise for accept errors */
  char discard[NOTIFY_DISCARD_BYTES];
};

void sc__notify_encode(unsigned char out[SC_NOTIFY_NOTICE_BYTES], uint64_t head_version,
                      uint64_t commit_ns) {
  for (int i = 0; i < 8; i++) {
    out[i] = (unsigned char)(head_version >> (56 - 8 * i));
    out[8 + i] = (unsigned char)(commit_ns >> (56 - 8 * i));
  }
}

size_t sc__notify_subscribers(const sc_notify_t *n) { return n ? n->nsubs : 0; }

/* ---- closing ------------------------------------------------------------------------------ */

static void free_if_closed(sc_notify_t *n) {
  if (!n->closing || n->open_handles > 0)
    return;
  sc__free(n->path);
  sc__free(n);
}

static void handle_closed(uv_handle_t *h) {
  sc_notify_t *n = h->data;
  n->open_handles--;
  free_if_closed(n);
}

static void sub_closed(uv_handle_t *h) {
  sub_t *s = h->data;
  sc_notify_t *n = s->owner;
  sc__free(s);
  n->open_handles--;
  free_if_closed(n);
}

static void sub_close(sub_t *s) {
  sc_notify_t *n = s->owner;
  if (uv_is_closing((uv_handle_t *)&s->pipe))
    return;
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    n->subs = s->next;
  if (s->next != NULL)
    s->next->prev = s->prev;
  s->prev = s->next = NULL;
  n->nsubs--;
  uv_close((uv_handle_t *)&s->pipe, sub_closed);
}

/* Removes the socket file if it is still the one we bound (not one a later engine made). */
static void unlink_if_ours(sc_notify_t *n) {
  struct stat st;
  if (!n->bound)
    return;
  n->bound = false;
  if (lstat(n->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == n->dev &&
      st.st_ino == n->ino)
    unlink(n->path);
}

void sc__notify_close(sc_notify_t *n) {
  if (n == NULL || n->closing)
    return;
  n->closing = true;
  unlink_if_ours(n);
  while (n->subs != NULL)
    sub_close(n->subs);
  if (n->sigpipe_active) {
    n->sigpipe_active = false;
    uv_close((uv_handle_t *)&n->sigpipe, handle_closed);
  }
  /* The spare, when busy, is already closing. */
  uv_close((uv_handle_t *)&n->server, handle_closed);
}

/* ---- sending ------------------------------------------------------------------------------ */

typedef enum { SEND_OK, SEND_SKIPPED, SEND_CLOSED } send_result_t;

static send_result_t send_notice(sub_t *s, const unsigned char *notice) {
  sc_notify_t *n = s->owner;
  uv_stream_t *st = (uv_stream_t *)&s->pipe;
  /* Nothing is ever queued in libuv (uv_try_write only), but a subscriber with queued
   * bytes is behind: it gets the latest head next time instead. */
  if (uv_stream_get_write_queue_size(st) > 0)
    return SEND_SKIPPED;
  uv_buf_t b = uv_buf_init((char *)notice, SC_NOTIFY_NOTICE_BYTES);
  int rc = uv_try_write(st, &b, 1);
  if (rc == SC_NOTIFY_NOTICE_BYTES)
    return SEND_OK;
  if (rc == UV_EAGAIN || rc == 0)
    return SEND_SKIPPED; /* its socket buffer is full: nothing written, framing intact */
  if (rc > 0)
    sc__log(n->log, SC_LOG_WARN,
           "notify: subscriber %" PRIu64 " took %d of %d bytes of a notice; closing it (it "
           "reconnects)", s->id, rc, SC_NOTIFY_NOTICE_BYTES);
  else
    sc__log(n->log, SC_LOG_DEBUG, "notify: subscriber %" PRIu64 ": %s; closing it", s->id,
           uv_strerror(rc));
  sub_close(s);
  return SEND_CLOSED;
}

void sc__notify_commit(sc_notify_t *n, uint64_t head_version, uint64_t commit_ns) {
  if (n == NULL || n->closing)
    return;
  n->head = head_version;
  n->commit_ns = commit_ns;
  unsigned char notice[SC_NOTIFY_NOTICE_BYTES];
  sc__notify_encode(notice, head_version, commit_ns);
  size_t sent = 0, skipped = 0, closed = 0;
  for (sub_t *s = n->subs, *next; s != NULL; s = next) {
    next = s->next;
    switch (send_notice(s, notice)) {
    case SEND_OK: sent++; break;
    case SEND_SKIPPED: skipped++; break;
    case SEND_CLOSED: closed++; break;
    }
  }
  if (skipped > 0 || closed > 0)
    sc__log(n->log, SC_LOG_DEBUG,
           "notify: head %" PRIu64 " sent to %zu subscribers, %zu skipped (not reading), %zu "
           "closed", head_version, sent, skipped, closed);
}

/* ---- subscribers -------------------------------------------------------------------------- */

static void sub_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  sub_t *s = h->data;
  *buf = uv_buf_init(s->owner->discard, sizeof(s->owner->discard));
}

static void sub_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  (void)buf; /* whatever a subscriber sends is discarded */
  sub_t *s = st->data;
  if (nread >= 0)
    return;
  if (nread == UV_EOF)
    sc__log(s->owner->log, SC_LOG_DEBUG, "notify: subscriber %" PRIu64 " disconnected", s->id);
  else
    sc__log(s->owner->log, SC_LOG_DEBUG, "notify: subscriber %" PRIu64 ": read failed: %s",
           s->id, uv_strerror((int)nread));
  sub_close(s);
}

static void take_connection(sc_notify_t *n);

static void spare_closed(uv_handle_t *h) {
  sc_notify_t *n = h->data;
  n->spare_busy = false;
  n->open_handles--;
  if (n->closing) {
    free_if_closed(n);
    return;
  }
  if (n->spare_wanted) {
    n->spare_wanted = false;
    take_connection(n);
  }
}

/* Accepts the pending connection and closes it at once. */
static void refuse(sc_notify_t *n, const char *why) {
  if (!n->refusing)
    sc__log(n->log, SC_LOG_WARN,
           "notify: %s: refusing subscribers on %s (logged once until one is accepted)", why,
           n->path);
  n->refusing = true;
  if (n->spare_busy) {
    n->spare_wanted = true; /* libuv holds the connection until the spare is free */
    return;
  }
  uv_pipe_init(n->loop, &n->spare, 0);
  n->spare.data = n;
  n->spare_busy = true;
  n->open_handles++;
  uv_accept((uv_stream_t *)&n->server, (uv_stream_t *)&n->spare);
  uv_close((uv_handle_t *)&n->spare, spare_closed);
}

static void take_connection(sc_notify_t *n) {
  char why[96];
  if (n->nsubs >= n->max_subs) {
    snprintf(why, sizeof(why), "%zu subscribers connected, the most allowed", n->nsubs);
    refuse(n, why);
    return;
  }
  sub_t *s = sc__calloc(1, sizeof(*s));
  if (s == NULL) {
    refuse(n, "out of memory");
    return;
  }
  uv_pipe_init(n->loop, &s->pipe, 0);
  s->pipe.data = s;
  s->owner = n;
  s->id = ++n->next_id;
  s->next = n->subs;
  if (n->subs != NULL)
    n->subs->prev = s;
  n->subs = s;
  n->nsubs++;
  n->open_handles++;
  int rc = uv_accept((uv_stream_t *)&n->server, (uv_stream_t *)&s->pipe);
  if (rc == 0)
    rc = uv_read_start((uv_stream_t *)&s->pipe, sub_alloc_cb, sub_read_cb);
  if (rc != 0) {
    sc__log(n->log, SC_LOG_WARN, "notify: cannot accept a subscriber on %s: %s", n->path,
           uv_strerror(rc));
    sub_close(s);
    return;
  }
  n->refusing = n->accept_failed = false;
  sc__log(n->log, SC_LOG_DEBUG, "notify: subscriber %" PRIu64 " connected (%zu now)", s->id,
         n->nsubs);
  unsigned char notice[SC_NOTIFY_NOTICE_BYTES];
  sc__notify_encode(notice, n->head, n->commit_ns);
  send_notice(s, notice);
}

static void connection_cb(uv_stream_t *server, int status) {
  sc_notify_t *n = server->data;
  if (n->closing)
    return;
  if (status < 0) {
    if (!n->accept_failed)
      sc__log(n->log, SC_LOG_WARN, "notify: accepting on %s failed: %s", n->path,
             uv_strerror(status));
    n->accept_failed = true;
    return;
  }
  if (n->spare_busy && n->spare_wanted)
    return; /* an earlier connection waits for the spare; this one is taken after it */
  take_connection(n);
}

static void sigpipe_cb(uv_signal_t *h, int signum) {
  (void)h;
  (void)signum; /* the write that raised it returns EPIPE and closes the subscriber */
}

/* ---- listening ---------------------------------------------------------------------------- */

/* A socket file at path that nobody listens on is left by an engine that died: remove it.
 * A live socket, or anything else, stays. */
static int clear_stale_socket(const sc_notify_t *n, char *errbuf, size_t errlen) {
  struct stat st;
  if (lstat(n->path, &st) != 0) {
    if (errno == ENOENT)
      return 0;
    int err = errno;
    snprintf(errbuf, errlen, "cannot examine %s: %s", n->path, strerror(err));
    return -err;
  }
  if (!S_ISSOCK(st.st_mode)) {
    snprintf(errbuf, errlen, "%s exists and is not a socket (left alone; remove it or pick "
             "another --notify path)", n->path);
    return SC_EEXISTS;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) {
    int err = errno;
    snprintf(errbuf, errlen, "cannot probe %s: socket: %s", n->path, strerror(err));
    return -err;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0)
    fcntl(fd, F_SETFL, flags | O_NONBLOCK); /* a full backlog must not block us */
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, n->path, strlen(n->path) + 1); /* length checked by the caller */
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
  int err = rc == 0 ? 0 : errno;
  close(fd);
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
    snprintf(errbuf, errlen,
             "%s is in use: another process (an engine on the same snapshot?) listens on it",
             n->path);
    return SC_EBUSY;
  }
  if (err == ENOENT)
    return 0; /* gone meanwhile */
  if (err != ECONNREFUSED) {
    snprintf(errbuf, errlen, "cannot tell whether %s is in use: %s", n->path, strerror(err));
    return -err;
  }
  if (unlink(n->path) != 0 && errno != ENOENT) {
    err = errno;
    snprintf(errbuf, errlen, "cannot remove the stale socket %s: %s", n->path, strerror(err));
    return -err;
  }
  sc__log(n->log, SC_LOG_INFO, "notify: removed the stale socket %s (nobody listened on it)",
         n->path);
  return 0;
}

int sc__notify_new(uv_loop_t *loop, const sc_notify_opts_t *opts, sc_notify_t **out,
                  char *errbuf, size_t errlen) {
  char scratch[8];
  if (errbuf == NULL || errlen == 0) {
    errbuf = scratch;
    errlen = sizeof(scratch);
  }
  errbuf[0] = '\0';
  *out = NULL;
  if (opts->path == NULL || opts->path[0] == '\0') {
    snprintf(errbuf, errlen, "no socket path");
    return SC_EINVAL;
  }
  size_t len = strlen(opts->path);
  if (len >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
    snprintf(errbuf, errlen, "cannot listen on %s: a unix socket path has at most %zu bytes, "
             "this one %zu", opts->path, sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1,
             len);
    return UV_ENAMETOOLONG;
  }
  sc_notify_t *n = sc__calloc(1, sizeof(*n));
  if (n == NULL || (n->path = sc__malloc(len + 1)) == NULL) {
    sc__free(n);
    snprintf(errbuf, errlen, "out of memory");
    return SC_ENOMEM;
  }
  memcpy(n->path, opts->path, len + 1);
  n->loop = loop;
  n->log = opts->log;
  n->max_subs = opts->max_subscribers ? opts->max_subscribers : SC_NOTIFY_MAX_SUBSCRIBERS;
  n->head = opts->head_version;
  n->commit_ns = opts->commit_ns;
  int rc = clear_stale_socket(n, errbuf, errlen);
  if (rc != 0) {
    sc__free(n->path);
    sc__free(n);
    return rc;
  }
  uv_pipe_init(loop, &n->server, 0);
  n->server.data = n;
  n->open_handles = 1;
  rc = uv_pipe_bind(&n->server, n->path);
  if (rc != 0) {
    snprintf(errbuf, errlen, "cannot bind %s: %s", n->path, uv_strerror(rc));
    goto fail;
  }
  struct stat st;
  if (lstat(n->path, &st) == 0) {
    n->dev = st.st_dev;
    n->ino = st.st_ino;
    n->bound = true;
  }
  rc = uv_listen((uv_stream_t *)&n->server, NOTIFY_BACKLOG, connection_cb);
  if (rc != 0) {
    snprintf(errbuf, errlen, "cannot listen on %s: %s", n->path, uv_strerror(rc));
    unlink_if_ours(n);
    goto fail;
  }
  if (uv_signal_init(loop, &n->sigpipe) == 0) {
    n->sigpipe.data = n;
    n->open_handles++;
    n->sigpipe_active = true;
    if (uv_signal_start(&n->sigpipe, sigpipe_cb, SIGPIPE) == 0)
      uv_unref((uv_handle_t *)&n->sigpipe); /* it must not keep the loop running */
  }
  *out = n;
  return 0;
fail:
  n->closing = true; /* frees itself in the close callback */
  uv_close((uv_handle_t *)&n->server, handle_closed);
  return rc;
}
