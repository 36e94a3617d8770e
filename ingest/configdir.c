/* A directory of manifests: load every .yaml/.yml/.json file, then follow the directory.
 * A file added or changed becomes ADDED/MODIFIED events for the objects in it; an object
 * gone from a file, or a file removed, becomes DELETED events. Changes are noticed
 * through inotify (uv_fs_event) with a periodic stat-only rescan as a safety net. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ingest/source.h"
#include "store/array.h"
#include "store/mem.h"

typedef struct {
  sc_kind_t kind;
  char *ns;
  char *name;
} obj_key_t;

typedef struct {
  char *name; /* file name within the directory */
  struct timespec mtime, ctime;
  off_t size;
  ino_t ino;
  obj_key_t *keys; /* objects the file held at its last successful read */
  size_t nkeys;
  bool seen; /* present in the current scan */
} file_state_t;

typedef struct {
  sc_source_t base;
  char *dir;
  char source_name[600];
  uv_fs_event_t watcher;
  uv_timer_t debounce;
  uv_timer_t rescan;
  int open_handles;
  SC__ARRAY(file_state_t) files;
  /* Scratch for one file's parse: the keys it holds. */
  SC__ARRAY(obj_key_t) scan_keys;
  bool scan_incomplete; /* a document failed before its key was known */
  const file_state_t *loading; /* the file being parsed (its keys as last read) */
} configdir_t;

static bool is_manifest(const char *name) {
  if (name[0] == '.')
    return false; /* hidden files, and the ..data links of a mounted ConfigMap */
  const char *dot = strrchr(name, '.');
  return dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0 || strcmp(dot, ".json") == 0);
}

static void keys_free(obj_key_t *keys, size_t n) {
  for (size_t i = 0; i < n; i++) {
    sc__free(keys[i].ns);
    sc__free(keys[i].name);
  }
  sc__free(keys);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s);
  char *p = sc__malloc(n + 1);
  if (p != NULL)
    memcpy(p, s, n + 1);
  return p;
}

static int scan_key_add(configdir_t *cd, sc_kind_t kind, const char *ns, const char *name) {
  if (SC__ARRAY_RESERVE(&cd->scan_keys, 1) != 0)
    return SC_ENOMEM;
  obj_key_t *k = &cd->scan_keys.items[cd->scan_keys.n];
  k->kind = kind;
  k->ns = dup_str(ns);
  k->name = dup_str(name);
  if (k->ns == NULL || k->name == NULL) {
    sc__free(k->ns);
    sc__free(k->name);
    return SC_ENOMEM;
  }
  cd->scan_keys.n++;
  return 0;
}

static bool key_in(const obj_key_t *keys, size_t n, sc_kind_t kind, const char *ns,
                   const char *name) {
  for (size_t i = 0; i < n; i++)
    if (keys[i].kind == kind && strcmp(keys[i].ns, ns) == 0 && strcmp(keys[i].name, name) == 0)
      return true;
  return false;
}

static bool file_has_key(const file_state_t *fs, sc_kind_t kind, const char *ns, const char *name) {
  return fs != NULL && key_in(fs->keys, fs->nkeys, kind, ns, name);
}

/* Parse callback: remember which keys the file holds, then hand the item on. */
static int item_cb(void *arg, const sc_parse_item_t *item) {
  configdir_t *cd = arg;
  if (item->status == SC_ITEM_OBJECT) {
    if (scan_key_add(cd, item->obj->kind, item->obj->namespace_.ptr, item->obj->name.ptr) != 0)
      cd->scan_incomplete = true;
  } else if (item->status == SC_ITEM_REJECTED) {
    /* A rejected object owns no key of its own. When its exact key is one the file held
     * at its last read, the last accepted version stays in force, so the key stays the
     * file's (a later fix or removal of the file still deletes it); any other key it
     * names belongs to whoever put that object in the store, and is left alone. */
    if (!item->key_known)
      cd->scan_incomplete = true;
    else if (file_has_key(cd->loading, item->key_kind, item->key_namespace.ptr,
                          item->key_name.ptr) &&
             scan_key_add(cd, item->key_kind, item->key_namespace.ptr, item->key_name.ptr) != 0)
      cd->scan_incomplete = true;
  }
  sc__sink_item(cd->base.sink, item);
  return 0;
}

static void submit_delete(configdir_t *cd, const obj_key_t *k) {
  sc_obj_t *obj = sc_obj_new_key(k->kind, sc_str(k->ns), sc_str(k->name));
  if (obj == NULL) {
    sc__log(cd->base.sink->log, SC_LOG_ERROR, "out of memory: delete of %s %s/%s lost",
           sc_kind_name(k->kind), k->ns, k->name);
    return;
  }
  sc__sink_submit(cd->base.sink, SC_EVENT_DELETED, obj);
}

