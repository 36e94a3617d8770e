// The harness of xds.test.mjs: the real engine and frontends as child processes, the
// snapshot through scopecast-dump, and xDS clients: @grpc/grpc-js streams with
// @grpc/proto-loader on Envoy's own protos (from @grpc/grpc-js-xds/deps), node:http2 for
// what grpc-js cannot send, and a minimal raw HTTP/2 client for frame-level control.
//
// Environment (set by xds.sh): SCOPECAST, SCOPECAST_XDS, SCOPECAST_DUMP, SOURCE_DIR, XDS_WORK.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { ENVOY_INCLUDES, ENVOY_RESOURCE_PROTOS } from '../envoy_protos.mjs';

export { sleep };
const execFileP = promisify(execFile);
const require = createRequire(import.meta.url);

export const BIN = {
  engine: process.env.SCOPECAST,
  xds: process.env.SCOPECAST_XDS,
  dump: process.env.SCOPECAST_DUMP,
};
export const SRC = process.env.SOURCE_DIR;
export const WORK = process.env.XDS_WORK;
for (const [k, v] of Object.entries({ ...BIN, SRC, WORK }))
  if (!v) throw new Error(`environment not set for ${k}: run tests/node/xds.sh`);

// ---------------------------------------------------------------------------------------
// Protos

const INCLUDES = ENVOY_INCLUDES;
// Every type scopecast puts in an Any, so that json:true expands them all.
const PROTOS = ['envoy/service/discovery/v3/ads.proto', ...ENVOY_RESOURCE_PROTOS];
const pkgdef = protoLoader.loadSync(PROTOS, {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, json: true, includeDirs: INCLUDES,
});
const ADS = pkgdef['envoy.service.discovery.v3.AggregatedDiscoveryService'];
export const SOTW_METHOD = ADS.StreamAggregatedResources;
export const DELTA_METHOD = ADS.DeltaAggregatedResources;

// The same messages without Any expansion (raw bytes of every resource).
const rawRoot = new protobuf.Root();
rawRoot.resolvePath = (origin, target) => {
  for (const dir of INCLUDES) {
    const p = path.join(dir, target);
    if (fs.existsSync(p)) return p;
  }
  return target;
};
rawRoot.loadSync(['envoy/service/discovery/v3/discovery.proto'], { keepCase: true });
rawRoot.resolveAll();
const RawResponse = rawRoot.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
const RawDeltaResponse = rawRoot.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');

// ---------------------------------------------------------------------------------------
// Types

export const URL = {
  CDS: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  EDS: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  LDS: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RDS: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
};
export const ORDER = ['CDS', 'EDS', 'LDS', 'RDS'];
export const DUMP_TYPE = { CDS: 'clusters', EDS: 'endpoints', LDS: 'listeners', RDS: 'routes' };
export const shortType = (url) => Object.keys(URL).find((k) => URL[k] === url) ?? url;

