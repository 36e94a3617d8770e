// A traffic simulator: follows one call through the Envoy configuration a proxy receives
// (listeners, route configurations, clusters, as `scopecast-dump resources --json` prints them)
// the way Envoy does, and says where it ends. The rules are those of Istio's
// pilot/pkg/simulation/traffic.go (written anew here, in the same words so that ported
// expectations read the same); docs/simulation.md describes them.
//
//   import { Simulation, ERR } from './sim.mjs';
//   const sim = new Simulation({ listeners, routes, clusters });   // arrays of decoded resources
//   sim.run({ address, port, protocol, tls, alpn, host, sni, path, headers, callMode })
//     -> { error, listener, filterChain, routeConfig, virtualHost, route, cluster,
//          weightedClusters, redirect, directResponse }

export const ERR = {
  NO_LISTENER: 'no listener matched',
  NO_FILTER_CHAIN: 'no filter chains matched',
  NO_ROUTE: 'no route matched',
  TLS_REDIRECT: 'tls required, sending 301',
  NO_VIRTUAL_HOST: 'no virtual host matched',
  MULTIPLE_FILTER_CHAIN: 'multiple filter chains matched',
  PROTOCOL: 'protocol error',
  TLS: 'invalid TLS',
  MTLS: 'invalid mTLS',
  NO_ROUTE_CONFIG: 'no route configuration',
  INVALID_CALL: 'invalid call, ALPN can only be sent in TLS requests',
};

const HCM = 'envoy.filters.network.http_connection_manager';
const TCP_PROXY = 'envoy.filters.network.tcp_proxy';
const TLS_INSPECTOR = 'envoy.filters.listener.tls_inspector';
const HTTP_INSPECTOR = 'envoy.filters.listener.http_inspector';
const VIRTUAL_OUTBOUND = 'virtualOutbound';
const VIRTUAL_INBOUND = 'virtualInbound';

// Accepts either bare resources or the dump's {name, version, resource} wrappers, or the whole
// dump document {version_info, resources}.
function unwrap(x) {
  if (!x) return [];
  if (!Array.isArray(x) && Array.isArray(x.resources)) x = x.resources;
  return x.map((r) => (r && r.resource ? r.resource : r));
}

export function fillDefaults(call) {
  const c = { ...call };
  c.headers = { ...(call.headers || {}) };
  if (c.host) c.headers.host = c.host;
  c.protocol = c.protocol || 'http';
  c.tls = c.tls || 'plaintext';
  if (!c.sni && c.tls === 'tls') c.sni = c.host || '';
  c.path = c.path || '/';
  c.address = c.address || '1.3.3.7';
  c.callMode = c.callMode || 'outbound';
  if (c.tls === 'mtls' && !c.alpn) c.alpn = { http: 'istio-http/1.1', http2: 'istio-h2' }[c.protocol] || 'istio';
  if (c.tls === 'tls' && !c.alpn) c.alpn = { http: 'http/1.1', http2: 'h2' }[c.protocol] || '';
  return c;
}

function typeOf(tc) {
  const t = tc && tc['@type'];
  return t ? t.slice(t.lastIndexOf('/') + 1) : '';
}

function networkFilter(fc, name, typeName) {
  for (const f of (fc && fc.filters) || []) {
    if (f.name === name || typeOf(f.typed_config) === typeName) return f.typed_config || {};
  }
  return null;
}

// --- addresses -------------------------------------------------------------------------------

function ipv4(s) {
  const p = String(s).split('.');
  if (p.length !== 4) return null;
  let v = 0n;
  for (const x of p) {
    if (!/^\d+$/.test(x) || Number(x) > 255) return null;
    v = (v << 8n) | BigInt(x);
  }
  return { bits: 32, v };
}

function ipv6(s) {
  s = String(s);
  if (!s.includes(':')) return null;
  let [head, tail] = s.split('::');
  const parse = (part) => (part ? part.split(':') : []);
  let h = parse(head), t = tail === undefined ? [] : parse(tail);
  const last = (tail === undefined ? h : t);
  if (last.length && last[last.length - 1].includes('.')) {       // embedded IPv4
    const v4 = ipv4(last.pop());
    if (!v4) return null;
    last.push(((v4.v >> 16n) & 0xffffn).toString(16), (v4.v & 0xffffn).toString(16));
  }
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  if (fill < 0) return null;
  const groups = [...h, ...Array(fill).fill('0'), ...t];
  if (groups.length !== 8) return null;
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return { bits: 128, v };
}

