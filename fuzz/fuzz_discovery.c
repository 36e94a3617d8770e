/* Fuzz target: what a frontend decodes from a client: DiscoveryRequest and
 * DeltaDiscoveryRequest (protobuf-c), and who the proxy is from a node they carry. */
#include <stdint.h>
#include <stdlib.h>

#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "reader/proxy.h"

static void check_node(const Envoy__Config__Core__V3__Node *node) {
  sc_proxy_t proxy;
  char err[256];
  if (node != NULL && sc__proxy_from_node(node, &proxy, err, sizeof(err)) == 0 && proxy.namespace_.len == 0)
    abort(); /* an accepted proxy always has a namespace */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Envoy__Service__Discovery__V3__DiscoveryRequest *sotw =
      envoy__service__discovery__v3__discovery_request__unpack(NULL, size, data);
  if (sotw != NULL) {
    check_node(sotw->node);
    envoy__service__discovery__v3__discovery_request__free_unpacked(sotw, NULL);
  }
  Envoy__Service__Discovery__V3__DeltaDiscoveryRequest *delta =
      envoy__service__discovery__v3__delta_discovery_request__unpack(NULL, size, data);
  if (delta != NULL) {
    check_node(delta->node);
    envoy__service__discovery__v3__delta_discovery_request__free_unpacked(delta, NULL);
  }
  return 0;
}
