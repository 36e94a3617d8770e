// The xDS frontends (scopecast-xds) end to end: the real engine publishing Bookinfo (plus a
// generated namespace "big" whose cluster list exceeds 4 MiB), two real frontends sharing
// one TCP port (each also on its own unix socket) and a third with a small gRPC response
// cap, and xDS clients built from Envoy's own protos. The checklist items of
// docs/xds.md (the conformance checklist) are named [n] in the test names. Not here: [33] and
// [34] (a proxyless grpc-js-xds client calling xds:///host:port needs listeners named
// host:port, which the engine does not publish), [36] (no TTL/Resource-wrapped SotW
// resources are served; [17] checks that every SotW resource is a bare Any of the
// response's type).
//
//   XDS_WORK=... SCOPECAST=... SCOPECAST_XDS=... SCOPECAST_DUMP=... SOURCE_DIR=... node --test xds.test.mjs
// (tests/node/xds.sh sets these.)
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import * as H from './xds/harness.mjs';

const { URL, ORDER, sleep, proxy, expected, expectedAll } = H;
const REMOVAL_ORDER = ['LDS', 'RDS', 'CDS', 'EDS'];

// ---------------------------------------------------------------------------------------
// Fixture

const S = {}; // engine, f1, f2, f3, tcp
const P = {}; // proxies
const LIVE = new Set();
const BIG_SERVICES = 5000; // four ports each: 20,000 clusters, a CDS response of ~4.8 MB

function open(addr, p, opts) {
  const s = new H.Ads(addr, p, opts);
  LIVE.add(s);
  return s;
}

function closeAll() {
  for (const s of LIVE) s.close();
  LIVE.clear();
}

function bigYaml() {
  const out = [`apiVersion: v1
kind: Namespace
metadata:
  name: big
  creationTimestamp: "2026-03-01T00:00:00Z"
`];
  for (let i = 0; i < BIG_SERVICES; i++) {
    const t = `${String(Math.floor(i / 3600)).padStart(2, '0')}:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}`;
    out.push(`apiVersion: v1
kind: Service
metadata:
  name: svc-${i}
  namespace: big
  creationTimestamp: "2026-03-01T${t}Z"
  annotations:
    networking.istio.io/exportTo: "."
spec:
  clusterIP: 10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}
  selector:
    app: svc-${i}
  ports:
  - {name: http, port: 80}
  - {name: http-alt, port: 8080}
  - {name: grpc, port: 9000}
  - {name: http-admin, port: 9090}
`);
  }
  return out.join('---\n');
}

