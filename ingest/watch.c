/* Watch sources: streams of Kubernetes watch events from stdin ("-"), a file
 * ("file:PATH", followed like tail -f unless --once), a unix socket ("unix:PATH") or a
 * TCP address ("tcp:HOST:PORT"). Sockets reconnect with exponential backoff. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/framer.h"
#include "ingest/source.h"
#include "store/mem.h"

typedef enum { WATCH_STDIN, WATCH_FILE, WATCH_UNIX, WATCH_TCP } watch_kind_t;

#define WATCH_READ_CHUNK 65536
#define WATCH_FOLLOW_MS 200
#define WATCH_BACKOFF_MIN_MS 100

typedef struct {
  sc_source_t base;
  watch_kind_t kind;
  char name[600];
  char *path; /* file or socket path, or host for TCP */
  char port[8];
  sc_framer_t framer;
  /* Exactly one of these is in use, depending on the kind and on what stdin is. */
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_tty_t tty;
  } stream;
  bool stream_active;  /* initialised and not yet closed */
  bool stream_is_file; /* read with uv_fs_read instead */
  uv_connect_t connect_req;
  uv_getaddrinfo_t gai_req;
  uv_timer_t timer; /* reconnect backoff, or polling a followed file */
  uv_fs_t read_req;
  uv_file fd;
  int64_t file_offset;
  int64_t sync_offset; /* a file's size at start: read up to it, its initial state is in */
  bool read_pending;
  bool closing;
  int open_handles;
  uint64_t backoff_ms;
  uint64_t connects;
  char buf[WATCH_READ_CHUNK];
} watch_t;

static void watch_free_if_closed(watch_t *w) {
  if (!w->closing || w->open_handles > 0 || w->read_pending)
    return;
  if (w->stream_is_file && w->kind == WATCH_FILE && w->fd >= 0) {
    uv_fs_t req;
    uv_fs_close(NULL, &req, w->fd, NULL);
    uv_fs_req_cleanup(&req);
  }
  sc__framer_free(&w->framer);
  sc__free(w->path);
  sc__free(w);
}

static void handle_closed(uv_handle_t *h) {
  watch_t *w = h->data;
  w->open_handles--;
  watch_free_if_closed(w);
}

/* ---- events ---------------------------------------------------------------------------- */

static int item_cb(void *arg, const sc_parse_item_t *item) {
  watch_t *w = arg;
  sc__sink_item(w->base.sink, item);
  if (item->event == SC_EVENT_BOOKMARK && item->initial_events_end)
    sc__sink_source_synced(&w->base);
  return 0;
}

static int frame_cb(void *arg, const sc_frame_t *fr) {
  watch_t *w = arg;
  const sc__sink_t *sink = w->base.sink;
  if (fr->is_error) {
    sc__sink_rejected(sink);
    sc__log(sink->log, SC_LOG_WARN, "rejected %s:%" PRIu64 " (byte %" PRIu64 "): %s", w->name,
           fr->line, fr->offset, fr->reason);
    return 0;
  }
  sc_parse_opts_t po = sc__sink_parse_opts(sink, w->name);
  po.base_line = fr->line;
  po.base_offset = fr->offset;
  int rc = sc_parse_watch_event(fr->data, fr->len, &po, item_cb, w);
  if (rc == SC_ENOMEM)
    sc__log(sink->log, SC_LOG_ERROR, "%s: out of memory parsing the event at line %" PRIu64, w->name,
           fr->line);
  return 0;
}

static void feed(watch_t *w, const char *data, size_t n) {
  if (sc__framer_push(&w->framer, data, n, frame_cb, w) == SC_ENOMEM)
    sc__log(w->base.sink->log, SC_LOG_ERROR, "%s: out of memory framing events", w->name);
}

static void end_of_input(watch_t *w) {
  sc__framer_finish(&w->framer, frame_cb, w);
}

/* ---- sockets and pipes ------------------------------------------------------------------- */

static void start_connect(watch_t *w);

static void reconnect_timer_cb(uv_timer_t *t) { start_connect(t->data); }

static void schedule_reconnect(watch_t *w) {
  if (w->closing)
    return;
  uint64_t delay = w->backoff_ms;
  uint64_t cap = w->base.sink->opts.reconnect_max_ms;
  w->backoff_ms = w->backoff_ms * 2 > cap ? cap : w->backoff_ms * 2;
  uv_timer_start(&w->timer, reconnect_timer_cb, delay, 0);
}

