// Unit checks of the traffic simulator (sim.mjs) on small hand-built listeners and routes, so that
// a simulator bug cannot make a ported case pass (or fail) silently. Run by sim.sh before the cases.
import assert from 'node:assert/strict';
import { Simulation, ERR, cidrContains, compareResult, evalPredicate, matchVirtualHost, extractVirtualHosts } from './sim.mjs';

let checks = 0;
function check(name, fn) {
  try {
    fn();
    checks++;
  } catch (e) {
    console.log(`FAIL unit ${name}: ${e.message}`);
    process.exitCode = 1;
  }
}

const HCM_T = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TCP_T = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const tcp = (cluster) => ({ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_T, cluster } }] });
const hcm = (route) => ({ filters: [{ name: 'envoy.filters.network.http_connection_manager',
  typed_config: { '@type': HCM_T, rds: { route_config_name: route } } }] });
const tlsInspector = { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } };
const httpInspector = { name: 'envoy.filters.listener.http_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector' } };
const listener = (name, address, port, extra) => ({ name, address: { socket_address: { address, port_value: port } }, ...extra });

const listeners = [
  listener('virtualOutbound', '0.0.0.0', 15001, {
    filter_chains: [{ name: 'loop', filter_chain_match: { destination_port: 15001 }, ...tcp('BlackHoleCluster') },
      { name: 'PassthroughFilterChain', ...tcp('PassthroughCluster') }],
  }),
  listener('10.0.0.1_80', '10.0.0.1', 80, { filter_chains: [{ name: 'exact', ...hcm('exact80') }] }),
  listener('0.0.0.0_80', '0.0.0.0', 80, { filter_chains: [{ name: 'wild', ...hcm('80') }] }),
  // Sniffed port: http inspector, an HTTP chain by ALPN and a TCP chain; TLS by server name.
  listener('0.0.0.0_81', '0.0.0.0', 81, {
    listener_filters: [tlsInspector, httpInspector],
    filter_chains: [
      { name: 'http', filter_chain_match: { transport_protocol: 'raw_buffer', application_protocols: ['http/1.1', 'h2c'] }, ...hcm('81') },
      { name: 'tcp', filter_chain_match: { transport_protocol: 'raw_buffer' }, ...tcp('outbound|81||tcp') },
      { name: 'sni-exact', filter_chain_match: { transport_protocol: 'tls', server_names: ['a.example.com'] }, ...tcp('outbound|81||a') },
      { name: 'sni-wild', filter_chain_match: { transport_protocol: 'tls', server_names: ['*.example.com'] }, ...tcp('outbound|81||wild') },
    ],
    default_filter_chain: { name: 'PassthroughFilterChain', ...tcp('PassthroughCluster') },
  }),
  // CIDR ranges: the longest prefix wins.
  listener('0.0.0.0_82', '0.0.0.0', 82, {
    filter_chains: [
      { name: 'wide', filter_chain_match: { prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 8 }] }, ...tcp('wide') },
      { name: 'narrow', filter_chain_match: { prefix_ranges: [{ address_prefix: '10.1.2.0', prefix_len: 24 }] }, ...tcp('narrow') },
      { name: 'v6', filter_chain_match: { prefix_ranges: [{ address_prefix: '1234::', prefix_len: 16 }] }, ...tcp('v6') },
    ],
  }),
  // Two chains alike: ambiguous. No default: no chain.
  listener('0.0.0.0_83', '0.0.0.0', 83, {
    filter_chains: [{ name: 'a', filter_chain_match: { destination_port: 83 }, ...tcp('a') },
      { name: 'b', filter_chain_match: { destination_port: 83 }, ...tcp('b') }],
  }),
  listener('0.0.0.0_84', '0.0.0.0', 84, {
    filter_chains: [{ name: 'only9', filter_chain_match: { destination_port: 9 }, ...tcp('x') }],
  }),
  // TLS-terminating chains: mutual TLS demanded, and plain TLS.
  listener('0.0.0.0_85', '0.0.0.0', 85, {
    listener_filters: [{ ...tlsInspector, filter_disabled: { destination_port_range: { start: 1, end: 10 } } }],
    filter_chains: [{ name: 'mtls',
      transport_socket: { name: 'tls', typed_config: { require_client_certificate: true,
        common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'default' }] } } }, ...hcm('85') }],
  }),
];