// Namespace "mid": three services on two ports with ten endpoints each, so that every
// type of its scope is a few kB made of resources below 2 kB (a gRPC cap of 2000 bytes
// splits EDS and RDS and skips CDS and LDS).
function midYaml() {
  const out = [`apiVersion: v1
kind: Namespace
metadata:
  name: mid
  creationTimestamp: "2026-03-01T00:00:00Z"
`];
  for (let i = 0; i < 3; i++) {
    out.push(`apiVersion: v1
kind: Service
metadata:
  name: m-${i}
  namespace: mid
  creationTimestamp: "2026-03-01T00:00:0${i}Z"
  annotations:
    networking.istio.io/exportTo: "."
spec:
  clusterIP: 10.97.0.${i + 1}
  selector:
    app: m-${i}
  ports:
  - {name: http, port: 80}
  - {name: http-alt, port: 8080}
`);
    out.push(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: m-${i}-x
  namespace: mid
  creationTimestamp: "2026-03-01T00:01:0${i}Z"
  labels:
    kubernetes.io/service-name: m-${i}
addressType: IPv4
endpoints:
${Array.from({ length: 10 }, (_, j) => `- addresses: [10.98.${i}.${j + 1}]\n  conditions: {ready: true}`).join('\n')}
ports:
- {name: http, port: 80, protocol: TCP}
- {name: http-alt, port: 8080, protocol: TCP}
`);
  }
  return out.join('---\n');
}

const EXPECTED_OBJECTS = 29 + 1 + BIG_SERVICES + 7; // bookinfo (examples/bookinfo), big, mid

before(async () => {
  fs.mkdirSync(H.CONFIG, { recursive: true });
  const src = path.join(H.SRC, 'examples/bookinfo/config');
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(H.CONFIG, f));
  fs.writeFileSync(path.join(H.CONFIG, 'big.yaml'), bigYaml());
  fs.writeFileSync(path.join(H.CONFIG, 'mid.yaml'), midYaml());
  fs.writeFileSync(H.EVENTS, '');
  S.engine = new H.Proc('engine', H.BIN.engine, H.engineArgs());
  const deadline = Date.now() + 90000;
  for (;;) {
    let info = null;
    try { info = JSON.parse(await H.dump(['info', '--json'], { cache: false })); } catch { /* not yet */ }
    if (info && info.objects === EXPECTED_OBJECTS) break;
    if (!S.engine.alive) throw new Error(`engine exited: ${JSON.stringify(S.engine.exit)}\n${S.engine.tail()}`);
    if (Date.now() > deadline) throw new Error(`engine did not publish ${EXPECTED_OBJECTS} objects: ${JSON.stringify(info)}\n${S.engine.tail()}`);
    await sleep(100);
  }
  H.invalidateDump();
  S.port = await H.freePort();
  S.tcp = `127.0.0.1:${S.port}`;
  S.f1 = new H.Frontend('f1', [S.tcp, `unix:${H.WORK}/f1.sock`]);
  S.f2 = new H.Frontend('f2', [S.tcp, `unix:${H.WORK}/f2.sock`]);
  S.f3 = new H.Frontend('f3', [`unix:${H.WORK}/f3.sock`], ['--grpc-max-response', '2000']);
  await Promise.all([S.f1.ready(), S.f2.ready(), S.f3.ready()]);

  P.details = proxy({ ns: 'bookinfo', labels: { app: 'details', version: 'v1' } });
  P.plain = proxy({ ns: 'bookinfo' });
  P.ratings = proxy({ ns: 'bookinfo', labels: { app: 'ratings', version: 'v1' } });
  P.system = proxy({ ns: 'istio-system' });
  P.big = proxy({ ns: 'big' });
  for (const p of Object.values(P)) p.scope = await H.resolveScope(p.ns, p.labels);
}, { timeout: 180000 });

afterEach(() => closeAll());

after(async () => {
  closeAll();
  await H.stopAll();
  console.log(`logs: ${H.WORK}/{engine,f1,f2,f3,...}.log`);
});

// ---------------------------------------------------------------------------------------
// Events (every object carries its creationTimestamp, so a replay gives the same content)

let seq = 0;
const uniq = () => ++seq;

const drDetails = (n) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule',
  metadata: { name: 'details', namespace: 'bookinfo', creationTimestamp: '2026-02-01T00:30:03Z' },
  spec: { host: 'details', trafficPolicy: { connectionPool: { tcp: { maxConnections: 100 + n } } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
});
const epsDetails = (n) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: { name: 'details-4xk7m', namespace: 'bookinfo', creationTimestamp: '2026-02-01T00:21:00Z', labels: { 'kubernetes.io/service-name': 'details' } },
  addressType: 'IPv4',
  endpoints: [
    { addresses: ['10.244.1.31'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-a' },
    { addresses: [`10.244.${100 + (n >> 8) % 100}.${n & 255}`], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-b' },
  ],
  ports: [{ name: 'http', port: 9080, protocol: 'TCP' }],
});
const vsDetails = (n) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService',
  metadata: { name: 'details', namespace: 'bookinfo', creationTimestamp: '2026-02-01T00:40:03Z' },
  spec: { hosts: ['details'], http: [{ route: [{ destination: { host: 'details', subset: 'v1' } }], timeout: `${10 + n}s` }] },
});
const svc = (name, port, ip) => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name, namespace: 'bookinfo', creationTimestamp: '2026-02-01T00:50:00Z' },
  spec: { clusterIP: ip, selector: { app: name }, ports: [{ name: 'http', port }] },
});
const drBig = (n) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule',
  metadata: { name: 'svc-0', namespace: 'big', creationTimestamp: '2026-03-02T00:00:00Z' },
  spec: { host: 'svc-0', exportTo: ['.'], trafficPolicy: { connectionPool: { tcp: { maxConnections: 1000 + n } } } },
});

// ---------------------------------------------------------------------------------------
// Checks

const sorted = (a) => [...a].sort();

function dups(names) {
  const seen = new Set(), d = new Set();
  for (const n of names) (seen.has(n) ? d : seen).add(n);
  return [...d];
}

// A SotW response against what the dump says the proxy gets. subs: the names subscribed
// (null: wildcard). partial: the response may hold a part of them (EDS/RDS updates).
function checkSotw(r, exp, { subs = null, partial = false, where = '' } = {}) {
  const w = `${where} ${r.type}`;
  assert.equal(r.type_url, URL[r.type], `${w}: type_url`);
  assert.notEqual(r.nonce, '', `${w}: nonce must not be empty`);
  // version_info: the dump's when the response holds everything the dump lists; for a
  // subset (names subscribed), the same function of what is sent (gather.h: XXH3-64 of the
  // names and versions), so only its shape is checked here and its agreement between
  // frontends in [19].
  const whole = sorted(r.names).join('\n') === sorted(exp.names).join('\n');
  if (whole) assert.equal(r.version, exp.version_info, `${w}: version_info must be the dump's`);
  else assert.match(r.version, /^[0-9a-f]{16}$/, `${w}: version_info of a subset`);
  for (const res of r.resources) {
    assert.equal(res.type_url, r.type_url, `${w}: an Any's type_url (${res.name})`);
    if (res.decoded) assert.equal(res.decoded['@type'], r.type_url, `${w}: ${res.name} decodes with @type`);
  }
  assert.deepEqual(dups(r.names), [], `${w}: duplicate names`);
  const want = subs === null ? exp.names : subs.filter((n) => exp.byName.has(n));
  if (partial) for (const n of r.names) assert.ok(want.includes(n), `${w}: ${n} was not subscribed or does not exist`);
  else assert.deepEqual(sorted(r.names), sorted(want), `${w}: resource names`);
  for (const res of r.resources)
    assert.equal(res.value.toString('base64'), exp.byName.get(res.name)?.bytes, `${w}: bytes of ${res.name} differ from the dump's`);
}

// A Delta response: every resource's version and bytes as the dump's; names/removed exact
// when given.
function checkDelta(r, exp, { names, removed, where = '' } = {}) {
  const w = `${where} delta ${r.type}`;
  assert.equal(r.type_url, URL[r.type], `${w}: type_url`);
  assert.notEqual(r.nonce, '', `${w}: nonce`);
  const got = r.resources.map((x) => x.name);
  assert.deepEqual(dups(got), [], `${w}: duplicate names`);
  for (const res of r.resources) {
    const e = exp.byName.get(res.name);
    assert.ok(e, `${w}: ${res.name} is not in the dump`);
    assert.equal(res.type_url, r.type_url, `${w}: Any type_url of ${res.name}`);
    if (res.decoded) assert.equal(res.decoded['@type'], r.type_url, `${w}: ${res.name} decodes`);
    assert.equal(res.version, e.version, `${w}: version of ${res.name} must be the dump's`);
    assert.equal(res.value.toString('base64'), e.bytes, `${w}: bytes of ${res.name}`);
  }
  if (names) assert.deepEqual(sorted(got), sorted(names), `${w}: resources`);
  if (removed) assert.deepEqual(sorted(r.removed), sorted(removed), `${w}: removed_resources`);
}

// Envoy's initial sequence on a SotW stream: CDS, then EDS for its EDS clusters, LDS, then
// RDS for the listeners' route names; each checked against the dump and ACKed.
async function sync(s, p = s.proxy, { cds = [], lds = [], where = s.label } = {}) {
  const exp = await expectedAll(p);
  const out = {};
  s.req('CDS', cds);
  out.CDS = await s.next('CDS');
  checkSotw(out.CDS, exp.CDS, { where });
  s.ack(out.CDS);
  const eds = H.edsNames(out.CDS);
  // [8] every EDS cluster has an assignment
  for (const n of eds) assert.ok(exp.EDS.byName.has(n), `${where}: EDS cluster ${n} has no assignment in the dump`);
  s.req('EDS', eds);
  out.EDS = await s.next('EDS');
  checkSotw(out.EDS, exp.EDS, { subs: eds, where });
  assert.deepEqual(sorted(out.EDS.names), sorted(eds), `${where}: an assignment for every EDS cluster`);
  s.ack(out.EDS);
  s.req('LDS', lds);
  out.LDS = await s.next('LDS');
  checkSotw(out.LDS, exp.LDS, { where });
  s.ack(out.LDS);
  const rds = H.routeNames(out.LDS);
  s.req('RDS', rds);
  out.RDS = await s.next('RDS');
  checkSotw(out.RDS, exp.RDS, { subs: rds, where });
  s.ack(out.RDS);
  return out;
}

// Each client: {s, p}. Applies one event and expects, on every stream, exactly one
// response per type whose subscribed content changed (in ADS order), silence for the
// others; `may` types (EDS/RDS that only lost names) may or may not come. Checks and ACKs
// what came; returns the responses per stream.
async function applyAndExpect(clients, event, evType = 'MODIFIED', { quietMs = 700, timeoutMs = 10000 } = {}) {
  const before = await Promise.all(clients.map((c) => expectedAll(c.p)));
  await H.emit(event, evType);
  const afterE = await Promise.all(clients.map((c) => expectedAll(c.p)));
  const plans = clients.map((c, i) => {
    const must = [], may = [];
    for (const t of ORDER) {
      const subs = c.s.subs[t];
      if (subs === undefined) continue;
      const b = before[i][t], a = afterE[i][t];
      if (subs.length === 0 || subs.includes('*')) {
        if (b.version_info !== a.version_info) must.push(t);
      } else {
        const changed = subs.some((n) => a.byName.has(n) && a.byName.get(n).version !== b.byName.get(n)?.version);
        if (changed) must.push(t);
        else if (subs.some((n) => b.byName.has(n) && !a.byName.has(n))) may.push(t);
      }
    }
    // [6] ADS order; when clusters the client has go, listeners and routes that may name
    // them go first (make before break)
    const gone = c.s.subs.CDS !== undefined && before[i].CDS.names.some((n) => !afterE[i].CDS.byName.has(n));
    return { must, may, order: gone ? REMOVAL_ORDER : ORDER };
  });
  const results = await Promise.all(clients.map(async (c, i) => {
    const { must } = plans[i];
    await c.s.until((q) => (must.every((t) => q.some((r) => r.type === t)) ? true : undefined), timeoutMs,
      `responses of ${must.join(',')} after ${event.kind} ${event.metadata.name}`);
    await sleep(quietMs);
    return c.s.drain();
  }));
  results.forEach((got, i) => {
    const { s, p } = clients[i];
    const { must, may, order } = plans[i];
    const types = got.map((r) => r.type);
    const where = `${s.label} [${p.scope}] after ${evType} ${event.kind} ${event.metadata.name}`;
    for (const t of ORDER) {
      const n = types.filter((x) => x === t).length;
      if (must.includes(t)) assert.equal(n, 1, `${where}: exactly one ${t} response (got ${types.join(',')})`);
      else if (may.includes(t)) assert.ok(n <= 1, `${where}: at most one ${t} response (got ${types.join(',')})`);
      else assert.equal(n, 0, `${where}: ${t} did not change, yet a response came (got ${types.join(',')}; changed: ${must.join(',')})`);
    }
    assert.deepEqual(types, order.filter((t) => types.includes(t)), `${where}: push order must be ${order.join(', ')}`);
    for (const r of got) {
      const subs = s.subs[r.type];
      const wild = subs.length === 0 || subs.includes('*');
      checkSotw(r, afterE[i][r.type], { subs: wild ? null : subs, partial: !wild, where });
      if (!wild) {
        // every subscribed resource that changed is in the response
        for (const n of subs) {
          const a = afterE[i][r.type].byName.get(n), b = before[i][r.type].byName.get(n);
          if (a && a.version !== b?.version) assert.ok(r.names.includes(n), `${where}: changed ${n} missing from the ${r.type} response`);
        }
      }
      s.ack(r);
    }
  });
  return results;
}

// The frontend's stream count once it stops moving (streams closed by the previous test
// may still be going away).
async function stableStreams(fe) {
  let prev = (await fe.stats()).streams;
  for (let i = 0; i < 20; i++) {
    await sleep(150);
    const now = (await fe.stats()).streams;
    if (now === prev) return now;
    prev = now;
  }
  return prev;
}

// Opens TCP streams (synced, alternating proxies) until at least `min` of them are on fe;
// returns them.
async function tcpStreamsOn(fe, min, proxies, label) {
  const base = await stableStreams(fe);
  const out = [];
  for (let round = 0; round < 10; round++) {
    const batch = [];
    for (let i = 0; i < 4; i++) {
      const p = proxies[out.length % proxies.length];
      const st = open(S.tcp, p, { label: `${label}#${out.length}` });
      out.push(st);
      batch.push(st);
    }
    await Promise.all(batch.map((st) => sync(st)));
    if ((await fe.stats()).streams - base >= min) return out;
  }
  throw new Error(`no ${min} of ${out.length} TCP connections reached ${fe.name}`);
}

function isUnavailable(st) {
  return st && st.code === 14;
}

async function reconnectSync(addr, p, last, label) {
  // [18] a new stream that starts from the versions it had: version_info set, no nonce
  const s = open(addr, p, { label });
  const exp = await expectedAll(p);
  for (const t of ORDER) s.req(t, last.subs[t], { version: last.versions[t] });
  for (const t of ORDER) {
    const r = await s.next(t, 10000);
    const subs = last.subs[t];
    checkSotw(r, exp[t], { subs: subs.length ? subs : null, where: `${label} (reconnected)` });
    s.ack(r);
  }
  return s;
}

function snapshotOf(s, got) {
  const subs = {}, versions = {};
  for (const t of ORDER) { subs[t] = s.subs[t]; versions[t] = got[t].version; }
  return { subs, versions };
}

// ---------------------------------------------------------------------------------------
// Frontends and the shared port

test('two frontends share one TCP port; connections land on both', { timeout: 60000 }, async () => {
  const exp = await expected(P.plain, 'CDS');
  const streams = [];
  for (let i = 0; i < 16; i++) {
    const s = open(S.tcp, P.plain);
    s.req('CDS', []);
    streams.push(s);
  }
  for (const s of streams) checkSotw(await s.next('CDS'), exp, { where: s.label });
  const [a, b] = await Promise.all([S.f1.stats(), S.f2.stats()]);
  assert.ok(a.connections >= 1 && b.connections >= 1,
    `16 connections on ${S.tcp} should reach both frontends: f1 ${a.connections}, f2 ${b.connections}`);
  assert.ok(a.connections + b.connections >= 16, `connections: f1 ${a.connections} + f2 ${b.connections}`);
  for (const k of ['head_version', 'connections', 'streams', 'pushes', 'acks', 'nacks', 'nacks_by', 'oversize_skipped',
    'wakeups', 'wakeup_p50_us', 'wakeup_p99_us', 'push_bytes', 'queued_bytes', 'cpu_ms', 'rss_kb'])
    assert.ok(k in a, `stats line has ${k}: ${JSON.stringify(a)}`);
  assert.equal(a.head_version, await H.headVersion(), 'stats head_version is the snapshot head');
});

// ---------------------------------------------------------------------------------------
// SotW

test('[3][8][17] initial wildcard CDS/LDS, EDS/RDS by name match the dump on both frontends and the shared port', { timeout: 90000 }, async () => {
  const addrs = [S.f1.unix, S.f2.unix, S.tcp];
  for (const addr of addrs) {
    for (const p of [P.details, P.plain, P.ratings, P.system]) {
      const s = open(addr, p, { label: `${addr} ${p.scope} ${JSON.stringify(p.labels)}` });
      const got = await sync(s);
      for (const t of ORDER) assert.ok(got[t].resources.length > 0 || t === 'EDS', `${s.label}: ${t} is empty`);
      // [1] the node only on the first request
      assert.ok(s.sent[0].node && s.sent.slice(1).every((r) => !r.node), 'node was sent on the first request only');
      s.close();
    }
  }
  // explicit wildcard "*" from the start
  const s = open(S.f1.unix, P.details);
  await sync(s, P.details, { cds: ['*'], lds: ['*'] });
});

test('[4] ACKs are answered with silence', { timeout: 30000 }, async () => {
  const s1 = open(S.f1.unix, P.details), s2 = open(S.f2.unix, P.plain);
  await Promise.all([sync(s1), sync(s2)]);
  await Promise.all([s1.silence(1200, null, 'after ACKs'), s2.silence(1200, null, 'after ACKs')]);
});

test('[1][32] a first request without a usable node ends the stream with INVALID_ARGUMENT', { timeout: 30000 }, async () => {
  const bad = [
    ['no node', null],
    ['empty id', { id: '' }],
    ['three parts', { id: 'sidecar~10.0.0.1~p.bookinfo' }],
    ['five parts', { id: 'sidecar~10.0.0.1~p.bookinfo~bookinfo.svc.cluster.local~x' }],
    ['unknown type', { id: 'gateway~10.0.0.1~p.bookinfo~bookinfo.svc.cluster.local' }],
    ['no namespace anywhere', { id: 'sidecar~10.0.0.1~pod~bookinfo.svc.cluster.local', metadata: { fields: {} } }],
    ['LABELS not strings', { metadata: { fields: { NAMESPACE: { stringValue: 'bookinfo' }, LABELS: { structValue: { fields: { app: { numberValue: 3 } } } } } } }],
    ['LABELS not a struct', { metadata: { fields: { NAMESPACE: { stringValue: 'bookinfo' }, LABELS: { stringValue: 'app=x' } } } }],
    ['bad INTERCEPTION_MODE', { metadata: { fields: { NAMESPACE: { stringValue: 'bookinfo' }, INTERCEPTION_MODE: { stringValue: 'BOGUS' } } } }],
  ];
  for (const delta of [false, true]) {
    for (const [what, node] of bad) {
      const p = proxy({ ns: 'bookinfo' });
      const s = open(S.f1.unix, p, { delta, label: `${delta ? 'delta' : 'sotw'} ${what}` });
      if (node === null) {
        if (delta) s.dreq('CDS', { noNode: true }); else s.req('CDS', [], { noNode: true });
      } else {
        p.node = { ...p.node, ...node };
        if (delta) s.dreq('CDS'); else s.req('CDS', []);
      }
      const st = await s.end(5000);
      assert.equal(st.code, 3, `${s.label}: status ${st.code} "${st.details}" (expected 3 INVALID_ARGUMENT)`);
      assert.equal(s.all.length, 0, `${s.label}: no response before the error`);
    }
  }
  // Usable shapes: INSTANCE_IPS as a comma list, the namespace from POD.NAMESPACE in the id
  const ok = proxy({ ns: 'bookinfo', ip: '10.0.0.5,fd00::5', metadata: { INSTANCE_IPS: { stringValue: '10.0.0.5,fd00::5' } } });
  ok.node.id = 'sidecar~10.0.0.5~reviews-1.bookinfo~bookinfo.svc.cluster.local';
  const s1 = open(S.f1.unix, ok);
  s1.req('CDS', []);
  checkSotw(await s1.next('CDS'), await expected(P.plain, 'CDS'), { where: 'comma INSTANCE_IPS' });
  const fromId = proxy({ ns: 'bookinfo' });
  delete fromId.node.metadata.fields.NAMESPACE;
  fromId.node.id = 'sidecar~10.0.0.6~productpage-1.bookinfo~bookinfo.svc.cluster.local';
  const s2 = open(S.f2.unix, fromId);
  s2.req('CDS', []);
  checkSotw(await s2.next('CDS'), await expected(P.plain, 'CDS'), { where: 'namespace from node.id' });
});

test('gateways are not sidecars: a router node\'s stream ends with UNIMPLEMENTED, logged and counted', { timeout: 30000 }, async () => {
  const st0 = await S.f1.stats();
  const logFrom = S.f1.lines.length;
  for (const delta of [false, true]) {
    const p = proxy({ ns: 'istio-system' });
    p.node = { ...p.node, id: 'router~10.0.0.9~ingress-1.istio-system~istio-system.svc.cluster.local' };
    const s = open(S.f1.unix, p, { delta, label: `${delta ? 'delta' : 'sotw'} gateway` });
    if (delta) s.dreq('CDS'); else s.req('CDS', []);
    const st = await s.end(5000);
    assert.equal(st.code, 12, `${s.label}: status ${st.code} "${st.details}" (expected 12 UNIMPLEMENTED)`);
    assert.match(st.details, /gateway/, `${s.label}: the message says gateways are not served`);
    assert.equal(s.all.length, 0, `${s.label}: no configuration sent to a gateway`);
  }
  const line = await S.f1.waitLine(/is a gateway \(router\): not served/, 3000, logFrom);
  assert.match(line, /warning/);
  const st1 = await S.f1.stats();
  assert.equal(st1.gateways_refused, st0.gateways_refused + 2, 'counted in stats');
});

test('[2] an unknown type_url is ignored and the stream stays; an empty one never crashes the frontend', { timeout: 30000 }, async () => {
  const st0 = await S.f1.stats();
  const logFrom = S.f1.lines.length;
  const s = open(S.f1.unix, P.plain);
  s.req('CDS', ['default'], { typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret' });
  s.req('CDS', ['other'], { typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret' });
  await s.silence(800, null, 'unknown type');
  // logged at warning once per stream and type, every request counted
  await S.f1.waitLine(/type type.googleapis.com\/envoy.extensions.transport_sockets.tls.v3.Secret is not served/, 3000, logFrom);
  const warned = S.f1.lines.slice(logFrom).filter((l) => /warning: .*tls.v3.Secret is not served/.test(l));
  assert.equal(warned.length, 1, `one warning for two requests of the type: ${warned.join('\n')}`);
  const st1 = await S.f1.stats();
  assert.equal(st1.unknown_type_requests, st0.unknown_type_requests + 2, 'both requests counted');
  s.req('CDS', []);
  checkSotw(await s.next('CDS'), await expected(P.plain, 'CDS'), { where: 'after an unknown type' });
  s.req('CDS', [], { typeUrl: 'type.googleapis.com/envoy.config.cluster.v2.Cluster' }); // v2: dead, unknown
  await s.silence(600, null, 'v2 type');
  const e = open(S.f1.unix, P.plain);
  e.req('CDS', [], { typeUrl: '' });
  await sleep(800);
  if (e.status !== null) assert.notEqual(e.status.code, 0, `empty type_url: ${e.describeStatus()}`);
  assert.ok(S.f1.alive, 'frontend f1 still running');
  const d = open(S.f1.unix, P.plain, { delta: true });
  d.dreq('CDS', { typeUrl: 'type.googleapis.com/envoy.service.runtime.v3.Runtime', sub: ['x'] });
  await d.silence(600, null, 'delta unknown type');
  d.dreq('CDS');
  checkDelta(await d.next('CDS'), await expected(P.plain, 'CDS'), { names: (await expected(P.plain, 'CDS')).names, where: 'delta after unknown type' });
});

test('[5] an event reaches every subscribed stream (both frontends, shared port) with exactly the changed types', { timeout: 120000 }, async () => {
  const clients = [
    { addr: S.f1.unix, p: P.details }, { addr: S.f2.unix, p: P.plain }, { addr: S.tcp, p: P.details },
    { addr: S.tcp, p: P.plain }, { addr: S.f2.unix, p: P.ratings }, { addr: S.f1.unix, p: P.system },
    { addr: S.tcp, p: P.system },
  ].map((c) => ({ ...c, s: open(c.addr, c.p, { label: `${c.addr} ${c.p.scope} ${JSON.stringify(c.p.labels)}` }) }));
  await Promise.all(clients.map((c) => sync(c.s)));
  const got = [];
  got.push(await applyAndExpect(clients, epsDetails(uniq())));
  got.push(await applyAndExpect(clients, drDetails(uniq())));
  got.push(await applyAndExpect(clients, vsDetails(uniq())));
  // each event changed exactly one type for the Bookinfo default scope, none for ratings
  const types = got.map((perStream) => perStream[1].map((r) => r.type).join(','));
  assert.deepEqual(types, ['EDS', 'CDS', 'RDS'], 'bookinfo/default: the events changed EDS, CDS, RDS in turn');
  assert.deepEqual(got.map((perStream) => perStream[4].length), [0, 0, 0], 'bookinfo/ratings imports none of it: silent');
  for (const c of clients) assert.deepEqual(c.s.dupNonces, [], `${c.s.label}: nonces unique`);
});

test('[6][14][16] a new service: CDS, EDS, LDS, RDS in order, requested-but-missing EDS/RDS names pushed; deletion', { timeout: 120000 }, async () => {
  const clients = [{ addr: S.f1.unix, p: P.details }, { addr: S.f2.unix, p: P.plain }, { addr: S.tcp, p: P.plain }]
    .map((c) => ({ ...c, s: open(c.addr, c.p, { label: `${c.addr} ${c.p.scope}` }) }));
  const synced = await Promise.all(clients.map((c) => sync(c.s)));
  const X = 'outbound|7070||extra.bookinfo.svc.cluster.local';
  for (const [i, c] of clients.entries()) {
    // subscribe to names that do not exist yet (what Envoy does for a cluster it warms)
    const before = await expectedAll(c.p);
    assert.ok(!before.EDS.byName.has(X) && !before.RDS.byName.has('7070'), 'precondition: extra does not exist');
    c.s.req('EDS', [...c.s.subs.EDS, X], { version: synced[i].EDS.version, nonce: synced[i].EDS.nonce });
    c.s.req('RDS', [...c.s.subs.RDS, '7070'], { version: synced[i].RDS.version, nonce: synced[i].RDS.nonce });
  }
  await sleep(700);
  for (const c of clients) {
    for (const r of c.s.drain()) {
      assert.ok(!r.names.includes(X) && !r.names.includes('7070'), 'nothing sent for a missing name');
      c.s.ack(r);
    }
  }
  const added = await applyAndExpect(clients, svc('extra', 7070, '10.96.40.99'), 'ADDED');
  for (const [i, got] of added.entries()) {
    const where = clients[i].s.label;
    assert.deepEqual(got.map((r) => r.type), ORDER, `${where}: one response of every type, in ADS order`);
    const by = Object.fromEntries(got.map((r) => [r.type, r]));
    assert.ok(by.CDS.names.includes(X), `${where}: CDS has ${X}`);
    assert.ok(by.EDS.names.includes(X), `${where}: [16] the assignment requested before it existed is pushed`);
    assert.ok(by.LDS.names.includes('0.0.0.0_7070'), `${where}: LDS has 0.0.0.0_7070`);
    assert.ok(by.RDS.names.includes('7070'), `${where}: [16] route 7070 requested before it existed is pushed`);
  }
  const removed = await applyAndExpect(clients, svc('extra', 7070, '10.96.40.99'), 'DELETED');
  for (const [i, got] of removed.entries()) {
    const where = clients[i].s.label;
    const types = got.map((r) => r.type);
    assert.ok(types.indexOf('LDS') < types.indexOf('CDS'), `${where}: [6] on removal LDS goes before CDS (${types})`);
    const by = Object.fromEntries(got.map((r) => [r.type, r]));
    assert.ok(by.CDS && !by.CDS.names.includes(X), `${where}: [14] CDS without ${X}`);
    assert.ok(by.LDS && !by.LDS.names.includes('0.0.0.0_7070'), `${where}: [14] LDS without 0.0.0.0_7070`);
  }
  // still subscribed: created again -> pushed again
  const again = await applyAndExpect(clients, svc('extra', 7070, '10.96.40.99'), 'ADDED');
  for (const [i, got] of again.entries()) {
    const by = Object.fromEntries(got.map((r) => [r.type, r]));
    assert.ok(by.EDS?.names.includes(X) && by.RDS?.names.includes('7070'), `${clients[i].s.label}: re-created names pushed again`);
  }
  await applyAndExpect(clients, svc('extra', 7070, '10.96.40.99'), 'DELETED');
});

test('[7] after a CDS push, an EDS request identical to the previous one is answered (warming)', { timeout: 60000 }, async () => {
  for (const addr of [S.f1.unix, S.f2.unix]) {
    const s = open(addr, P.plain);
    const got = await sync(s);
    const before = await expectedAll(P.plain);
    await H.emit(drDetails(uniq()), 'MODIFIED');
    const afterE = await expectedAll(P.plain);
    assert.deepEqual(ORDER.filter((t) => before[t].version_info !== afterE[t].version_info), ['CDS'], 'precondition: a CDS-only change');
    const cds = await s.next('CDS');
    checkSotw(cds, afterE.CDS, { where: `${addr} pushed CDS` });
    s.ack(cds);
    // what Envoy sends when it re-initialises its clusters: the same EDS request again
    s.req('EDS', got.EDS.names, { version: got.EDS.version, nonce: got.EDS.nonce });
    const eds = await s.next('EDS', 5000);
    checkSotw(eds, afterE.EDS, { subs: got.EDS.names, where: `${addr} warming EDS` });
    assert.deepEqual(sorted(eds.names), sorted(got.EDS.names), 'every assignment of the warming clusters');
    s.ack(eds);
    await s.silence(600);
  }
});

for (const type of ['EDS', 'RDS']) {
  test(`[9][10][11] ${type} subscription changes: same version and current nonce, unsubscribe-resubscribe, stale nonce`, { timeout: 60000 }, async () => {
    const s = open(S.f1.unix, P.plain);
    const exp = await expectedAll(P.plain);
    const all = exp[type].names;
    assert.ok(all.length >= 3, `precondition: 3 ${type} names`);
    const [A, B, C] = all;
    if (type === 'EDS') { s.req('CDS', []); s.ack(await s.next('CDS')); } else { s.req('LDS', []); s.ack(await s.next('LDS')); }
    s.req(type, [A]);
    const r1 = await s.next(type);
    checkSotw(r1, exp[type], { subs: [A], where: 'first' });
    s.ack(r1);
    // [9] add B, same version, current nonce
    s.req(type, [A, B], { version: r1.version, nonce: r1.nonce });
    const r2 = await s.next(type, 5000);
    checkSotw(r2, exp[type], { subs: [A, B], partial: true, where: '[9] added B' });
    assert.ok(r2.names.includes(B), `[9] newly subscribed ${B} sent`);
    s.ack(r2);
    // [10] unsubscribe B, then subscribe it again at the same version
    s.req(type, [A], { version: r2.version, nonce: r2.nonce });
    await sleep(600);
    let cur = r2;
    for (const r of s.drain()) {
      assert.equal(r.type, type);
      checkSotw(r, exp[type], { subs: [A], partial: true, where: '[10] after unsubscribing B' });
      s.ack(r);
      cur = r;
    }
    s.req(type, [A, B], { version: cur.version, nonce: cur.nonce });
    const r3 = await s.next(type, 5000);
    checkSotw(r3, exp[type], { subs: [A, B], partial: true, where: '[10] resubscribed B' });
    assert.ok(r3.names.includes(B), `[10] ${B} resent after unsubscribe and resubscribe at the same version`);
    s.ack(r3);
    // [11] a request carrying a stale nonce (r1's) that adds C
    s.req(type, [A, B, C], { version: r1.version, nonce: r1.nonce });
    const r4 = await s.next(type, 5000);
    checkSotw(r4, exp[type], { subs: [A, B, C], partial: true, where: '[11] stale nonce' });
    assert.ok(r4.names.includes(C), `[11] ${C} delivered although the request's nonce was stale`);
    s.ack(r4);
    await s.silence(600);
  });
}

test('[12][13] NACK: no resend of that version, the next version is sent, counted in stats and logged', { timeout: 60000 }, async () => {
  const fe = S.f2;
  const s = open(fe.unix, P.plain);
  const got = await sync(s);
  const st0 = await fe.stats();
  // [12] NACK (error_detail, version_info = the last good one)
  await H.emit(drDetails(uniq()), 'MODIFIED');
  const v1 = await s.next('CDS');
  checkSotw(v1, await expected(P.plain, 'CDS'), { where: 'V1' });
  const logFrom = fe.lines.length;
  s.nack(v1, got.CDS.version, 'scopecast-test NACK one');
  await s.silence(1500, null, 'a NACKed version must not be re-sent');
  const st1 = await fe.stats();
  assert.equal(st1.nacks, st0.nacks + 1, `stats nacks ${st0.nacks} -> ${st1.nacks}`);
  const key = Object.keys(st1.nacks_by).find((k) => k.startsWith(`${P.plain.scope} `) && (st1.nacks_by[k] ?? 0) > (st0.nacks_by[k] ?? 0));
  assert.ok(key, `nacks_by has a "${P.plain.scope} TYPE" key that went up: ${JSON.stringify(st1.nacks_by)}`);
  const line = await fe.waitLine(/scopecast-test NACK one/, 3000, logFrom);
  assert.match(line, /warning/i, 'NACK logged as a warning');
  assert.ok(line.includes(P.plain.node.id) && line.includes(P.plain.scope) && line.includes(v1.version),
    `NACK log line names node id, scope and version: ${line}`);
  // the next version is sent
  await H.emit(drDetails(uniq()), 'MODIFIED');
  const v2 = await s.next('CDS');
  checkSotw(v2, await expected(P.plain, 'CDS'), { where: 'V2 after a NACK' });
  assert.notEqual(v2.version, v1.version);
  // [13] NACK with version_info equal to the NACKed version: still a NACK
  s.nack(v2, v2.version, 'scopecast-test NACK two');
  await s.silence(1500, null, 'NACK with the same version_info');
  const st2 = await fe.stats();
  assert.equal(st2.nacks, st1.nacks + 1, `[13] stats nacks ${st1.nacks} -> ${st2.nacks}`);
  await H.emit(drDetails(uniq()), 'MODIFIED');
  const v3 = await s.next('CDS');
  checkSotw(v3, await expected(P.plain, 'CDS'), { where: 'V3' });
  s.ack(v3);
  // an EDS NACK is counted under its own type
  await H.emit(epsDetails(uniq()), 'MODIFIED');
  const e1 = await s.next('EDS');
  s.nack(e1, got.EDS.version, 'scopecast-test NACK eds');
  await s.silence(1200, null, 'NACKed EDS');
  const st3 = await fe.stats();
  const edsKey = Object.keys(st3.nacks_by).find((k) => k.startsWith(`${P.plain.scope} `) && k !== key && st3.nacks_by[k] > (st2.nacks_by[k] ?? 0));
  assert.ok(edsKey, `an EDS NACK under its own key: ${JSON.stringify(st3.nacks_by)}`);
});

test('[12] a NACKed version is sent again once the client has ACKed a later one (content came back)', { timeout: 60000 }, async () => {
  const s = open(S.f1.unix, P.plain);
  await sync(s);
  const a = uniq(), b = uniq();
  await H.emit(drDetails(a), 'MODIFIED');
  const va = await s.next('CDS');
  s.nack(va, va.version, 'scopecast-test NACK then ACK later');
  await s.silence(1000, null, 'the NACKed version is not re-sent');
  await H.emit(drDetails(b), 'MODIFIED');
  const vb = await s.next('CDS');
  assert.notEqual(vb.version, va.version);
  s.ack(vb);
  // The content of va comes back (versions are content hashes): the client holds vb and
  // must get va again, or it keeps vb's clusters forever.
  await H.emit(drDetails(a), 'MODIFIED');
  const again = await s.next('CDS');
  assert.equal(again.version, va.version, 'the once-NACKed version is the current one and is sent');
  checkSotw(again, await expected(P.plain, 'CDS'), { where: 'after NACK, ACK, revert' });
});

test('[15] legacy wildcard [] vs explicit "*": [], ["*","A"], ["A"], [], ["*"]', { timeout: 60000 }, async () => {
  const s = open(S.f1.unix, P.plain);
  let exp = await expected(P.plain, 'CDS');
  const A = `outbound|9080||details.bookinfo.svc.cluster.local`;
  assert.ok(exp.byName.has(A));
  s.req('CDS', []);
  let r = await s.next('CDS');
  checkSotw(r, exp, { where: '[] (legacy wildcard)' });
  s.ack(r);
  s.req('CDS', ['*', A], { version: r.version, nonce: r.nonce });
  await sleep(700);
  for (const x of s.drain()) { checkSotw(x, exp, { where: '["*","A"] is still everything' }); s.ack(x); r = x; }
  s.req('CDS', [A], { version: r.version, nonce: r.nonce });
  await sleep(700);
  for (const x of s.drain()) { checkSotw(x, exp, { subs: [A], where: '["A"]: wildcard dropped' }); s.ack(x); r = x; }
  await H.emit(drDetails(uniq()), 'MODIFIED'); // changes A
  exp = await expected(P.plain, 'CDS');
  r = await s.next('CDS');
  checkSotw(r, exp, { subs: [A], where: '["A"] after a change: only A (no wildcard any more)' });
  s.ack(r);
  s.req('CDS', [], { version: r.version, nonce: r.nonce });
  await sleep(700);
  for (const x of s.drain()) { checkSotw(x, exp, { subs: [], where: '[] after naming: unsubscribed from all' }); s.ack(x); r = x; }
  await H.emit(drDetails(uniq()), 'MODIFIED');
  await s.silence(1000, 'CDS', '[] after naming resources means no subscription');
  exp = await expected(P.plain, 'CDS');
  s.req('CDS', ['*'], { version: r.version, nonce: r.nonce });
  r = await s.next('CDS');
  checkSotw(r, exp, { where: '["*"]' });
});

test('[18] reconnect with the last version_info and an empty nonce gets a full response of every type', { timeout: 60000 }, async () => {
  for (const addr of [S.f1.unix, S.f2.unix, S.tcp]) {
    const s = open(addr, P.details);
    const got = await sync(s);
    const last = snapshotOf(s, got);
    s.close();
    await reconnectSync(addr, P.details, last, `${addr} reconnect`);
  }
});

test('[19] two frontends give identical version_info and bytes for the same proxy', { timeout: 60000 }, async () => {
  // a subset of names: the same version_info on both
  const exp = await expectedAll(P.plain);
  for (const t of ['EDS', 'RDS', 'CDS']) {
    const names = exp[t].names.slice(0, 2);
    const got = [];
    for (const addr of [S.f1.unix, S.f2.unix]) {
      const s = open(addr, P.plain);
      s.req(t, names);
      const r = await s.next(t);
      checkSotw(r, exp[t], { subs: names, where: `${addr} subset` });
      got.push(r);
    }
    assert.equal(got[0].version, got[1].version, `${t} ${names}: version_info of a subset, f1 vs f2`);
  }
  for (const p of [P.details, P.ratings, P.system]) {
    const a = open(S.f1.unix, p), b = open(S.f2.unix, p);
    const [ga, gb] = await Promise.all([sync(a), sync(b)]);
    for (const t of ORDER) {
      assert.equal(ga[t].version, gb[t].version, `${p.scope} ${t}: version_info f1 vs f2`);
      assert.deepEqual(ga[t].names, gb[t].names, `${p.scope} ${t}: names and order f1 vs f2`);
      ga[t].resources.forEach((r, i) => assert.ok(r.value.equals(gb[t].resources[i].value), `${p.scope} ${t} ${r.name}: bytes f1 vs f2`));
    }
  }
});

// ---------------------------------------------------------------------------------------
// Delta

// Subscribes a Delta stream: CDS and LDS wildcard (legacy or "*"), EDS/RDS by name; checks
// the initial responses against the dump and ACKs them.
async function dsync(d, p, { legacy = true } = {}) {
  const exp = await expectedAll(p);
  const out = {};
  d.dreq('CDS', { sub: legacy ? [] : ['*'] });
  out.CDS = await d.next('CDS');
  checkDelta(out.CDS, exp.CDS, { names: exp.CDS.names, removed: [], where: d.label });
  d.dack(out.CDS);
  const eds = exp.EDS.names;
  d.dreq('EDS', { sub: eds });
  out.EDS = await d.next('EDS');
  checkDelta(out.EDS, exp.EDS, { names: eds, removed: [], where: d.label });
  d.dack(out.EDS);
  d.dreq('LDS', { sub: legacy ? [] : ['*'] });
  out.LDS = await d.next('LDS');
  checkDelta(out.LDS, exp.LDS, { names: exp.LDS.names, removed: [], where: d.label });
  d.dack(out.LDS);
  const rds = exp.RDS.names;
  d.dreq('RDS', { sub: rds });
  out.RDS = await d.next('RDS');
  checkDelta(out.RDS, exp.RDS, { names: rds, removed: [], where: d.label });
  d.dack(out.RDS);
  return out;
}

function changedNames(before, after) {
  const changed = [], removed = [];
  for (const [n, r] of after.byName) if (before.byName.get(n)?.version !== r.version) changed.push(n);
  for (const n of before.byName.keys()) if (!after.byName.has(n)) removed.push(n);
  return { changed, removed };
}

test('[20][19] Delta: initial wildcard (legacy and "*") with per-resource versions, identical on both frontends; ACK silent', { timeout: 60000 }, async () => {
  const d1 = open(S.f1.unix, P.details, { delta: true }), d2 = open(S.f2.unix, P.details, { delta: true });
  const [g1, g2] = await Promise.all([dsync(d1, P.details), dsync(d2, P.details, { legacy: false })]);
  for (const t of ORDER) {
    const m1 = new Map(g1[t].resources.map((r) => [r.name, r])), m2 = new Map(g2[t].resources.map((r) => [r.name, r]));
    assert.deepEqual(sorted(m1.keys()), sorted(m2.keys()), `${t}: names f1 vs f2`);
    for (const [n, r] of m1) {
      assert.equal(r.version, m2.get(n).version, `${t} ${n}: version f1 vs f2`);
      assert.ok(r.value.equals(m2.get(n).value), `${t} ${n}: bytes f1 vs f2`);
    }
  }
  await Promise.all([d1.silence(1000, null, 'Delta ACKs'), d2.silence(1000, null, 'Delta ACKs')]);
  for (const d of [d1, d2]) assert.deepEqual(d.dupNonces, [], `${d.label}: nonces unique`);
});

test('[20] Delta: an update sends only the changed resources, other types silent', { timeout: 60000 }, async () => {
  const d = open(S.f1.unix, P.plain, { delta: true }), d2 = open(S.tcp, P.details, { delta: true });
  await Promise.all([dsync(d, P.plain), dsync(d2, P.details)]);
  for (const [ev, type] of [[drDetails, 'CDS'], [epsDetails, 'EDS'], [vsDetails, 'RDS']]) {
    const before = await Promise.all([expectedAll(P.plain), expectedAll(P.details)]);
    await H.emit(ev(uniq()), 'MODIFIED');
    const afterE = await Promise.all([expectedAll(P.plain), expectedAll(P.details)]);
    for (const [i, s] of [d, d2].entries()) {
      const { changed, removed } = changedNames(before[i][type], afterE[i][type]);
      assert.ok(changed.length > 0 && changed.length < afterE[i][type].names.length, `precondition: some ${type} changed, not all (${changed})`);
      const r = await s.next(type);
      checkDelta(r, afterE[i][type], { names: changed, removed, where: `${s.label} ${ev.name}` });
      s.dack(r);
      for (const t of ORDER.filter((x) => x !== type))
        assert.equal(before[i][t].version_info, afterE[i][t].version_info, `precondition: ${t} unchanged by ${ev.name}`);
    }
    await Promise.all([d.silence(700, null, `only ${type} changed`), d2.silence(700, null, `only ${type} changed`)]);
  }
  for (const s of [d, d2]) assert.deepEqual(s.dupNonces, [], `${s.label}: nonces unique`);
});

test('[21] Delta: deletions in removed_resources; a missing name is reported removed, then sent when it appears', { timeout: 60000 }, async () => {
  const d = open(S.f2.unix, P.plain, { delta: true });
  await dsync(d, P.plain);
  const X = 'outbound|7171||extra2.bookinfo.svc.cluster.local';
  d.dreq('EDS', { sub: [X] });
  const m1 = await d.next('EDS', 3000);
  assert.deepEqual(m1.resources.map((r) => r.name), [], 'nothing to send for a missing assignment');
  assert.deepEqual(m1.removed, [X], 'a subscribed missing name is in removed_resources');
  d.dack(m1);
  d.dreq('RDS', { sub: ['7171'] });
  const m2 = await d.next('RDS', 3000);
  assert.deepEqual(m2.removed, ['7171'], 'a subscribed missing route is in removed_resources');
  d.dack(m2);
  await d.silence(500);
  const before = await expectedAll(P.plain);
  await H.emit(svc('extra2', 7171, '10.96.40.98'), 'ADDED');
  const afterE = await expectedAll(P.plain);
  for (const t of ORDER) {
    const r = await d.next(t);
    const { changed } = changedNames(before[t], afterE[t]);
    const subsChanged = t === 'EDS' ? changed.filter((n) => before.EDS.names.includes(n) || n === X)
      : t === 'RDS' ? changed.filter((n) => before.RDS.names.includes(n) || n === '7171') : changed;
    checkDelta(r, afterE[t], { names: subsChanged, removed: [], where: `added: ${t}` });
    if (t === 'EDS') assert.ok(r.resources.some((x) => x.name === X), 'the missing assignment is sent when it appears');
    if (t === 'RDS') assert.ok(r.resources.some((x) => x.name === '7171'), 'the missing route is sent when it appears');
    d.dack(r);
  }
  await d.silence(600);
  const before2 = afterE;
  await H.emit(svc('extra2', 7171, '10.96.40.98'), 'DELETED');
  const after2 = await expectedAll(P.plain);
  const got = {};
  await d.until((q) => (['CDS', 'LDS', 'EDS', 'RDS'].every((t) => q.some((r) => r.type === t)) ? true : undefined), 8000, 'responses to the deletion');
  await sleep(600);
  for (const r of d.drain()) {
    assert.ok(!got[r.type], `one ${r.type} response`);
    got[r.type] = r;
    const { changed, removed } = changedNames(before2[r.type], after2[r.type]);
    const subsChanged = r.type === 'EDS' || r.type === 'RDS' ? changed.filter((n) => before2[r.type].names.includes(n)) : changed;
    checkDelta(r, after2[r.type], { names: subsChanged, removed, where: `deleted: ${r.type}` });
    d.dack(r);
  }
  assert.ok(got.CDS.removed.includes(`outbound|7171||extra2.bookinfo.svc.cluster.local`), 'cluster removed');
  assert.ok(got.LDS.removed.includes('0.0.0.0_7171'), 'listener removed');
  assert.ok(got.EDS.removed.includes(X), 'assignment removed');
  assert.ok(got.RDS.removed.includes('7171'), 'route removed');
});

test('[22] Delta: reconnect with initial_resource_versions gets only what differs and removals of stale names', { timeout: 60000 }, async () => {
  const d = open(S.f1.unix, P.plain, { delta: true });
  const g = await dsync(d, P.plain);
  const known = {};
  for (const t of ORDER) known[t] = Object.fromEntries(g[t].resources.map((r) => [r.name, r.version]));
  d.close();
  const before = await expectedAll(P.plain);
  await H.emit(drDetails(uniq()), 'MODIFIED');
  const afterE = await expectedAll(P.plain);
  const gone = 'outbound|1234||gone.bookinfo.svc.cluster.local';
  const d2 = open(S.f2.unix, P.plain, { delta: true });
  d2.dreq('CDS', { sub: ['*'], initial: { ...known.CDS, [gone]: 'feedfacefeedface' } });
  const c = await d2.next('CDS');
  const { changed } = changedNames(before.CDS, afterE.CDS);
  assert.ok(changed.length > 0, 'precondition: clusters changed while disconnected');
  checkDelta(c, afterE.CDS, { names: changed, removed: [gone], where: 'CDS with initial versions' });
  d2.dack(c);
  d2.dreq('LDS', { sub: ['*'], initial: known.LDS });
  // nothing differs for LDS: no resources; a response, if any, must be empty
  await sleep(800);
  for (const r of d2.drain()) {
    assert.equal(r.type, 'LDS');
    checkDelta(r, afterE.LDS, { names: [], removed: [], where: 'LDS with current initial versions' });
    d2.dack(r);
  }
  // EDS: initial_resource_versions ignored, everything subscribed is sent
  d2.dreq('EDS', { sub: Object.keys(known.EDS), initial: known.EDS });
  const e = await d2.next('EDS');
  checkDelta(e, afterE.EDS, { names: Object.keys(known.EDS), removed: [], where: 'EDS with initial versions (always resent)' });
  d2.dack(e);
  d2.dreq('RDS', { sub: [...Object.keys(known.RDS), 'nope'], initial: { ...known.RDS, nope: 'x' } });
  const rr = await d2.next('RDS');
  checkDelta(rr, afterE.RDS, { names: [], removed: ['nope'], where: 'RDS with initial versions' });
  d2.dack(rr);
  await d2.silence(600);
});

test('[23] Delta: a subscribe with a stale nonce is honoured; an unsubscribe of an unknown name is ignored', { timeout: 60000 }, async () => {
  const d = open(S.f1.unix, P.plain, { delta: true });
  const exp = await expectedAll(P.plain);
  const [A, B, C] = exp.EDS.names;
  d.dreq('CDS', { sub: ['*'] });
  d.dack(await d.next('CDS'));
  d.dreq('EDS', { sub: [A] });
  const r1 = await d.next('EDS');
  checkDelta(r1, exp.EDS, { names: [A], where: 'A' });
  d.dack(r1);
  d.dreq('EDS', { sub: [B] });
  const r2 = await d.next('EDS');
  checkDelta(r2, exp.EDS, { names: [B], where: 'B' });
  d.dack(r2);
  // stale nonce (r1's) on a spontaneous subscribe
  d.dreq('EDS', { sub: [C], nonce: r1.nonce });
  const r3 = await d.next('EDS', 5000);
  checkDelta(r3, exp.EDS, { names: [C], where: 'C with a stale nonce' });
  d.dack(r3);
  // phantom unsubscribe
  d.dreq('EDS', { unsub: ['outbound|1||never.bookinfo.svc.cluster.local'] });
  await d.silence(800, null, 'unsubscribe of a name never subscribed');
  d.dreq('RDS', { unsub: ['never'] });
  await d.silence(500, null, 'unsubscribe of a name never subscribed');
  // still working: unsubscribe A, a change of A is not sent; B's is
  d.dreq('EDS', { unsub: [A] });
  await sleep(400);
  for (const r of d.drain()) d.dack(r);
  const before = await expectedAll(P.plain);
  await H.emit(epsDetails(uniq()), 'MODIFIED');
  const afterE = await expectedAll(P.plain);
  const { changed } = changedNames(before.EDS, afterE.EDS);
  const mine = changed.filter((n) => n === B || n === C);
  if (mine.length > 0) {
    const r = await d.next('EDS');
    checkDelta(r, afterE.EDS, { names: mine, removed: [], where: 'after the change' });
    d.dack(r);
  }
  await d.silence(700, 'EDS', `only subscribed names (changed: ${changed})`);
});

test('[24] Delta: "*" plus "A", then unsubscribe "A" -> A still sent (it is in the wildcard)', { timeout: 30000 }, async () => {
  const d = open(S.f2.unix, P.plain, { delta: true });
  const exp = await expected(P.plain, 'CDS');
  const A = 'outbound|9080||reviews.bookinfo.svc.cluster.local';
  d.dreq('CDS', { sub: ['*', A] });
  const r1 = await d.next('CDS');
  checkDelta(r1, exp, { names: exp.names, removed: [], where: '"*" + A' });
  d.dack(r1);
  d.dreq('CDS', { unsub: [A] });
  const r2 = await d.next('CDS', 5000);
  const inRes = r2.resources.some((r) => r.name === A), inRemoved = r2.removed.includes(A);
  assert.ok(inRes || inRemoved, `A must be in resources or removed_resources: ${JSON.stringify({ res: r2.resources.map((r) => r.name), removed: r2.removed })}`);
  assert.ok(inRes && !inRemoved, 'A exists and is still under the wildcard: it belongs in resources, not removed_resources');
  checkDelta(r2, exp, { where: 'after unsubscribing A' });
  d.dack(r2);
  await d.silence(500);
});

// ---------------------------------------------------------------------------------------
// Proxies and scopes

test('[32] proxy -> scope: selector Sidecar, labels changed on reconnect, unknown namespace, interception NONE', { timeout: 90000 }, async () => {
  const cases = [
    [proxy({ ns: 'bookinfo', labels: { app: 'ratings', version: 'v1' } }), 'bookinfo/ratings'],
    [proxy({ ns: 'bookinfo', labels: { app: 'reviews', version: 'v2' } }), 'bookinfo/default'],
    [proxy({ ns: 'istio-system', labels: { app: 'istiod' } }), 'istio-system/@default'],
    [proxy({ ns: 'nowhere-known', labels: { app: 'x' } }), '*/@default'],
    [proxy({ ns: 'bookinfo', mode: 'NONE', labels: { app: 'productpage', version: 'v1' } }), 'bookinfo/default'],
  ];
  for (const [p, scope] of cases) {
    p.scope = await H.resolveScope(p.ns, p.labels);
    assert.equal(p.scope, scope, `scopecast-dump resolve for ${p.ns} ${JSON.stringify(p.labels)}`);
    await sync(open(S.f1.unix, p, { label: `${p.ns} ${JSON.stringify(p.labels)} ${p.mode ?? ''}` }));
  }
  // the same pod reconnects with other labels: re-resolved
  const p = proxy({ ns: 'bookinfo', labels: { app: 'ratings', version: 'v1' } });
  p.scope = await H.resolveScope(p.ns, p.labels);
  const s1 = open(S.f2.unix, p);
  const g1 = await sync(s1);
  s1.close();
  const q = { ...p, labels: { app: 'reviews', version: 'v2' }, node: JSON.parse(JSON.stringify(p.node)) };
  q.node.metadata.fields.LABELS = { structValue: { fields: { app: { stringValue: 'reviews' }, version: { stringValue: 'v2' } } } };
  q.scope = await H.resolveScope(q.ns, q.labels);
  assert.notEqual(q.scope, p.scope, 'precondition: the labels select another scope');
  const s2 = open(S.f2.unix, q);
  const g2 = await sync(s2);
  assert.notEqual(g1.CDS.version, g2.CDS.version, 'another scope, other clusters');
  // the mode makes a difference the dump agrees with
  const none = await expected(cases[4][0], 'LDS'), redirect = await expected({ ...cases[4][0], mode: undefined }, 'LDS');
  assert.notDeepEqual(none.names, redirect.names, 'precondition: NONE has no virtual listeners');
});

// ---------------------------------------------------------------------------------------
// gRPC-like clients and response caps

const GRPC_UA = 'gRPC Node Pure JS';

// The proxyless gRPC client of namespace mid on the frontend capped at 2000 bytes.
const CAP = 2000;
const MID_ROUTES = ['80', '8080', '15010', '15014'];
async function midGrpc() {
  const g = proxy({ ns: 'mid', ua: GRPC_UA });
  g.scope = await H.resolveScope('mid');
  const exp = await expectedAll(g);
  const bytes = (r) => Buffer.from(r.bytes, 'base64').length;
  const size = (t, names = exp[t].names) => names.reduce((a, n) => a + bytes(exp[t].byName.get(n)) + URL[t].length + 8, 0);
  for (const x of ['CDS', 'LDS', 'EDS']) assert.ok(size(x) > CAP, `precondition: ${x} of ${g.scope} is ${size(x)} bytes`);
  assert.ok(size('RDS', MID_ROUTES) > CAP, 'precondition: the routes exceed the cap together');
  for (const x of ['EDS', 'RDS'])
    for (const r of exp[x].resources) if (x === 'EDS' || MID_ROUTES.includes(r.name)) assert.ok(bytes(r) < CAP - 200, `precondition: ${r.name} fits alone`);
  return { g, exp, bytes };
}

// Subscribes names of type x and collects responses until every name came; each within the cap.
async function collectSplit(s, exp, x, names, cap, timeoutMs = 5000) {
  s.req(x, names);
  const seen = [], parts = [];
  let n = 0;
  while (seen.length < names.length) {
    let r;
    try {
      r = await s.next(x, timeoutMs);
    } catch (e) {
      throw new Error(`${x} split: after ${n} response(s) ${parts.join(' ')}, the rest of [${names}] never came: ${e.message}`);
    }
    n++;
    parts.push(`#${n}(nonce ${r.nonce}, ${r.size} B)=[${r.names}]`);
    assert.deepEqual(dups([...seen, ...r.names]), [], `${x} split: a name sent twice: ${parts.join(' ')}`);
    assert.ok(r.size <= cap, `${x} response #${n} is ${r.size} bytes (${r.resources.length} resources): above the ${cap}-byte cap`);
    checkSotw(r, exp[x], { subs: names, partial: true, where: `${x} part ${n}` });
    seen.push(...r.names);
    s.ack(r);
  }
  assert.deepEqual(sorted(seen), sorted(names), `${x}: every name exactly once over the parts`);
  return n;
}

test('[35] --grpc-max-response 2000, gRPC user agent: CDS/LDS above the cap not sent and counted; one cluster is', { timeout: 30000 }, async () => {
  const fe = S.f3;
  const { g, exp } = await midGrpc();
  const st0 = await fe.stats();
  const s = open(fe.unix, g, { maxRecv: 4 * 1024 * 1024 });
  s.req('CDS', exp.CDS.names);
  await s.silence(1500, 'CDS', 'a CDS response above the cap is not sent');
  const st1 = await fe.stats();
  assert.ok(st1.oversize_skipped > st0.oversize_skipped, `oversize_skipped counted: ${st0.oversize_skipped} -> ${st1.oversize_skipped}`);
  s.req('LDS', exp.LDS.names);
  await s.silence(1200, 'LDS', 'an LDS response above the cap is not sent');
  const st2 = await fe.stats();
  assert.ok(st2.oversize_skipped > st1.oversize_skipped, `oversize_skipped counted for LDS: ${st1.oversize_skipped} -> ${st2.oversize_skipped}`);
  const small = exp.CDS.resources.reduce((a, r) => (r.bytes.length < a.bytes.length ? r : a));
  s.req('CDS', [small.name]);
  const c = await s.next('CDS');
  checkSotw(c, exp.CDS, { subs: [small.name], where: 'one small cluster' });
  s.ack(c);
  await s.silence(500);
});

test('[35] --grpc-max-response 2000: EDS of every cluster split into responses within the cap', { timeout: 30000 }, async () => {
  const { g, exp } = await midGrpc();
  const s = open(S.f3.unix, g, { maxRecv: 4 * 1024 * 1024 });
  const n = await collectSplit(s, exp, 'EDS', exp.EDS.names, CAP);
  assert.ok(n >= 2, `EDS: split into ${n} responses`);
  await s.silence(600);
});

test('[35] --grpc-max-response 2000: RDS of some route names split into responses within the cap', { timeout: 30000 }, async () => {
  const { g, exp } = await midGrpc();
  const s = open(S.f3.unix, g, { maxRecv: 4 * 1024 * 1024 });
  const n = await collectSplit(s, exp, 'RDS', MID_ROUTES, CAP);
  assert.ok(n >= 2, `RDS: split into ${n} responses`);
  await s.silence(600);
});

test('[35] --grpc-max-response 2000: EDS of some cluster names split into responses within the cap', { timeout: 30000 }, async () => {
  const { g, exp } = await midGrpc();
  const names = exp.EDS.names.filter((n) => n.includes('.mid.'));
  assert.ok(names.length < exp.EDS.names.length, 'precondition: a subset');
  const s = open(S.f3.unix, g, { maxRecv: 4 * 1024 * 1024 });
  const n = await collectSplit(s, exp, 'EDS', names, CAP);
  assert.ok(n >= 2, `EDS: split into ${n} responses`);
  await s.silence(600);
});

test('[35] --grpc-max-response 2000: a route configuration alone above the cap is never sent to a gRPC client', { timeout: 30000 }, async (t) => {
  const fe = S.f3;
  const { g, exp, bytes } = await midGrpc();
  const huge = exp.RDS.resources.find((r) => bytes(r) > CAP);
  assert.ok(huge, 'precondition: one route configuration above the cap');
  const st0 = await fe.stats();
  const s = open(fe.unix, g, { maxRecv: 4 * 1024 * 1024 });
  s.req('RDS', [huge.name, '15010']);
  await sleep(1500);
  const got = s.drain();
  for (const r of got) {
    assert.ok(r.size <= CAP, `a ${r.size}-byte ${r.type} response (${r.names}) to a gRPC client capped at ${CAP}`);
    checkSotw(r, exp.RDS, { subs: [huge.name, '15010'], partial: true, where: 'huge + 15010' });
    s.ack(r);
  }
  assert.equal(s.status, null, `stream still open: ${s.describeStatus()}`);
  t.diagnostic(`route ${huge.name} (${bytes(huge)} bytes) with 15010: ${got.length} response(s) (${got.map((r) => `${r.size}B [${r.names}]`)}), oversize_skipped ${st0.oversize_skipped} -> ${(await fe.stats()).oversize_skipped}`);
  assert.ok(got.some((r) => r.names.includes('15010')), 'route 15010 (subscribed, exists, fits) is sent although 9080 cannot be');
});

test('[32][35] --grpc-max-response 2000: GENERATOR=grpc marks a proxyless client too; other clients are not capped', { timeout: 30000 }, async () => {
  const { exp } = await midGrpc();
  const gen = proxy({ ns: 'mid', generator: 'grpc' });
  const s2 = open(S.f3.unix, gen);
  s2.req('CDS', []);
  await s2.silence(1200, 'CDS', 'GENERATOR=grpc: a CDS response above the cap is not sent');
  const s3 = open(S.f3.unix, proxy({ ns: 'mid' }));
  s3.req('CDS', []);
  checkSotw(await s3.next('CDS'), exp.CDS, { where: 'non-gRPC client on the capped frontend' });
});

test('[35] the default 4 MiB cap: a gRPC-like client never gets the 4.8 MB CDS; RDS split; Envoy gets it whole', { timeout: 120000 }, async () => {
  const g = proxy({ ns: 'big', ua: GRPC_UA });
  g.scope = await H.resolveScope('big');
  const [cds, rds] = await Promise.all([expected(g, 'CDS'), expected(g, 'RDS')]);
  const cdsSize = cds.resources.reduce((a, r) => a + Buffer.from(r.bytes, 'base64').length, 0) + cds.resources.length * (URL.CDS.length + 6);
  assert.ok(cdsSize > 4 * 1024 * 1024, `precondition: CDS of ${cds.names.length} clusters is ${cdsSize} bytes`);
  const st0 = await S.f1.stats();
  const s = open(S.f1.unix, g, { maxRecv: 4 * 1024 * 1024, light: true });
  s.req('CDS', cds.names);
  await s.silence(2500, 'CDS', 'a CDS response above 4 MiB to a gRPC client');
  const st1 = await S.f1.stats();
  assert.ok(st1.oversize_skipped > st0.oversize_skipped, `oversize_skipped ${st0.oversize_skipped} -> ${st1.oversize_skipped}`);
  const n = await collectSplit(s, { RDS: rds }, 'RDS', rds.names, 4 * 1024 * 1024, 20000);
  assert.ok(n >= 3, `RDS of ~10 MB split into ${n} responses`);
  assert.equal(s.status, null, 'the gRPC-like stream is still open');
  // Envoy (no cap): one CDS response with everything
  const e = open(S.f1.unix, P.big, { light: true });
  e.req('CDS', []);
  const r = await e.next('CDS', 30000);
  assert.ok(r.size > 4 * 1024 * 1024, `Envoy's CDS response: ${r.size} bytes`);
  checkSotw(r, await expected(P.big, 'CDS'), { where: 'big CDS for Envoy' });
});

// ---------------------------------------------------------------------------------------
// Slow readers

test('[28] a client that stops reading: memory bounded, latest version when it resumes, others not delayed', { timeout: 180000 }, async (t) => {
  const fe = S.f2;
  await H.emit(drBig(uniq()), 'ADDED');
  const exp0 = await expected(P.big, 'CDS');
  const other = open(fe.unix, P.big, { light: true, label: 'other' });
  other.req('CDS', []);
  const o0 = await other.next('CDS', 30000);
  checkSotw(o0, exp0, { where: 'other, initial' });
  other.ack(o0);
  const raw = new H.RawH2(fe.unix);
  await raw.connected;
  const id = raw.open();
  raw.data(id, H.grpcFrame(H.encodeRequest({ node: P.big.node, type_url: URL.CDS, resource_names: [] })));
  const st = raw.streams.get(id);
  await raw.until(() => (st.messages.length >= 1 ? true : undefined), 30000, 'the slow reader\'s first CDS');
  const first = H.decodeResponse(st.messages[0].msg);
  assert.equal(first.version, exp0.version_info);
  raw.data(id, H.grpcFrame(H.encodeRequest({ type_url: URL.CDS, version_info: first.version, response_nonce: first.nonce })));
  // the other client's delay (publish -> response) while both read: the baseline
  let last = o0;
  const push = async () => {
    await H.emit(drBig(uniq()), 'MODIFIED');
    const t0 = Date.now();
    const r = await other.next('CDS', 20000);
    const ms = Date.now() - t0;
    assert.notEqual(r.version, last.version, 'a new version for the other client');
    other.ack(r);
    last = r;
    return ms;
  };
  const base = [];
  let seenBase = 0;
  const baseVersions = new Set();
  for (let i = 0; i < 3; i++) {
    base.push(await push());
    const want = last.version;
    await raw.until(() => {
      while (seenBase < st.messages.length) baseVersions.add(H.decodeResponse(st.messages[seenBase++].msg).version);
      return baseVersions.has(want) ? true : undefined;
    }, 20000, 'the slow reader reading normally');
  }
  await sleep(300);
  raw.pause();
  const taken = st.messages.length;
  const rss0 = fe.rssKb();
  const EVENTS = 20;
  const lat = [];
  for (let i = 0; i < EVENTS; i++) lat.push(await push());
  const rss1 = fe.rssKb();
  const stats = await fe.stats();
  const exp = await expected(P.big, 'CDS');
  assert.equal(last.version, exp.version_info, 'the other client is at the latest version');
  const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
  t.diagnostic(`CDS ${last.size} bytes x ${EVENTS} pushes; frontend RssAnon ${rss0.anon} -> ${rss1.anon} kB (VmRSS ${rss0.rss} -> ${rss1.rss}); queued_bytes ${stats.queued_bytes}; other client's delay p50 ${med(lat)} ms, max ${Math.max(...lat)} ms (both reading: ${base} ms)`);
  assert.ok(rss1.anon - rss0.anon < 48 * 1024, `frontend anonymous memory grew by ${rss1.anon - rss0.anon} kB while a reader stalled (${EVENTS} x ${last.size}-byte responses would be ${Math.round(EVENTS * last.size / 1024)} kB)`);
  assert.ok(stats.queued_bytes < 4 * last.size, `queued_bytes ${stats.queued_bytes} bounded`);
  assert.ok(med(lat) <= 2 * med(base) + 500 && Math.max(...lat) < 10000,
    `the other client was delayed while a reader stalled: ${lat} ms (both reading: ${base} ms)`);
  // resume: the latest version arrives; what came in between was coalesced
  raw.resume();
  let seen = taken, after = [];
  await raw.until(() => {
    while (seen < st.messages.length) {
      const r = H.decodeResponse(st.messages[seen++].msg);
      after.push(r.version);
      raw.data(id, H.grpcFrame(H.encodeRequest({ type_url: URL.CDS, version_info: r.version, response_nonce: r.nonce })));
    }
    return after.includes(exp.version_info) ? true : undefined;
  }, 60000, `the latest CDS version ${exp.version_info} after resuming (got ${after.length} responses)`);
  t.diagnostic(`the slow reader got ${after.length} CDS responses after resuming (of ${EVENTS} versions)`);
  assert.equal(after[after.length - 1], exp.version_info, 'the last response is the latest version');
  assert.ok(after.length <= 6, `responses coalesce to the latest: ${after.length} of ${EVENTS} versions sent after resuming`);
  raw.close();
});

test('a client that floods requests: handled as they come, answers coalesce to the latest subscription, memory bounded', { timeout: 120000 }, async (t) => {
  const fe = S.f2;
  const s = open(fe.unix, P.plain, { label: 'flood' });
  s.req('CDS', []);
  const cds = await s.next('CDS', 30000);
  s.ack(cds);
  const eds = H.edsNames(cds);
  assert.ok(eds.length >= 3, `needs three EDS clusters, has ${eds.length}`);
  const other = open(fe.unix, P.details, { light: true, label: 'other' });
  other.req('CDS', []);
  other.ack(await other.next('CDS', 30000));
  const rss0 = fe.rssKb();
  const FLOOD = 20000;
  const t0 = Date.now();
  // subscription changes back to back, never waiting for an answer (grpc-js keeps HTTP/2
  // flow control: the frontend's reading is what paces them)
  for (let i = 0; i < FLOOD; i++) s.req('EDS', [eds[i % 2]]);
  const last = [eds[0], eds[2]];
  s.req('EDS', last);
  const want = sorted(last);
  const answers = [];
  await s.until(() => {
    while (s.queue.length) answers.push(s.queue.shift());
    const r = answers[answers.length - 1];
    return r && r.type === 'EDS' && JSON.stringify(sorted(r.names)) === JSON.stringify(want) ? true : undefined;
  }, 60000, 'the answer to the last subscription');
  const ms = Date.now() - t0;
  const rss1 = fe.rssKb();
  // the frontend serves others as before: an event reaches the other client
  const extra = svc('flood-extra', 7272, '10.96.40.97');
  await H.emit(extra, 'ADDED');
  const pushed = await other.next('CDS', 20000);
  assert.notEqual(pushed.version, other.all[0].version, 'the other client got the next version');
  await H.emit(extra, 'DELETED');
  t.diagnostic(`${FLOOD + 1} subscription changes in ${ms} ms, ${answers.length} EDS answers; frontend RssAnon ${rss0.anon} -> ${rss1.anon} kB`);
  assert.ok(s.ok, `the flooding stream stays open (${s.describeStatus()})`);
  assert.ok(answers.length < FLOOD, `answers coalesce: ${answers.length} for ${FLOOD + 1} requests`);
  assert.ok(rss1.anon - rss0.anon < 32 * 1024, `frontend anonymous memory grew by ${rss1.anon - rss0.anon} kB under the flood`);
});

test('push cycles: a stream whose clusters change again while it is stalled gets its listeners before the next CDS', { timeout: 60000 }, async () => {
  const fe = S.f1;
  // a 64-byte stream window, replenished as the client reads: pausing it stalls a response
  const raw = new H.RawH2(fe.unix, { window: 64 });
  await raw.connected;
  const id = raw.open();
  const st = raw.streams.get(id);
  const responses = (n, what) => raw.until(() => (st.messages.length >= n ? true : undefined), 20000, what);
  const response = (i) => H.decodeResponse(st.messages[i].msg);
  raw.data(id, H.grpcFrame(H.encodeRequest({ node: P.plain.node, type_url: URL.CDS, resource_names: [] })));
  raw.data(id, H.grpcFrame(H.encodeRequest({ type_url: URL.LDS, resource_names: [] })));
  await responses(2, 'the first CDS and LDS');
  for (const r of [response(0), response(1)])
    raw.data(id, H.grpcFrame(H.encodeRequest({ type_url: URL[r.type], version_info: r.version, response_nonce: r.nonce })));
  await sleep(100);
  const name = `cycle-${uniq()}`;
  const service = svc(name, 7373, '10.96.40.96');
  const rule = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'bookinfo' },
    spec: { host: name, trafficPolicy: { connectionPool: { tcp: { maxConnections: 7 } } } } };
  const atHead = async (head) => {
    for (let i = 0; i < 100 && (await fe.stats()).head_version < head; i++) await sleep(50);
  };
  raw.pause();
  try {
    // clusters and listeners change: the CDS response stalls in the window
    await atHead(await H.emit(service, 'ADDED'));
    // clusters change again while it stalls
    await atHead(await H.emit(rule, 'ADDED'));
    raw.resume();
    await responses(5, 'three responses after the events');
    const types = [2, 3, 4].map((i) => response(i).type);
    assert.deepEqual(types, ['CDS', 'LDS', 'CDS'], `the listeners of the first change go before the clusters of the second: ${types}`);
    assert.ok(response(3).names.some((n) => n.includes('7373')), `the LDS response has the new port's listener: ${response(3).names}`);
  } finally {
    raw.resume();
    raw.close();
    await H.emit(rule, 'DELETED');
    await H.emit(service, 'DELETED');
  }
});

// ---------------------------------------------------------------------------------------
// HTTP/2 and gRPC transport

test('[27] unknown :path -> Trailers-Only UNIMPLEMENTED; non-gRPC content-type -> HTTP 415', { timeout: 30000 }, async () => {
  const session = H.h2connect(S.f1.unix);
  try {
    const body = H.grpcFrame(H.encodeRequest({ node: P.plain.node, type_url: URL.CDS }));
    for (const p of ['/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters', '/no.Such/Method', '/']) {
      const r = await H.h2call(session, { path: p, chunks: [body], end: true });
      assert.equal(r.status, 200, `${p}: :status`);
      assert.equal(r.grpcStatus, '12', `${p}: grpc-status ${r.grpcStatus} ${r.grpcMessage ?? ''}`);
      assert.equal(r.headers['grpc-status'], '12', `${p}: Trailers-Only (grpc-status in the only HEADERS)`);
      assert.equal(r.trailers, null, `${p}: no separate trailers`);
    }
    for (const ct of ['text/plain', 'application/json']) {
      const r = await H.h2call(session, { headers: { 'content-type': ct }, chunks: [body], end: true });
      assert.equal(r.status, 415, `content-type ${ct}: :status ${r.status}`);
    }
    const r = await H.h2call(session, { headers: { 'content-type': 'application/grpc+proto' }, chunks: [body], until: (o) => o.messages.length >= 1 });
    assert.equal(H.decodeResponse(r.messages[0].msg).type, 'CDS', 'application/grpc+proto is gRPC');
  } finally {
    session.close();
  }
});

test('[26] a request above --max-message-size -> RESOURCE_EXHAUSTED; compressed flag without grpc-encoding -> INTERNAL', { timeout: 60000 }, async () => {
  const names = [];
  for (let i = 0, size = 0; size <= 17 * 1024 * 1024; i++) {
    const n = `outbound|9080||svc-${i}.some-namespace-with-a-long-name.svc.cluster.local`;
    names.push(n);
    size += n.length + 2;
  }
  const reqSize = H.encodeRequest({ node: P.plain.node, type_url: URL.EDS, resource_names: names }).length;
  assert.ok(reqSize > 16 * 1024 * 1024, `precondition: the request is ${reqSize} bytes`);
  const s = open(S.f1.unix, P.plain);
  s.req('EDS', names);
  const st = await s.end(20000);
  assert.equal(st.code, 8, `17 MiB request: ${s.describeStatus()}`);
  assert.ok(S.f1.alive);
  const session = H.h2connect(S.f2.unix);
  try {
    const msg = H.encodeRequest({ node: P.plain.node, type_url: URL.CDS });
    const r = await H.h2call(session, { chunks: [H.grpcFrame(msg, 1)] });
    assert.equal(r.grpcStatus, '13', `compressed flag without grpc-encoding: grpc-status ${r.grpcStatus} ${r.grpcMessage ?? ''}`);
  } finally {
    session.close();
  }
});

test('[25] gRPC framing: prefix and message split across DATA frames, several messages in one frame', { timeout: 30000 }, async () => {
  const session = H.h2connect(S.f1.unix);
  try {
    const exp = await expectedAll(P.plain);
    const f = H.grpcFrame(H.encodeRequest({ node: P.plain.node, type_url: URL.CDS }));
    const chunks = [f.subarray(0, 2), f.subarray(2, 5), f.subarray(5, 9), f.subarray(9, 20), f.subarray(20)];
    const r = await H.h2call(session, { chunks, gapMs: 50, until: (o) => o.messages.length >= 1 });
    const cds = H.decodeResponse(r.messages[0].msg);
    assert.equal(cds.type, 'CDS');
    assert.equal(cds.version, exp.CDS.version_info);
    assert.deepEqual(sorted(cds.names), sorted(exp.CDS.names));
    r.req.close(http2.constants.NGHTTP2_CANCEL);
    // several messages in one DATA frame, the last one cut in two
    const two = Buffer.concat([
      H.grpcFrame(H.encodeRequest({ node: P.plain.node, type_url: URL.CDS })),
      H.grpcFrame(H.encodeRequest({ type_url: URL.LDS })),
      H.grpcFrame(H.encodeRequest({ type_url: URL.EDS, resource_names: [exp.EDS.names[0]] })),
    ]);
    const cut = two.length - 7;
    const r2 = await H.h2call(session, { chunks: [two.subarray(0, cut), two.subarray(cut)], gapMs: 50, until: (o) => o.messages.length >= 3 });
    assert.deepEqual(sorted(r2.messages.map((m) => H.decodeResponse(m.msg).type)), ['CDS', 'EDS', 'LDS']);
    r2.req.close(http2.constants.NGHTTP2_CANCEL);
  } finally {
    session.close();
  }
});

test('[29][30] half-close ends with grpc-status 0; RST_STREAM(CANCEL) frees the stream; client PINGs never get a GOAWAY', { timeout: 30000 }, async () => {
  const fe = S.f1;
  const session = H.h2connect(fe.unix);
  let goaway = null;
  session.on('goaway', (code) => { goaway = code; });
  try {
    const body = H.grpcFrame(H.encodeRequest({ node: P.plain.node, type_url: URL.CDS }));
    const r = await H.h2call(session, { chunks: [body], end: true, timeoutMs: 5000 });
    assert.equal(r.timedOut, undefined, 'the server ended the half-closed stream');
    assert.equal(r.grpcStatus, '0', `half-close: grpc-status ${r.grpcStatus} ${r.grpcMessage ?? ''}`);
    const base = await stableStreams(fe);
    const reqs = [];
    for (let i = 0; i < 5; i++) {
      const req = session.request({ ':method': 'POST', ':path': H.SOTW_METHOD.path, 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.write(body);
      reqs.push(new Promise((resolve) => req.once('data', () => resolve(req))));
    }
    const opened = await Promise.all(reqs);
    assert.equal((await fe.stats()).streams, base + 5, 'five more streams');
    for (const req of opened) req.close(http2.constants.NGHTTP2_CANCEL);
    const deadline = Date.now() + 3000;
    let now;
    while ((now = (await fe.stats()).streams) !== base && Date.now() < deadline) await sleep(100);
    assert.equal(now, base, 'cancelled streams are freed');
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
    }
    await sleep(300);
    assert.equal(goaway, null, 'client PINGs never get a GOAWAY');
  } finally {
    session.close();
  }
});

test('[31] MAX_CONCURRENT_STREAMS 100 advertised and enforced; a rapid open/reset burst is survived', { timeout: 60000 }, async () => {
  const fe = S.f1;
  const raw = new H.RawH2(fe.unix);
  await raw.connected;
  await raw.until(() => (raw.settingsReceived ? true : undefined), 5000, 'server SETTINGS');
  assert.equal(raw.remoteSettings[3], 100, `SETTINGS_MAX_CONCURRENT_STREAMS: ${JSON.stringify(raw.remoteSettings)}`);
  raw.ping();
  await raw.until(() => (raw.pings > 0 ? true : undefined), 5000, 'PING ACK');
  const body = H.grpcFrame(H.encodeRequest({ node: P.plain.node, type_url: URL.LDS }));
  const ids = [];
  for (let i = 0; i < 101; i++) {
    const id = raw.open();
    raw.data(id, body);
    ids.push(id);
  }
  const lastId = ids[100];
  await raw.until(() => {
    const st = raw.streams.get(lastId);
    if (st.rst !== null || (raw.goaway && raw.goaway.lastStreamId < lastId) || raw.closed) return true;
    return undefined;
  }, 5000, 'the 101st stream refused');
  const st = raw.streams.get(lastId);
  assert.equal(st.messages.length, 0, 'the 101st stream is not served');
  if (st.rst !== null) assert.ok([1, 7].includes(st.rst), `RST_STREAM code ${st.rst} (REFUSED_STREAM or PROTOCOL_ERROR)`);
  if (st.rst === 7) {
    await raw.until(() => (ids.slice(0, 100).every((id) => raw.streams.get(id).messages.length >= 1) ? true : undefined), 10000, 'responses on the first 100 streams');
  }
  raw.close();
  // rapid reset
  const base = (await fe.stats()).streams;
  const rr = new H.RawH2(fe.unix);
  await rr.connected;
  await rr.until(() => (rr.settingsReceived ? true : undefined), 5000, 'server SETTINGS');
  for (let i = 0; i < 2000; i++) {
    const id = rr.open();
    rr.data(id, body);
    rr.rst(id, 8);
  }
  await sleep(1500);
  assert.ok(fe.alive, 'frontend survived a rapid reset burst');
  rr.close();
  const deadline = Date.now() + 5000;
  let now;
  while ((now = (await fe.stats()).streams) > base && Date.now() < deadline) await sleep(100);
  assert.ok(now <= base, `streams back to ${base} (now ${now})`);
  const s = open(fe.unix, P.plain);
  s.req('CDS', []);
  checkSotw(await s.next('CDS'), await expected(P.plain, 'CDS'), { where: 'after the burst' });
});

// ---------------------------------------------------------------------------------------
// Restarts (these change the processes: kept last)

test('engine restart (kill -9): frontends keep serving; the restarted engine\'s version reaches every client', { timeout: 120000 }, async (t) => {
  const clients = [{ addr: S.f1.unix, p: P.plain }, { addr: S.f2.unix, p: P.details }, { addr: S.tcp, p: P.system }]
    .map((c) => ({ ...c, s: open(c.addr, c.p) }));
  await Promise.all(clients.map((c) => sync(c.s)));
  const head0 = await H.headVersion();
  const before = await Promise.all(clients.map((c) => expectedAll(c.p)));
  S.engine.kill('SIGKILL');
  await S.engine.exited;
  // served from the snapshot as it is: a new client gets the last version
  for (const addr of [S.f1.unix, S.f2.unix]) await sync(open(addr, P.details));
  await sleep(500);
  for (const c of clients) await c.s.silence(200, null, 'engine died');
  // events written while the engine is down are read by the restarted one
  fs.appendFileSync(H.EVENTS, JSON.stringify({ type: 'MODIFIED', object: drDetails(uniq()) }) + '\n');
  fs.appendFileSync(H.EVENTS, JSON.stringify({ type: 'MODIFIED', object: epsDetails(uniq()) }) + '\n');
  const args = H.engineArgs();
  args[args.indexOf('--batch-quiet-ms') + 1] = '500';
  args[args.indexOf('--batch-max-ms') + 1] = '20000';
  S.engine = new H.Proc('engine2', H.BIN.engine, args);
  const head1 = await H.waitHead((v) => v > head0, 90000, 'the restarted engine publishes');
  await sleep(1000);
  const head2 = await H.waitHead(() => true);
  const commits = JSON.parse(await H.dump(['changelog', '--since', String(head0), '--json'], { cache: false })).changes.length;
  t.diagnostic(`engine restarted: head ${head0} -> ${head1} -> ${head2}, ${commits} commit(s)`);
  const afterE = await Promise.all(clients.map((c) => expectedAll(c.p)));
  await Promise.all(clients.map(async (c, i) => {
    const changed = ORDER.filter((ty) => before[i][ty].version_info !== afterE[i][ty].version_info);
    assert.ok(changed.includes('CDS') && changed.includes('EDS'), `precondition: CDS and EDS changed (${changed})`);
    // converge: the latest response of each changed type is the new version
    await c.s.until((q) => (changed.every((ty) => q.some((r) => r.type === ty && r.version === afterE[i][ty].version_info)) ? true : undefined),
      15000, `convergence to ${changed.map((ty) => `${ty} ${afterE[i][ty].version_info}`)}`);
    await sleep(700);
    const got = c.s.drain();
    for (const ty of ORDER) {
      const mine = got.filter((r) => r.type === ty);
      if (changed.includes(ty)) {
        checkSotw(mine[mine.length - 1], afterE[i][ty], { subs: c.s.subs[ty].length ? c.s.subs[ty] : null, partial: ty === 'EDS' || ty === 'RDS', where: `${c.s.label} after the engine restart` });
      } else if (commits === 1) {
        assert.equal(mine.length, 0, `${c.s.label}: ${ty} unchanged by the restart, yet pushed (${mine.map((r) => r.version)})`);
      }
    }
    for (const r of got) c.s.ack(r);
  }));
});

test('snapshot replaced underneath (a new file at the same path): frontends reopen it, clients keep their configuration and follow the new engine', { timeout: 120000 }, async () => {
  const clients = [{ addr: S.f1.unix, p: P.plain }, { addr: S.f2.unix, p: P.details }]
    .map((c) => ({ ...c, s: open(c.addr, c.p) }));
  await Promise.all(clients.map((c) => sync(c.s)));
  const before = await Promise.all(clients.map((c) => expectedAll(c.p)));
  S.engine.kill('SIGKILL');
  await S.engine.exited;
  // The same content in new files (other inodes), moved into place as an operator would.
  const fresh = `${H.SNAP}.fresh`;
  fs.rmSync(fresh, { recursive: true, force: true });
  fs.mkdirSync(fresh);
  for (const f of ['data.mdb', 'lock.mdb']) fs.copyFileSync(path.join(H.SNAP, f), path.join(fresh, f));
  const oldIno = fs.statSync(path.join(H.SNAP, 'data.mdb')).ino;
  fs.rmSync(H.SNAP, { recursive: true, force: true });
  fs.renameSync(fresh, H.SNAP);
  assert.notEqual(fs.statSync(path.join(H.SNAP, 'data.mdb')).ino, oldIno, 'precondition: a new file');
  H.invalidateDump();
  await Promise.all([S.f1, S.f2].map((f) => f.waitLine(/snapshot .* was replaced: reopening/, 10000)));
  // Equal content: nothing to push, nothing lost; a new client gets it all from the new file.
  for (const c of clients) await c.s.silence(500, null, 'the replaced snapshot has the same content');
  for (const addr of [S.f1.unix, S.f2.unix]) await sync(open(addr, P.details));
  // A new engine on the new file (reading the whole event history in one batch, as after
  // the engine restart above): its commits reach the clients.
  const args = H.engineArgs();
  args[args.indexOf('--batch-quiet-ms') + 1] = '500';
  args[args.indexOf('--batch-max-ms') + 1] = '20000';
  const head0 = await H.headVersion();
  fs.appendFileSync(H.EVENTS, JSON.stringify({ type: 'MODIFIED', object: drDetails(uniq()) }) + '\n');
  S.engine = new H.Proc('engine3', H.BIN.engine, args);
  await H.waitHead((v) => v > head0, 90000, 'the new engine publishes');
  await sleep(1000);
  await H.waitHead(() => true);
  const after = await Promise.all(clients.map((c) => expectedAll(c.p)));
  await Promise.all(clients.map(async (c, i) => {
    const changed = ORDER.filter((ty) => before[i][ty].version_info !== after[i][ty].version_info);
    assert.ok(changed.length > 0, 'precondition: the event changes what the client gets');
    await c.s.until((q) => (changed.every((ty) => q.some((r) => r.type === ty && r.version === after[i][ty].version_info)) ? true : undefined),
      15000, `convergence to ${changed.map((ty) => `${ty} ${after[i][ty].version_info}`)}`);
    for (const r of c.s.drain()) {
      assert.ok(r.resources.length > 0 || r.type === 'EDS' || r.type === 'RDS', `${c.s.label}: an empty ${r.type} response`);
      c.s.ack(r);
    }
  }));
});

test('frontend restart (kill -9 f1): its clients reconnect to f2 / the restarted f1 and converge', { timeout: 120000 }, async () => {
  const onF1 = open(S.f1.unix, P.details, { label: 'f1 unix' });
  const onF2 = open(S.f2.unix, P.plain, { label: 'f2 unix' });
  const lasts = new Map();
  for (const s of [onF1, onF2]) lasts.set(s, snapshotOf(s, await sync(s)));
  const tcp = await tcpStreamsOn(S.f1, 1, [P.details, P.plain], 'tcp');
  for (const s of tcp) lasts.set(s, snapshotOf(s, { CDS: s.all.find((r) => r.type === 'CDS'), EDS: s.all.find((r) => r.type === 'EDS'), LDS: s.all.find((r) => r.type === 'LDS'), RDS: s.all.find((r) => r.type === 'RDS') }));
  S.f1.kill('SIGKILL');
  await S.f1.exited;
  const st = await onF1.end(10000);
  assert.ok(isUnavailable(st), `a stream of the killed frontend ends UNAVAILABLE: ${onF1.describeStatus()}`);
  await sleep(500);
  assert.equal(onF2.status, null, 'f2\'s stream is untouched');
  const dropped = tcp.filter((s) => s.status !== null);
  assert.ok(dropped.length >= 1, 'some TCP streams were on f1');
  for (const s of dropped) assert.ok(isUnavailable(s.status), `${s.label}: ${s.describeStatus()}`);
  // reconnect on the shared port: only f2 listens there now
  const back = [];
  for (const s of dropped) back.push(await reconnectSync(S.tcp, s.proxy, lasts.get(s), `${s.label} -> f2`));
  // restart f1 on the same addresses (its unix socket file is left over from the kill)
  S.f1 = new H.Frontend('f1b', S.f1.listens);
  await S.f1.ready();
  back.push(await reconnectSync(S.f1.unix, P.details, lasts.get(onF1), 'f1 unix -> restarted f1'));
  const live = [onF2, ...tcp.filter((s) => s.status === null), ...back];
  await applyAndExpect(live.map((s) => ({ s, p: s.proxy })), epsDetails(uniq()));
});

test('[30] SIGTERM on a frontend: GOAWAY, every stream ends UNAVAILABLE, exit 0; clients resync on the other', { timeout: 120000 }, async () => {
  const fe = S.f2;
  const onF2 = open(fe.unix, P.plain, { label: 'f2 unix' });
  const onF1 = open(S.f1.unix, P.plain, { label: 'f1 unix' });
  const lasts = new Map();
  for (const s of [onF2, onF1]) lasts.set(s, snapshotOf(s, await sync(s)));
  const tcp = await tcpStreamsOn(fe, 1, [P.details], 'tcp');
  for (const s of tcp) lasts.set(s, snapshotOf(s, { CDS: s.all.find((r) => r.type === 'CDS'), EDS: s.all.find((r) => r.type === 'EDS'), LDS: s.all.find((r) => r.type === 'LDS'), RDS: s.all.find((r) => r.type === 'RDS') }));
  const session = H.h2connect(fe.unix);
  let goaway = null;
  session.on('goaway', (code) => { goaway = code; });
  const h2 = H.h2call(session, { chunks: [H.grpcFrame(H.encodeRequest({ node: P.plain.node, type_url: URL.CDS }))], timeoutMs: 15000 });
  await sleep(500);
  fe.kill('SIGTERM');
  const st = await onF2.end(10000);
  assert.equal(st.code, 14, `SIGTERM: ${onF2.describeStatus()}`);
  const r = await h2;
  assert.equal(r.grpcStatus, '14', `raw HTTP/2 stream: grpc-status ${r.grpcStatus}`);
  assert.notEqual(goaway, null, 'GOAWAY received');
  const exit = await Promise.race([fe.exited, sleep(10000).then(() => null)]);
  assert.deepEqual(exit, { code: 0, signal: null }, `frontend exit after SIGTERM: ${JSON.stringify(exit)}\n${fe.tail()}`);
  await sleep(300);
  assert.equal(onF1.status, null, 'the other frontend\'s streams stay');
  const dropped = tcp.filter((s) => s.status !== null);
  assert.ok(dropped.length >= 1, 'the TCP streams on the terminated frontend ended');
  for (const s of dropped) assert.equal(s.status.code, 14, `${s.label}: ${s.describeStatus()}`);
  const back = [];
  for (const s of dropped) back.push(await reconnectSync(S.tcp, s.proxy, lasts.get(s), `${s.label} -> f1`));
  const live = [onF1, ...tcp.filter((s) => s.status === null), ...back];
  await applyAndExpect(live.map((s) => ({ s, p: s.proxy })), epsDetails(uniq()));
  session.close();
});

test('every process stops cleanly on SIGTERM (exit 0) and no sanitizer reported anything', { timeout: 60000 }, async () => {
  const procs = [S.f1, S.f2, S.f3, S.engine].filter((p) => p && p.alive);
  const exits = await Promise.all(procs.map(async (p) => [p.name, await p.stop(15000)]));
  for (const [name, exit] of exits) assert.deepEqual(exit, { code: 0, signal: null }, `${name}: ${JSON.stringify(exit)}`);
  for (const f of fs.readdirSync(H.WORK).filter((x) => x.endsWith('.log'))) {
    const text = fs.readFileSync(path.join(H.WORK, f), 'utf8');
    const m = /(AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer)[^\n]*/.exec(text);
    assert.equal(m, null, `${f}: ${m?.[0]}`);
  }
});
