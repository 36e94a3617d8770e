/* Who a proxy is, from the Node of its first xDS request (sc_proxy_t and the Node's
 * conventions: include/scopecast/reader.h). The decoded-message form, for the frontend,
 * which has the Node decoded already within its request. */
#ifndef SC_PROXY_H
#define SC_PROXY_H

#include <stddef.h>

#include "envoy/config/core/v3/base.pb-c.h"
#include "scopecast/reader.h"

/* Reads node into out. A node scopecast cannot serve (no or malformed id, no namespace,
 * non-string labels, too many labels or addresses, an unknown interception mode) fails
 * with SC_EINVAL and a message in err: the stream ends with INVALID_ARGUMENT. */
int sc__proxy_from_node(const Envoy__Config__Core__V3__Node *node, sc_proxy_t *out, char *err, size_t errlen);

#endif
