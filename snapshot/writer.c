/* The engine's side of the snapshot: one LMDB environment, one write transaction per
 * published batch, a map that grows when full. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "snapshot/common.h"
#include "store/mem.h"

struct sc_snapshot_writer_s {
  MDB_env *env;
  size_t map_size;
  size_t max_map_size;
  uint64_t head;
  uint64_t instance_id;
  uint64_t stale_readers;
  int lock_fd; /* DIR/writer.lock, flock()ed for the writer's life: one writer per directory */
  bool skipped_cleared; /* the skipped/ records of earlier runs are gone (first commit) */
  char errmsg[400];
};

struct sc_snapshot_txn_s {
  sc_snapshot_writer_t *w;
  MDB_txn *txn;
  MDB_dbi dbis[SC_SNAPSHOT_MAX_TABLES];
  const char *names[SC_SNAPSHOT_MAX_TABLES];
  int ndbis;
  int mdb_rc; /* the first LMDB failure, kept so that MDB_MAP_FULL is seen by publish */
};

static int fail(sc_snapshot_writer_t *w, const char *what, int mdb_rc) {
  snprintf(w->errmsg, sizeof(w->errmsg), "%s: %s", what, mdb_strerror(mdb_rc));
  return sc__mdb_error(mdb_rc);
}

static int mkdir_p(const char *dir) {
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof(path))
    return ENAMETOOLONG;
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] == '/' || path[i] == '\0') {
      char c = path[i];
      path[i] = '\0';
      if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return errno;
      path[i] = c;
    }
  }
  return 0;
}

/* LMDB creates data.mdb, then writes its meta pages: a writer killed in between leaves a
 * file no reader can open. So a new snapshot's file is made in DIR/.init and renamed into
 * place whole; data.mdb, once there, always opens. An empty data.mdb (left by a crash
 * before this existed) is replaced the same way. Returns 0 or an errno value. */
static int create_file_whole(sc_snapshot_writer_t *w, const char *dir) {
  char data[4096], init[4096], init_data[4096], init_lock[4096];
  struct stat st;
  if (strlen(dir) > 4000)
    return ENAMETOOLONG;
  snprintf(data, sizeof(data), "%.4000s/data.mdb", dir);
  if (stat(data, &st) == 0 && st.st_size > 0)
    return 0;
  snprintf(init, sizeof(init), "%.4000s/.init", dir);
  snprintf(init_data, sizeof(init_data), "%.4000s/.init/data.mdb", dir);
  snprintf(init_lock, sizeof(init_lock), "%.4000s/.init/lock.mdb", dir);
  unlink(init_data); /* what a writer killed here before left */
  unlink(init_lock);
  if (mkdir(init, 0755) != 0 && errno != EEXIST)
    return errno;
  MDB_env *env;
  int rc = mdb_env_create(&env);
  if (rc == 0) {
    mdb_env_set_mapsize(env, w->map_size);
    if ((rc = mdb_env_open(env, init, MDB_NOTLS, 0644)) == 0)
      rc = mdb_env_sync(env, 1);
    mdb_env_close(env);
  }
  if (rc == 0 && rename(init_data, data) != 0)
    rc = errno;
  unlink(init_data);
  unlink(init_lock);
  rmdir(init);
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) { /* the rename, durable */
    fsync(fd);
    close(fd);
  }
  return rc;
}

static uint64_t random_id(void) {
  uint64_t id = 0;
  FILE *f = fopen("/dev/urandom", "rb");
  if (f != NULL) {
    if (fread(&id, sizeof(id), 1, f) != 1)
      id = 0;
    fclose(f);
  }
  if (id == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    id = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^ 0x9e3779b97f4a7c15ull;
  }
  return id;
}

