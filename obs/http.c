/* HTTP for metrics and health checks: libmicrohttpd on a libuv loop (see http.h). */
#include "obs/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/mem.h"
#include "scopecast/error.h"

#define HTTP_CONNECTION_LIMIT 64
#define HTTP_CONNECTION_TIMEOUT_S 10
#define HTTP_BACKLOG 64

struct sc__http_s {
  sc__http_state_t state;
  struct MHD_Daemon *daemon;
  uv_poll_t poll;   /* MHD's epoll descriptor */
  uv_timer_t timer; /* MHD's next timeout */
  int open_handles;
  unsigned port;
  sc__http_route_t *routes;
  size_t nroutes;
};

/* ---- addresses ------------------------------------------------------------------------- */

int sc__http_parse_addr(const char *spec, struct sockaddr_storage *out, char *err, size_t errlen) {
  char host[256];
  const char *port;
  bool bracketed = spec[0] == '[';
  if (bracketed) {
    const char *close = strchr(spec, ']');
    if (close == NULL || close[1] != ':') {
      snprintf(err, errlen, "\"%s\": expected [IPV6]:PORT", spec);
      return SC_EINVAL;
    }
    if ((size_t)(close - spec - 1) >= sizeof(host) || close == spec + 1) {
      snprintf(err, errlen, "\"%s\": the address in brackets is empty or too long", spec);
      return SC_EINVAL;
    }
    memcpy(host, spec + 1, (size_t)(close - spec - 1));
    host[close - spec - 1] = 0;
    port = close + 2;
  } else {
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec) {
      snprintf(err, errlen, "\"%s\": expected HOST:PORT or [IPV6]:PORT", spec);
      return SC_EINVAL;
    }
    if (memchr(spec, ':', (size_t)(colon - spec)) != NULL) {
      snprintf(err, errlen, "\"%s\": an IPv6 address needs brackets: [IPV6]:PORT", spec);
      return SC_EINVAL;
    }
    if ((size_t)(colon - spec) >= sizeof(host)) {
      snprintf(err, errlen, "\"%s\": host too long", spec);
      return SC_EINVAL;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    port = colon + 1;
  }
  char *end;
  errno = 0;
  unsigned long p = strtoul(port, &end, 10);
  if (port[0] < '0' || port[0] > '9' || *end != 0 || errno != 0 || p > 65535) {
    snprintf(err, errlen, "\"%s\": port \"%s\" is not a number from 0 to 65535", spec, port);
    return SC_EINVAL;
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = bracketed ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (bracketed ? AI_NUMERICHOST : 0);
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0 || res == NULL) {
    snprintf(err, errlen, "\"%s\": cannot resolve host \"%s\": %s", spec, host,
             rc != 0 ? gai_strerror(rc) : "no address");
    if (res != NULL)
      freeaddrinfo(res);
    return SC_EINVAL;
  }
  memset(out, 0, sizeof(*out));
  memcpy(out, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return 0;
}

static int listen_on(const char *spec, const struct sockaddr_storage *sa, unsigned *port, char *err,
                     size_t errlen) {
  socklen_t len = sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    snprintf(err, errlen, "%s: socket: %s", spec, strerror(errno));
    return -1;
  }
  int one = 1;
  /* SO_REUSEADDR takes over TIME_WAIT only: a port another process listens on stays
   * refused (no SO_REUSEPORT, unlike the xDS listeners). */
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (sa->ss_family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, (const struct sockaddr *)sa, len) != 0 || listen(fd, HTTP_BACKLOG) != 0) {
    int e = errno;
    snprintf(err, errlen, "%s: cannot listen: %s%s", spec, strerror(e),
             e == EADDRINUSE ? " (another process serves this port?)" : "");
    close(fd);
    return -1;
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof(bound);
  *port = 0;
  if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
  return fd;
}

/* ---- requests -------------------------------------------------------------------------- */

int sc__http_text(sc__http_response_t *res, unsigned status, const char *text) {
  size_t n = strlen(text);
  char *body = sc__malloc(n + 1);
  if (body == NULL)
    return SC_ENOMEM;
  memcpy(body, text, n + 1);
  *res = (sc__http_response_t){status, "text/plain; charset=utf-8", body, n};
  return 0;
}