export function parseIP(s) {
  return ipv4(s) || ipv6(s);
}

// The prefix length of the range if ADDRESS lies in it, else -1.
export function cidrContains(prefix, len, address) {
  const a = parseIP(address), p = parseIP(prefix);
  if (!a || !p || a.bits !== p.bits) return -1;
  const l = len === undefined || len === null ? 0 : Number(len);
  const shift = BigInt(a.bits - l);
  return (a.v >> shift) === (p.v >> shift) ? l : -1;
}

// --- listener filters --------------------------------------------------------------------------

// Envoy's ListenerFilterChainMatchPredicate, for the destination port only (the one Istio uses).
export function evalPredicate(p, port) {
  if (!p) return false;
  if (p.any_match) return true;
  if (p.or_match) return (p.or_match.rules || []).some((r) => evalPredicate(r, port));
  if (p.and_match) return (p.and_match.rules || []).every((r) => evalPredicate(r, port));
  if (p.not_match) return !evalPredicate(p.not_match, port);
  if (p.destination_port_range) {
    const r = p.destination_port_range;
    return port >= Number(r.start || 0) && port < Number(r.end || 0);
  }
  return false;
}

export function hasFilterOnPort(l, name, port) {
  const typeSuffix = name === TLS_INSPECTOR ? '.TlsInspector' : name === HTTP_INSPECTOR ? '.HttpInspector' : null;
  for (const f of l.listener_filters || []) {
    if (f.name !== name && !(typeSuffix && typeOf(f.typed_config).endsWith(typeSuffix))) continue;
    if (!f.filter_disabled) return true;
    return !evalPredicate(f.filter_disabled, port);
  }
  return false;
}

// --- listeners ---------------------------------------------------------------------------------

function sockAddr(l) {
  const s = (l.address && l.address.socket_address) || {};
  return { address: s.address || '', port: Number(s.port_value || 0) };
}

export function matchListener(listeners, call) {
  if (call.callMode === 'inbound') return listeners.find((l) => l.name === VIRTUAL_INBOUND) || null;
  // An exact IP/port listener, then the wildcard IP on that port (there is no wildcard port);
  // in outbound mode 15001 hands the connection off to them by its original destination.
  for (const l of listeners) {
    const a = sockAddr(l);
    if (a.address === call.address && a.port === call.port) return l;
  }
  for (const l of listeners) {
    const a = sockAddr(l);
    if ((a.address === '0.0.0.0' || a.address === '::') && a.port === call.port) return l;
  }
  if (call.callMode === 'gateway') return null;
  return listeners.find((l) => l.name === VIRTUAL_OUTBOUND) || null;
}

// --- filter chain match: Envoy's sieve, as Istio's simulation ranks it -------------------------