/* Reads the previous head version; checks magic and format version. */
static int read_previous(sc_snapshot_writer_t *w) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(w->env, NULL, MDB_RDONLY, &txn);
  if (rc != 0)
    return fail(w, "mdb_txn_begin", rc);
  MDB_dbi dbi;
  rc = mdb_dbi_open(txn, SC_TABLE_META, 0, &dbi);
  if (rc == MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return 0; /* a new snapshot */
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return fail(w, "mdb_dbi_open(meta)", rc);
  }
  MDB_val k = {strlen(SC_META_FORMAT_VERSION), SC_META_FORMAT_VERSION}, v;
  rc = mdb_get(txn, dbi, &k, &v);
  if (rc == 0) {
    uint32_t fv = 0;
    if (v.mv_size == 4)
      fv = (uint32_t)((const unsigned char *)v.mv_data)[0] |
           (uint32_t)((const unsigned char *)v.mv_data)[1] << 8 |
           (uint32_t)((const unsigned char *)v.mv_data)[2] << 16 |
           (uint32_t)((const unsigned char *)v.mv_data)[3] << 24;
    if (fv != SC_SNAPSHOT_FORMAT_VERSION) {
      mdb_txn_abort(txn);
      snprintf(w->errmsg, sizeof(w->errmsg),
               "snapshot has format version %u, this engine writes %u; use a new directory", fv,
               SC_SNAPSHOT_FORMAT_VERSION);
      return SC_EVERSION;
    }
  }
  k = (MDB_val){strlen(SC_META_HEAD_VERSION), SC_META_HEAD_VERSION};
  if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == 8)
    w->head = sc__get_u64le(v.mv_data);
  mdb_txn_abort(txn);
  return 0;
}

/* Takes the directory's writer lock: flock(LOCK_EX) on DIR/writer.lock, held until
 * close (the kernel drops it when the process dies, so a killed engine leaves nothing
 * stale). The holder writes its pid into the file, for the message another one gets. */
static int lock_dir(sc_snapshot_writer_t *w, const char *dir) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/%s", dir, SC_SNAPSHOT_LOCK_NAME);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    snprintf(w->errmsg, sizeof(w->errmsg), "cannot open the lock file %.200s: %s", path,
             strerror(err));
    return -err;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EWOULDBLOCK) {
      char pid[32] = "";
      ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
      pid[n > 0 ? n : 0] = 0;
      pid[strcspn(pid, "\n")] = 0;
      snprintf(w->errmsg, sizeof(w->errmsg),
               "another engine writes this snapshot: %.200s is locked%s%.20s (one engine per "
               "snapshot directory)", path, pid[0] ? " by pid " : "", pid);
      close(fd);
      return SC_EBUSY;
    }
    snprintf(w->errmsg, sizeof(w->errmsg), "cannot lock %.200s: %s", path, strerror(err));
    close(fd);
    return -err;
  }
  char pid[32];
  int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
  /* Should this fail, the lock still holds; only a refused engine's message lacks the pid. */
  bool pid_written = ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) == n;
  (void)pid_written;
  w->lock_fd = fd;
  return 0;
}

