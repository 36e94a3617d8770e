// Outbound cases of Istio's pilot/pkg/networking/core/sidecar_simulation_test.go, ported:
// the mesh (YAML as the test gives it), the calling proxy, and each call with the result the test
// expects, in Istio's words (docs/simulation.md). A result names only the fields the test checks.
// known_difference: the item of issue 16 that explains why scopecast still differs.

const ITEM2 = 'issue 16 item 2: no protocol sniffing on auto ports (TCP chain only)';
const ITEM4 = 'issue 16 item 4: a VirtualService on an ExternalName host builds no virtual host';
const ITEM6 = 'issue 16 item 6: ALLOW_ANY_DYNAMIC_DNS not implemented';

const sidecarProxy = { namespace: 'default' };   // Istio's SetupProxy(nil): config namespace default

// TestLoop
const loop = {
  name: 'TestLoop',
  proxy: sidecarProxy,
  config: '',
  calls: [
    { name: 'direct request to outbound port', call: { port: 15001, protocol: 'tcp' },
      result: { cluster: 'BlackHoleCluster' } },
    { name: 'direct request to inbound port', call: { port: 15006, protocol: 'tcp' },
      result: { cluster: 'BlackHoleCluster' } },
  ],
};

// TestHeadlessServices
const headlessPorts = `
  - name: http
    port: 80
  - name: auto
    port: 81
  - name: tcp
    port: 82
  - name: tls
    port: 83
  - name: https
    port: 84`;
const headlessCalls = [
  { address: '1.2.3.4', port: 80, protocol: 'http', host: 'headless.default.svc.cluster.local' },
  { address: '1.2.3.4', port: 81, protocol: 'http', host: 'headless.default.svc.cluster.local' },
  { address: '1.2.3.4', port: 81, protocol: 'http', tls: 'tls', host: 'headless.default.svc.cluster.local' },
  { address: '1.2.3.4', port: 81, protocol: 'tcp', host: 'headless.default.svc.cluster.local' },
  { address: '1.2.3.4', port: 82, protocol: 'tcp', host: 'headless.default.svc.cluster.local' },
  { address: '1.2.3.4', port: 83, protocol: 'tcp', tls: 'tls', host: 'headless.default' },
  { address: '1.2.3.4', port: 84, protocol: 'http', tls: 'tls', host: 'headless.default' },
];
const headless = {
  name: 'TestHeadlessServices',
  proxy: sidecarProxy,
  config: `apiVersion: v1
kind: Service
metadata:
  name: headless
  namespace: default
spec:
  clusterIP: None
  selector:
    app: headless
  ports:${headlessPorts}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: headless
  namespace: default
  labels:
    kubernetes.io/service-name: headless
endpoints:
- addresses:
  - 1.2.3.4
ports:
${headlessPorts}
`,
  calls: headlessCalls.map((call) => ({
    name: `${call.protocol}${call.tls ? '-' + call.tls : ''}-${call.port}`,
    call,
    result: { cluster: `outbound|${call.port}||headless.default.svc.cluster.local` },
  })),
};