static file_state_t *file_find(configdir_t *cd, const char *name) {
  for (size_t i = 0; i < cd->files.n; i++)
    if (strcmp(cd->files.items[i].name, name) == 0)
      return &cd->files.items[i];
  return NULL;
}

/* Reads and parses one file, then turns the difference to its last contents into events. */
static void load_file(configdir_t *cd, file_state_t *fs) {
  const sc__sink_t *sink = cd->base.sink;
  char path[4096], err[512], source[4200];
  snprintf(path, sizeof(path), "%s/%s", cd->dir, fs->name);
  snprintf(source, sizeof(source), "file %s", path);
  char *buf;
  size_t len;
  int rc = sc__filesrc_read(path, sink->opts.max_file_bytes, &buf, &len, err, sizeof(err));
  if (rc != 0) {
    sc__log(sink->log, SC_LOG_WARN, "%s (objects from it stay as they were)", err);
    return;
  }
  cd->scan_keys.n = 0;
  cd->scan_incomplete = false;
  sc_parse_opts_t po = sc__sink_parse_opts(sink, source);
  const char *dot = strrchr(fs->name, '.');
  bool json = dot && strcmp(dot, ".json") == 0;
  cd->loading = fs;
  rc = json ? sc_parse_json(buf, len, &po, item_cb, cd) : sc_parse_yaml(buf, len, &po, item_cb, cd);
  cd->loading = NULL;
  sc__free(buf);
  if (rc != 0)
    cd->scan_incomplete = true;
  obj_key_t *now = cd->scan_keys.items;
  size_t nnow = cd->scan_keys.n;
  if (!cd->scan_incomplete) {
    for (size_t i = 0; i < fs->nkeys; i++)
      if (!key_in(now, nnow, fs->keys[i].kind, fs->keys[i].ns, fs->keys[i].name))
        submit_delete(cd, &fs->keys[i]);
  } else if (fs->nkeys > 0) {
    sc__log(sink->log, SC_LOG_WARN,
           "%s could not be read completely; objects missing from it are kept", path);
  }
  if (cd->scan_incomplete) {
    /* Keep every key we knew, plus the new ones, so a later fix can still delete. */
    for (size_t i = 0; i < fs->nkeys; i++) /* scan_key_add may move scan_keys */
      if (!key_in(cd->scan_keys.items, cd->scan_keys.n, fs->keys[i].kind, fs->keys[i].ns,
                  fs->keys[i].name))
        scan_key_add(cd, fs->keys[i].kind, fs->keys[i].ns, fs->keys[i].name);
  }
  keys_free(fs->keys, fs->nkeys);
  fs->keys = cd->scan_keys.items;
  fs->nkeys = cd->scan_keys.n;
  cd->scan_keys.items = NULL; /* fs->keys owns them now */
  cd->scan_keys.n = cd->scan_keys.cap = 0;
}

static bool stat_changed(const file_state_t *fs, const struct stat *st) {
  return fs->size != st->st_size || fs->ino != st->st_ino ||
         fs->mtime.tv_sec != st->st_mtim.tv_sec || fs->mtime.tv_nsec != st->st_mtim.tv_nsec ||
         fs->ctime.tv_sec != st->st_ctim.tv_sec || fs->ctime.tv_nsec != st->st_ctim.tv_nsec;
}

