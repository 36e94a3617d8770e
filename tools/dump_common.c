/* What the commands of scopecast-dump share (dump_common.h). */
#include "dump_common.h"

#include <stdio.h>
#include <stdlib.h>

int sc_dump_print_json(json_t *v) {
  char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(v);
  if (text == NULL) {
    fprintf(stderr, "scopecast-dump: out of memory\n");
    return 1;
  }
  printf("%s\n", text);
  free(text);
  return 0;
}

const char *sc_dump_or_none(json_t *v) { return json_is_string(v) ? json_string_value(v) : "-"; }
