#ifndef SC_OBJECT_H
#define SC_OBJECT_H

#include "scopecast/config.h"

/* A new object with refcount 1 and its own arena (obj->arena_). */
sc_obj_t *sc__obj_new(sc_kind_t kind, size_t size_hint);

#endif
