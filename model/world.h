/* model/: the indexes over the store that everything downstream reads (world.c, Istio's
 * PushContext) and the hostname rules (host.c). May call store/ only.
 *
 * The world: indexes over the store that every scope computation reads — Istio's
 * PushContext. Services from both registries as one record type (docs/semantics.md "Inputs, normalised"), the
 * service index by host and namespace with exportTo lists, VirtualServices by
 * visibility, consolidated DestinationRules, Sidecars in precedence
 * order with the root Sidecar, and the set of namespaces the config mentions.
 *
 * A world borrows the store's objects. It is built in parts, one per kind of input, so
 * that a batch rebuilds only the parts whose objects changed (sc__world_update) before
 * anything reads it. */
#ifndef SC_WORLD_H
#define SC_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "store/arena.h"
#include "scopecast/store.h"
#include "store/strmap.h"
#include "store/vec.h"

typedef enum { SC_REGISTRY_KUBERNETES = 0, SC_REGISTRY_EXTERNAL } sc_registry_t;

typedef enum {
  SC_RES_CLIENT_SIDE_LB = 0,
  SC_RES_DNS_LB,
  SC_RES_DNS_ROUND_ROBIN_LB,
  SC_RES_PASSTHROUGH,
  SC_RES_ALIAS,
  SC_RES_DYNAMIC_DNS
} sc_svc_resolution_t;

typedef struct {
  sc_str_t name;
  uint32_t port;
  sc_protocol_t protocol;
} sc_svc_port_t;

/* An ExternalName service that resolves to a service. */
typedef struct {
  sc_str_t hostname;
  sc_str_t namespace_;
} sc_alias_t;

/* A service record (model.Service). Registry records live in the world; scope
 * computations make trimmed or merged copies, which point back at their origin. Two
 * records are "the same" only when they are the same pointer. */
typedef struct sc_svc_s {
  sc_str_t hostname;
  sc_str_t namespace_;
  sc_str_t name;        /* Kubernetes: the Service name; ServiceEntry: the hostname */
  sc_str_t object_name; /* the source object's name (last sort tie-breaker) */
  sc_registry_t registry;
  sc_svc_resolution_t resolution;
  bool mesh_external;
  uint32_t nports;
  sc_svc_port_t *ports;
  sc_strlist_t export_to; /* as written; empty: the mesh default applies */
  const sc_labels_t *labels;
  const sc_labels_t *selector;
  sc_str_t address;
  sc_str_t external_name; /* Alias services: the ExternalName target */
  uint32_t naliases;      /* ExternalName services resolving to this hostname, */
  sc_alias_t *aliases;    /* sorted by namespace, then hostname */
  int64_t creation_time;
  const sc_obj_t *obj;
} sc_svc_t;

/* A consolidated DestinationRule: the oldest rule with later ones merged in. */
typedef struct {
  const sc_obj_t *rule;   /* the first rule */
  sc_strlist_t export_to; /* X of the first rule ({.} for selector rules) */
  const sc_labels_t *selector; /* matchLabels, or NULL */
  sc_vec_t from;          /* const sc_obj_t *: every merged rule, the first first */
  sc_vec_t subsets;       /* const sc_subset_t *: union by name, first wins */
  const sc_traffic_policy_t *traffic_policy; /* the oldest rule's that has one */
} sc_cdr_t;

/* Consolidated rules by host, split exact / wildcard for most-specific lookup. */
typedef struct {
  sc_strmap_t by_host;  /* host -> sc_vec_t of sc_cdr_t * */
  sc_vec_t hosts;       /* sc_str_t * of every key, for the wildcard search */
} sc_dr_index_t;

/* The parts, each rebuilt from the store as a whole. */
enum {
  SC_WORLD_PART_SERVICES = 0,     /* Services and ServiceEntries */
  SC_WORLD_PART_VIRTUAL_SERVICES,
  SC_WORLD_PART_DESTINATION_RULES,
  SC_WORLD_PART_SIDECARS,
  SC_WORLD_PART_NAMESPACES,       /* which namespaces the config mentions (only the plan
                                     of scopes reads them) */
  SC_WORLD__PARTS
};
#define SC_WORLD_ALL ((1u << SC_WORLD__PARTS) - 1)

