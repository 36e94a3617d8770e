/* What proxies get, kept per class of proxy: a view is (scope, labels, interception
 * mode), and holds per xDS type the gathered resources (scopecast/reader.h) at the
 * snapshot head the frontend serves. Proxies of one class share a view, so an event costs one gather per
 * class, not per stream.
 *
 * sc__views_refresh follows the snapshot: it reads the changelog since the version served
 * (snapshot/FORMAT.md "changelog") in one short read transaction, regathers only the types
 * of the views it names (and the EDS of views naming a changed assignment), and reports
 * every type whose version changed. No read transaction outlives a call. */
#ifndef SC_VIEWS_H
#define SC_VIEWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "obs/log.h"
#include "scopecast/config.h"
#include "scopecast/reader.h"
#include "store/strmap.h"

typedef struct sc_views_s sc_views_t;

/* A DiscoveryResponse body (version_info, resources, type_url; no nonce), shared by the
 * messages in flight that carry it. */
typedef struct {
  int refs;
  size_t len;
  uint8_t data[];
} sc_body_t;

void sc__views_body_unref(void *body);

#define SC_VIEW_BODIES 4

/* What one class of proxies gets of one type: shared by every view whose proxies the
 * snapshot gives the same (sc_gather_class), immutable once gathered, counted. */
typedef struct {
  int refs;
  char *key;             /* scope, type, class: in the views' index while alive */
  uint64_t head;         /* the head version it was gathered at */
  bool present;          /* the scope existed then (else: nothing to serve) */
  bool dropped;          /* names went at the last change (LDS and RDS go first) */
  sc_resource_list_t list; /* each name once */
  char version[17];      /* the type's version_info */
  sc_strmap_t by_name;   /* name -> sc_resource_t* of list */
  /* SotW bodies built for this list: the whole of it, and the last subsets asked for
   * (streams of one view subscribe to the same names), by version. */
  struct {
    char version[17];
    bool changes;
    sc_body_t *body;
  } bodies[SC_VIEW_BODIES];
  unsigned next_body;
  /* The last subset streams asked for (SotW, by names): its fingerprint, items and
   * version, reused by the streams of the class that ask for the same. */
  uint64_t subset_fp;
  sc_resource_t **subset;
  size_t nsubset;
  char subset_version[17];
  /* What changed since the list it replaced (version prev_version): the resources that
   * are new or differ, in list order. A SotW client that has prev_version's EDS or RDS
   * gets only these (absent resources of those types mean nothing). */
  bool has_changes;
  char prev_version[17];
  sc_resource_t **changes;
  size_t nchanges;
  char **gone;           /* names prev_version had and this one has not (owned) */
  size_t ngone;
} sc_view_type_t;

typedef struct sc_view_s {
  struct sc_view_s *next;
  char *key;             /* scope, labels, mode: what makes two proxies alike */
  char *scope;
  sc_label_t *labels;    /* owned copies, sorted by key */
  sc_labels_t label_set;
  bool no_capture;
  char *content_id;      /* the scope whose content this one has ("sameAs"), or scope */
  bool uses_base;
  int refs;              /* streams attached */
  sc_view_type_t *types[SC_XDS__TYPES]; /* NULL until first asked for */
  void *watchers;        /* the caller's: whom to tell about changes */
} sc_view_t;

/* Called for each view whose types changed (a bit per sc_xds_type_t), and once with view
 * NULL when selector records changed (proxies may belong to other scopes now). */
typedef void (*sc_views_changed_cb)(void *arg, sc_view_t *view, unsigned types);

int sc__views_new(const char *snapshot_dir, const sc_logger_t *log, sc_views_t **out);
/* Who is told about changes (before the first refresh). */
void sc__views_set_listener(sc_views_t *vs, sc_views_changed_cb changed, void *arg);
void sc__views_free(sc_views_t *vs);

/* Opens the snapshot if it is not open yet (it may not exist when the frontend starts) and
 * catches up with its head. Returns 0 (also when there is no snapshot yet) or an error. */
int sc__views_refresh(sc_views_t *vs);
uint64_t sc__views_head(const sc_views_t *vs);

typedef struct {
  uint64_t views, lists;          /* proxy classes, and distinct lists they share */
  uint64_t gathers;               /* lists gathered so far */
  uint64_t refreshes;
  double last_refresh_ms;         /* the last refresh that found a new head */
} sc_views_stats_t;
void sc__views_stats(const sc_views_t *vs, sc_views_stats_t *out);
bool sc__views_ready(const sc_views_t *vs);

/* The scope of a proxy of namespace ns with labels (selector records): *scope malloc'd.
 * SC_ENOTFOUND when the snapshot is not there yet or has no selector data for it. */
int sc__views_resolve(sc_views_t *vs, sc_str_t ns, const sc_labels_t *labels, char **scope);

/* The view of a proxy class (created on first use, counted); release when done. */
int sc__views_acquire(sc_views_t *vs, const char *scope, const sc_labels_t *labels, bool no_capture, sc_view_t **out);
void sc__views_release(sc_views_t *vs, sc_view_t *view);

/* A type of a view, gathered now if it is not yet (borrowed: the view holds it). NULL
 * when the snapshot cannot be read yet (logged); check ->present. */
sc_view_type_t *sc__views_type(sc_views_t *vs, sc_view_t *view, sc_xds_type_t type);

/* Another reference to a list (for a response that goes out in parts), and its release. */
void sc__views_list_ref(sc_view_type_t *t);
void sc__views_list_unref(sc_views_t *vs, sc_view_type_t *t);

/* The SotW body of a list of resources of type (a new reference). */
sc_body_t *sc__views_body_encode(sc_xds_type_t type, const char *version, sc_resource_t *const *items, size_t n);
/* The SotW body of items[0..n) of t, whose version is version (changes: only what
 * changed of that version): built once and shared by the streams that get the same (a
 * new reference; NULL when out of memory). */
sc_body_t *sc__views_body(sc_view_type_t *t, sc_xds_type_t type, const char *version, bool changes,
                         sc_resource_t *const *items, size_t n);

#endif
