/* obs/: what makes a daemon observable, shared by the engine and the frontends. Owns the
 * logger (log.c: text or JSON lines), the Prometheus text writer and histograms
 * (metrics.c) and the HTTP endpoint for /metrics, /healthz and /ready (http.c,
 * libmicrohttpd on the libuv loop). May call store/ (errors, allocator), libuv and
 * libmicrohttpd; what each daemon exports is decided by the daemon.
 *
 * The Prometheus text exposition format, version 0.0.4: a writer that appends metric
 * families (HELP and TYPE lines, then samples with label pairs) to a growable buffer, and a
 * fixed-bucket histogram to observe values into. Library code: no I/O, no logging; memory
 * through store/mem.h. A writer that failed (out of memory, a bad metric or label name)
 * keeps its first error and ignores what follows; sc__metrics_writer_error tells. */
#ifndef SC_OBS_METRICS_H
#define SC_OBS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define SC_METRICS_MAX_BUCKETS 24
#define SC_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef enum {
  SC_METRICS_COUNTER = 0,
  SC_METRICS_GAUGE,
  SC_METRICS_HISTOGRAM,
} sc__metrics_type_t;

typedef struct {
  const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
  const char *value; /* any UTF-8; backslash, double quote and newline are escaped */
} sc__metrics_label_t;

/* A histogram with fixed upper bounds (strictly increasing, finite); counts per bucket are
 * kept apart and made cumulative when written, with the +Inf bucket equal to count. */
typedef struct {
  double bounds[SC_METRICS_MAX_BUCKETS];
  uint64_t counts[SC_METRICS_MAX_BUCKETS + 1]; /* [nbounds]: above the last bound */
  size_t nbounds;
  double sum;
  uint64_t count;
} sc__metrics_hist_t;

/* Sets the bounds (at most SC_METRICS_MAX_BUCKETS, strictly increasing) and zeroes the
 * counts; SC_EINVAL for bounds that are not. */
int sc__metrics_hist_init(sc__metrics_hist_t *h, const double *bounds, size_t nbounds);
void sc__metrics_hist_observe(sc__metrics_hist_t *h, double v);
/* Bounds for latencies in seconds, 0.5 ms .. 60 s (17 of them). */
extern const double sc__metrics_latency_bounds[];
extern const size_t sc__metrics_latency_nbounds;


typedef struct {
  char *buf;
  size_t len, cap;
  int err; /* 0, or the first SC_E* code */
  const char *family; /* the family being written (borrowed; its samples carry its name) */
} sc__metrics_writer_t;

void sc__metrics_writer_init(sc__metrics_writer_t *w);
void sc__metrics_writer_free(sc__metrics_writer_t *w);
int sc__metrics_writer_error(const sc__metrics_writer_t *w);
/* Hands the text over (NUL-terminated, *len without the NUL; free with sc__free) and
 * resets the writer; NULL when the writer failed. */
char *sc__metrics_writer_take(sc__metrics_writer_t *w, size_t *len);

/* Starts a family: "# HELP name help" (help escaped) and "# TYPE name type". name is kept
 * (not copied) to check the samples that follow: it must outlive them. Prometheus reads a
 * counter "x_total" as family "x": do not name another family "x". */
void sc__metrics_family(sc__metrics_writer_t *w, const char *name, const char *help, sc__metrics_type_t type);
/* One sample of the current family: name (the family's, or with a _bucket/_sum/_count
 * suffix for histograms), labels, value (integers exactly, +Inf/-Inf/NaN by name). */
void sc__metrics_sample(sc__metrics_writer_t *w, const char *name, const sc__metrics_label_t *labels,
                        size_t nlabels, double value);
/* The samples of a histogram: cumulative name_bucket{...,le="B"} for every bound and +Inf,
 * name_sum, name_count. */
void sc__metrics_histogram(sc__metrics_writer_t *w, const char *name, const sc__metrics_label_t *labels,
                           size_t nlabels, const sc__metrics_hist_t *h);
/* A family of one unlabelled sample. */
void sc__metrics_single(sc__metrics_writer_t *w, const char *name, const char *help, sc__metrics_type_t type,
                        double value);

#endif
