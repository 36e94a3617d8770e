// One state-of-the-world ADS stream held open, for shell tests: asks for TYPE_URL (all
// names), prints every response as a JSON line {"version_info", "type_url", "resources": N,
// "nonce"} and answers it with an ACK, or, with "nack", the first one with a NACK (status
// 3, the last accepted version); exits 0 after COUNT responses, 1 when the stream ends or
// they do not come within TIMEOUT_MS.
//
//   node xds_watch.mjs ADDRESS NODE_ID TYPE_URL COUNT TIMEOUT_MS [nack]
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { ENVOY_INCLUDES } from './envoy_protos.mjs';

const [address, nodeId, typeUrl, countArg, timeoutArg, mode] = process.argv.slice(2);
if (!address || !nodeId || !typeUrl || !countArg || !timeoutArg) {
  console.error('usage: node xds_watch.mjs ADDRESS NODE_ID TYPE_URL COUNT TIMEOUT_MS [nack]');
  process.exit(2);
}
const want = Number(countArg);
const pkgdef = protoLoader.loadSync(['envoy/service/discovery/v3/ads.proto'], {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: ENVOY_INCLUDES,
});
const method = pkgdef['envoy.service.discovery.v3.AggregatedDiscoveryService'].StreamAggregatedResources;

const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.enable_retries': 0 });
const call = client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
let done = false, got = 0, accepted = '';
function end(code, message) {
  if (done) return;
  done = true;
  if (message) console.error(message);
  clearTimeout(timer);
  call.cancel();
  client.close();
  process.exitCode = code;
}
const timer = setTimeout(() => end(1, `xds_watch: ${got} of ${want} responses within ${timeoutArg} ms`),
  Number(timeoutArg));
call.on('data', (r) => {
  got++;
  console.log(JSON.stringify({
    version_info: r.version_info, type_url: r.type_url, resources: r.resources.length, nonce: r.nonce,
  }));
  const nack = mode === 'nack' && got === 1;
  const req = { type_url: typeUrl, resource_names: [], response_nonce: r.nonce,
    version_info: nack ? accepted : r.version_info };
  if (nack) req.error_detail = { code: 3, message: 'xds_watch: rejected on purpose' };
  else accepted = r.version_info;
  call.write(req);
  if (got >= want) setTimeout(() => end(0), 300); /* the last ACK read before the stream ends */
});
call.on('status', (s) => end(1, `xds_watch: the stream ended: ${s.code} ${s.details}`));
call.on('error', () => { /* reported through 'status' */ });
call.write({ node: { id: nodeId, cluster: 'xds_watch' }, type_url: typeUrl, resource_names: [] });
