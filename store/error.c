#include <string.h>

#include "scopecast/error.h"

const char *sc_strerror(int err) {
  switch (err) {
  case SC_OK:
    return "success";
#define SC__ERR_MSG(name, code, msg) \
  case SC_E##name:                   \
    return msg;
    SC_ERRNO_MAP(SC__ERR_MSG)
#undef SC__ERR_MSG
  }
  if (err < 0 && err > -4096)
    return strerror(-err);
  return "unknown error";
}

const char *sc_err_name(int err) {
  switch (err) {
  case SC_OK:
    return "SC_OK";
#define SC__ERR_NAME(name, code, msg) \
  case SC_E##name:                    \
    return "SC_E" #name;
    SC_ERRNO_MAP(SC__ERR_NAME)
#undef SC__ERR_NAME
  }
  return "SC_E?";
}

int sc_is_fatal(int err) { return err <= SC_EFATAL && err > -32100; }