int sc_snapshot_writer_open(const char *dir, const sc_snapshot_writer_opts_t *opts,
                            sc_snapshot_writer_t **out, char *errbuf, size_t errlen) {
  sc_snapshot_writer_t *w = sc__calloc(1, sizeof(*w));
  int rc, mrc;
  if (w == NULL)
    return SC_ENOMEM;
  w->map_size = opts && opts->initial_map_size ? opts->initial_map_size : (64u << 20);
  w->max_map_size = opts && opts->max_map_size ? opts->max_map_size : ((size_t)64 << 30);
  w->instance_id = random_id();
  w->lock_fd = -1;
  if ((mrc = mkdir_p(dir)) != 0) {
    snprintf(w->errmsg, sizeof(w->errmsg), "cannot create %s: %s", dir, strerror(mrc));
    rc = -mrc;
    goto fail_dir;
  }
  if ((rc = lock_dir(w, dir)) != 0)
    goto fail_dir;
  if ((mrc = create_file_whole(w, dir)) != 0) {
    char what[300];
    snprintf(what, sizeof(what), "creating %.250s/data.mdb", dir);
    rc = fail(w, what, mrc);
    goto fail_dir;
  }
  if ((mrc = mdb_env_create(&w->env)) != 0) {
    rc = fail(w, "mdb_env_create", mrc);
    goto fail_dir;
  }
  mdb_env_set_maxdbs(w->env, SC_SNAPSHOT_MAX_TABLES);
  mdb_env_set_maxreaders(w->env, 1024);
  if ((mrc = mdb_env_set_mapsize(w->env, w->map_size)) != 0) {
    rc = fail(w, "mdb_env_set_mapsize", mrc);
    goto fail_env;
  }
  unsigned flags = MDB_NOTLS | (opts && opts->no_sync ? MDB_NOSYNC : 0);
  if ((mrc = mdb_env_open(w->env, dir, flags, 0644)) != 0) {
    char what[300];
    snprintf(what, sizeof(what), "mdb_env_open(%.250s)", dir);
    rc = fail(w, what, mrc);
    goto fail_env;
  }
  /* A file grown by an earlier run is larger than our initial size: adopt it. */
  MDB_envinfo info;
  if (mdb_env_info(w->env, &info) == 0 && info.me_mapsize > w->map_size)
    w->map_size = info.me_mapsize;
  int dead = 0;
  mdb_reader_check(w->env, &dead);
  w->stale_readers += (uint64_t)dead;
  if ((rc = read_previous(w)) != 0)
    goto fail_env;
  *out = w;
  return 0;
fail_env:
  mdb_env_close(w->env);
fail_dir:
  if (errbuf != NULL && errlen > 0)
    snprintf(errbuf, errlen, "%s", w->errmsg);
  if (w->lock_fd >= 0)
    close(w->lock_fd);
  sc__free(w);
  return rc;
}

void sc_snapshot_writer_close(sc_snapshot_writer_t *w) {
  if (w == NULL)
    return;
  mdb_env_close(w->env);
  close(w->lock_fd); /* releases the lock, after the last commit */
  sc__free(w);
}

const char *sc_snapshot_writer_errmsg(const sc_snapshot_writer_t *w) { return w->errmsg; }
uint64_t sc_snapshot_writer_head(const sc_snapshot_writer_t *w) { return w->head; }
size_t sc_snapshot_writer_map_size(const sc_snapshot_writer_t *w) { return w->map_size; }
uint64_t sc_snapshot_writer_stale_readers(const sc_snapshot_writer_t *w) {
  return w->stale_readers;
}

/* ---- transactions ---------------------------------------------------------------------- */

static int txn_dbi(sc_snapshot_txn_t *t, const char *table, MDB_dbi *out) {
  for (int i = 0; i < t->ndbis; i++) {
    if (strcmp(t->names[i], table) == 0) {
      *out = t->dbis[i];
      return 0;
    }
  }
  if (t->ndbis == SC_SNAPSHOT_MAX_TABLES)
    return SC_EINVAL;
  int rc = mdb_dbi_open(t->txn, table, MDB_CREATE, out);
  if (rc != 0) {
    if (t->mdb_rc == 0)
      t->mdb_rc = rc;
    return fail(t->w, "mdb_dbi_open", rc);
  }
  t->names[t->ndbis] = table;
  t->dbis[t->ndbis++] = *out;
  return 0;
}

int sc_snapshot_txn_put(sc_snapshot_txn_t *t, const char *table, const void *key, size_t klen,
                        const void *val, size_t vlen) {
  MDB_dbi dbi;
  int rc = txn_dbi(t, table, &dbi);
  if (rc != 0)
    return rc;
  MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
  rc = mdb_put(t->txn, dbi, &k, &v, 0);
  if (rc != 0) {
    if (t->mdb_rc == 0)
      t->mdb_rc = rc;
    return fail(t->w, "mdb_put", rc);
  }
  return 0;
}

int sc_snapshot_txn_get(sc_snapshot_txn_t *t, const char *table, const void *key, size_t klen,
                        const void **val, size_t *vlen) {
  MDB_dbi dbi;
  int rc = txn_dbi(t, table, &dbi);
  if (rc != 0)
    return rc;
  MDB_val k = {klen, (void *)key}, v;
  rc = mdb_get(t->txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND)
    return SC_ENOTFOUND;
  if (rc != 0) {
    if (t->mdb_rc == 0)
      t->mdb_rc = rc;
    return fail(t->w, "mdb_get", rc);
  }
  *val = v.mv_data;
  *vlen = v.mv_size;
  return 0;
}

