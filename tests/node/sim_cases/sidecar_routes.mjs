// Istio's TestSidecarRoutes (pilot/pkg/networking/core/sidecar_simulation_test.go), the
// "virtualservice" variant, ported: which clusters the routes of each domain of the route
// configuration "80" or "8080" lead to (Istio's xdstest.ExtractVirtualHosts), null meaning no
// such domain (or no cluster route). The mesh is built from the test's vsArgs/scArgs templates.

const knownServices = `apiVersion: v1
kind: Service
metadata:
  name: known
  namespace: default
spec:
  clusterIP: 2.0.0.0
  ports:
  - port: 80
    name: http
  - port: 8080
    name: http
---
apiVersion: v1
kind: Service
metadata:
  name: alt-known
  namespace: default
spec:
  clusterIP: 2.0.0.1
  ports:
  - port: 80
    name: http
  - port: 8080
    name: http
---
apiVersion: v1
kind: Service
metadata:
  name: not-default
  namespace: not-default
spec:
  clusterIP: 2.0.0.2
  ports:
  - port: 80
    name: http
  - port: 8080
    name: http
`;

const TimeOlder = '2019-01-01T00:00:00Z';
const TimeBase = '2020-01-01T00:00:00Z';
const TimeNewer = '2021-01-01T00:00:00Z';

// vsArgs.Config(t, "virtualservice")
function vs({ ns, match = '', matches, dest, port, portMatch, time = TimeBase }) {
  const hosts = matches || [match];
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: "${ns}${match.replaceAll('*', 'wild')}${dest}"
  namespace: ${ns}
  creationTimestamp: "${time}"
spec:
  hosts:
${hosts.map((h) => `  - "${h}"`).join('\n')}
  http:
  - route:
    - destination:
        host: ${dest}
${port ? `        port:\n          number: ${port}\n` : ''}${portMatch ? `    match:\n    - port: ${portMatch}\n` : ''}`;
}

// scArgs.Config
function sc({ ns, egress }) {
  return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: "${ns}"
  namespace: "${ns}"
spec:
  egress:
  - hosts:
${egress.map((h) => `    - "${h}"`).join('\n')}
`;
}

