/* scopecast-dump fetch: asks a running scopecast-xds frontend over gRPC ADS what a sidecar
 * receives, as Envoy asks (state of the world, or Delta): CDS first, then EDS for the EDS
 * clusters, LDS, then RDS for the route configurations the listeners name, only as far as
 * the asked type needs, every response ACKed. It prints the resources of that type as
 * `scopecast-dump resources` prints them, and with follow keeps the stream open and prints
 * each further version pushed. */
#ifndef SC_DUMP_FETCH_H
#define SC_DUMP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scopecast/config.h"

typedef struct {
  const char *server;       /* HOST:PORT, [IPV6]:PORT or unix:PATH */
  const char *node;         /* the node id TYPE~IP~POD.NAMESPACE~DOMAIN, or POD.NAMESPACE */
  const char *namespace_;   /* metadata NAMESPACE; NULL: the id's */
  const char *interception; /* metadata INTERCEPTION_MODE; NULL: REDIRECT */
  const sc_label_t *labels; /* metadata LABELS (NUL-terminated keys and values) */
  size_t nlabels;
  int type;                 /* sc_xds_type_t */
  bool delta, json, raw;
  uint64_t timeout_ms;      /* for the first answer, then for the further versions */
  unsigned follow;          /* further versions to print */
} sc_dump_fetch_opts_t;

/* Runs the fetch. The exit status: 0; 1 when it failed (said why on stderr: no
 * connection, the stream ended, a timeout, a response that does not decode); 2 when the
 * node is not one a sidecar sends (said why). */
int sc_dump_fetch(const sc_dump_fetch_opts_t *o);

#endif
