/* A small HTTP/1.1 server for metrics and health checks on the caller's libuv loop:
 * libmicrohttpd does the HTTP (in its external-event mode with epoll, no threads of its
 * own); its epoll descriptor is watched by a uv_poll and its timeouts by a uv_timer. A
 * route table maps exact paths to handlers. GET and HEAD only (HEAD gets the headers GET
 * would); other methods 405 with Allow, unknown paths 404. Library code: errors are
 * returned (with a message), never logged. */
#ifndef SC_OBS_HTTP_H
#define SC_OBS_HTTP_H

#include <stddef.h>
#include <uv.h>

#include "obs/metrics.h"

typedef struct sc__http_s sc__http_t;

/* What a handler answers: status, content type (a static string) and a body allocated
 * with sc__malloc (taken by the server; NULL with len 0 for none). */
typedef struct {
  unsigned status;
  const char *content_type;
  char *body;
  size_t len;
} sc__http_response_t;

/* Fills res; a non-zero return (an SC_E* code) answers 500. */
typedef int (*sc__http_handler_t)(void *arg, sc__http_response_t *res);

typedef struct {
  const char *path; /* exact match, e.g. "/metrics"; must outlive the server */
  sc__http_handler_t handler;
  void *arg;
} sc__http_route_t;

typedef enum { SC_HTTP_SERVING = 0, SC_HTTP_CLOSING } sc__http_state_t;

/* Parses HOST:PORT or [IPV6]:PORT (port 0..65535; 0 picks a free one) into a socket
 * address; SC_EINVAL with a message saying what is wrong. */
int sc__http_parse_addr(const char *spec, struct sockaddr_storage *out, char *err, size_t errlen);

/* Listens on addr (HOST:PORT, [IPV6]:PORT) and serves the routes (copied) on loop. On
 * failure err says why (e.g. "127.0.0.1:9090: address already in use"). */
int sc__http_start(uv_loop_t *loop, const char *addr, const sc__http_route_t *routes, size_t nroutes,
                   sc__http_t **out, char *err, size_t errlen);
/* The port actually bound (the one asked for, or the one the kernel picked for 0). */
unsigned sc__http_port(const sc__http_t *h);
/* Stops serving (open connections are closed) and frees the server once its handles have
 * closed; NULL is fine. */
void sc__http_close(sc__http_t *h);

/* Sets res to status and a copy of text as text/plain; SC_ENOMEM when it cannot. */
int sc__http_text(sc__http_response_t *res, unsigned status, const char *text);
/* Sets res to 200 and the Prometheus text write puts into a fresh writer (/metrics). */
int sc__http_metrics(sc__http_response_t *res, void (*write)(void *arg, sc__metrics_writer_t *w),
                     void *arg);

#endif