typedef struct {
  sc_arena_t *arena; /* what the part allocated */
  sc_vec_t vecs;     /* every sc_vec_t it allocated */
} sc_world_part_t;

typedef struct {
  const sc_store_t *store;
  const sc_mesh_config_t *mesh;
  sc_str_t root_ns;
  sc_world_part_t parts[SC_WORLD__PARTS];
  sc_arena_t *arena; /* while a part is built: where it allocates */
  sc_vec_t *vecs;

  sc_hashmap_t svc_objects; /* object key -> the records of a Service or ServiceEntry and
                               the reference that keeps it alive */
  sc_strmap_t aliases_of;   /* concrete hostname -> its aliases */
  sc_vec_t pending;         /* Services and ServiceEntries changed since the last update */
  uint32_t svc_garbage;     /* records replaced since the part was built */
  sc_strmap_t by_host;     /* hostname -> sc_vec_t of sc_svc_t *: one winner per namespace */
  sc_strmap_t all_by_host; /* hostname -> sc_vec_t of every sc_svc_t *, in creation order */
  sc_strmap_t svcs_by_ns;  /* namespace -> sc_vec_t of every sc_svc_t * of it */
  sc_strmap_t exported_to; /* namespace -> sc_vec_t of services exported to it by name */
  sc_vec_t public_svcs;    /* services exported to "*" */

  sc_strmap_t vs_private;  /* namespace -> sc_vec_t of VirtualService objects */
  sc_strmap_t vs_exported; /* namespace -> sc_vec_t */
  sc_vec_t vs_public;
  sc_strmap_t vs_export_sets; /* VirtualService key -> normalised exportTo (sc_strlist_t *) */
  sc_hashmap_t vs_objects; /* object key -> every VirtualService (held) */
  uint32_t vs_garbage;     /* VirtualServices refiled since the part was built */
  sc_strmap_t vs_by_dest;  /* destination host -> sc_vec_t of the mesh VirtualServices
                              routing to it (each once), in creation order */
  sc_strmap_t vs_specific; /* namespace -> sc_vec_t * (malloc'd) of sc_str_t *: hosts of
                              the mesh VirtualServices of that namespace, exported to it by
                              name, or matching sourceNamespace it (their routes differ
                              there); rebuilt whenever VirtualServices change */

  sc_strmap_t dr_local;    /* namespace -> sc_dr_index_t * */
  sc_strmap_t dr_exported; /* namespace -> sc_dr_index_t * */
  sc_dr_index_t *dr_root_local;
  sc_vec_t pending_rules;   /* char *: namespaces whose rules changed since the last update */
  uint32_t dr_garbage;      /* rules refiled since the part was built */
  sc_strmap_t dr_named;    /* namespace -> sc_vec_t of sc_str_t *: hosts of exported rules
                              whose exportTo names it (and not "*") */

  sc_vec_t sidecars;          /* selector Sidecars first, each group in creation order */
  const sc_obj_t *root_sidecar;
  sc_strmap_t sidecars_by_ns; /* namespace -> sc_vec_t of Sidecar objects, same order */

  sc_vec_t namespaces; /* sc_str_t *: every namespace the config mentions, sorted */
  sc_strmap_t rich_ns; /* namespaces with config of their own or named by config */
} sc_world_t;

/* An empty world over store; sc__world_update fills it. */
int sc__world_new(const sc_store_t *store, sc_world_t **out);
/* Rebuilds the parts in the mask (SC_WORLD_ALL: everything). Call after the store
 * changed and before the world is read: a part whose objects changed must be rebuilt. On
 * failure every part is left empty: update with SC_WORLD_ALL next time. */