// TestExternalNameServices
const extPorts = headlessPorts;
const extService = `apiVersion: v1
kind: Service
metadata:
  name: alias
  namespace: default
spec:
  type: ExternalName
  externalName: concrete.default.svc.cluster.local
---
apiVersion: v1
kind: Service
metadata:
  name: concrete
  namespace: default
spec:
  clusterIP: 1.2.3.4
  ports:${extPorts}
`;
const extCalls = [
  { address: '1.2.3.4', port: 80, protocol: 'http', host: 'alias.default.svc.cluster.local' },
  { address: '1.2.3.4', port: 81, protocol: 'http', host: 'alias.default.svc.cluster.local' },
  { address: '1.2.3.4', port: 81, protocol: 'http', tls: 'tls', host: 'alias.default.svc.cluster.local' },
  { address: '1.2.3.4', port: 81, protocol: 'tcp' },
  { address: '1.2.3.4', port: 82, protocol: 'tcp' },
  { address: '1.2.3.4', port: 83, protocol: 'tcp', tls: 'tls', host: 'alias.default' },
  { address: '1.2.3.4', port: 84, protocol: 'http', tls: 'tls', host: 'alias.default' },
];
const externalName = {
  name: 'TestExternalNameServices',
  proxy: sidecarProxy,
  config: extService,
  calls: extCalls.map((call) => ({
    name: `${call.protocol}${call.tls ? '-' + call.tls : ''}-${call.port}`,
    call,
    result: { cluster: `outbound|${call.port}||concrete.default.svc.cluster.local` },
  })),
};
const externalNameHTTP = {
  name: 'TestExternalNameServices HTTP routes',
  proxy: sidecarProxy,
  config: `${extService}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: alias
  namespace: default
spec:
  hosts:
  - alias.default.svc.cluster.local
  http:
  - name: "route1"
    match:
    - uri:
        prefix: "/one"
    route:
    - destination:
        host: concrete.default.svc.cluster.local
`,
  calls: [
    { name: 'HTTP virtual service applies to alias fqdn',
      call: { address: '1.2.3.4', port: 80, protocol: 'http', host: 'alias.default.svc.cluster.local', path: '/one' },
      result: { route: 'route1', cluster: 'outbound|80||concrete.default.svc.cluster.local' }, known_difference: ITEM4 },
    { name: 'HTTP virtual service does not apply to alias without exact match',
      call: { address: '1.2.3.4', port: 80, protocol: 'http', host: 'alias.default', path: '/one' },
      result: { route: 'default', cluster: 'outbound|80||concrete.default.svc.cluster.local' } },
    { name: 'HTTP virtual service of alias does not apply to concrete',
      call: { address: '1.2.3.4', port: 80, protocol: 'http', host: 'concrete.default.svc.cluster.local', path: '/one' },
      result: { route: 'default', cluster: 'outbound|80||concrete.default.svc.cluster.local' } },
    { name: 'Auto virtual service applies to alias fqdn',
      call: { address: '1.2.3.4', port: 81, protocol: 'http', host: 'alias.default.svc.cluster.local', path: '/one' },
      result: { route: 'default', cluster: 'outbound|81||concrete.default.svc.cluster.local' }, known_difference: ITEM2 },
    { name: 'Auto virtual service does not apply to alias without exact match',
      call: { address: '1.2.3.4', port: 81, protocol: 'http', host: 'alias.default', path: '/one' },
      result: { route: 'default', cluster: 'outbound|81||concrete.default.svc.cluster.local' }, known_difference: ITEM2 },
    { name: 'Auto virtual service of alias does not apply to concrete',
      call: { address: '1.2.3.4', port: 81, protocol: 'http', host: 'concrete.default.svc.cluster.local', path: '/one' },
      result: { route: 'default', cluster: 'outbound|81||concrete.default.svc.cluster.local' }, known_difference: ITEM2 },
  ],
};
const externalNameTCP = {
  name: 'TestExternalNameServices TCP routes',
  proxy: sidecarProxy,
  config: `${extService}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: alias
  namespace: default
spec:
  hosts:
  - alias.default.svc.cluster.local
  tcp:
  - name: "route1"
    route:
    - destination:
        host: concrete.default.svc.cluster.local
        port:
          number: 80
`,
  calls: [
    { name: 'TCP virtual services do not apply',
      call: { address: '1.2.3.4', port: 82, protocol: 'tcp', path: '/one' },
      result: { cluster: 'outbound|82||concrete.default.svc.cluster.local' } },
  ],
};