const cases = [
  { name: 'simple port 80', cfg: [vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'alt-known.default.svc.cluster.local' })],
    proxy: 'default', routeName: '80',
    expected: { 'known.default.svc.cluster.local': ['outbound|80||alt-known.default.svc.cluster.local'] } },
  { name: 'simple port 8080', cfg: [vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'alt-known.default.svc.cluster.local' })],
    proxy: 'default', routeName: '8080',
    expected: { 'known.default.svc.cluster.local': ['outbound|8080||alt-known.default.svc.cluster.local'] } },
  { name: 'unknown port 80', cfg: [vs({ ns: 'default', match: 'foo.default.svc.cluster.local', dest: 'foo.default.svc.cluster.local' })],
    proxy: 'default', routeName: '80',
    expected: { 'foo.default.svc.cluster.local': ['outbound|80||foo.default.svc.cluster.local'] } },
  { name: 'unknown port 8080', cfg: [vs({ ns: 'default', match: 'foo.default.svc.cluster.local', dest: 'foo.default.svc.cluster.local' })],
    proxy: 'default', routeName: '8080',
    expected: { 'foo.default.svc.cluster.local': null } },
  { name: 'unknown port 8080 match 8080', cfg: [vs({ ns: 'default', match: 'foo.default.svc.cluster.local', dest: 'foo.default.svc.cluster.local', portMatch: 8080 })],
    proxy: 'default', routeName: '8080',
    expected: { 'foo.default.svc.cluster.local': null } },
  { name: 'unknown port 8080 dest 8080', cfg: [vs({ ns: 'default', match: 'foo.default.svc.cluster.local', dest: 'foo.default.svc.cluster.local', port: 8080 })],
    proxy: 'default', routeName: '8080',
    expected: { 'foo.default.svc.cluster.local': null } },
  { name: 'producer rule port 80', cfg: [vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'alt-known.default.svc.cluster.local' })],
    proxy: 'not-default', routeName: '80',
    expected: { 'known.default.svc.cluster.local': ['outbound|80||alt-known.default.svc.cluster.local'] } },
  { name: 'producer rule port 8080', cfg: [vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'alt-known.default.svc.cluster.local' })],
    proxy: 'not-default', routeName: '8080',
    expected: { 'known.default.svc.cluster.local': ['outbound|8080||alt-known.default.svc.cluster.local'] } },
  { name: 'consumer rule port 80', cfg: [vs({ ns: 'not-default', match: 'known.default.svc.cluster.local', dest: 'alt-known.default.svc.cluster.local' })],
    proxy: 'not-default', routeName: '80',
    expected: { 'known.default.svc.cluster.local': ['outbound|80||alt-known.default.svc.cluster.local'] } },
  { name: 'consumer rule port 8080', cfg: [vs({ ns: 'not-default', match: 'known.default.svc.cluster.local', dest: 'alt-known.default.svc.cluster.local' })],
    proxy: 'not-default', routeName: '8080',
    expected: { 'known.default.svc.cluster.local': ['outbound|8080||alt-known.default.svc.cluster.local'] } },
  { name: 'arbitrary rule port 80', cfg: [vs({ ns: 'arbitrary', match: 'known.default.svc.cluster.local', dest: 'alt-known.default.svc.cluster.local' })],
    proxy: 'not-default', routeName: '80',
    expected: { 'known.default.svc.cluster.local': ['outbound|80||alt-known.default.svc.cluster.local'] } },
  { name: 'arbitrary rule port 8080', cfg: [vs({ ns: 'arbitrary', match: 'known.default.svc.cluster.local', dest: 'alt-known.default.svc.cluster.local' })],
    proxy: 'not-default', routeName: '8080',
    expected: { 'known.default.svc.cluster.local': ['outbound|8080||alt-known.default.svc.cluster.local'] } },
  { name: 'multiple rules 80', cfg: [
      vs({ ns: 'arbitrary', match: 'known.default.svc.cluster.local', dest: 'arbitrary.example.com', time: TimeOlder }),
      vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'default.example.com', time: TimeBase }),
      vs({ ns: 'not-default', match: 'known.default.svc.cluster.local', dest: 'not-default.example.com', time: TimeNewer })],
    proxy: 'not-default', routeName: '80',
    expected: { 'known.default.svc.cluster.local': ['outbound|80||arbitrary.example.com'] } },
  { name: 'multiple rules 8080', cfg: [
      vs({ ns: 'arbitrary', match: 'known.default.svc.cluster.local', dest: 'arbitrary.example.com', time: TimeOlder }),
      vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'default.example.com', time: TimeBase }),
      vs({ ns: 'not-default', match: 'known.default.svc.cluster.local', dest: 'not-default.example.com', time: TimeNewer })],
    proxy: 'not-default', routeName: '8080',
    expected: { 'known.default.svc.cluster.local': ['outbound|8080||arbitrary.example.com'] } },
  { name: 'wildcard random', cfg: [vs({ ns: 'default', match: '*.unknown.example.com', dest: 'arbitrary.example.com' })],
    proxy: 'default', routeName: '80',
    expected: {
      'alt-known.default.svc.cluster.local': ['outbound|80||alt-known.default.svc.cluster.local'],
      'known.default.svc.cluster.local': ['outbound|80||known.default.svc.cluster.local'],
      '*.unknown.example.com': ['outbound|80||arbitrary.example.com'] } },
  { name: 'wildcard match with sidecar', cfg: [
      vs({ ns: 'default', match: '*.cluster.local', dest: 'arbitrary.example.com' }),
      sc({ ns: 'default', egress: ['*/*.cluster.local'] })],
    proxy: 'default', routeName: '80',
    expected: {
      'alt-known.default.svc.cluster.local': ['outbound|80||arbitrary.example.com'],
      'known.default.svc.cluster.local': ['outbound|80||arbitrary.example.com'],
      '*.cluster.local': null } },
  { name: 'wildcard first then explicit', cfg: [
      vs({ ns: 'default', match: '*.cluster.local', dest: 'wild.example.com', time: TimeOlder }),
      vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'explicit.example.com', time: TimeNewer })],
    proxy: 'default', routeName: '80',
    expected: {
      'alt-known.default.svc.cluster.local': ['outbound|80||wild.example.com'],
      'known.default.svc.cluster.local': ['outbound|80||explicit.example.com'],
      '*.cluster.local': null } },
  { name: 'explicit first then wildcard', cfg: [
      vs({ ns: 'default', match: '*.cluster.local', dest: 'wild.example.com', time: TimeNewer }),
      vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'explicit.example.com', time: TimeOlder })],
    proxy: 'default', routeName: '80',
    expected: {
      'alt-known.default.svc.cluster.local': ['outbound|80||wild.example.com'],
      'known.default.svc.cluster.local': ['outbound|80||explicit.example.com'],
      '*.cluster.local': null } },
  { name: 'wildcard and explicit with sidecar', cfg: [
      vs({ ns: 'default', match: '*.cluster.local', dest: 'wild.example.com', time: TimeOlder }),
      vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'explicit.example.com', time: TimeNewer }),
      sc({ ns: 'default', egress: ['default/known.default.svc.cluster.local', 'default/alt-known.default.svc.cluster.local'] })],
    proxy: 'default', routeName: '80',
    expected: {
      'alt-known.default.svc.cluster.local': ['outbound|80||wild.example.com'],
      'known.default.svc.cluster.local': ['outbound|80||explicit.example.com'],
      '*.cluster.local': null } },
  { name: 'explicit first then wildcard with sidecar cross namespace', cfg: [
      vs({ ns: 'not-default', match: '*.cluster.local', dest: 'wild.example.com', time: TimeOlder }),
      vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'explicit.example.com', time: TimeNewer }),
      sc({ ns: 'default', egress: ['default/known.default.svc.cluster.local', 'default/alt-known.default.svc.cluster.local'] })],
    proxy: 'default', routeName: '80',
    expected: {
      'alt-known.default.svc.cluster.local': ['outbound|80||alt-known.default.svc.cluster.local'],
      'known.default.svc.cluster.local': ['outbound|80||explicit.example.com'],
      '*.cluster.local': null } },
  { name: 'wildcard and explicit cross namespace', cfg: [
      vs({ ns: 'not-default', match: '*.cluster.local', dest: 'wild.example.com', time: TimeOlder }),
      vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'explicit.example.com', time: TimeNewer })],
    proxy: 'default', routeName: '80',
    expected: {
      'alt-known.default.svc.cluster.local': ['outbound|80||wild.example.com'],
      'known.default.svc.cluster.local': ['outbound|80||explicit.example.com'],
      '*.cluster.local': null } },
  { name: 'wildcard and explicit unknown', cfg: [
      vs({ ns: 'default', match: '*.tld', dest: 'wild.example.com', time: TimeOlder }),
      vs({ ns: 'default', match: 'example.tld', dest: 'explicit.example.com', time: TimeNewer })],
    proxy: 'default', routeName: '80',
    expected: {
      'known.default.svc.cluster.local': ['outbound|80||known.default.svc.cluster.local'],
      '*.tld': ['outbound|80||wild.example.com'],
      '*.example.tld': null } },
  { name: 'explicit match with wildcard sidecar', cfg: [
      vs({ ns: 'default', match: 'arbitrary.svc.cluster.local', dest: 'arbitrary.svc.cluster.local' }),
      sc({ ns: 'default', egress: ['*/*.cluster.local'] })],
    proxy: 'default', routeName: '80',
    expected: { 'arbitrary.svc.cluster.local': ['outbound|80||arbitrary.svc.cluster.local'] } },
  { name: 'wildcard match with explicit sidecar', cfg: [
      vs({ ns: 'default', match: '*.cluster.local', dest: 'arbitrary.example.com' }),
      sc({ ns: 'default', egress: ['*/known.default.svc.cluster.local'] })],
    proxy: 'default', routeName: '80',
    expected: {
      'known.default.svc.cluster.local': ['outbound|80||arbitrary.example.com'],
      '*.cluster.local': null } },
  { name: 'non-service wildcard match with explicit sidecar', cfg: [
      vs({ ns: 'default', match: '*.example.org', dest: 'arbitrary.example.com' }),
      sc({ ns: 'default', egress: ['*/explicit.example.org', '*/alt-known.default.svc.cluster.local'] })],
    proxy: 'default', routeName: '80',
    expected: {
      'known.default.svc.cluster.local': null,
      'alt-known.default.svc.cluster.local': ['outbound|80||alt-known.default.svc.cluster.local'],
      '*.example.org': ['outbound|80||arbitrary.example.com'] } },
  { name: 'sidecar filter', cfg: [
      vs({ ns: 'not-default', match: '*.default.svc.cluster.local', dest: 'arbitrary.example.com' }),
      vs({ ns: 'default', match: 'explicit.default.svc.cluster.local', dest: 'explicit.default.svc.cluster.local' }),
      sc({ ns: 'not-default', egress: ['not-default/*.default.svc.cluster.local', 'not-default/not-default.not-default.svc.cluster.local'] })],
    proxy: 'not-default', routeName: '80',
    expected: {
      '*.default.svc.cluster.local': ['outbound|80||arbitrary.example.com'],
      'explicit.default.svc.cluster.local': null,
      'not-default.not-default.svc.cluster.local': ['outbound|80||not-default.not-default.svc.cluster.local'] } },
  { name: 'same namespace conflict', cfg: [
      vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'old.example.com', time: TimeOlder }),
      vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'new.example.com', time: TimeNewer })],
    proxy: 'default', routeName: '80',
    expected: { 'known.default.svc.cluster.local': ['outbound|80||old.example.com'] } },
  { name: 'cross namespace conflict', cfg: [
      vs({ ns: 'not-default', match: 'known.default.svc.cluster.local', dest: 'producer.example.com', time: TimeOlder }),
      vs({ ns: 'default', match: 'known.default.svc.cluster.local', dest: 'consumer.example.com', time: TimeNewer })],
    proxy: 'default', routeName: '80',
    expected: { 'known.default.svc.cluster.local': ['outbound|80||producer.example.com'] } },
  // "We do not even get a route as there is no service on the port": no listener asks for "80".
  { name: 'import only a unknown service route', cfg: [
      vs({ ns: 'default', match: 'foo.default.svc.cluster.local', dest: 'example.com' }),
      sc({ ns: 'default', egress: ['*/foo.default.svc.cluster.local'] })],
    proxy: 'default', routeName: '80',
    expected: null },
  { name: 'multi-host import single', cfg: [
      vs({ ns: 'default', matches: ['known.default.svc.cluster.local', 'alt-known.default.svc.cluster.local'], dest: 'example.com' }),
      sc({ ns: 'default', egress: ['*/known.default.svc.cluster.local'] })],
    proxy: 'default', routeName: '80',
    expected: {
      'known.default.svc.cluster.local': ['outbound|80||example.com'],
      'alt-known.default.svc.cluster.local': ['outbound|80||example.com'] } },
];