uint64_t sc_snapshot_txn_version(const sc_snapshot_txn_t *t) { return t->w->head + 1; }

int sc_snapshot_txn_del(sc_snapshot_txn_t *t, const char *table, const void *key, size_t klen) {
  MDB_dbi dbi;
  int rc = txn_dbi(t, table, &dbi);
  if (rc != 0)
    return rc;
  MDB_val k = {klen, (void *)key};
  rc = mdb_del(t->txn, dbi, &k, NULL);
  if (rc == MDB_NOTFOUND)
    return 0;
  if (rc != 0) {
    if (t->mdb_rc == 0)
      t->mdb_rc = rc;
    return fail(t->w, "mdb_del", rc);
  }
  return 0;
}

static int put_u64(sc_snapshot_txn_t *t, const char *key, uint64_t v) {
  unsigned char buf[8];
  sc__put_u64le(buf, v);
  return sc_snapshot_txn_put(t, SC_TABLE_META, key, strlen(key), buf, 8);
}

/* Deletes the meta records under prefix (what an earlier engine run counted). */
static int del_meta_prefix(sc_snapshot_txn_t *t, const char *prefix) {
  MDB_dbi dbi;
  int rc = txn_dbi(t, SC_TABLE_META, &dbi);
  if (rc != 0)
    return rc;
  MDB_cursor *c;
  if ((rc = mdb_cursor_open(t->txn, dbi, &c)) != 0)
    return fail(t->w, "mdb_cursor_open(meta)", rc);
  size_t plen = strlen(prefix);
  for (;;) { /* a few records: seek the first left each time */
    MDB_val k = {plen, (void *)prefix}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc != 0 || k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
      break;
    if ((rc = mdb_cursor_del(c, 0)) != 0)
      break;
  }
  mdb_cursor_close(c);
  if (rc != 0 && rc != MDB_NOTFOUND) {
    if (t->mdb_rc == 0)
      t->mdb_rc = rc;
    return fail(t->w, "mdb_cursor_del(meta)", rc);
  }
  return 0;
}

