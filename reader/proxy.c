/* Who a proxy is (include/scopecast/reader.h, proxy.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/proxy.h"
#include "scopecast/error.h"
#include "store/mem.h"

static const Google__Protobuf__Value *meta(const Envoy__Config__Core__V3__Node *node, const char *key) {
  const Google__Protobuf__Struct *m = node->metadata;
  for (size_t i = 0; m != NULL && i < m->n_fields; i++)
    if (m->fields[i]->key != NULL && strcmp(m->fields[i]->key, key) == 0)
      return m->fields[i]->value;
  return NULL;
}

static bool string_value(const Google__Protobuf__Value *v, sc_str_t *out) {
  if (v == NULL || v->kind_case != GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE || v->string_value == NULL)
    return false;
  *out = sc_str(v->string_value);
  return true;
}

static int fail(char *err, size_t errlen, const char *why) {
  if (err != NULL && errlen > 0)
    snprintf(err, errlen, "%s", why);
  return SC_EINVAL;
}

static int cmp_label(const void *a, const void *b) {
  return sc_str_cmp(((const sc_label_t *)a)->key, ((const sc_label_t *)b)->key);
}

int sc__proxy_from_node(const Envoy__Config__Core__V3__Node *node, sc_proxy_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof(*out));
  if (node == NULL || node->id == NULL || node->id[0] == '\0')
    return fail(err, errlen, "node.id is required on the first request");
  out->id = sc_str(node->id);
  /* TYPE~IP~POD.NAMESPACE~DOMAIN */
  const char *parts[4], *p = node->id;
  size_t lens[4];
  for (int i = 0; i < 4; i++) {
    const char *tilde = strchr(p, '~');
    if ((tilde == NULL) != (i == 3))
      return fail(err, errlen, "node.id must be TYPE~IP~POD.NAMESPACE~DOMAIN");
    parts[i] = p;
    lens[i] = tilde ? (size_t)(tilde - p) : strlen(p);
    p = tilde ? tilde + 1 : p + lens[i];
  }
  if (lens[0] == 7 && memcmp(parts[0], "sidecar", 7) == 0)
    out->router = false;
  else if (lens[0] == 6 && memcmp(parts[0], "router", 6) == 0)
    out->router = true;
  else
    return fail(err, errlen, "node.id type must be sidecar or router");
  sc_str_t ns;
  if (!string_value(meta(node, "NAMESPACE"), &ns) || ns.len == 0) {
    const char *dot = memchr(parts[2], '.', lens[2]);
    if (dot == NULL || dot + 1 == parts[2] + lens[2])
      return fail(err, errlen, "no namespace: neither metadata NAMESPACE nor POD.NAMESPACE in node.id");
    ns = (sc_str_t){dot + 1, (uint32_t)(parts[2] + lens[2] - dot - 1)};
  }
  out->namespace_ = ns;
  sc_str_t ips;
  if (string_value(meta(node, "INSTANCE_IPS"), &ips) && ips.len > 0) {
    const char *q = ips.ptr, *end = ips.ptr + ips.len;
    while (q < end) {
      const char *comma = memchr(q, ',', (size_t)(end - q));
      const char *e = comma ? comma : end;
      if (out->nips == SC_PROXY_MAX_IPS)
        return fail(err, errlen, "metadata INSTANCE_IPS has too many addresses");
      if (e > q)
        out->ips[out->nips++] = (sc_str_t){q, (uint32_t)(e - q)};
      q = comma ? comma + 1 : end;
    }
  } else if (lens[1] > 0) {
    out->ips[out->nips++] = (sc_str_t){parts[1], (uint32_t)lens[1]};
  }
  const Google__Protobuf__Value *labels = meta(node, "LABELS");
  if (labels != NULL) {
    if (labels->kind_case != GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE || labels->struct_value == NULL)
      return fail(err, errlen, "metadata LABELS must be an object of strings");
    const Google__Protobuf__Struct *l = labels->struct_value;
    if (l->n_fields > SC_PROXY_MAX_LABELS)
      return fail(err, errlen, "metadata LABELS has too many labels");
    for (size_t i = 0; i < l->n_fields; i++) {
      sc_str_t v;
      if (l->fields[i]->key == NULL || !string_value(l->fields[i]->value, &v))
        return fail(err, errlen, "metadata LABELS must be an object of strings");
      out->labels[i] = (sc_label_t){sc_str(l->fields[i]->key), v};
    }
    out->label_set = (sc_labels_t){(uint32_t)l->n_fields, out->labels};
    qsort(out->labels, l->n_fields, sizeof(out->labels[0]), cmp_label);
  } else {
    out->label_set = (sc_labels_t){0, out->labels};
  }
  sc_str_t mode;
  if (string_value(meta(node, "INTERCEPTION_MODE"), &mode)) {
    if (sc_str_eqz(mode, "REDIRECT"))
      out->interception = SC_INTERCEPT_REDIRECT;
    else if (sc_str_eqz(mode, "TPROXY"))
      out->interception = SC_INTERCEPT_TPROXY;
    else if (sc_str_eqz(mode, "NONE"))
      out->interception = SC_INTERCEPT_NONE;
    else
      return fail(err, errlen, "metadata INTERCEPTION_MODE must be REDIRECT, TPROXY or NONE");
  }
  return 0;
}

/* ---- from encoded bytes (reader.h) ---------------------------------------------------- */

struct sc_proxy_node_s {
  Envoy__Config__Core__V3__Node *node; /* decoded through mem.h */
  sc_proxy_t proxy;                    /* borrows from node */
};

static void *pb_alloc(void *data, size_t size) {
  (void)data;
  return sc__malloc(size ? size : 1);
}

static void pb_free(void *data, void *p) {
  (void)data;
  sc__free(p);
}

static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

int sc_proxy_node_parse(const void *bytes, size_t len, sc_proxy_node_t **out, char *err, size_t errlen) {
  *out = NULL;
  sc_proxy_node_t *n = sc__calloc(1, sizeof(*n));
  if (n == NULL)
    return SC_ENOMEM;
  n->node = envoy__config__core__v3__node__unpack(&pb_allocator, len, bytes);
  if (n->node == NULL) {
    sc__free(n);
    return fail(err, errlen, "the bytes are not an envoy.config.core.v3.Node");
  }
  int rc = sc__proxy_from_node(n->node, &n->proxy, err, errlen);
  if (rc != 0) {
    sc_proxy_node_free(n);
    return rc;
  }
  *out = n;
  return 0;
}

const sc_proxy_t *sc_proxy_node_proxy(const sc_proxy_node_t *n) { return &n->proxy; }

void sc_proxy_node_free(sc_proxy_node_t *n) {
  if (n == NULL)
    return;
  envoy__config__core__v3__node__free_unpacked(n->node, &pb_allocator);
  sc__free(n);
}