const vh = (name, domains, routes, extra = {}) => ({ name, domains, routes, ...extra });
const toC = (cluster, match = { prefix: '/' }, name = cluster) => ({ name, match, route: { cluster } });
const routes = [
  { name: '80', virtual_hosts: [
    vh('exact', ['a.example.com', 'a.example.com:80'], [
      toC('by-header', { prefix: '/', headers: [{ name: 'x-user', string_match: { exact: 'jason' } }] }),
      toC('by-absent', { prefix: '/', headers: [{ name: 'x-user', present_match: true, invert_match: true }] }, 'absent'),
      toC('by-path', { path: '/exact' }),
      toC('by-regex', { safe_regex: { regex: '/r[0-9]+' } }),
      toC('by-sep', { path_separated_prefix: '/sep' }),
      toC('by-query', { prefix: '/', query_parameters: [{ name: 'v', string_match: { exact: '2' } }] }),
      { name: 'split', match: { prefix: '/split' }, route: { weighted_clusters: { clusters: [{ name: 'x', weight: 90 }, { name: 'y', weight: 10 }] } } },
      { name: 'moved', match: { prefix: '/moved' }, redirect: { host_redirect: 'b.example.com' } },
      { name: 'gone', match: { prefix: '/gone' }, direct_response: { status: 410 } },
      toC('catch-all'),
    ]),
    vh('suffix-short', ['*.example.com'], [toC('suffix-short')]),
    vh('suffix-long', ['*.b.example.com'], [toC('suffix-long')]),
    vh('prefix', ['foo.*'], [toC('prefix')]),
    vh('secure', ['secure.example.com'], [toC('secure')], { require_tls: 'ALL' }),
    vh('allow_any', ['*'], [toC('PassthroughCluster')]),
  ] },
  { name: '81', virtual_hosts: [vh('only', ['a.example.com'], [toC('outbound|81||a-http')])] },
  { name: 'exact80', virtual_hosts: [vh('all', ['*'], [toC('exact')])] },
  { name: '85', virtual_hosts: [vh('all', ['*'], [toC('mtls-cluster')])] },
];

const sim = new Simulation({ listeners: listeners.map((resource) => ({ name: resource.name, resource })), routes: { resources: routes } });
const run = (c) => sim.run(c);

