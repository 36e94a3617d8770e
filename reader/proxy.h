/* Who a proxy is, from the Node of its first xDS request (Istio's conventions): node.id
 * "TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.DOMAIN" (TYPE sidecar or router) and the metadata
 * NAMESPACE, LABELS, INSTANCE_IPS and INTERCEPTION_MODE. This is what picks its scope
 * (the snapshot's selectors) and its per-proxy variants. */
#ifndef SC_PROXY_H
#define SC_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "envoy/config/core/v3/base.pb-c.h"
#include "scopecast/config.h"

typedef enum { SC_INTERCEPT_REDIRECT = 0, SC_INTERCEPT_TPROXY, SC_INTERCEPT_NONE } sc_interception_t;

#define SC_PROXY_MAX_LABELS 64
#define SC_PROXY_MAX_IPS 8

/* Strings borrow from the Node message: keep it alive as long as the proxy. */
typedef struct {
  bool router;                /* TYPE "router" (a gateway) rather than "sidecar" */
  sc_str_t id;                /* the whole node.id */
  sc_str_t namespace_;        /* metadata NAMESPACE, else the id's POD.NAMESPACE part */
  sc_str_t ips[SC_PROXY_MAX_IPS]; /* metadata INSTANCE_IPS, else the id's IP */
  size_t nips;
  sc_label_t labels[SC_PROXY_MAX_LABELS]; /* metadata LABELS (string values), sorted by key */
  sc_labels_t label_set;      /* points at labels */
  sc_interception_t interception;
} sc_proxy_t;

/* Reads node into out. A node scopecast cannot serve (no or malformed id, no namespace,
 * non-string labels, too many labels or addresses, an unknown interception mode) fails
 * with SC_EINVAL and a message in err: the stream ends with INVALID_ARGUMENT. */
int sc_proxy_from_node(const Envoy__Config__Core__V3__Node *node, sc_proxy_t *out, char *err, size_t errlen);

#endif
