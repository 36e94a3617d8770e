/* Resources readers put together from stored parts (snapshot/FORMAT.md "Composed
 * resources"): a route configuration is its header followed by its virtual hosts, each
 * stored once by content hash. Protobuf allows a message's fields in any order and a
 * repeated field's elements to be concatenated, so composing is appending bytes. */
#ifndef SC_XDS_COMPOSE_H
#define SC_XDS_COMPOSE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const uint8_t *bytes;
  size_t len;
} sc_xds_part_t;

/* An encoded envoy.config.route.v3.RouteConfiguration named name with Istio's fields
 * (validate_clusters false, max_direct_response_body_size_bytes 1 MiB,
 * ignore_port_in_host_matching) and these encoded VirtualHosts, in order. *out is
 * malloc'd. Returns 0 or SC_ENOMEM. */
int sc__compose_routes(const char *name, const sc_xds_part_t *vhosts, size_t n, uint8_t **out,
                          size_t *len);

/* msg (an encoded message) followed by parts as elements of its repeated message field
 * `field`: how a proxy's virtualInbound gets the filter chains of the services it is a
 * target of. *out is malloc'd. */
int sc__compose_append(const uint8_t *msg, size_t len, uint32_t field, const sc_xds_part_t *parts, size_t n,
                          uint8_t **out, size_t *outlen);

#endif