/* Compares the directory with what we know and loads what changed. */
static int scan(configdir_t *cd, bool initial) {
  const sc__sink_t *sink = cd->base.sink;
  /* Sorted names give a deterministic load order. */
  struct dirent **names = NULL;
  int n = scandir(cd->dir, &names, NULL, alphasort);
  if (n < 0) {
    /* Keep what we have: a directory that is briefly unreadable deletes nothing. */
    sc__log(sink->log, initial ? SC_LOG_ERROR : SC_LOG_WARN, "cannot read directory %s: %s",
           cd->dir, strerror(errno));
    return initial ? SC_EIO : 0;
  }
  for (size_t i = 0; i < cd->files.n; i++)
    cd->files.items[i].seen = false;
  for (int i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", cd->dir, name);
    if (!is_manifest(name) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    file_state_t *fs = file_find(cd, name);
    if (fs == NULL) {
      if (SC__ARRAY_RESERVE(&cd->files, 1) != 0)
        continue;
      fs = &cd->files.items[cd->files.n];
      memset(fs, 0, sizeof(*fs));
      fs->name = dup_str(name);
      if (fs->name == NULL)
        continue;
      cd->files.n++;
    } else if (!stat_changed(fs, &st)) {
      fs->seen = true;
      continue;
    }
    fs->seen = true;
    fs->size = st.st_size;
    fs->ino = st.st_ino;
    fs->mtime = st.st_mtim;
    fs->ctime = st.st_ctim;
    load_file(cd, fs);
  }
  for (int i = 0; i < n; i++)
    free(names[i]); /* allocated by scandir with malloc */
  free(names);
  /* Files that disappeared: their objects go. */
  for (size_t i = 0; i < cd->files.n;) {
    file_state_t *fs = &cd->files.items[i];
    if (fs->seen) {
      i++;
      continue;
    }
    sc__log(sink->log, SC_LOG_INFO, "%s/%s removed: deleting its %zu objects", cd->dir, fs->name,
           fs->nkeys);
    for (size_t k = 0; k < fs->nkeys; k++)
      submit_delete(cd, &fs->keys[k]);
    keys_free(fs->keys, fs->nkeys);
    sc__free(fs->name);
    cd->files.items[i] = cd->files.items[--cd->files.n];
  }
  return 0;
}

static void rescan_cb(uv_timer_t *t) { scan(t->data, false); }

static void configdir_reload(sc_source_t *s) { scan((configdir_t *)s, false); }

static void fs_event_cb(uv_fs_event_t *h, const char *filename, int events, int status) {
  (void)filename;
  (void)events;
  (void)status;
  configdir_t *cd = h->data;
  /* Editors write files in several steps; wait for a short quiet period. */
  uv_timer_start(&cd->debounce, rescan_cb, 20, 0);
}

static void handle_closed(uv_handle_t *h) {
  configdir_t *cd = h->data;
  if (--cd->open_handles > 0)
    return;
  for (size_t i = 0; i < cd->files.n; i++) {
    keys_free(cd->files.items[i].keys, cd->files.items[i].nkeys);
    sc__free(cd->files.items[i].name);
  }
  SC__ARRAY_FREE(&cd->files);
  keys_free(cd->scan_keys.items, cd->scan_keys.n);
  sc__free(cd->dir);
  sc__free(cd);
}

static void configdir_close(sc_source_t *s) {
  configdir_t *cd = (configdir_t *)s;
  uv_handle_t *hs[] = {(uv_handle_t *)&cd->watcher, (uv_handle_t *)&cd->debounce,
                       (uv_handle_t *)&cd->rescan};
  for (size_t i = 0; i < 3; i++)
    if (!uv_is_closing(hs[i]))
      uv_close(hs[i], handle_closed);
}

int sc__configdir_source_new(const sc__sink_t *sink, const char *dir) {
  configdir_t *cd = sc__calloc(1, sizeof(*cd));
  if (cd == NULL)
    return SC_ENOMEM;
  cd->dir = dup_str(dir);
  if (cd->dir == NULL) {
    sc__free(cd);
    return SC_ENOMEM;
  }
  snprintf(cd->source_name, sizeof(cd->source_name), "config-dir %s", dir);
  cd->base.name = cd->source_name;
  cd->base.close = configdir_close;
  cd->base.reload = configdir_reload;
  uv_fs_event_init(sink->loop, &cd->watcher);
  uv_timer_init(sink->loop, &cd->debounce);
  uv_timer_init(sink->loop, &cd->rescan);
  cd->watcher.data = cd->debounce.data = cd->rescan.data = cd;
  cd->open_handles = 3;
  sc__sink_add_source(sink, &cd->base);
  if (scan(cd, true) != 0) {
    sc__sink_source_done(&cd->base, true);
    return 0;
  }
  if (sink->opts.once) {
    sc__sink_source_done(&cd->base, false);
    return 0;
  }
  sc__sink_source_synced(&cd->base); /* the first scan is its initial state */
  int rc = uv_fs_event_start(&cd->watcher, fs_event_cb, cd->dir, 0);
  if (rc != 0)
    sc__log(sink->log, SC_LOG_WARN, "cannot watch %s (%s); rescanning every %llu ms", dir,
           uv_strerror(rc), (unsigned long long)(sink->opts.rescan_ms ? sink->opts.rescan_ms : 1000));
  uint64_t every = sink->opts.rescan_ms ? sink->opts.rescan_ms : (rc != 0 ? 1000 : 0);
  if (every > 0)
    uv_timer_start(&cd->rescan, rescan_cb, every, every);
  return 0;
}
