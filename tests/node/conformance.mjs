// Conformance of the Envoy resources scopecast publishes: every resource of every scope
// of the snapshots given is decoded with Envoy's real protos (shipped in
// @grpc/grpc-js-xds under deps/) by protobufjs, put in the proto3 JSON form with Envoy's
// field names, and compared with what scopecast-dump decodes with scopecast's own protos.
// A field number or type that differs from Envoy's shows up as a difference.
//
//   node conformance.mjs SCOPECAST_DUMP SNAPSHOT...
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import protobuf from 'protobufjs';
import { ENVOY_INCLUDES, ENVOY_RESOURCE_PROTOS } from './envoy_protos.mjs';

const require = createRequire(import.meta.url);
const includes = [...ENVOY_INCLUDES];
includes.push(path.dirname(require.resolve('protobufjs/package.json'))); // google/protobuf/descriptor.proto

const root = new protobuf.Root();
root.resolvePath = (origin, target) => {
  for (const dir of includes) {
    const p = path.join(dir, target);
    if (fs.existsSync(p)) return p;
  }
  return target; // google/protobuf/*: protobufjs has them built in
};
root.loadSync(ENVOY_RESOURCE_PROTOS, { keepCase: true });
root.resolveAll();

// The proto3 JSON form of a decoded protobufjs object of type t (as scopecast-dump prints).
function toJson(t, obj) {
  switch (t.fullName) {
    case '.google.protobuf.Duration': {
      const s = BigInt(obj.seconds ?? 0), n = obj.nanos ?? 0;
      if (n === 0) return `${s}s`;
      const digits = n % 1e6 === 0 ? 3 : n % 1e3 === 0 ? 6 : 9;
      return `${s}.${String(n).padStart(9, '0').slice(0, digits)}s`;
    }
    case '.google.protobuf.Any': {
      const inner = root.lookupType(obj.type_url.slice(obj.type_url.lastIndexOf('/') + 1));
      const msg = inner.decode(Buffer.from(obj.value ?? '', 'base64'));
      return { '@type': obj.type_url, ...toJson(inner, inner.toObject(msg, options)) };
    }
    case '.google.protobuf.Struct':
      return Object.fromEntries(Object.entries(obj.fields ?? {}).map(([k, v]) => [k, toJson(t.fields.fields.resolvedType, v)]));
    case '.google.protobuf.Value': {
      const [kind, v] = Object.entries(obj)[0] ?? ['null_value', null];
      if (kind === 'struct_value') return toJson(root.lookupType('google.protobuf.Struct'), v);
      if (kind === 'list_value') return (v.values ?? []).map((x) => toJson(t, x));
      return kind === 'null_value' ? null : v;
    }
  }
  if (t.fullName.startsWith('.google.protobuf.') && t.fullName.endsWith('Value')) return obj.value ?? t.fields.value.typeDefault; // a wrapper holds its value, even the default
  const out = {};
  for (const [name, value] of Object.entries(obj)) {
    const f = t.fields[name];
    const conv = (v) => (f.resolvedType instanceof protobuf.Type ? toJson(f.resolvedType, v) : v);
    if (f.map) out[name] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, conv(v)]));
    else if (f.repeated) out[name] = value.map(conv);
    else out[name] = conv(value);
  }
  return out;
}
const options = { longs: String, enums: String, bytes: String, defaults: false };

function dump(args) {
  return execFileSync(process.argv[2], args, { encoding: 'utf8', maxBuffer: 1 << 30 });
}

const TYPES = ['clusters', 'endpoints', 'listeners', 'routes'];
// What a proxy gets also depends on its labels (variants, composed inbound chains): a
// proxy without labels, one the examples' reviews service selects and one the shop fixture's
// inventory Service and Sidecar select.
const LABEL_SETS = [[], ['--label', 'app=reviews', '--label', 'version=v2'], ['--label', 'app=inventory', '--label', 'version=v1']];
const counts = {};
let checked = 0, failed = 0;
for (const snap of process.argv.slice(3)) {
  const scopes = JSON.parse(dump(['--snapshot', snap, 'scopes', '--json'])).scopes;
  if (scopes.length === 0) { console.log(`FAIL ${snap}: no scopes`); failed++; }
  for (const { id } of scopes) {
    for (const [type, labels] of TYPES.flatMap((t) => LABEL_SETS.map((l) => [t, l]))) {
      const decoded = JSON.parse(dump(['--snapshot', snap, 'resources', id, '--type', type, '--json', ...labels])).resources;
      const raw = dump(['--snapshot', snap, 'resources', id, '--type', type, '--raw', ...labels]).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
      // Every scope has clusters (the static ones at least); endpoints only with EDS clusters.
      if (raw.length !== decoded.length || (raw.length === 0 && type === 'clusters')) {
        console.log(`FAIL ${snap} ${id} ${type}: ${raw.length} raw resources, ${decoded.length} decoded`);
        failed++;
        continue;
      }
      for (let i = 0; i < raw.length; i++) {
        const t = root.lookupType(raw[i].type_url.slice(raw[i].type_url.lastIndexOf('/') + 1));
        const msg = t.decode(Buffer.from(raw[i].bytes, 'base64'));
        const envoy = { '@type': raw[i].type_url, ...toJson(t, t.toObject(msg, options)) };
        const ownName = envoy.name ?? envoy.cluster_name; // a ClusterLoadAssignment names its cluster
        checked++;
        counts[type] = (counts[type] ?? 0) + 1;
        if (raw[i].name !== decoded[i].name || ownName !== raw[i].name || !isDeepStrictEqual(envoy, decoded[i].resource)) {
          failed++;
          console.log(`FAIL ${snap} ${id} ${raw[i].name}:\n  Envoy's protos: ${JSON.stringify(envoy)}\n  scopecast:      ${JSON.stringify(decoded[i].resource)}`);
        }
      }
    }
  }
}
console.log(`${checked} resources decoded with Envoy's protos (${JSON.stringify(counts)}), ${failed} differences`);
process.exit(failed === 0 && TYPES.every((t) => counts[t] > 0) ? 0 : 1);