// TestPassthroughTraffic: every port 80..86 x five calls x three outbound policies x VIP or not.
const passthroughCalls = [];
for (let port = 80; port < 87; port++) {
  for (const c of [
    { port, protocol: 'http', tls: 'plaintext', host: 'foo' },
    { port, protocol: 'http', tls: 'tls', host: 'foo' },
    { port, protocol: 'http', tls: 'tls', host: 'foo', alpn: 'http/1.1' },
    { port, protocol: 'tcp', tls: 'plaintext', host: 'foo' },
    { port, protocol: 'http2', tls: 'tls', host: 'foo' },
  ]) passthroughCalls.push({ name: `${c.protocol}-${c.tls}-${port}${c.alpn ? '-' + c.alpn : ''}`, call: c });
}
const passthroughPorts = `
  ports:
  - name: http
    number: 80
    protocol: HTTP
  - name: auto
    number: 81
  - name: tcp
    number: 82
    protocol: TCP
  - name: tls
    number: 83
    protocol: TLS
  - name: https
    number: 84
    protocol: HTTPS
  - name: grpc
    number: 85
    protocol: GRPC
  - name: h2
    number: 86
    protocol: HTTP2`;
const isHTTPPort = (p) => p === 80 || p === 85 || p === 86;
const isAutoPort = (p) => p === 81;
const isHTTP = (c) => (c.protocol === 'http' || c.protocol === 'http2') && (c.tls === 'plaintext' || !c.tls);
const passthrough = [];
for (const mode of ['REGISTRY_ONLY', 'ALLOW_ANY', 'ALLOW_ANY_DYNAMIC_DNS']) {
  const expectedCluster = { REGISTRY_ONLY: 'BlackHoleCluster', ALLOW_ANY: 'PassthroughCluster',
    ALLOW_ANY_DYNAMIC_DNS: 'AllowAnyDynamicDNSCluster' }[mode];
  for (const vip of [true, false]) {
    const calls = passthroughCalls.map(({ name, call }) => {
      const r = { cluster: expectedCluster };
      if (vip) {
        if (mode === 'REGISTRY_ONLY' && isHTTP(call) && isHTTPPort(call.port)) { delete r.cluster; r.virtualHost = 'block_all'; }
        if (mode === 'ALLOW_ANY' && call.protocol === 'tcp' && call.tls === 'plaintext' && !isHTTPPort(call.port)) r.cluster = 'PassthroughCluster';
        if (mode === 'ALLOW_ANY_DYNAMIC_DNS' && (call.tls !== 'plaintext' || !isHTTP(call))) r.cluster = 'PassthroughCluster';
      } else {
        if (mode === 'REGISTRY_ONLY' && isHTTP(call) && (isHTTPPort(call.port) || isAutoPort(call.port))) { delete r.cluster; r.virtualHost = 'block_all'; }
        if (mode === 'ALLOW_ANY_DYNAMIC_DNS' && (call.tls !== 'plaintext' || !isHTTP(call) || !(isHTTPPort(call.port) || isAutoPort(call.port)))) r.cluster = 'PassthroughCluster';
        // TCP without a VIP captures everything; auto too, except HTTP routed by Host.
        if (call.port === 82 || (call.port === 81 && !isHTTP(call))) delete r.cluster;
      }
      const e = { name, call, result: r };
      const kd = [];
      if (mode === 'ALLOW_ANY_DYNAMIC_DNS' && r.cluster === 'AllowAnyDynamicDNSCluster') kd.push(ITEM6);
      if (!vip && call.port === 81 && isHTTP(call)) kd.push(ITEM2);
      if (kd.length) e.known_difference = kd.join('; ');
      return e;
    });
    passthrough.push({
      name: `TestPassthroughTraffic ${mode} ${vip ? 'with VIP' : 'without VIP'}`,
      proxy: sidecarProxy,
      mesh: `outboundTrafficPolicy:\n  mode: ${mode}\n`,
      config: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: se
  namespace: default
spec:
  hosts:
  - istio.io
${vip ? '  addresses: [1.2.3.4]\n' : ''}  location: MESH_EXTERNAL
  resolution: DNS${passthroughPorts}
`,
      calls,
    });
  }
}

export default [loop, headless, externalName, externalNameHTTP, externalNameTCP, ...passthrough];