static int write_meta(sc_snapshot_txn_t *t, const sc_snapshot_meta_t *m) {
  unsigned char fv[4] = {SC_SNAPSHOT_FORMAT_VERSION & 0xff, (SC_SNAPSHOT_FORMAT_VERSION >> 8) & 0xff,
                         (SC_SNAPSHOT_FORMAT_VERSION >> 16) & 0xff, SC_SNAPSHOT_FORMAT_VERSION >> 24};
  int rc = sc_snapshot_txn_put(t, SC_TABLE_META, SC_META_MAGIC, strlen(SC_META_MAGIC),
                               SC_SNAPSHOT_MAGIC, strlen(SC_SNAPSHOT_MAGIC));
  if (rc == 0)
    rc = sc_snapshot_txn_put(t, SC_TABLE_META, SC_META_FORMAT_VERSION,
                             strlen(SC_META_FORMAT_VERSION), fv, 4);
  if (rc == 0)
    rc = put_u64(t, SC_META_HEAD_VERSION, m->head_version);
  if (rc == 0)
    rc = put_u64(t, SC_META_INSTANCE_ID, m->instance_id);
  if (rc == 0)
    rc = put_u64(t, SC_META_LAST_PUBLISH_MS, m->last_publish_ms);
  if (rc == 0)
    rc = put_u64(t, SC_META_OBJECTS_TOTAL, m->objects_total);
  for (int k = 0; k < SC_KIND__COUNT && rc == 0; k++) {
    char key[64];
    snprintf(key, sizeof(key), "%s%s", SC_META_OBJECTS_PREFIX, sc_kind_name((sc_kind_t)k));
    rc = put_u64(t, key, m->objects_by_kind[k]);
  }
  if (rc == 0)
    rc = put_u64(t, SC_META_SCOPES, m->scopes);
  if (rc == 0)
    rc = put_u64(t, SC_META_RESOURCES, m->resources);
  if (rc == 0)
    rc = put_u64(t, SC_META_ENDPOINTS, m->endpoints);
  if (rc == 0)
    rc = put_u64(t, SC_META_HISTORY, m->history_versions);
  if (rc == 0)
    rc = put_u64(t, SC_META_REJECTED, m->rejected_total);
  if (rc == 0)
    rc = put_u64(t, SC_META_SKIPPED, m->skipped_total);
  if (rc == 0)
    rc = put_u64(t, SC_META_WARNINGS, m->warnings_total);
  /* Within a run kinds are only added, so what earlier runs wrote goes with the first commit. */
  if (rc == 0 && !t->w->skipped_cleared)
    rc = del_meta_prefix(t, SC_META_SKIPPED_PREFIX);
  for (size_t i = 0; i < m->nskipped_kinds && i < SC_SNAPSHOT_MAX_SKIPPED_KINDS && rc == 0; i++) {
    char key[96];
    snprintf(key, sizeof(key), "%s%s", SC_META_SKIPPED_PREFIX, m->skipped_by_kind[i].kind);
    rc = put_u64(t, key, m->skipped_by_kind[i].count);
  }
  return rc;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Doubles the map (bounded by max_map_size). No transaction may be open. */
static int grow_map(sc_snapshot_writer_t *w) {
  if (w->map_size >= w->max_map_size) {
    snprintf(w->errmsg, sizeof(w->errmsg), "snapshot map is full at its maximum of %zu bytes",
             w->max_map_size);
    return SC_EMAPFULL;
  }
  size_t size = w->map_size * 2 > w->max_map_size ? w->max_map_size : w->map_size * 2;
  int rc = mdb_env_set_mapsize(w->env, size);
  if (rc != 0)
    return fail(w, "mdb_env_set_mapsize", rc);
  w->map_size = size;
  return 0;
}

int sc_snapshot_publish(sc_snapshot_writer_t *w, sc_snapshot_meta_t *meta,
                        sc_snapshot_write_cb cb, void *arg) {
  int dead = 0;
  mdb_reader_check(w->env, &dead); /* frontends killed mid-read must not pin old pages */
  w->stale_readers += (uint64_t)dead;
  for (;;) {
    sc_snapshot_txn_t t = {.w = w};
    int rc = mdb_txn_begin(w->env, NULL, 0, &t.txn);
    if (rc == MDB_MAP_RESIZED) {
      mdb_env_set_mapsize(w->env, 0);
      continue;
    }
    if (rc != 0)
      return fail(w, "mdb_txn_begin", rc);
    sc_snapshot_meta_t m = *meta;
    m.format_version = SC_SNAPSHOT_FORMAT_VERSION;
    m.head_version = w->head + 1;
    m.instance_id = w->instance_id;
    m.last_publish_ms = now_ms();
    rc = cb ? cb(arg, &t) : 0;
    if (rc == 0)
      rc = write_meta(&t, &m);
    if (rc == 0) {
      int mrc = mdb_txn_commit(t.txn);
      if (mrc == 0) {
        w->head = m.head_version;
        w->skipped_cleared = true;
        *meta = m;
        return 0;
      }
      t.mdb_rc = mrc;
      rc = fail(w, "mdb_txn_commit", mrc); /* the commit freed the transaction */
    } else {
      mdb_txn_abort(t.txn);
    }
    if (t.mdb_rc != MDB_MAP_FULL)
      return rc;
    if ((rc = grow_map(w)) != 0)
      return rc;
  }
}

int sc_snapshot_txn_clear(sc_snapshot_txn_t *t, const char *table) {
  MDB_dbi dbi;
  int rc = txn_dbi(t, table, &dbi);
  if (rc != 0)
    return rc;
  rc = mdb_drop(t->txn, dbi, 0);
  if (rc != 0) {
    if (t->mdb_rc == 0)
      t->mdb_rc = rc;
    return fail(t->w, "mdb_drop", rc);
  }
  return 0;
}
