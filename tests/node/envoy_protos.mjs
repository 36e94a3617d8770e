// Where Envoy's real protos are (shipped in @grpc/grpc-js-xds under deps/) and every
// message type scopecast puts in a resource or an Any, for the Node tests that decode them.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const XDS_PKG = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));

export const ENVOY_INCLUDES = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(XDS_PKG, 'deps', d));

export const ENVOY_RESOURCE_PROTOS = [
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  'envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
];
