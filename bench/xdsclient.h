/* Simulated Envoy proxies for bench_xds: each proxy is one HTTP/2 connection (libuv +
 * nghttp2 client session) carrying one ADS stream, state of the world
 * (/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources) or
 * incremental (.../DeltaAggregatedResources), one mode per client.
 *
 * A proxy behaves as Envoy does at start: CDS (wildcard, the node on the first request
 * only), then EDS for the clusters of type EDS it got, then LDS (wildcard) once its
 * clusters are warm, then RDS for the route configurations its listeners name.
 *
 * SotW: every response is checked (type_url of the response and of every resource,
 * version and nonce present, nonce unique on the stream, no duplicate names, EDS/RDS
 * names as requested) and ACKed: same type_url, version_info and response_nonce as
 * received, resource_names as subscribed. After every CDS response the EDS subscription
 * is sent again (Envoy re-warms its clusters), and after every LDS response the RDS one
 * when it changed.
 *
 * Delta: the first request subscribes CDS to "*", LDS later likewise; EDS and RDS
 * subscribe to names. Every response is checked (type_url of the response and of every
 * resource's Any, nonce present and unique on the stream, a version per resource, names
 * as decoded and not repeated) and ACKed with its type_url and nonce alone; the proxy
 * keeps what it holds per type (resources received minus removed_resources), and when
 * the clusters or listeners it holds name EDS or RDS resources it does not subscribe to
 * (or no longer name some), it sends a request subscribing (unsubscribing) just those.
 *
 * Reconnection (sc_xc_client_set_reconnect): a proxy whose connection or stream ends
 * connects again after a jittered backoff and starts over as a new Envoy would (the node
 * first, CDS, then EDS, LDS, RDS; Delta without initial_resource_versions); responses
 * still queued from the old stream are dropped. Without it, such a proxy has failed.
 *
 * Responses are time-stamped when their last byte is read, and decoded later, when the
 * loop has no more bytes to read (or they wait too long): on a 2-core machine shared
 * with the frontends, decoding 1,000 responses in line would delay the reading of the
 * next ones and the client would measure itself. Decoding is cached by content hash
 * (most proxies of a scope receive the same resources). */
#ifndef SC_XDSCLIENT_H
#define SC_XDSCLIENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "wire/grpc_frame.h"
#include "store/hashmap.h"

/* The four types, in Envoy's push order (as sc_xds_type_t). */
enum { SC_XC_CDS = 0, SC_XC_EDS, SC_XC_LDS, SC_XC_RDS, SC_XC_NTYPES };

/* A sorted list of distinct names, shared between proxies (owned by the client). */
typedef struct {
  size_t n;
  const char **v;
} sc_xc_names_t;

/* Delta: a resource as a proxy holds it (shared between proxies, owned by the client);
 * version NULL: a subscribed name the server said does not exist. */
typedef struct {
  char *name, *version;
  const void *decoded; /* the client's decoding of its bytes (xdsclient.c), or NULL */
} sc_xc_held_t;

typedef struct {
  char *version;                  /* version_info (Delta: system_version_info) of the last response (owned), or NULL */
  char *nonce;                    /* its nonce (owned), or NULL */
  const sc_xc_names_t *subscribed; /* EDS/RDS: names requested; NULL for CDS/LDS (wildcard) */
  uint8_t *have;                  /* EDS/RDS: 1 per subscribed name received */
  size_t nhave;
  bool requested, received;
  uint32_t responses;
  uint32_t count; /* resources in the last response (Delta: held) */
  /* Delta: what the proxy holds, sorted by name; EDS/RDS: the names subscribed (subscribed
   * points here once there are any; the array is the proxy's, the strings the client's). */
  const sc_xc_held_t **held;
  size_t nheld;
  sc_xc_names_t delta_subscribed;
} sc_xc_type_state_t;

/* Who a proxy is: the Node of its first request (Istio's id and metadata). */
typedef struct {
  char id[288];
  char namespace_[64];
  char app[64];
  char version[16];
  char ip[32];
  bool interception_none;
  uint32_t klass; /* the orchestrator's proxy class (same namespace, labels, mode) */
} sc_xc_identity_t;

typedef enum {
  SC_XC_IDLE = 0,
  SC_XC_CONNECTING,
  SC_XC_OPEN,
  SC_XC_FAILED, /* an error ended it; closing or closed */
  SC_XC_CLOSED  /* closed by the client */
} sc_xc_state_t;

typedef struct sc_xc_client sc_xc_client_t;

typedef struct {
  sc_xc_client_t *client;
  sc_xc_identity_t who;
  bool delta; /* Delta ADS; the client's mode unless set before the proxy connects */
  sc_xc_state_t state;
  uint32_t generation;        /* streams the proxy opened before this one */
  uint32_t reconnect_attempts; /* since it was last synced */
  uint64_t reconnect_at_ns;   /* CLOCK_MONOTONIC; 0: no reconnection due */
  uint32_t undecoded;         /* its responses waiting to be decoded */
  bool read_paused;           /* reading stopped until they are (max_undecoded) */
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  bool writing, handle_open;
  nghttp2_session *h2;
  int32_t stream_id;
  bool data_deferred;         /* the request body's provider is waiting for messages */
  uint32_t requests_sent;     /* the first one carries the node */
  uint8_t *out;               /* request messages not yet taken by nghttp2 */
  size_t out_len, out_off, out_cap;
  uint8_t *wbuf;              /* bytes being written to the socket */
  size_t wbuf_len, wbuf_cap;
  sc_grpc_deframer_t deframer;
  int http_status, grpc_status;
  sc_xc_type_state_t types[SC_XC_NTYPES];
  bool eds_warming;           /* an EDS request followed a CDS response; no EDS response since */
  uint64_t *nonces;           /* XXH3 of every nonce received on the stream */
  size_t nnonces, nonces_cap;
  bool synced, ever_synced;
  uint64_t t_connect_ns, t_synced_ns; /* CLOCK_MONOTONIC */
  /* Fan-out marks (sc_xc_client_mark): the first CDS response after the mark with a new
   * version (SotW) or naming the event's cluster (Delta), and when its last byte was read
   * (CLOCK_REALTIME). */
  bool mark_done;
  uint64_t t_mark_cds_ns;
  uint32_t cds_since_mark;
} sc_xc_proxy_t;