check('listener: exact address before wildcard', () => {
  assert.equal(run({ address: '10.0.0.1', port: 80, host: 'z' }).listener, '10.0.0.1_80');
  assert.equal(run({ address: '10.0.0.2', port: 80, host: 'z' }).listener, '0.0.0.0_80');
});
check('listener: unknown port falls to virtualOutbound, its chains by destination port', () => {
  assert.deepEqual(run({ port: 9000, protocol: 'tcp' }), { listener: 'virtualOutbound', filterChain: 'PassthroughFilterChain', cluster: 'PassthroughCluster' });
  assert.equal(run({ port: 15001, protocol: 'tcp' }).cluster, 'BlackHoleCluster');
});
check('listener: gateway mode has no fallback', () => {
  assert.equal(run({ port: 9000, protocol: 'tcp', callMode: 'gateway' }).error, ERR.NO_LISTENER);
});
check('listener: inbound mode wants virtualInbound', () => {
  assert.equal(run({ port: 80, callMode: 'inbound' }).error, ERR.NO_LISTENER);
});
check('vhost: exact, longest suffix, prefix, then *', () => {
  assert.equal(run({ port: 80, host: 'a.example.com' }).virtualHost, 'exact');
  assert.equal(run({ port: 80, host: 'A.Example.com' }).virtualHost, 'exact');
  assert.equal(run({ port: 80, host: 'x.b.example.com' }).virtualHost, 'suffix-long');
  assert.equal(run({ port: 80, host: 'x.example.com' }).virtualHost, 'suffix-short');
  assert.equal(run({ port: 80, host: 'foo.bar' }).virtualHost, 'prefix');
  assert.equal(run({ port: 80, host: 'other' }).virtualHost, 'allow_any');
  assert.equal(matchVirtualHost({ virtual_hosts: [vh('x', ['a'], [])] }, 'b'), null);
  assert.equal(matchVirtualHost({ ignore_port_in_host_matching: true, virtual_hosts: [vh('x', ['a'], [])] }, 'a:99').name, 'x');
});
check('http: route config name and cluster', () => {
  assert.deepEqual(run({ port: 80, host: 'a.example.com', path: '/x' }),
    { listener: '0.0.0.0_80', filterChain: 'wild', routeConfig: '80', virtualHost: 'exact', route: 'absent', cluster: 'by-absent' });
});
check('routes: headers, path, regex, separated prefix, query, order', () => {
  const h = { 'x-user': 'jason' };
  assert.equal(run({ port: 80, host: 'a.example.com', headers: h }).cluster, 'by-header');
  assert.equal(run({ port: 80, host: 'a.example.com', headers: { 'X-User': 'jason' } }).cluster, 'by-header');
  assert.equal(run({ port: 80, host: 'a.example.com', headers: { 'x-user': 'bob' }, path: '/exact' }).cluster, 'by-path');
  assert.equal(run({ port: 80, host: 'a.example.com', headers: { 'x-user': 'bob' }, path: '/exact/no' }).cluster, 'catch-all');
  assert.equal(run({ port: 80, host: 'a.example.com', headers: { 'x-user': 'bob' }, path: '/r12' }).cluster, 'by-regex');
  assert.equal(run({ port: 80, host: 'a.example.com', headers: { 'x-user': 'bob' }, path: '/r12x' }).cluster, 'catch-all');
  assert.equal(run({ port: 80, host: 'a.example.com', headers: { 'x-user': 'bob' }, path: '/sep/a' }).cluster, 'by-sep');
  assert.equal(run({ port: 80, host: 'a.example.com', headers: { 'x-user': 'bob' }, path: '/separate' }).cluster, 'catch-all');
  assert.equal(run({ port: 80, host: 'a.example.com', headers: { 'x-user': 'bob' }, path: '/q?v=2' }).cluster, 'by-query');
});
check('routes: weighted clusters, redirect, direct response', () => {
  const base = { port: 80, host: 'a.example.com', headers: { 'x-user': 'bob' } };
  assert.deepEqual(run({ ...base, path: '/split' }).weightedClusters, [{ name: 'x', weight: 90 }, { name: 'y', weight: 10 }]);
  assert.equal(run({ ...base, path: '/split' }).cluster, undefined);
  assert.deepEqual(run({ ...base, path: '/moved' }).redirect, { host_redirect: 'b.example.com' });
  assert.equal(run({ ...base, path: '/gone' }).directResponse, 410);
});
check('errors: TLS redirect, TCP to HCM, TLS to HCM without termination', () => {
  assert.equal(run({ port: 80, host: 'secure.example.com' }).error, ERR.TLS_REDIRECT);
  assert.equal(run({ port: 80, protocol: 'tcp' }).error, ERR.PROTOCOL);
  assert.equal(run({ port: 80, tls: 'tls', host: 'a.example.com' }).error, ERR.PROTOCOL);
  assert.equal(run({ port: 80, alpn: 'h2' }).error, ERR.INVALID_CALL);
});
check('sniffing: HTTP by the http inspector\'s ALPN, else TCP', () => {
  assert.equal(run({ port: 81, host: 'a.example.com' }).filterChain, 'http');
  assert.equal(run({ port: 81, host: 'a.example.com' }).cluster, 'outbound|81||a-http');
  assert.equal(run({ port: 81, protocol: 'http2', host: 'a.example.com' }).filterChain, 'http');
  assert.equal(run({ port: 81, protocol: 'tcp' }).cluster, 'outbound|81||tcp');
});
check('server names: exact beats wildcard; no match goes to the default chain', () => {
  assert.equal(run({ port: 81, tls: 'tls', protocol: 'tcp', sni: 'a.example.com' }).cluster, 'outbound|81||a');
  assert.equal(run({ port: 81, tls: 'tls', protocol: 'tcp', sni: 'b.example.com' }).cluster, 'outbound|81||wild');
  assert.deepEqual(run({ port: 81, tls: 'tls', protocol: 'tcp', sni: 'other.org' }),
    { listener: '0.0.0.0_81', filterChain: 'PassthroughFilterChain', cluster: 'PassthroughCluster' });
});
check('prefix ranges: longest prefix, IPv6, none', () => {
  assert.equal(run({ port: 82, protocol: 'tcp', address: '10.1.2.3' }).cluster, 'narrow');
  assert.equal(run({ port: 82, protocol: 'tcp', address: '10.9.9.9' }).cluster, 'wide');
  assert.equal(run({ port: 82, protocol: 'tcp', address: '1234:1f1::1' }).cluster, 'v6');
  assert.equal(run({ port: 82, protocol: 'tcp', address: '11.0.0.1' }).error, ERR.NO_FILTER_CHAIN);
  assert.equal(cidrContains('1234:1f1:123:123:f816:3eff:febf:57ce', 128, '1234:1f1:123:123:f816:3eff:febf:57ce'), 128);
  assert.equal(cidrContains('0.0.0.0', 0, '8.8.8.8'), 0);
  assert.equal(cidrContains('10.0.0.0', 8, '1234::1'), -1);
});
check('filter chains: ambiguity and no match', () => {
  assert.equal(run({ port: 83, protocol: 'tcp' }).error, ERR.MULTIPLE_FILTER_CHAIN);
  assert.equal(run({ port: 84, protocol: 'tcp' }).error, ERR.NO_FILTER_CHAIN);
});
check('TLS termination: plaintext, TLS and mutual TLS', () => {
  assert.equal(run({ port: 85 }).error, ERR.TLS);
  assert.equal(run({ port: 85, tls: 'tls', host: 'x' }).error, ERR.MTLS);
  assert.equal(run({ port: 85, tls: 'mtls', host: 'x' }).cluster, 'mtls-cluster');
});
check('listener filter predicates', () => {
  assert.equal(evalPredicate({ destination_port_range: { start: 1, end: 10 } }, 5), true);
  assert.equal(evalPredicate({ destination_port_range: { start: 1, end: 10 } }, 10), false);
  assert.equal(evalPredicate({ not_match: { destination_port_range: { start: 1, end: 10 } } }, 10), true);
  assert.equal(evalPredicate({ or_match: { rules: [{ destination_port_range: { start: 1, end: 2 } }, { destination_port_range: { start: 5, end: 6 } }] } }, 5), true);
  // A disabled TLS inspector leaves the transport protocol raw_buffer: the tls chain is out.
  const s = new Simulation({ listeners: [listener('0.0.0.0_5', '0.0.0.0', 5, {
    listener_filters: [{ ...tlsInspector, filter_disabled: { destination_port_range: { start: 5, end: 6 } } }],
    filter_chains: [{ name: 't', filter_chain_match: { transport_protocol: 'tls' }, ...tcp('t') },
      { name: 'r', filter_chain_match: { transport_protocol: 'raw_buffer' }, ...tcp('r') }] })] });
  assert.equal(s.run({ port: 5, tls: 'tls', protocol: 'tcp', sni: 'x' }).cluster, 'r');
});
check('compareResult: error always, other fields where given', () => {
  assert.deepEqual(compareResult({ cluster: 'a', listener: 'l' }, { cluster: 'a' }), []);
  assert.equal(compareResult({ cluster: 'a' }, { cluster: 'b' }).length, 1);
  assert.equal(compareResult({ error: ERR.NO_ROUTE }, {}).length, 1);
  assert.deepEqual(compareResult({ error: ERR.NO_ROUTE }, { error: ERR.NO_ROUTE }), []);
  assert.equal(compareResult({ cluster: 'a', listener: 'l' }, { cluster: 'a', strict: true }).length, 1);
});
check('extractVirtualHosts', () => {
  assert.deepEqual(extractVirtualHosts(routes[1]), { 'a.example.com': ['outbound|81||a-http'] });
  assert.equal(sim.rdsNames().has('80'), true);
  assert.equal(sim.rdsNames().has('nope'), false);
});

console.log(`simulator unit checks: ${checks} passed${process.exitCode ? ', some FAILED' : ''}`);
