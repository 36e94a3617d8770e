/* The Prometheus text exposition format 0.0.4 (see metrics.h). */
#include "obs/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/mem.h"
#include "scopecast/error.h"

const double sc__metrics_latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,    1,     2.5,    5,     10,   20,    30,    60};
const size_t sc__metrics_latency_nbounds = sizeof(sc__metrics_latency_bounds) / sizeof(double);

/* ---- histograms ------------------------------------------------------------------------ */

int sc__metrics_hist_init(sc__metrics_hist_t *h, const double *bounds, size_t nbounds) {
  memset(h, 0, sizeof(*h));
  if (nbounds > SC_METRICS_MAX_BUCKETS)
    return SC_EINVAL;
  for (size_t i = 0; i < nbounds; i++)
    if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
      return SC_EINVAL;
  memcpy(h->bounds, bounds, nbounds * sizeof(*bounds));
  h->nbounds = nbounds;
  return 0;
}

void sc__metrics_hist_observe(sc__metrics_hist_t *h, double v) {
  size_t i = 0;
  while (i < h->nbounds && v > h->bounds[i]) /* le: a value on a bound is in its bucket */
    i++;
  h->counts[i]++;
  h->count++;
  h->sum += v;
}

/* ---- the writer ------------------------------------------------------------------------ */

void sc__metrics_writer_init(sc__metrics_writer_t *w) { memset(w, 0, sizeof(*w)); }

void sc__metrics_writer_free(sc__metrics_writer_t *w) {
  sc__free(w->buf);
  memset(w, 0, sizeof(*w));
}

int sc__metrics_writer_error(const sc__metrics_writer_t *w) { return w->err; }

char *sc__metrics_writer_take(sc__metrics_writer_t *w, size_t *len) {
  if (w->err != 0 || (w->buf == NULL && (w->buf = sc__calloc(1, 1)) == NULL)) {
    sc__metrics_writer_free(w);
    return NULL;
  }
  char *out = w->buf;
  *len = w->len;
  memset(w, 0, sizeof(*w));
  return out;
}

static bool reserve(sc__metrics_writer_t *w, size_t more) {
  if (w->err != 0)
    return false;
  if (w->len + more + 1 <= w->cap)
    return true;
  size_t cap = w->cap ? w->cap : 1024;
  while (cap < w->len + more + 1)
    cap *= 2;
  char *p = sc__realloc(w->buf, cap);
  if (p == NULL) {
    w->err = SC_ENOMEM;
    return false;
  }
  w->buf = p;
  w->cap = cap;
  return true;
}

static void put(sc__metrics_writer_t *w, const char *s, size_t n) {
  if (!reserve(w, n))
    return;
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = 0;
}

static void puts_(sc__metrics_writer_t *w, const char *s) { put(w, s, strlen(s)); }

/* Escapes backslash and newline, and double quote when quoted (label values). */
static void put_escaped(sc__metrics_writer_t *w, const char *s, bool quoted) {
  for (const char *p = s; *p; p++) {
    if (*p == '\\')
      puts_(w, "\\\\");
    else if (*p == '\n')
      puts_(w, "\\n");
    else if (*p == '"' && quoted)
      puts_(w, "\\\"");
    else
      put(w, p, 1);
  }
}

static bool valid_name(const char *s, bool metric) {
  if (s == NULL || s[0] == 0)
    return false;
  for (const char *p = s; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':') ||
              (p > s && c >= '0' && c <= '9');
    if (!ok)
      return false;
  }
  return metric || strncmp(s, "__", 2) != 0;
}

/* A value as Prometheus reads it: integers without a fraction, the shortest %g that reads
 * back the same, +Inf, -Inf, NaN. */
static void format_value(double v, char *out, size_t n) {
  if (isnan(v))
    snprintf(out, n, "NaN");
  else if (isinf(v))
    snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
  else if (v == floor(v) && fabs(v) < 9007199254740992.0)
    snprintf(out, n, "%.0f", v);
  else {
    snprintf(out, n, "%.15g", v);
    if (strtod(out, NULL) != v)
      snprintf(out, n, "%.17g", v);
  }
}