function isZero(v) {
  if (v === undefined || v === null || v === '' || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

function filterRank(chains, extract, rank) {
  if (!chains.some((c) => !isZero(extract(c.filter_chain_match || {})))) return chains;
  const byRank = new Map();
  for (const c of chains) {
    const v = extract(c.filter_chain_match || {});
    if (isZero(v)) continue;
    const r = rank(v);
    if (r > 0) {
      if (!byRank.has(r)) byRank.set(r, []);
      byRank.get(r).push(c);
    }
  }
  if (byRank.size) return byRank.get(Math.max(...byRank.keys()));
  // No chain matched this criterion: those that do not set it remain.
  return chains.filter((c) => isZero(extract(c.filter_chain_match || {})));
}

const bool = (f) => (v) => (f(v) ? 1 : 0);

// Is SNI within the (possibly wildcard) server name S? (Istio's host.Name.SubsetOf)
function sniWithin(sni, s) {
  if (s === '*') return true;
  if (s.startsWith('*')) return sni.startsWith('*') ? sni.endsWith(s.slice(1)) : sni.endsWith(s.slice(1));
  return sni === s;
}

export function matchFilterChain(chains, defaultChain, call, hasTLSInspector) {
  chains = chains || [];
  chains = filterRank(chains, (m) => m.destination_port, bool((p) => Number(p) === call.port));
  chains = filterRank(chains, (m) => m.prefix_ranges, (ranges) => {
    let best = 0;
    for (const r of ranges) {
      const l = cidrContains(r.address_prefix, r.prefix_len, call.address);
      // Rank by how exact: a /32 before a /8 (+1 so that a /0 still counts as a match).
      if (l >= 0) best = Math.max(best, l + 1);
    }
    return best;
  });
  chains = filterRank(chains, (m) => m.server_names, (names) => {
    const sni = call.sni || '';
    let best = 0;
    for (const s of names) {
      if (sni === s) best = Number.MAX_SAFE_INTEGER;
      else if (sni && sniWithin(sni, s)) best = Math.max(best, s.length);
    }
    return best;
  });
  chains = filterRank(chains, (m) => m.transport_protocol, bool((t) => {
    if (!hasTLSInspector) return t === 'raw_buffer';
    if (t === 'tls') return call.tls === 'tls' || call.tls === 'mtls';
    if (t === 'raw_buffer') return call.tls === 'plaintext';
    return false;
  }));
  chains = filterRank(chains, (m) => m.application_protocols, bool((ps) => ps.includes(call.alpn)));
  if (chains.length > 1) return { error: ERR.MULTIPLE_FILTER_CHAIN, matched: chains.map((c) => c.name) };
  if (chains.length === 0) return defaultChain ? { chain: defaultChain } : { error: ERR.NO_FILTER_CHAIN };
  return { chain: chains[0] };
}

// --- virtual hosts and routes ------------------------------------------------------------------

export function matchVirtualHost(rc, host) {
  const vhs = rc.virtual_hosts || [];
  if (rc.ignore_port_in_host_matching) {
    const m = /^(\[[^\]]*\]|[^:]*):\d+$/.exec(host);
    if (m) host = m[1];
  }
  host = host.toLowerCase();
  for (const vh of vhs) if ((vh.domains || []).some((d) => d.toLowerCase() === host)) return vh;
  let best = null, longest = 0;
  for (const vh of vhs) {        // "*.example.com": the longest suffix wins
    for (const d of vh.domains || []) {
      if (d[0] !== '*' || d === '*') continue;
      if (host.length >= d.length && host.endsWith(d.slice(1).toLowerCase()) && d.length > longest) { best = vh; longest = d.length; }
    }
  }
  if (best) return best;
  for (const vh of vhs) {        // "example.*": the longest prefix wins
    for (const d of vh.domains || []) {
      if (d[d.length - 1] !== '*' || d === '*') continue;
      if (host.length >= d.length && host.startsWith(d.slice(0, -1).toLowerCase()) && d.length > longest) { best = vh; longest = d.length; }
    }
  }
  if (best) return best;
  for (const vh of vhs) if ((vh.domains || []).includes('*')) return vh;
  return null;
}

function fullRegex(re, flags = '') {
  // RE2 in Envoy matches the whole value.
  return new RegExp(`^(?:${re})$`, flags);
}

// Envoy's StringMatcher.
export function stringMatch(m, v) {
  if (v === undefined || v === null) return false;
  const ci = m.ignore_case;
  const val = ci ? v.toLowerCase() : v;
  const lc = (s) => (ci ? String(s).toLowerCase() : String(s));
  if (m.exact !== undefined) return val === lc(m.exact);
  if (m.prefix !== undefined) return val.startsWith(lc(m.prefix));
  if (m.suffix !== undefined) return val.endsWith(lc(m.suffix));
  if (m.contains !== undefined) return val.includes(lc(m.contains));
  if (m.safe_regex) return fullRegex(m.safe_regex.regex, ci ? 'i' : '').test(v);
  return false;
}

function headerValue(headers, name) {
  const key = name.toLowerCase();
  if (key === ':authority') return headers.host;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === key) return Array.isArray(v) ? v.join(',') : v;
  return undefined;
}