// Field 1 (a string) of an encoded message: the name of a Cluster, Listener,
// RouteConfiguration and the cluster_name of a ClusterLoadAssignment.
export function field1(buf) {
  let i = 0;
  const varint = () => {
    let v = 0, mul = 1, b;
    do { b = buf[i++]; v += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80);
    return v;
  };
  while (i < buf.length) {
    const tag = varint(), wt = tag & 7, fn = Math.floor(tag / 8);
    if (wt === 0) varint();
    else if (wt === 1) i += 8;
    else if (wt === 5) i += 4;
    else if (wt === 2) {
      const len = varint();
      if (fn === 1) return buf.subarray(i, i + len).toString('utf8');
      i += len;
    } else throw new Error(`field1: wire type ${wt}`);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Child processes

const PROCS = new Set();
const PIDFILE = path.join(WORK, 'pids');
function recordPids() {
  fs.writeFileSync(PIDFILE, [...PROCS].filter((p) => p.alive).map((p) => p.pid).join('\n') + '\n');
}
process.on('exit', () => {
  for (const p of PROCS) if (p.alive) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
});

export class Proc {
  constructor(name, cmd, args, opts = {}) {
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.lines = [];
    this.logPath = path.join(WORK, `${name}.log`);
    this.log = fs.createWriteStream(this.logPath, { flags: 'a' });
    this.log.write(`### ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
    this.child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...(opts.env ?? {}) } });
    this.pid = this.child.pid;
    this.alive = true;
    this.listeners = new Set();
    let partial = '';
    this.child.stderr.on('data', (chunk) => {
      this.log.write(chunk);
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop();
      for (const l of parts) {
        this.lines.push(l);
        for (const f of this.listeners) f(l);
      }
    });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        if (!this.alive) return;
        this.alive = false;
        this.exit = { code: null, signal: null, error: e.message };
        this.lines.push(`spawn failed: ${e.message}`);
        for (const f of this.listeners) f(null);
        resolve(this.exit);
      });
      this.child.on('exit', (code, signal) => {
        this.alive = false;
        this.exit = { code, signal };
        this.log.write(`### exit code ${code} signal ${signal}\n`);
        recordPids();
        for (const f of this.listeners) f(null);
        resolve(this.exit);
      });
    });
    PROCS.add(this);
    recordPids();
  }

  // Resolves with the first line (from index `from` on) matching re.
  waitLine(re, timeoutMs = 10000, from = 0) {
    for (let i = from; i < this.lines.length; i++) if (re.test(this.lines[i])) return Promise.resolve(this.lines[i]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(f);
        reject(new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms; last lines:\n${this.tail()}`));
      }, timeoutMs);
      const f = (l) => {
        if (l === null) {
          clearTimeout(timer);
          this.listeners.delete(f);
          reject(new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before a line matching ${re}; last lines:\n${this.tail()}`));
        } else if (re.test(l)) {
          clearTimeout(timer);
          this.listeners.delete(f);
          resolve(l);
        }
      };
      this.listeners.add(f);
    });
  }

  tail(n = 25) {
    return this.lines.slice(-n).map((l) => `    ${l}`).join('\n');
  }

  kill(sig = 'SIGTERM') {
    if (this.alive) try { process.kill(this.pid, sig); } catch { /* gone */ }
  }

  async stop(timeoutMs = 3000) {
    if (!this.alive) return this.exit;
    this.kill('SIGTERM');
    const t = sleep(timeoutMs).then(() => 'timeout');
    if ((await Promise.race([this.exited, t])) === 'timeout') {
      this.kill('SIGKILL');
      await this.exited;
    }
    return this.exit;
  }
}

export async function stopAll() {
  await Promise.all([...PROCS].map((p) => p.stop()));
}

// ---------------------------------------------------------------------------------------
// Engine, snapshot, dump

export const SNAP = path.join(WORK, 'snap');
export const EVENTS = path.join(WORK, 'events');
export const CONFIG = path.join(WORK, 'config');

export function engineArgs() {
  return ['--snapshot', SNAP, '--config-dir', CONFIG, '--mesh-config', path.join(SRC, 'examples/bookinfo/mesh.yaml'),
    '--watch', `file:${EVENTS}`, '--batch-quiet-ms', '5', '--batch-max-ms', '200', '--log-level', 'info'];
}

let dumpEpoch = 0; // bumped whenever the snapshot may have changed
const dumpCache = new Map();
export function invalidateDump() {
  dumpEpoch++;
  dumpCache.clear();
}

export async function dump(args, { cache = true } = {}) {
  const key = `${dumpEpoch} ${args.join('\u0000')}`;
  if (cache && dumpCache.has(key)) return dumpCache.get(key);
  const p = execFileP(BIN.dump, ['--snapshot', SNAP, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 })
    .then((r) => r.stdout);
  if (cache) dumpCache.set(key, p);
  try {
    return await p;
  } catch (e) {
    dumpCache.delete(key);
    throw new Error(`scopecast-dump ${args.join(' ')}: ${e.message}`);
  }
}

