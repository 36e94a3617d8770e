// One state-of-the-world ADS request and its first response, for shell tests: prints
// {"version_info", "type_url", "resources": N, "nonce"} as one JSON line and exits 0; exits
// 1 with a message on stderr when the stream ends or no response comes in time.
//
//   node xds_fetch.mjs ADDRESS NODE_ID TYPE_URL [TIMEOUT_MS]
// ADDRESS is a grpc-js target (unix:/path/xds.sock, 127.0.0.1:15010); NODE_ID an Istio
// node id (sidecar~10.0.0.1~pod.NS~NS.svc.cluster.local), which names the proxy's
// namespace and address; no labels are sent.
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { ENVOY_INCLUDES } from './envoy_protos.mjs';

const [address, nodeId, typeUrl, timeoutArg] = process.argv.slice(2);
if (!address || !nodeId || !typeUrl) {
  console.error('usage: node xds_fetch.mjs ADDRESS NODE_ID TYPE_URL [TIMEOUT_MS]');
  process.exit(2);
}
const timeoutMs = Number(timeoutArg ?? 5000);

// Resources stay as Any bytes: only the version and the count are wanted.
const pkgdef = protoLoader.loadSync(['envoy/service/discovery/v3/ads.proto'], {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: ENVOY_INCLUDES,
});
const method = pkgdef['envoy.service.discovery.v3.AggregatedDiscoveryService'].StreamAggregatedResources;

const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.enable_retries': 0 });
const call = client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
let done = false;
function end(code, message) {
  if (done) return;
  done = true;
  if (message) (code === 0 ? console.log : console.error)(message);
  clearTimeout(timer);
  call.cancel();
  client.close();
  process.exitCode = code;
}
const timer = setTimeout(() => end(1, `xds_fetch: no response within ${timeoutMs} ms`), timeoutMs);
call.on('data', (r) => end(0, JSON.stringify({
  version_info: r.version_info, type_url: r.type_url, resources: r.resources.length, nonce: r.nonce,
})));
call.on('status', (s) => end(1, `xds_fetch: the stream ended: ${s.code} ${s.details}`));
call.on('error', () => { /* reported through 'status' */ });
call.write({ node: { id: nodeId, cluster: 'xds_fetch' }, type_url: typeUrl, resource_names: [] });