int sc__http_metrics(sc__http_response_t *res, void (*write)(void *arg, sc__metrics_writer_t *w),
                     void *arg) {
  sc__metrics_writer_t w;
  sc__metrics_writer_init(&w);
  write(arg, &w);
  int rc = sc__metrics_writer_error(&w);
  size_t len = 0;
  char *text = sc__metrics_writer_take(&w, &len);
  if (text == NULL)
    return rc != 0 ? rc : SC_ENOMEM;
  *res = (sc__http_response_t){200, SC_METRICS_CONTENT_TYPE, text, len};
  return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, sc__http_response_t *res, bool allow) {
  struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(res->len, res->body, sc__free);
  if (r == NULL) {
    sc__free(res->body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
  if (allow)
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  enum MHD_Result ok = MHD_queue_response(c, res->status, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
  (void)version;
  (void)upload_data;
  (void)req_cls;
  sc__http_t *h = cls;
  sc__http_response_t res;
  *upload_data_size = 0; /* a body (of a method refused below) is not read */
  if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
    if (sc__http_text(&res, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET or HEAD\n") != 0)
      return MHD_NO;
    return reply(c, &res, true);
  }
  for (size_t i = 0; i < h->nroutes; i++) {
    if (strcmp(url, h->routes[i].path) != 0)
      continue;
    memset(&res, 0, sizeof(res));
    if (h->routes[i].handler(h->routes[i].arg, &res) != 0) {
      sc__free(res.body);
      if (sc__http_text(&res, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n") != 0)
        return MHD_NO;
    }
    if (res.content_type == NULL)
      res.content_type = "text/plain; charset=utf-8";
    return reply(c, &res, false);
  }
  if (sc__http_text(&res, MHD_HTTP_NOT_FOUND, "not found\n") != 0)
    return MHD_NO;
  return reply(c, &res, false);
}

/* ---- the loop -------------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

/* Runs MHD once and arms the timer for its next timeout. */
static void run(sc__http_t *h) {
  if (h->state != SC_HTTP_SERVING)
    return;
  MHD_run(h->daemon);
  MHD_UNSIGNED_LONG_LONG ms = 0;
  if (MHD_get_timeout(h->daemon, &ms) == MHD_YES)
    uv_timer_start(&h->timer, on_timer, (uint64_t)ms, 0);
  else
    uv_timer_stop(&h->timer);
}

static void on_timer(uv_timer_t *t) { run(t->data); }

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  run(p->data);
}

static void on_closed(uv_handle_t *handle) {
  sc__http_t *h = handle->data;
  if (--h->open_handles > 0)
    return;
  sc__free(h->routes);
  sc__free(h);
}

int sc__http_start(uv_loop_t *loop, const char *addr, const sc__http_route_t *routes, size_t nroutes,
                   sc__http_t **out, char *err, size_t errlen) {
  struct sockaddr_storage sa;
  int rc = sc__http_parse_addr(addr, &sa, err, errlen);
  if (rc != 0)
    return rc;
  sc__http_t *h = sc__calloc(1, sizeof(*h));
  if (h == NULL || (h->routes = sc__calloc(nroutes ? nroutes : 1, sizeof(*routes))) == NULL) {
    sc__free(h);
    snprintf(err, errlen, "%s: out of memory", addr);
    return SC_ENOMEM;
  }
  memcpy(h->routes, routes, nroutes * sizeof(*routes));
  h->nroutes = nroutes;
  int fd = listen_on(addr, &sa, &h->port, err, errlen);
  if (fd < 0) {
    sc__free(h->routes);
    sc__free(h);
    return SC_EIO;
  }
  /* External events with epoll: no thread of MHD's; MHD_run when its descriptor is
   * readable or its timeout expires. MHD owns fd from here on (closed by MHD_stop_daemon). */
  h->daemon = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, fd,
                               MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTION_LIMIT,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_END);
  const union MHD_DaemonInfo *info = h->daemon ? MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
  if (info == NULL || uv_poll_init(loop, &h->poll, info->epoll_fd) != 0) {
    snprintf(err, errlen, "%s: cannot start the HTTP server (libmicrohttpd)", addr);
    if (h->daemon != NULL)
      MHD_stop_daemon(h->daemon);
    else
      close(fd);
    sc__free(h->routes);
    sc__free(h);
    return SC_EIO;
  }
  uv_timer_init(loop, &h->timer);
  h->poll.data = h->timer.data = h;
  h->open_handles = 2;
  h->state = SC_HTTP_SERVING;
  uv_poll_start(&h->poll, UV_READABLE, on_poll);
  run(h);
  *out = h;
  return 0;
}

unsigned sc__http_port(const sc__http_t *h) { return h->port; }

void sc__http_close(sc__http_t *h) {
  if (h == NULL || h->state == SC_HTTP_CLOSING)
    return;
  h->state = SC_HTTP_CLOSING;
  uv_close((uv_handle_t *)&h->poll, on_closed); /* stops watching the descriptor at once */
  uv_close((uv_handle_t *)&h->timer, on_closed);
  MHD_stop_daemon(h->daemon); /* closes the listener, the connections and the epoll fd */
  h->daemon = NULL;
}
