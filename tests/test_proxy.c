/* Who a proxy is, from its Node (reader/proxy.c): Istio's node id and metadata, and
 * the nodes that must end the stream with INVALID_ARGUMENT; the encoded form of reader.h. */
#include <string.h>

#include "harness.h"
#include "reader/proxy.h"
#include "scopecast/error.h"

/* A node with id and metadata: pairs of key and string value, "LABELS" taking the next
 * NULL-terminated list of key, value pairs. */
typedef struct {
  Envoy__Config__Core__V3__Node node;
  Google__Protobuf__Struct meta, labels;
  Google__Protobuf__Struct__FieldsEntry entries[8], label_entries[8];
  Google__Protobuf__Struct__FieldsEntry *entry_ptrs[8], *label_ptrs[8];
  Google__Protobuf__Value values[8], label_values[8];
} node_t;

static void make_node(node_t *n, const char *id, const char *const *meta, const char *const *labels) {
  memset(n, 0, sizeof(*n));
  envoy__config__core__v3__node__init(&n->node);
  google__protobuf__struct__init(&n->meta);
  google__protobuf__struct__init(&n->labels);
  n->node.id = (char *)id;
  for (size_t i = 0; meta && meta[2 * i]; i++) {
    google__protobuf__struct__fields_entry__init(&n->entries[i]);
    google__protobuf__value__init(&n->values[i]);
    n->entries[i].key = (char *)meta[2 * i];
    n->values[i].kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
    n->values[i].string_value = (char *)meta[2 * i + 1];
    n->entries[i].value = &n->values[i];
    n->entry_ptrs[n->meta.n_fields++] = &n->entries[i];
  }
  if (labels != NULL) {
    size_t i = n->meta.n_fields;
    google__protobuf__struct__fields_entry__init(&n->entries[i]);
    google__protobuf__value__init(&n->values[i]);
    n->entries[i].key = "LABELS";
    n->values[i].kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE;
    n->values[i].struct_value = &n->labels;
    n->entries[i].value = &n->values[i];
    n->entry_ptrs[n->meta.n_fields++] = &n->entries[i];
    for (size_t j = 0; labels[2 * j]; j++) {
      google__protobuf__struct__fields_entry__init(&n->label_entries[j]);
      google__protobuf__value__init(&n->label_values[j]);
      n->label_entries[j].key = (char *)labels[2 * j];
      n->label_values[j].kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
      n->label_values[j].string_value = (char *)labels[2 * j + 1];
      n->label_entries[j].value = &n->label_values[j];
      n->label_ptrs[n->labels.n_fields++] = &n->label_entries[j];
    }
    n->labels.fields = n->label_ptrs;
  }
  n->meta.fields = n->entry_ptrs;
  n->node.metadata = &n->meta;
}

TEST(istio_sidecar_node) {
  const char *meta[] = {"NAMESPACE", "prod", "INSTANCE_IPS", "10.0.0.7,fd00::7", "INTERCEPTION_MODE", "TPROXY", NULL};
  const char *labels[] = {"version", "v1", "app", "ratings", NULL};
  node_t n;
  make_node(&n, "sidecar~10.0.0.7~ratings-v1-abc.prod~prod.svc.cluster.local", meta, labels);
  sc_proxy_t p;
  char err[128];
  ASSERT_EQ_INT(sc__proxy_from_node(&n.node, &p, err, sizeof(err)), 0);
  ASSERT(!p.router);
  ASSERT(sc_str_eqz(p.namespace_, "prod"));
  ASSERT_EQ_U64(p.nips, 2);
  ASSERT(sc_str_eqz(p.ips[0], "10.0.0.7") && sc_str_eqz(p.ips[1], "fd00::7"));
  ASSERT_EQ_U64(p.label_set.n, 2);
  ASSERT(sc_str_eqz(p.label_set.items[0].key, "app")); /* sorted by key */
  ASSERT(sc_str_eqz(p.label_set.items[1].value, "v1"));
  ASSERT_EQ_INT(p.interception, SC_INTERCEPT_TPROXY);
}

TEST(defaults_from_the_id) {
  node_t n;
  make_node(&n, "router~10.1.2.3~gw-0.istio-system~istio-system.svc.cluster.local", NULL, NULL);
  sc_proxy_t p;
  ASSERT_EQ_INT(sc__proxy_from_node(&n.node, &p, NULL, 0), 0);
  ASSERT(p.router);
  ASSERT(sc_str_eqz(p.namespace_, "istio-system")); /* from POD.NAMESPACE */
  ASSERT_EQ_U64(p.nips, 1);
  ASSERT(sc_str_eqz(p.ips[0], "10.1.2.3"));
  ASSERT_EQ_U64(p.label_set.n, 0);
  ASSERT_EQ_INT(p.interception, SC_INTERCEPT_REDIRECT);
}