export async function headVersion() {
  try {
    return JSON.parse(await dump(['info', '--json'], { cache: false })).headVersion;
  } catch {
    return -1; // not published yet
  }
}

export async function waitHead(pred, timeoutMs = 15000, what = 'head version') {
  const deadline = Date.now() + timeoutMs;
  let v;
  for (;;) {
    v = await headVersion();
    if (pred(v)) {
      invalidateDump();
      return v;
    }
    if (Date.now() > deadline) throw new Error(`${what}: still ${v} after ${timeoutMs} ms`);
    await sleep(30);
  }
}

// The proxy's arguments to `scopecast-dump resources`.
function proxyArgs(p) {
  const a = [];
  for (const [k, v] of Object.entries(p.labels ?? {})) a.push('--label', `${k}=${v}`);
  if (p.mode && p.mode !== 'REDIRECT') a.push('--interception-mode', p.mode);
  return a;
}

// What a proxy of scope `scope` gets of `type` (CDS...): {version_info, resources: [{name,
// version, resource, bytes (base64)}], byName: Map}.
export async function expected(proxy, type, scope = proxy.scope) {
  const [j, raw] = await Promise.all([
    dump(['resources', scope, '--type', DUMP_TYPE[type], '--json', ...proxyArgs(proxy)]),
    dump(['resources', scope, '--type', DUMP_TYPE[type], '--raw', ...proxyArgs(proxy)]),
  ]);
  const d = JSON.parse(j);
  const rawList = raw.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  const byName = new Map();
  d.resources.forEach((r, i) => {
    if (rawList[i]?.name !== r.name) throw new Error(`dump --raw and --json disagree at ${i}: ${rawList[i]?.name} / ${r.name}`);
    r.bytes = rawList[i].bytes;
    r.type_url = rawList[i].type_url;
    byName.set(r.name, r);
  });
  d.byName = byName;
  d.names = d.resources.map((r) => r.name);
  return d;
}

export async function expectedAll(proxy, scope = proxy.scope) {
  const out = {};
  await Promise.all(ORDER.map(async (t) => { out[t] = await expected(proxy, t, scope); }));
  return out;
}

export async function resolveScope(ns, labels = {}) {
  const args = ['resolve', '--namespace', ns];
  for (const [k, v] of Object.entries(labels)) args.push('--label', `${k}=${v}`);
  return JSON.parse(await dump(['--json', ...args])).scope;
}

// Appends one watch event and waits until the engine published it.
export async function emit(object, type = 'ADDED') {
  const before = await headVersion();
  fs.appendFileSync(EVENTS, JSON.stringify({ type, object }) + '\n');
  return waitHead((v) => v > before, 15000, `event ${type} ${object.kind} ${object.metadata?.namespace}/${object.metadata?.name} published`);
}

// ---------------------------------------------------------------------------------------
// Frontends

export class Frontend extends Proc {
  constructor(name, listens, extra = []) {
    const args = ['--snapshot', SNAP, '--poll-ms', '100', '--stats-interval-ms', '600000', '--log-level', 'debug'];
    for (const l of listens) args.push('--listen', l);
    super(name, BIN.xds, [...args, ...extra]);
    this.listens = listens;
    this.unix = listens.find((l) => l.startsWith('unix:'));
  }