// Envoy's HeaderMatcher.
export function headerMatch(h, headers, path) {
  let v = h.name === ':path' ? path : headerValue(headers, h.name);
  let ok;
  if (h.present_match !== undefined) ok = (v !== undefined) === !!h.present_match;
  else if (v === undefined) ok = false;
  else if (h.exact_match !== undefined) ok = v === h.exact_match;
  else if (h.prefix_match !== undefined) ok = v.startsWith(h.prefix_match);
  else if (h.suffix_match !== undefined) ok = v.endsWith(h.suffix_match);
  else if (h.contains_match !== undefined) ok = v.includes(h.contains_match);
  else if (h.safe_regex_match) ok = fullRegex(h.safe_regex_match.regex).test(v);
  else if (h.string_match) ok = stringMatch(h.string_match, v);
  else if (h.range_match) ok = /^-?\d+$/.test(v) && Number(v) >= Number(h.range_match.start) && Number(v) < Number(h.range_match.end);
  else ok = true;                               // no specifier: present
  if (h.invert_match && !(v === undefined && h.treat_missing_header_as_empty)) ok = !ok;
  return ok;
}

export function matchRoute(vh, call) {
  const full = call.path;
  const q = full.indexOf('?');
  const path = q >= 0 ? full.slice(0, q) : full;
  const query = new URLSearchParams(q >= 0 ? full.slice(q + 1) : '');
  for (const r of vh.routes || []) {
    const m = r.match || {};
    const ci = m.case_sensitive === false;
    const p = ci ? path.toLowerCase() : path;
    const lc = (s) => (ci ? s.toLowerCase() : s);
    if (m.prefix !== undefined) { if (!p.startsWith(lc(m.prefix))) continue; }
    else if (m.path !== undefined) { if (p !== lc(m.path)) continue; }
    else if (m.path_separated_prefix !== undefined) {
      const s = lc(m.path_separated_prefix);
      if (!(p === s || p.startsWith(s + '/'))) continue;
    } else if (m.safe_regex) { if (!fullRegex(m.safe_regex.regex).test(path)) continue; }
    else return { error: `unknown route path type in route ${r.name || ''}: ${JSON.stringify(m)}` };
    if (!(m.headers || []).every((h) => headerMatch(h, call.headers, path))) continue;
    if (!(m.query_parameters || []).every((qp) => {
      const v = query.get(qp.name);
      if (qp.present_match) return v !== null;
      if (v === null) return false;
      return qp.string_match ? stringMatch(qp.string_match, v) : true;
    })) continue;
    return { route: r };
  }
  return { route: null };
}

// --- the call ----------------------------------------------------------------------------------

function requiresMTLS(fc) {
  const ts = fc.transport_socket && fc.transport_socket.typed_config;
  if (!ts) return false;
  const sds = (ts.common_tls_context && ts.common_tls_context.tls_certificate_sds_secret_configs) || [];
  if (!sds.length || sds[0].name !== 'default') return false;
  const rcc = ts.require_client_certificate;
  return rcc === true || (rcc && rcc.value === true);
}

export class Simulation {
  constructor({ listeners, routes, clusters } = {}) {
    this.listeners = unwrap(listeners);
    this.routes = unwrap(routes);
    this.clusters = unwrap(clusters);
    this.routeByName = new Map(this.routes.map((r) => [r.name, r]));
  }