// Istio's Services name both ports "http". The Kubernetes API server rejects that (port names
// must be unique) and so does scopecast; istiod processes it. Every case is run twice: as Istio
// gives it (marked as that difference), and with the second port renamed "http-alt" so that
// the routing itself is compared.
const DUP_PORT_NAMES = 'not in issue 16: a Service whose ports share a name is rejected (istiod processes it; the Kubernetes API server would reject it)';
// This one passes even so: it expects no route configuration on port 80.
const PASS_DESPITE_DUP = new Set(['import only a unknown service route']);
const uniqueNames = knownServices.replace(/- port: 8080\n    name: http\n/g, '- port: 8080\n    name: http-alt\n');

export default [
  ...cases.map((c) => ({
    name: `TestSidecarRoutes ${c.name}`,
    proxy: { namespace: c.proxy },
    config: [knownServices, ...c.cfg].join('---\n'),
    routes: [{ name: `route ${c.routeName}`, routeConfig: c.routeName, expect: c.expected,
      known_difference: c.known_difference || (PASS_DESPITE_DUP.has(c.name) ? undefined : DUP_PORT_NAMES) }],
  })),
  ...cases.map((c) => ({
    name: `TestSidecarRoutes (port names made unique) ${c.name}`,
    proxy: { namespace: c.proxy },
    config: [uniqueNames, ...c.cfg].join('---\n'),
    routes: [{ name: `route ${c.routeName}`, routeConfig: c.routeName, expect: c.expected, known_difference: c.known_difference_unique }],
  })),
];