  async ready(timeoutMs = 15000) {
    for (const l of this.listens)
      await this.waitLine(new RegExp(`listening on ${l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), timeoutMs);
  }

  // The stats line the frontend prints on SIGUSR1, parsed.
  async stats(timeoutMs = 5000) {
    const from = this.lines.length;
    this.kill('SIGUSR1');
    const line = await this.waitLine(/ stats \{/, timeoutMs, from);
    return JSON.parse(line.slice(line.indexOf(' stats {') + 7));
  }

  rssKb() {
    const s = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const anon = /RssAnon:\s+(\d+) kB/.exec(s);
    const rss = /VmRSS:\s+(\d+) kB/.exec(s);
    return { anon: anon ? Number(anon[1]) : Number(rss[1]), rss: Number(rss[1]) };
  }
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------
// Proxies

const str = (s) => ({ stringValue: s });
let podSeq = 0;

// A proxy: namespace, labels, interception mode; node() is its Node message.
export function proxy({ ns, labels = {}, mode, ua = 'envoy', generator, ip, id, metadata, scope } = {}) {
  const pod = `pod-${++podSeq}`;
  const addr = ip ?? `10.250.${(podSeq >> 8) & 255}.${podSeq & 255}`;
  const fields = { NAMESPACE: str(ns), INSTANCE_IPS: str(addr), LABELS: { structValue: { fields: {} } } };
  for (const [k, v] of Object.entries(labels)) fields.LABELS.structValue.fields[k] = str(v);
  if (mode) fields.INTERCEPTION_MODE = str(mode);
  if (generator) fields.GENERATOR = str(generator);
  Object.assign(fields, metadata ?? {});
  const node = {
    id: id ?? `sidecar~${addr}~${pod}.${ns}~${ns}.svc.cluster.local`,
    cluster: `${pod}.${ns}`,
    user_agent_name: ua,
    metadata: { fields },
    locality: {},
  };
  return { ns, labels, mode, node, scope };
}

// ---------------------------------------------------------------------------------------
// ADS streams (grpc-js)

function nameOf(decoded) {
  return decoded?.name ?? decoded?.cluster_name;
}

let streamSeq = 0;

export class Ads {
  // addr: grpc target; p: a proxy(); opts: {delta, light (no Any expansion), maxRecv, label}
  constructor(addr, p, opts = {}) {
    this.addr = addr;
    this.proxy = p;
    this.delta = !!opts.delta;
    this.light = !!opts.light;
    this.label = opts.label ?? `stream#${++streamSeq}(${this.delta ? 'delta' : 'sotw'} ${addr} ${p.ns})`;
    this.queue = [];
    this.all = [];
    this.sent = [];
    this.subs = {};
    this.nonces = new Set();
    this.dupNonces = [];
    this.wakers = new Set();
    this.status = null;
    this.nodeSent = false;
    this.client = new grpc.Client(addr, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': opts.maxRecv ?? 64 * 1024 * 1024,
      'grpc.max_send_message_length': -1,
      'grpc.use_local_subchannel_pool': 1,
      'grpc.enable_retries': 0,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 500,
      ...(opts.channelOptions ?? {}),
    });
    const m = this.delta ? DELTA_METHOD : SOTW_METHOD;
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
    this.call = this.client.makeBidiStreamRequest(m.path, m.requestSerialize, (buf) => this.decode(buf), md, {});
    this.ended = new Promise((resolve) => { this.endResolve = resolve; });
    this.call.on('data', (r) => {
      r.at = Date.now();
      if (this.nonces.has(r.nonce)) this.dupNonces.push(r.nonce);
      this.nonces.add(r.nonce);
      this.queue.push(r);
      this.all.push(r);
      this.wake();
    });
    this.call.on('status', (s) => {
      this.status = s;
      this.endResolve(s);
      this.wake();
      this.client.close();
    });
    this.call.on('error', () => { /* reported through 'status' */ });
  }

  wake() {
    for (const f of [...this.wakers]) f();
  }

  decode(buf) {
    if (this.delta) {
      const raw = RawDeltaResponse.toObject(RawDeltaResponse.decode(buf), { defaults: true });
      const json = this.light ? null : DELTA_METHOD.responseDeserialize(buf);
      return {
        delta: true,
        type: shortType(raw.type_url),
        type_url: raw.type_url,
        nonce: raw.nonce,
        system_version_info: raw.system_version_info,
        size: buf.length,
        removed: raw.removed_resources,
        resources: raw.resources.map((r, i) => ({
          name: r.name,
          version: r.version,
          type_url: r.resource?.type_url,
          value: Buffer.from(r.resource?.value ?? []),
          decoded: json ? json.resources[i].resource : undefined,
        })),
      };
    }
    const raw = RawResponse.toObject(RawResponse.decode(buf), { defaults: true });
    const json = this.light ? null : SOTW_METHOD.responseDeserialize(buf);
    const resources = raw.resources.map((a, i) => {
      const value = Buffer.from(a.value ?? []);
      return { type_url: a.type_url, value, name: json ? nameOf(json.resources[i]) : field1(value), decoded: json?.resources[i] };
    });
    return {
      type: shortType(raw.type_url),
      type_url: raw.type_url,
      version: raw.version_info,
      nonce: raw.nonce,
      size: buf.length,
      resources,
      names: resources.map((r) => r.name),
    };
  }

  get ok() {
    return this.status === null;
  }

  write(req) {
    if (this.status !== null) throw new Error(`${this.label}: write after the stream ended (${this.describeStatus()})`);
    this.sent.push(req);
    this.call.write(req);
  }

  withNode(req, noNode) {
    if (!this.nodeSent && !noNode) req.node = this.proxy.node;
    if (!noNode) this.nodeSent = true;
    return req;
  }

  // SotW request. opts: {version, nonce, error ({code,message}), noNode, typeUrl}
  req(type, names = [], opts = {}) {
    this.subs[type] = names;
    const r = { type_url: opts.typeUrl ?? URL[type], resource_names: names, version_info: opts.version ?? '', response_nonce: opts.nonce ?? '' };
    if (opts.error) r.error_detail = opts.error;
    this.write(this.withNode(r, opts.noNode));
  }

  ack(r, names) {
    this.req(r.type, names ?? this.subs[r.type] ?? [], { version: r.version, nonce: r.nonce });
  }

  nack(r, version, message = 'rejected by the test') {
    this.req(r.type, this.subs[r.type] ?? [], { version, nonce: r.nonce, error: { code: 13, message } });
  }

  // Delta request. opts: {sub, unsub, initial ({name: version}), nonce, error, noNode}
  dreq(type, opts = {}) {
    const r = {
      type_url: opts.typeUrl ?? URL[type],
      resource_names_subscribe: opts.sub ?? [],
      resource_names_unsubscribe: opts.unsub ?? [],
      initial_resource_versions: opts.initial ?? {},
      response_nonce: opts.nonce ?? '',
    };
    if (opts.error) r.error_detail = opts.error;
    this.write(this.withNode(r, opts.noNode));
  }

  dack(r) {
    this.dreq(r.type, { nonce: r.nonce });
  }

  describeStatus() {
    return this.status ? `status ${this.status.code} "${this.status.details}"` : 'open';
  }

  describeQueue() {
    return this.queue.map((r) => `${r.type}(${r.delta ? `+${r.resources.length} -${r.removed.length}` : `v=${r.version} n=${r.resources.length}`})`).join(' ') || 'nothing';
  }

  // Waits until pred(queue) returns something other than undefined.
  until(pred, timeoutMs, what) {
    const v = pred(this.queue);
    if (v !== undefined) return Promise.resolve(v);
    return new Promise((resolve, reject) => {
      const f = () => {
        let v;
        try { v = pred(this.queue); } catch (e) { done(); reject(e); return; }
        if (v !== undefined) { done(); resolve(v); } else if (this.status !== null) {
          done();
          reject(new Error(`${this.label}: stream ended (${this.describeStatus()}) while waiting for ${what}; queued: ${this.describeQueue()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: no ${what} within ${timeoutMs} ms (${this.describeStatus()}); queued: ${this.describeQueue()}`));
      }, timeoutMs);
      const done = () => { clearTimeout(timer); this.wakers.delete(f); };
      this.wakers.add(f);
      f();
    });
  }

  // The next response of `type` (any type when null), taken off the queue.
  async next(type = null, timeoutMs = 8000) {
    const idx = await this.until((q) => {
      const i = q.findIndex((r) => type === null || r.type === type);
      return i >= 0 ? i : undefined;
    }, timeoutMs, `${type ?? 'any'} response`);
    return this.queue.splice(idx, 1)[0];
  }

  // Takes every queued response (in arrival order).
  drain() {
    return this.queue.splice(0, this.queue.length);
  }

  // Asserts that nothing (of `type`) arrives within ms and the stream stays open.
  async silence(ms, type = null, why = '') {
    const start = this.all.length;
    await sleep(ms);
    const got = this.all.slice(start).concat(this.queue).filter((r) => type === null || r.type === type);
    const uniq = [...new Set(got)];
    if (uniq.length > 0)
      throw new Error(`${this.label}: expected no ${type ?? ''} response${why ? ` (${why})` : ''} within ${ms} ms, got ${uniq.map((r) => `${r.type}(${r.delta ? `+[${r.resources.map((x) => x.name).slice(0, 5)}] -[${r.removed}]` : `v=${r.version} n=${r.resources.length}`})`).join(' ')}`);
    if (this.status !== null) throw new Error(`${this.label}: stream ended: ${this.describeStatus()}`);
  }

  // Waits until the stream ends; its status.
  async end(timeoutMs = 8000) {
    const t = sleep(timeoutMs).then(() => null);
    const s = await Promise.race([this.ended, t]);
    if (s === null) throw new Error(`${this.label}: stream did not end within ${timeoutMs} ms; queued: ${this.describeQueue()}`);
    return s;
  }

  close() {
    if (this.status === null) this.call.cancel();
    this.client.close();
  }
}

// ---------------------------------------------------------------------------------------
// Decoded resources

// The ClusterLoadAssignment names the EDS clusters of a CDS response need.
export function edsNames(cds) {
  return cds.resources.filter((r) => r.decoded.type === 'EDS')
    .map((r) => r.decoded.eds_cluster_config?.service_name || r.decoded.name);
}

// The route configuration names the listeners of an LDS response refer to (RDS).
export function routeNames(lds) {
  const out = new Set();
  const walk = (o) => {
    if (Array.isArray(o)) o.forEach(walk);
    else if (o && typeof o === 'object') {
      if (o.rds && typeof o.rds.route_config_name === 'string' && o.rds.route_config_name !== '') out.add(o.rds.route_config_name);
      Object.values(o).forEach(walk);
    }
  };
  lds.resources.forEach((r) => walk(r.decoded));
  return [...out];
}

// ---------------------------------------------------------------------------------------
// node:http2 requests

export function h2connect(addr) {
  const opts = {};
  if (addr.startsWith('unix:')) opts.createConnection = () => net.connect(addr.slice(5));
  const authority = addr.startsWith('unix:') ? 'http://localhost' : `http://${addr}`;
  const s = http2.connect(authority, opts);
  s.on('error', () => {});
  return s;
}

export function grpcFrame(msg, flag = 0) {
  const b = Buffer.alloc(5 + msg.length);
  b[0] = flag;
  b.writeUInt32BE(msg.length, 1);
  msg.copy(b, 5);
  return b;
}

export function encodeRequest(req) {
  return SOTW_METHOD.requestSerialize(req);
}

// Splits gRPC length-prefixed messages out of a byte stream.
export class Deframer {
  constructor() { this.buf = Buffer.alloc(0); }
  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const out = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (this.buf.length < 5 + len) break;
      out.push({ flag: this.buf[0], msg: this.buf.subarray(5, 5 + len) });
      this.buf = this.buf.subarray(5 + len);
    }
    return out;
  }
}