  // The route configuration names the listeners' connection managers ask for (RDS).
  rdsNames() {
    const names = new Set();
    for (const l of this.listeners) {
      for (const fc of [...(l.filter_chains || []), ...(l.default_filter_chain ? [l.default_filter_chain] : [])]) {
        const hcm = networkFilter(fc, HCM, 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
        if (hcm && hcm.rds && hcm.rds.route_config_name) names.add(hcm.rds.route_config_name);
      }
    }
    return names;
  }

  run(input) {
    const call = fillDefaults(input);
    const res = {};
    if (call.alpn && call.tls === 'plaintext') return { error: ERR.INVALID_CALL };
    const l = matchListener(this.listeners, call);
    if (!l) return { error: ERR.NO_LISTENER };
    res.listener = l.name;
    const tlsInspector = hasFilterOnPort(l, TLS_INSPECTOR, call.port);
    if (!tlsInspector) call.alpn = '';       // nobody reads the handshake's ALPN
    if (hasFilterOnPort(l, HTTP_INSPECTOR, call.port) && call.tls === 'plaintext') {
      const a = { http: 'http/1.1', http2: 'h2c' }[call.protocol];
      if (a) call.alpn = a;
    }
    const m = matchFilterChain(l.filter_chains, l.default_filter_chain, call, tlsInspector);
    if (m.error) return { ...res, error: m.error };
    const fc = m.chain;
    res.filterChain = fc.name || '';
    if (fc.transport_socket && call.tls === 'plaintext') return { ...res, error: ERR.TLS };
    if (fc.transport_socket && requiresMTLS(fc) !== (call.tls === 'mtls')) return { ...res, error: ERR.MTLS };

    const hcm = networkFilter(fc, HCM, 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
    if (hcm) {
      if (call.tls !== 'plaintext' && !fc.transport_socket) return { ...res, error: ERR.PROTOCOL };
      if (call.protocol !== 'http' && call.protocol !== 'http2') return { ...res, error: ERR.PROTOCOL };
      let rc = hcm.route_config;
      if (!rc) {
        const name = (hcm.rds && hcm.rds.route_config_name) || '';
        res.routeConfig = name;
        rc = this.routeByName.get(name);
        if (!rc) return { ...res, error: ERR.NO_ROUTE_CONFIG };
      }
      const vh = matchVirtualHost(rc, headerValue(call.headers, 'host') || '');
      if (!vh) return { ...res, error: ERR.NO_VIRTUAL_HOST };
      res.virtualHost = vh.name;
      if (vh.require_tls === 'ALL' && call.tls === 'plaintext') return { ...res, error: ERR.TLS_REDIRECT };
      const rm = matchRoute(vh, call);
      if (rm.error) return { ...res, error: rm.error };
      if (!rm.route) return { ...res, error: ERR.NO_ROUTE };
      const r = rm.route;
      res.route = r.name || '';
      if (r.route) {
        if (r.route.cluster) res.cluster = r.route.cluster;
        else if (r.route.weighted_clusters) {
          res.weightedClusters = (r.route.weighted_clusters.clusters || []).map((c) => ({ name: c.name, weight: Number(c.weight || 0) }));
        } else if (r.route.cluster_header) res.clusterHeader = r.route.cluster_header;
      } else if (r.redirect) res.redirect = r.redirect;
      else if (r.direct_response) res.directResponse = Number(r.direct_response.status);
      return res;
    }
    const tcp = networkFilter(fc, TCP_PROXY, 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy');
    if (tcp) {
      if (tcp.cluster) res.cluster = tcp.cluster;
      else if (tcp.weighted_clusters) {
        res.weightedClusters = (tcp.weighted_clusters.clusters || []).map((c) => ({ name: c.name, weight: Number(c.weight || 0) }));
      }
    }
    return res;
  }
}

// Istio's xdstest.ExtractVirtualHosts: every domain of a route configuration -> the sorted
// clusters of its virtual host's routes (single-cluster routes only).
export function extractVirtualHosts(rc) {
  const out = {};
  for (const vh of (rc && rc.virtual_hosts) || []) {
    const dests = (vh.routes || []).map((r) => r.route && r.route.cluster).filter(Boolean).sort();
    for (const d of vh.domains || []) out[d] = dests.length ? dests : null;
  }
  return out;
}

// Does RESULT match WANT the way Istio's Result.Matches does: the error always, each other
// field only where WANT gives it (strict: every field). Returns a list of differences.
export const RESULT_FIELDS = ['listener', 'filterChain', 'routeConfig', 'virtualHost', 'route', 'cluster',
  'weightedClusters', 'redirect', 'directResponse'];
export function compareResult(got, want) {
  const diffs = [];
  if ((want.error || '') !== (got.error || '')) diffs.push(`want error ${JSON.stringify(want.error || null)} got ${JSON.stringify(got.error || null)}`);
  for (const f of RESULT_FIELDS) {
    if (!(f in want) && !want.strict) continue;
    const w = JSON.stringify(want[f] === undefined ? null : want[f]);
    const g = JSON.stringify(got[f] === undefined || got[f] === '' ? null : got[f]);
    if (want[f] === '' && (got[f] === undefined || got[f] === '')) continue;
    if (w !== g) diffs.push(`want ${f} ${w} got ${g}`);
  }
  return diffs;
}