typedef struct sc_xc_msg sc_xc_msg_t;

struct sc_xc_client {
  uv_loop_t *loop;
  bool delta; /* DeltaAggregatedResources rather than StreamAggregatedResources, by default */
  struct sockaddr_in addr;
  char authority[64];
  sc_xc_proxy_t *proxies;
  size_t n;
  nghttp2_session_callbacks *callbacks;
  uint8_t *rbuf; /* one read buffer for every connection: read_cb consumes it at once */
  /* Responses read and not decoded yet, oldest first. */
  uv_check_t check;
  uv_idle_t idle;
  sc_xc_msg_t *queue_head, *queue_tail;
  size_t queue_len, max_queue_len;
  uint64_t max_queue_wait_ns; /* the longest a response waited to be decoded */
  /* Decoding per loop turn while bytes keep coming (0: 1 ms): measurements keep it short
   * so that reading is timely; a soak raises it so that answers are (ACKs, requests). */
  uint64_t drain_busy_ns;
  /* A proxy with this many responses waiting stops reading its socket until they are
   * decoded, as a busy Envoy would (0: never): the frontend then holds only the latest
   * state for it, and the client's memory stays bounded. */
  uint32_t max_undecoded;
  uint64_t read_pauses;
  uint64_t reads_this_turn;
  /* Decoding caches: resources and responses by content hash; Delta: resources as held
   * (name, version, content) and responses (resources and removed names). */
  sc_hashmap_t resources, responses, held, delta_responses;
  size_t handles_open; /* connections, check and idle: sc_xc_client_free needs 0 */
  /* Reconnection (0: off): the backoff's base, a timer that connects the proxies due. */
  uint64_t reconnect_ms;
  uv_timer_t reconnect_timer;
  size_t reconnect_pending;
  uint64_t drops, reconnects; /* streams ended and connections opened again */
  char drop_reasons[4][200];  /* the first few reasons streams ended */
  size_t ndrop_reasons;
  /* Progress. With reconnection a proxy never fails: its drops are counted instead. */
  size_t connected, synced_now, ever_synced, failed, closed;
  size_t gave_up;     /* failed before they ever synced: ever_synced + gave_up is the storm's end */
  size_t marked_done; /* since the mark: new CDS version received, or failed */
  uint64_t last_response_ns; /* CLOCK_MONOTONIC */
  /* Counters. */
  uint64_t responses_by_type[SC_XC_NTYPES], bytes_by_type[SC_XC_NTYPES];
  uint64_t requests, acks, redundant, unrequested, protocol_errors;
  uint64_t redundant_named; /* Delta: EDS/RDS responses with nothing the proxy lacked */
  uint64_t subscription_requests; /* Delta: requests changing EDS/RDS subscriptions */
  bool marking;           /* a fan-out mark was set: updates are expected */
  char mark_needle[256];  /* Delta: the fan-out event's cluster names contain this */
  uint64_t routes_before_clusters; /* after a mark, an LDS/RDS update before the new CDS one */
  uint64_t decode_ns; /* time spent decoding and answering responses */
  char errors[8][320];
  size_t nerrors;
};

/* Sets up the client for n proxies (their identities to be filled in by the caller)
 * towards addr, SotW or Delta. Returns 0 or a negative error. */
int sc_xc_client_init(sc_xc_client_t *c, uv_loop_t *loop, const struct sockaddr_in *addr, size_t n, bool delta);

/* Makes proxies whose connection or stream ends connect again, after base_ms (doubled
 * per failed attempt up to 8 times that, jittered by +-50%). Call before connecting. */
void sc_xc_client_set_reconnect(sc_xc_client_t *c, uint64_t base_ms);

/* Opens the proxy's connection and its ADS stream. Returns 0 or a libuv error. */
int sc_xc_proxy_connect(sc_xc_proxy_t *p);

/* Starts a fan-out measurement: each proxy records its next CDS response with a new
 * version (SotW), or with a cluster whose name contains needle (Delta: a response holds
 * only what changed) (mark_done, t_mark_cds_ns); marked_done counts them, and the failed
 * proxies (done, with t_mark_cds_ns 0). */
void sc_xc_client_mark(sc_xc_client_t *c, const char *needle);

/* Closes every connection; the loop must run until closed + never-opened == n. */
void sc_xc_client_close(sc_xc_client_t *c);

/* Frees what the client holds; every handle must be closed. */
void sc_xc_client_free(sc_xc_client_t *c);

/* Whether every connection handle is closed. */
bool sc_xc_client_closed(const sc_xc_client_t *c);

#endif