TEST(invalid_nodes) {
  const char *bad_ids[] = {"", "sidecar~10.0.0.1~pod.ns", "gateway~1.2.3.4~p.ns~ns.svc.cluster.local",
                           "sidecar~1.2.3.4~podwithoutns~x"};
  for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
    node_t n;
    make_node(&n, bad_ids[i], NULL, NULL);
    sc_proxy_t p;
    char err[128] = "";
    ASSERT_EQ_INT(sc__proxy_from_node(&n.node, &p, err, sizeof(err)), SC_EINVAL);
    ASSERT(err[0] != '\0');
  }
  const char *mode[] = {"INTERCEPTION_MODE", "SOMETIMES", NULL};
  node_t n;
  make_node(&n, "sidecar~1.2.3.4~p.ns~ns.svc.cluster.local", mode, NULL);
  sc_proxy_t p;
  ASSERT_EQ_INT(sc__proxy_from_node(&n.node, &p, NULL, 0), SC_EINVAL);
  ASSERT_EQ_INT(sc__proxy_from_node(NULL, &p, NULL, 0), SC_EINVAL);
  /* LABELS that are not an object of strings */
  const char *labels_as_string[] = {"LABELS", "app=x", NULL};
  make_node(&n, "sidecar~1.2.3.4~p.ns~ns.svc.cluster.local", labels_as_string, NULL);
  ASSERT_EQ_INT(sc__proxy_from_node(&n.node, &p, NULL, 0), SC_EINVAL);
}

/* The public form (reader.h): an encoded Node, decoded and read by the library; bytes
 * that are not a Node, and a Node it cannot serve, fail with SC_EINVAL. */
TEST(encoded_node) {
  const char *meta[] = {"NAMESPACE", "prod", "INTERCEPTION_MODE", "NONE", NULL};
  const char *labels[] = {"app", "ratings", NULL};
  node_t n;
  make_node(&n, "sidecar~10.0.0.7~ratings-1.prod~prod.svc.cluster.local", meta, labels);
  uint8_t buf[1024];
  size_t len = envoy__config__core__v3__node__get_packed_size(&n.node);
  ASSERT(len <= sizeof(buf));
  envoy__config__core__v3__node__pack(&n.node, buf);
  sc_proxy_node_t *pn = NULL;
  char err[256] = "";
  ASSERT_EQ_INT(sc_proxy_node_parse(buf, len, &pn, err, sizeof(err)), 0);
  const sc_proxy_t *p = sc_proxy_node_proxy(pn);
  ASSERT(!p->router);
  ASSERT(p->namespace_.len == 4 && memcmp(p->namespace_.ptr, "prod", 4) == 0);
  ASSERT(p->nips == 1 && p->ips[0].len == 8 && memcmp(p->ips[0].ptr, "10.0.0.7", 8) == 0);
  ASSERT(p->label_set.n == 1 && p->label_set.items[0].value.len == 7);
  ASSERT_EQ_INT(p->interception, SC_INTERCEPT_NONE);
  sc_proxy_node_free(pn);
  static const uint8_t garbage[] = {0xff, 0xff, 0xff};
  pn = NULL;
  ASSERT_EQ_INT(sc_proxy_node_parse(garbage, sizeof(garbage), &pn, err, sizeof(err)), SC_EINVAL);
  ASSERT(pn == NULL && err[0] != 0);
  make_node(&n, "sidecar~10.0.0.7", NULL, NULL); /* a malformed id */
  len = envoy__config__core__v3__node__get_packed_size(&n.node);
  envoy__config__core__v3__node__pack(&n.node, buf);
  err[0] = 0;
  ASSERT_EQ_INT(sc_proxy_node_parse(buf, len, &pn, err, sizeof(err)), SC_EINVAL);
  ASSERT(pn == NULL && err[0] != 0);
  sc_proxy_node_free(NULL);
}

TEST_LIST = {
    TEST_ENTRY(istio_sidecar_node),
    TEST_ENTRY(defaults_from_the_id),
    TEST_ENTRY(invalid_nodes),
    TEST_ENTRY(encoded_node),
    TEST_LIST_END,
};