static const char *const type_names[] = {"counter", "gauge", "histogram"};

void sc__metrics_family(sc__metrics_writer_t *w, const char *name, const char *help, sc__metrics_type_t type) {
  if (w->err != 0)
    return;
  if (!valid_name(name, true) || (unsigned)type > SC_METRICS_HISTOGRAM) {
    w->err = SC_EINVAL;
    return;
  }
  w->family = name;
  puts_(w, "# HELP ");
  puts_(w, name);
  puts_(w, " ");
  put_escaped(w, help ? help : "", false);
  puts_(w, "\n# TYPE ");
  puts_(w, name);
  puts_(w, " ");
  puts_(w, type_names[type]);
  puts_(w, "\n");
}

/* name must be the family's name, or (histograms) the family's name and a suffix. */
static bool of_family(const sc__metrics_writer_t *w, const char *name) {
  if (w->family == NULL)
    return false;
  size_t n = strlen(w->family);
  if (strncmp(name, w->family, n) != 0)
    return false;
  const char *rest = name + n;
  return rest[0] == 0 || strcmp(rest, "_bucket") == 0 || strcmp(rest, "_sum") == 0 || strcmp(rest, "_count") == 0;
}

static void sample_le(sc__metrics_writer_t *w, const char *name, const sc__metrics_label_t *labels, size_t nlabels,
                      const char *le, double value) {
  if (w->err != 0)
    return;
  if (!of_family(w, name)) {
    w->err = SC_EINVAL;
    return;
  }
  for (size_t i = 0; i < nlabels; i++)
    if (!valid_name(labels[i].name, false) || labels[i].value == NULL || (le && strcmp(labels[i].name, "le") == 0)) {
      w->err = SC_EINVAL;
      return;
    }
  puts_(w, name);
  if (nlabels > 0 || le != NULL) {
    puts_(w, "{");
    for (size_t i = 0; i < nlabels; i++) {
      if (i > 0)
        puts_(w, ",");
      puts_(w, labels[i].name);
      puts_(w, "=\"");
      put_escaped(w, labels[i].value, true);
      puts_(w, "\"");
    }
    if (le != NULL) {
      puts_(w, nlabels > 0 ? ",le=\"" : "le=\"");
      puts_(w, le);
      puts_(w, "\"");
    }
    puts_(w, "}");
  }
  char v[40];
  format_value(value, v, sizeof(v));
  puts_(w, " ");
  puts_(w, v);
  puts_(w, "\n");
}

void sc__metrics_sample(sc__metrics_writer_t *w, const char *name, const sc__metrics_label_t *labels,
                        size_t nlabels, double value) {
  sample_le(w, name, labels, nlabels, NULL, value);
}

void sc__metrics_histogram(sc__metrics_writer_t *w, const char *name, const sc__metrics_label_t *labels,
                           size_t nlabels, const sc__metrics_hist_t *h) {
  char sample[256], le[40];
  if (strlen(name) > sizeof(sample) - 8) {
    if (w->err == 0)
      w->err = SC_EINVAL;
    return;
  }
  uint64_t cumulative = 0;
  snprintf(sample, sizeof(sample), "%s_bucket", name);
  for (size_t i = 0; i < h->nbounds; i++) {
    cumulative += h->counts[i];
    format_value(h->bounds[i], le, sizeof(le));
    sample_le(w, sample, labels, nlabels, le, (double)cumulative);
  }
  sample_le(w, sample, labels, nlabels, "+Inf", (double)h->count);
  snprintf(sample, sizeof(sample), "%s_sum", name);
  sample_le(w, sample, labels, nlabels, NULL, h->sum);
  snprintf(sample, sizeof(sample), "%s_count", name);
  sample_le(w, sample, labels, nlabels, NULL, (double)h->count);
}

void sc__metrics_single(sc__metrics_writer_t *w, const char *name, const char *help, sc__metrics_type_t type,
                        double value) {
  sc__metrics_family(w, name, help, type);
  sc__metrics_sample(w, name, NULL, 0, value);
}