export function decodeResponse(buf) {
  const raw = RawResponse.toObject(RawResponse.decode(buf), { defaults: true });
  return { type: shortType(raw.type_url), version: raw.version_info, nonce: raw.nonce, names: raw.resources.map((a) => field1(Buffer.from(a.value))), size: buf.length };
}

// A gRPC request over node:http2 with full control of headers and body bytes. Resolves the
// stream's outcome: {status (:status), headers, trailers, grpcStatus, grpcMessage, messages, rst}.
export function h2call(session, { path: p = SOTW_METHOD.path, headers = {}, chunks = [], gapMs = 0, end = false, timeoutMs = 8000, until } = {}) {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': p, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    const out = { headers: null, trailers: null, messages: [], req };
    const deframer = new Deframer();
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const h = out.headers ?? {};
      const t = out.trailers ?? {};
      out.status = h[':status'];
      out.grpcStatus = t['grpc-status'] ?? h['grpc-status'];
      out.grpcMessage = t['grpc-message'] ?? h['grpc-message'];
      out.rst = req.rstCode;
      resolve(out);
    };
    const timer = setTimeout(() => {
      if (until) { settled = true; reject(new Error(`h2 ${p}: condition not met within ${timeoutMs} ms; got ${JSON.stringify({ headers: out.headers, trailers: out.trailers, messages: out.messages.length })}`)); req.close(http2.constants.NGHTTP2_CANCEL); return; }
      out.timedOut = true;
      finish();
      req.close(http2.constants.NGHTTP2_CANCEL);
    }, timeoutMs);
    req.on('response', (h) => { out.headers = h; });
    req.on('trailers', (t) => { out.trailers = t; });
    req.on('data', (d) => {
      for (const m of deframer.push(d)) out.messages.push(m);
      if (until && until(out)) finish();
    });
    req.on('close', finish);
    req.on('error', () => {});
    (async () => {
      for (let i = 0; i < chunks.length; i++) {
        if (req.destroyed || req.closed) return;
        req.write(chunks[i]);
        if (gapMs > 0 && i < chunks.length - 1) await sleep(gapMs);
      }
      if (end && !req.destroyed) req.end();
    })().catch(() => {});
  });
}