int sc__world_update(sc_world_t *w, unsigned parts);
/* The parts objects of a kind feed. */
unsigned sc__world_parts_of_kind(sc_kind_t kind);
/* Notes that the Service, ServiceEntry or VirtualService (kind, ns, name) changed: when
 * few did, the next update replaces only their entries in the lists, where they sit in
 * creation order, instead of rebuilding the part. */
int sc__world_note_object(sc_world_t *w, sc_kind_t kind, sc_str_t ns, sc_str_t name);
/* Notes that a DestinationRule of namespace ns changed: when few namespaces did, the next
 * update refiles only their indexes. */
int sc__world_note_rule(sc_world_t *w, sc_str_t ns);
/* Creation order of records, the order of every list of records. */
int sc__world_cmp_records(const sc_svc_t *a, const sc_svc_t *b);
/* The length of ServiceEntry address a without a full-length prefix ("/32" for IPv4,
 * "/128" for IPv6), which istiod drops: a.len when it has none. */
uint32_t sc__world_plain_address_len(sc_str_t a);
/* sc__world_new and sc__world_update(SC_WORLD_ALL). */
int sc__world_build(const sc_store_t *store, sc_world_t **out);
void sc__world_free(sc_world_t *w);

/* byHost[host][ns], or NULL. */
const sc_svc_t *sc__world_service(const sc_world_t *w, sc_str_t host, sc_str_t ns);
/* byHost[host]: the winning record of every namespace, or NULL. */
const sc_vec_t *sc__world_services_by_host(const sc_world_t *w, sc_str_t host);
/* Every record of a hostname, in creation order, or NULL. */
const sc_vec_t *sc__world_records_of_host(const sc_world_t *w, sc_str_t host);
/* Where a record sits in servicesExportedToNamespace(ns): *is_public when it is in
 * the public list; otherwise the number of times it is in the list exported to ns. */
uint32_t sc__world_times_exported_to(const sc_world_t *w, const sc_svc_t *s, sc_str_t ns,
                                    bool *is_public);
/* IsServiceVisible with the mesh default applied. */
bool sc__world_service_visible(const sc_world_t *w, const sc_svc_t *s, sc_str_t ns);
/* Most specific consolidated-rule list for host in an index, or NULL. */
const sc_vec_t *sc__world_dr_index_lookup(const sc_dr_index_t *idx, sc_str_t host);

/* Where a DestinationRule is filed: its effective exportTo set X ({.} for selector
 * rules), and whether it goes into its namespace's local index, its exported index, or
 * the root namespace's private index. */
typedef struct {
  const sc_strlist_t *export_to;
  bool local, exported, root_local;
} sc_dr_placement_t;
void sc__world_dr_placement(const sc_obj_t *dr, const sc_mesh_config_t *mesh, sc_dr_placement_t *out);
const sc_dr_index_t *sc__world_dr_index(const sc_strmap_t *m, sc_str_t ns);

/* The hostnames whose entry in a scope of namespace ns importing every host of every namespace
 * can differ from the entry the same import gives a namespace the config does not
 * mention: hostnames with a record in ns or exported to ns by name, with a
 * DestinationRule in ns, or with a rule exported to ns by name (wildcard rule hosts
 * expand to the hostnames they cover). Every other lookup of such an entry is the same
 * for every namespace. Appends to hosts (sc_str_t *, borrowed) and set, each once.
 * *wildcards says whether a wildcard rule host is among the reasons: then a service that
 * does not exist yet can be specific too. */
int sc__world_ns_specific_hosts(const sc_world_t *w, sc_str_t ns, sc_vec_t *hosts,
                               sc_strmap_t *set, bool *wildcards);

/* Whether a fallback scope of ns has exactly the content of the scope of namespaces the
 * config does not mention: ns is not the root namespace, holds no Service,
 * ServiceEntry, VirtualService, DestinationRule or Sidecar, and no exportTo,
 * sourceNamespace or mesh default names it (only Pods, EndpointSlices or its Namespace
 * object mention it). Every namespace-dependent lookup of a scope then finds nothing. */
bool sc__world_ns_plain(const sc_world_t *w, sc_str_t ns);


#endif