static void stream_closed(uv_handle_t *h) {
  watch_t *w = h->data;
  w->open_handles--;
  w->stream_active = false;
  if (w->closing) {
    watch_free_if_closed(w);
    return;
  }
  schedule_reconnect(w);
}

static void close_stream(watch_t *w) {
  if (w->stream_active && !uv_is_closing((uv_handle_t *)&w->stream))
    uv_close((uv_handle_t *)&w->stream, stream_closed);
}

/* The stream ended or failed: --once finishes the source, otherwise we reconnect. */
static void stream_lost(watch_t *w, int status) {
  const sc__sink_t *sink = w->base.sink;
  end_of_input(w);
  sc__sink_source_synced(&w->base); /* the end of a stream is its initial state too */
  if (status != UV_EOF)
    sc__log(sink->log, SC_LOG_WARN, "%s: read failed: %s", w->name, uv_strerror(status));
  if (sink->opts.once || w->kind == WATCH_STDIN) {
    if (w->stream_active && !uv_is_closing((uv_handle_t *)&w->stream)) {
      uv_read_stop((uv_stream_t *)&w->stream);
    }
    sc__sink_source_done(&w->base, false);
    return;
  }
  sc__log(sink->log, SC_LOG_INFO, "%s: connection closed; reconnecting", w->name);
  sc__framer_reset(&w->framer);
  close_stream(w);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  watch_t *w = h->data;
  *buf = uv_buf_init(w->buf, sizeof(w->buf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  watch_t *w = s->data;
  if (n > 0)
    feed(w, buf->base, (size_t)n);
  else if (n < 0)
    stream_lost(w, (int)n);
}

static void connected_cb(uv_connect_t *req, int status) {
  watch_t *w = req->data;
  const sc__sink_t *sink = w->base.sink;
  if (w->closing)
    return;
  if (status != 0) {
    if (sink->opts.once) {
      sc__log(sink->log, SC_LOG_ERROR, "%s: cannot connect: %s", w->name, uv_strerror(status));
      sc__sink_source_done(&w->base, true);
      close_stream(w);
      return;
    }
    sc__log(sink->log, SC_LOG_WARN, "%s: cannot connect: %s; retrying in %" PRIu64 " ms", w->name,
           uv_strerror(status), w->backoff_ms);
    close_stream(w);
    return;
  }
  w->connects++;
  w->backoff_ms = WATCH_BACKOFF_MIN_MS;
  sc__log(sink->log, SC_LOG_INFO, "%s: connected", w->name);
  uv_read_start((uv_stream_t *)&w->stream, alloc_cb, read_cb);
}

static void resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  watch_t *w = req->data;
  const sc__sink_t *sink = w->base.sink;
  w->open_handles--; /* the request counted as one */
  if (w->closing) {
    uv_freeaddrinfo(res);
    watch_free_if_closed(w);
    return;
  }
  if (status != 0) {
    uv_freeaddrinfo(res);
    sc__log(sink->log, sink->opts.once ? SC_LOG_ERROR : SC_LOG_WARN, "%s: cannot resolve %s: %s",
           w->name, w->path, uv_strerror(status));
    if (sink->opts.once)
      sc__sink_source_done(&w->base, true);
    else
      schedule_reconnect(w);
    return;
  }
  uv_tcp_init(sink->loop, &w->stream.tcp);
  w->stream.tcp.data = w;
  w->stream_active = true;
  w->open_handles++;
  int rc = uv_tcp_connect(&w->connect_req, &w->stream.tcp, res->ai_addr, connected_cb);
  uv_freeaddrinfo(res);
  if (rc != 0)
    connected_cb(&w->connect_req, rc);
}

static void start_connect(watch_t *w) {
  const sc__sink_t *sink = w->base.sink;
  if (w->closing || w->stream_active)
    return;
  w->connect_req.data = w;
  if (w->kind == WATCH_UNIX) {
    uv_pipe_init(sink->loop, &w->stream.pipe, 0);
    w->stream.pipe.data = w;
    w->stream_active = true;
    w->open_handles++;
    uv_pipe_connect(&w->connect_req, &w->stream.pipe, w->path, connected_cb);
    return;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  w->gai_req.data = w;
  w->open_handles++;
  int rc = uv_getaddrinfo(sink->loop, &w->gai_req, resolved_cb, w->path, w->port, &hints);
  if (rc != 0)
    resolved_cb(&w->gai_req, rc, NULL);
}

/* ---- files (and stdin when it is a file) ---------------------------------------------------- */

static void file_read(watch_t *w);

static void follow_timer_cb(uv_timer_t *t) { file_read(t->data); }

/* Follows the name, as tail -F does: once the file read to its end is no longer the one
 * at PATH (log rotation, `mv tmp PATH`, a ConfigMap volume's ..data swap), the new one is
 * read from its start as a new stream of events. While PATH is missing or cannot be
 * opened, the old file is followed. Returns whether it switched. */
static bool file_reopen_if_replaced(watch_t *w) {
  const sc__sink_t *sink = w->base.sink;
  struct stat now, cur;
  if (stat(w->path, &now) != 0 || fstat(w->fd, &cur) != 0 ||
      (now.st_ino == cur.st_ino && now.st_dev == cur.st_dev))
    return false;
  uv_fs_t req;
  int fd = uv_fs_open(NULL, &req, w->path, O_RDONLY | O_CLOEXEC, 0, NULL);
  uv_fs_req_cleanup(&req);
  if (fd < 0) {
    sc__log(sink->log, SC_LOG_WARN, "%s: %s was replaced but cannot be opened: %s; following the old file",
           w->name, w->path, uv_strerror(fd));
    return false;
  }
  end_of_input(w); /* a last event without its newline */
  uv_fs_close(NULL, &req, w->fd, NULL);
  uv_fs_req_cleanup(&req);
  w->fd = fd;
  w->file_offset = 0;
  sc__framer_reset(&w->framer);
  sc__log(sink->log, SC_LOG_INFO, "%s: %s was replaced (a new file): reading it from the start",
         w->name, w->path);
  return true;
}

static void file_read_cb(uv_fs_t *req) {
  watch_t *w = req->data;
  const sc__sink_t *sink = w->base.sink;
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  w->read_pending = false;
  if (w->closing) {
    watch_free_if_closed(w);
    return;
  }
  if (n > 0) {
    w->file_offset += n;
    feed(w, w->buf, (size_t)n);
    if (w->sync_offset >= 0 && w->file_offset >= w->sync_offset)
      sc__sink_source_synced(&w->base);
    file_read(w);
    return;
  }
  if (n < 0) {
    sc__log(sink->log, SC_LOG_ERROR, "%s: read failed: %s", w->name, uv_strerror((int)n));
    end_of_input(w);
    sc__sink_source_done(&w->base, sink->opts.once);
    return;
  }
  /* End of file. */
  if (sink->opts.once || w->kind == WATCH_STDIN) {
    end_of_input(w);
    sc__sink_source_done(&w->base, false);
    return;
  }
  sc__sink_source_synced(&w->base);
  if (w->kind == WATCH_FILE && file_reopen_if_replaced(w)) {
    file_read(w);
    return;
  }
  struct stat st;
  if (fstat(w->fd, &st) == 0 && st.st_size < w->file_offset) {
    sc__log(sink->log, SC_LOG_INFO, "%s: file was truncated; reading it from the start", w->name);
    w->file_offset = 0;
    sc__framer_reset(&w->framer);
    file_read(w);
    return;
  }
  uv_timer_start(&w->timer, follow_timer_cb, WATCH_FOLLOW_MS, 0);
}

static void file_read(watch_t *w) {
  if (w->closing || w->read_pending)
    return;
  uv_buf_t b = uv_buf_init(w->buf, sizeof(w->buf));
  w->read_req.data = w;
  w->read_pending = true;
  /* stdin as a file is read sequentially (-1): it may be a pipe-like special file. */
  int64_t off = w->kind == WATCH_STDIN ? -1 : w->file_offset;
  int rc = uv_fs_read(w->base.sink->loop, &w->read_req, w->fd, &b, 1, off, file_read_cb);
  if (rc != 0) {
    w->read_req.result = rc;
    file_read_cb(&w->read_req);
  }
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void watch_close(sc_source_t *s) {
  watch_t *w = (watch_t *)s;
  if (w->closing)
    return;
  w->closing = true;
  if (!uv_is_closing((uv_handle_t *)&w->timer))
    uv_close((uv_handle_t *)&w->timer, handle_closed);
  if (w->stream_active && !uv_is_closing((uv_handle_t *)&w->stream))
    uv_close((uv_handle_t *)&w->stream, stream_closed);
  if (w->read_pending)
    uv_cancel((uv_req_t *)&w->read_req);
  watch_free_if_closed(w);
}

static int parse_spec(watch_t *w, const char *spec, char *err, size_t errlen) {
  const char *rest;
  if (strcmp(spec, "-") == 0) {
    w->kind = WATCH_STDIN;
    rest = "stdin";
  } else if (strncmp(spec, "file:", 5) == 0) {
    w->kind = WATCH_FILE;
    rest = spec + 5;
  } else if (strncmp(spec, "unix:", 5) == 0) {
    w->kind = WATCH_UNIX;
    rest = spec + 5;
  } else if (strncmp(spec, "tcp:", 4) == 0) {
    w->kind = WATCH_TCP;
    rest = spec + 4;
    const char *colon = strrchr(rest, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == rest || end == colon + 1 || *end != '\0' || port < 1 ||
        port > 65535) {
      snprintf(err, errlen, "--watch %s: expected tcp:HOST:PORT", spec);
      return SC_EINVAL;
    }
    snprintf(w->port, sizeof(w->port), "%ld", port);
    size_t hlen = (size_t)(colon - rest);
    if (hlen >= 2 && rest[0] == '[' && rest[hlen - 1] == ']') /* [::1]:9000 */
      rest++, hlen -= 2;
    w->path = sc__malloc(hlen + 1);
    if (w->path == NULL)
      return SC_ENOMEM;
    memcpy(w->path, rest, hlen);
    w->path[hlen] = '\0';
    return 0;
  } else {
    snprintf(err, errlen, "--watch %s: expected -, file:PATH, unix:PATH or tcp:HOST:PORT", spec);
    return SC_EINVAL;
  }
  if (*rest == '\0') {
    snprintf(err, errlen, "--watch %s: missing path", spec);
    return SC_EINVAL;
  }
  size_t n = strlen(rest);
  w->path = sc__malloc(n + 1);
  if (w->path == NULL)
    return SC_ENOMEM;
  memcpy(w->path, rest, n + 1);
  return 0;
}

int sc__watch_source_new(const sc__sink_t *sink, const char *spec) {
  watch_t *w = sc__calloc(1, sizeof(*w));
  if (w == NULL)
    return SC_ENOMEM;
  char err[700];
  int rc = parse_spec(w, spec, err, sizeof(err));
  if (rc != 0) {
    sc__log(sink->log, SC_LOG_ERROR, "%s", err);
    sc__free(w->path);
    sc__free(w);
    return rc;
  }
  snprintf(w->name, sizeof(w->name), "watch %s", spec);
  w->base.name = w->name;
  w->base.close = watch_close;
  w->fd = -1;
  w->sync_offset = -1; /* streams: a BOOKMARK ending the initial events, or their end */
  w->backoff_ms = WATCH_BACKOFF_MIN_MS;
  sc__framer_init(&w->framer, sink->opts.max_object_bytes);
  uv_timer_init(sink->loop, &w->timer);
  w->timer.data = w;
  w->open_handles = 1;
  sc__sink_add_source(sink, &w->base);

  switch (w->kind) {
  case WATCH_STDIN: {
    uv_handle_type t = uv_guess_handle(0);
    if (t == UV_NAMED_PIPE || t == UV_TCP) {
      uv_pipe_init(sink->loop, &w->stream.pipe, 0);
      uv_pipe_open(&w->stream.pipe, 0);
    } else if (t == UV_TTY) {
      uv_tty_init(sink->loop, &w->stream.tty, 0, 1);
    } else {
      w->stream_is_file = true;
      w->fd = 0;
      struct stat st;
      w->sync_offset = fstat(0, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
      if (w->sync_offset == 0)
        sc__sink_source_synced(&w->base);
      file_read(w);
      return 0;
    }
    w->stream.pipe.data = w;
    w->stream_active = true;
    w->open_handles++;
    uv_read_start((uv_stream_t *)&w->stream, alloc_cb, read_cb);
    return 0;
  }
  case WATCH_FILE: {
    uv_fs_t req;
    int fd = uv_fs_open(NULL, &req, w->path, O_RDONLY | O_CLOEXEC, 0, NULL);
    uv_fs_req_cleanup(&req);
    if (fd < 0) {
      sc__log(sink->log, SC_LOG_ERROR, "%s: cannot open %s: %s", w->name, w->path, uv_strerror(fd));
      sc__sink_source_done(&w->base, true);
      return 0;
    }
    w->fd = fd;
    w->stream_is_file = true;
    struct stat st;
    w->sync_offset = fstat(fd, &st) == 0 ? (int64_t)st.st_size : 0;
    if (w->sync_offset == 0)
      sc__sink_source_synced(&w->base);
    file_read(w);
    return 0;
  }
  case WATCH_UNIX:
  case WATCH_TCP:
    start_connect(w);
    return 0;
  }
  return 0;
}