// ---------------------------------------------------------------------------------------
// A raw HTTP/2 client (frames by hand; HEADERS are sent as HPACK literals and never decoded)

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 };

function hpackInt(value, prefixBits, firstByte) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  value -= max;
  while (value >= 128) { out.push((value & 127) | 128); value >>= 7; }
  out.push(value);
  return out;
}

function hpackLiteral(name, value) {
  const n = Buffer.from(name), v = Buffer.from(value);
  return Buffer.concat([Buffer.from([0x00]), Buffer.from(hpackInt(n.length, 7, 0)), n, Buffer.from(hpackInt(v.length, 7, 0)), v]);
}

export class RawH2 {
  constructor(addr, { window = 0x7fffffff } = {}) {
    this.sock = addr.startsWith('unix:') ? net.connect(addr.slice(5)) : net.connect(Number(addr.split(':')[1]), addr.split(':')[0]);
    this.buf = Buffer.alloc(0);
    this.streams = new Map();
    this.nextId = 1;
    this.remoteSettings = {};
    this.goaway = null;
    this.closed = false;
    this.pings = 0;
    this.wakers = new Set();
    this.window = window;
    this.connected = new Promise((resolve, reject) => {
      this.sock.once('connect', resolve);
      this.sock.once('error', reject);
    });
    this.sock.on('error', (e) => { this.error = e; });
    this.sock.on('close', () => { this.closed = true; this.wake(); });
    this.sock.on('data', (d) => this.onData(d));
    const settings = [[2, 0], [4, window]]; // ENABLE_PUSH 0, INITIAL_WINDOW_SIZE
    const payload = Buffer.alloc(6 * settings.length);
    settings.forEach(([id, v], i) => { payload.writeUInt16BE(id, i * 6); payload.writeUInt32BE(v, i * 6 + 2); });
    this.sock.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    this.frame(FRAME.SETTINGS, 0, 0, payload);
    if (window > 65535) this.windowUpdate(0, window - 65535);
  }

  wake() { for (const f of [...this.wakers]) f(); }

  until(pred, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const f = () => {
        const v = pred();
        if (v !== undefined) { done(); resolve(v); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`raw h2: no ${what} within ${timeoutMs} ms`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); this.wakers.delete(f); };
      this.wakers.add(f);
      f();
    });
  }

  frame(type, flags, stream, payload = Buffer.alloc(0)) {
    const h = Buffer.alloc(9);
    h.writeUIntBE(payload.length, 0, 3);
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(stream & 0x7fffffff, 5);
    return this.sock.write(Buffer.concat([h, payload]));
  }

  windowUpdate(stream, inc) {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(inc, 0);
    this.frame(FRAME.WINDOW_UPDATE, 0, stream, p);
  }

  // Opens a stream: HEADERS (END_HEADERS) for a POST to path. Returns its id.
  open(p = SOTW_METHOD.path, { contentType = 'application/grpc', endStream = false } = {}) {
    const id = this.nextId;
    this.nextId += 2;
    const block = Buffer.concat([
      hpackLiteral(':method', 'POST'), hpackLiteral(':scheme', 'http'), hpackLiteral(':path', p),
      hpackLiteral(':authority', 'localhost'), hpackLiteral('content-type', contentType), hpackLiteral('te', 'trailers'),
    ]);
    this.streams.set(id, { id, data: 0, messages: [], deframer: new Deframer(), headers: 0, rst: null, ended: false });
    this.frame(FRAME.HEADERS, 0x4 | (endStream ? 0x1 : 0), id, block);
    return id;
  }

  data(id, payload, endStream = false) {
    for (let off = 0; off < payload.length || (off === 0 && payload.length === 0); off += 16384) {
      const part = payload.subarray(off, off + 16384);
      const last = off + 16384 >= payload.length;
      this.frame(FRAME.DATA, last && endStream ? 0x1 : 0, id, part);
      if (payload.length === 0) break;
    }
  }

  rst(id, code = 8) {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(code, 0);
    this.frame(FRAME.RST_STREAM, 0, id, p);
  }

  ping() {
    this.frame(FRAME.PING, 0, 0, Buffer.alloc(8, 7));
  }

  pause() { this.sock.pause(); }
  resume() { this.sock.resume(); }

  onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const type = this.buf[3], flags = this.buf[4], sid = this.buf.readUInt32BE(5) & 0x7fffffff;
      const p = this.buf.subarray(9, 9 + len);
      this.buf = this.buf.subarray(9 + len);
      this.onFrame(type, flags, sid, p);
    }
    this.wake();
  }

  onFrame(type, flags, sid, p) {
    const st = this.streams.get(sid);
    switch (type) {
      case FRAME.SETTINGS:
        if (!(flags & 1)) {
          for (let i = 0; i + 6 <= p.length; i += 6) this.remoteSettings[p.readUInt16BE(i)] = p.readUInt32BE(i + 2);
          this.frame(FRAME.SETTINGS, 1, 0);
          this.settingsReceived = true;
        } else this.settingsAcked = true;
        break;
      case FRAME.PING:
        if (!(flags & 1)) this.frame(FRAME.PING, 1, 0, p);
        else this.pings++;
        break;
      case FRAME.GOAWAY:
        this.goaway = { lastStreamId: p.readUInt32BE(0) & 0x7fffffff, code: p.readUInt32BE(4), debug: p.subarray(8).toString() };
        break;
      case FRAME.DATA:
        if (st) {
          st.data += p.length;
          for (const m of st.deframer.push(p)) st.messages.push(m);
          if (flags & 1) st.ended = true;
        }
        if (p.length > 0) {
          this.windowUpdate(0, p.length);
          if (st && !st.ended) this.windowUpdate(sid, p.length);
        }
        break;
      case FRAME.HEADERS:
        if (st) {
          st.headers++;
          if (flags & 1) st.ended = true;
        }
        break;
      case FRAME.RST_STREAM:
        if (st) { st.rst = p.readUInt32BE(0); st.ended = true; }
        break;
      default:
        break;
    }
  }

  close() {
    this.sock.destroy();
  }
}
