/* The snapshot writer and reader: meta record round trip, head versions across
 * reopen, format version checks, read-only access, and a map that grows when full. */
#include <lmdb.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "scopecast/snapshot.h"

static void tmpdir(char *buf, size_t len) {
  snprintf(buf, len, "/tmp/sc-test-snapshot-XXXXXX");
  if (mkdtemp(buf) == NULL)
    abort();
}

static void rmdir_all(const char *dir) {
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    abort();
}

TEST(meta_round_trip_and_head_versions) {
  char dir[64];
  tmpdir(dir, sizeof(dir));
  sc_snapshot_writer_t *w;
  char err[256];
  ASSERT_EQ_INT(sc_snapshot_writer_open(dir, NULL, &w, err, sizeof(err)), 0);
  ASSERT_EQ_U64(sc_snapshot_writer_head(w), 0);
  sc_snapshot_meta_t m = {0};
  m.objects_by_kind[SC_KIND_SERVICE] = 3;
  m.objects_total = 3;
  m.rejected_total = 2;
  m.warnings_total = 5;
  ASSERT_EQ_INT(sc_snapshot_publish(w, &m, NULL, NULL), 0);
  ASSERT_EQ_U64(m.head_version, 1);
  ASSERT_EQ_INT(sc_snapshot_publish(w, &m, NULL, NULL), 0);
  ASSERT_EQ_U64(m.head_version, 2);
  uint64_t first_instance = m.instance_id;

  sc_snapshot_reader_t *r;
  ASSERT_EQ_INT(sc_snapshot_reader_open(dir, &r, err, sizeof(err)), 0);
  sc_snapshot_meta_t got;
  ASSERT_EQ_INT(sc_snapshot_read_meta(r, &got), 0);
  ASSERT_EQ_U64(got.head_version, 2);
  ASSERT_EQ_U64(got.format_version, SC_SNAPSHOT_FORMAT_VERSION);
  ASSERT_EQ_U64(got.objects_by_kind[SC_KIND_SERVICE], 3);
  ASSERT_EQ_U64(got.objects_total, 3);
  ASSERT_EQ_U64(got.rejected_total, 2);
  ASSERT_EQ_U64(got.warnings_total, 5);
  ASSERT_EQ_U64(got.instance_id, first_instance);
  ASSERT(got.last_publish_ms > 1700000000000ull);
  sc_snapshot_writer_close(w);

  /* A restarted writer continues above the old head, with a new instance id. */
  ASSERT_EQ_INT(sc_snapshot_writer_open(dir, NULL, &w, err, sizeof(err)), 0);
  ASSERT_EQ_U64(sc_snapshot_writer_head(w), 2);
  ASSERT_EQ_INT(sc_snapshot_publish(w, &m, NULL, NULL), 0);
  ASSERT_EQ_U64(m.head_version, 3);
  ASSERT_NE_U64(m.instance_id, first_instance);
  /* The reader sees the new commit on its next (short) transaction. */
  ASSERT_EQ_INT(sc_snapshot_read_meta(r, &got), 0);
  ASSERT_EQ_U64(got.head_version, 3);
  sc_snapshot_reader_close(r);
  sc_snapshot_writer_close(w);
  rmdir_all(dir);
}

TEST(reader_without_snapshot) {
  char dir[64], err[256];
  tmpdir(dir, sizeof(dir));
  sc_snapshot_reader_t *r;
  ASSERT_EQ_INT(sc_snapshot_reader_open(dir, &r, err, sizeof(err)), SC_ENOTFOUND);
  ASSERT_CONTAINS(err, "no snapshot");
  rmdir_all(dir);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL)
    abort();
  fputs(text, f);
  fclose(f);
}

/* What a writer killed while it created the file leaves: an empty data.mdb (before the
 * file was made whole in DIR/.init), or a half-made DIR/.init. Readers see no snapshot;
 * the next writer makes the file and publishes. */
TEST(killed_while_creating) {
  char dir[64], path[128], err[256];
  tmpdir(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/data.mdb", dir);
  write_file(path, "");
  snprintf(path, sizeof(path), "%s/.init", dir);
  ASSERT_EQ_INT(mkdir(path, 0755), 0);
  snprintf(path, sizeof(path), "%s/.init/data.mdb", dir);
  write_file(path, "half a meta page");
  sc_snapshot_reader_t *r;
  ASSERT_EQ_INT(sc_snapshot_reader_open(dir, &r, err, sizeof(err)), SC_ENOTFOUND);
  ASSERT_CONTAINS(err, "an empty data.mdb");
  sc_snapshot_writer_t *w;
  ASSERT_EQ_INT(sc_snapshot_writer_open(dir, NULL, &w, err, sizeof(err)), 0);
  struct stat st;
  snprintf(path, sizeof(path), "%s/.init", dir);
  ASSERT(stat(path, &st) != 0); /* cleaned up */
  /* whole before any commit: it opens, with no meta record yet */
  ASSERT_EQ_INT(sc_snapshot_reader_open(dir, &r, err, sizeof(err)), 0);
  sc_snapshot_meta_t m = {0};
  ASSERT_EQ_INT(sc_snapshot_read_meta(r, &m), SC_ENOTFOUND);
  ASSERT_EQ_INT(sc_snapshot_publish(w, &m, NULL, NULL), 0);
  ASSERT_EQ_INT(sc_snapshot_read_meta(r, &m), 0);
  ASSERT_EQ_U64(m.head_version, 1);
  sc_snapshot_reader_close(r);
  sc_snapshot_writer_close(w);
  rmdir_all(dir);
}

static int write_blobs(void *arg, sc_snapshot_txn_t *txn) {
  int *count = arg;
  char key[32], val[4096];
  memset(val, 'v', sizeof(val));
  for (int i = 0; i < *count; i++) {
    snprintf(key, sizeof(key), "blob-%06d", i);
    int rc = sc_snapshot_txn_put(txn, "test_blobs", key, strlen(key), val, sizeof(val));
    if (rc != 0)
      return rc;
  }
  return 0;
}

TEST(map_grows_when_full) {
  char dir[64], err[256];
  tmpdir(dir, sizeof(dir));
  sc_snapshot_writer_opts_t o = {.initial_map_size = 1u << 20, .no_sync = true};
  sc_snapshot_writer_t *w;
  ASSERT_EQ_INT(sc_snapshot_writer_open(dir, &o, &w, err, sizeof(err)), 0);
  int count = 2000; /* about 8 MiB: eight times the initial map */
  sc_snapshot_meta_t m = {0};
  ASSERT_EQ_INT(sc_snapshot_publish(w, &m, write_blobs, &count), 0);
  ASSERT(sc_snapshot_writer_map_size(w) >= (8u << 20));
  ASSERT_EQ_U64(m.head_version, 1);
  /* A reader opened before further growth still reads. */
  sc_snapshot_reader_t *r;
  ASSERT_EQ_INT(sc_snapshot_reader_open(dir, &r, err, sizeof(err)), 0);
  count = 4000;
  ASSERT_EQ_INT(sc_snapshot_publish(w, &m, write_blobs, &count), 0);
  sc_snapshot_meta_t got;
  ASSERT_EQ_INT(sc_snapshot_read_meta(r, &got), 0);
  ASSERT_EQ_U64(got.head_version, 2);
  sc_snapshot_reader_close(r);
  sc_snapshot_writer_close(w);
  rmdir_all(dir);
}

TEST(map_growth_is_capped) {
  char dir[64], err[256];
  tmpdir(dir, sizeof(dir));
  sc_snapshot_writer_opts_t o = {.initial_map_size = 1u << 20, .max_map_size = 2u << 20,
                                 .no_sync = true};
  sc_snapshot_writer_t *w;
  ASSERT_EQ_INT(sc_snapshot_writer_open(dir, &o, &w, err, sizeof(err)), 0);
  int count = 2000;
  sc_snapshot_meta_t m = {0};
  ASSERT_EQ_INT(sc_snapshot_publish(w, &m, write_blobs, &count), SC_EMAPFULL);
  ASSERT_CONTAINS(sc_snapshot_writer_errmsg(w), "maximum");
  /* The failed batch left nothing behind; a small one still commits. */
  ASSERT_EQ_U64(sc_snapshot_writer_head(w), 0);
  ASSERT_EQ_INT(sc_snapshot_publish(w, &m, NULL, NULL), 0);
  ASSERT_EQ_U64(m.head_version, 1);
  sc_snapshot_writer_close(w);
  rmdir_all(dir);
}

/* Writes format_version 99 into the meta table with LMDB directly, as a future engine
 * would. */
static int set_format_version(const char *dir, unsigned char v) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  unsigned char val[4] = {v, 0, 0, 0};
  MDB_val k = {strlen("format_version"), "format_version"}, d = {4, val};
  int rc = mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 32);
  if (rc == 0)
    rc = mdb_env_open(env, dir, 0, 0644);
  if (rc == 0)
    rc = mdb_txn_begin(env, NULL, 0, &txn);
  if (rc == 0)
    rc = mdb_dbi_open(txn, "meta", 0, &dbi);
  if (rc == 0)
    rc = mdb_put(txn, dbi, &k, &d, 0);
  if (rc == 0)
    rc = mdb_txn_commit(txn);
  mdb_env_close(env);
  return rc;
}

TEST(format_version_mismatch_is_refused) {
  char dir[64], err[256];
  tmpdir(dir, sizeof(dir));
  sc_snapshot_writer_t *w;
  ASSERT_EQ_INT(sc_snapshot_writer_open(dir, NULL, &w, err, sizeof(err)), 0);
  sc_snapshot_meta_t m = {0};
  ASSERT_EQ_INT(sc_snapshot_publish(w, &m, NULL, NULL), 0);
  sc_snapshot_writer_close(w);
  ASSERT_EQ_INT(set_format_version(dir, 99), 0);

  ASSERT_EQ_INT(sc_snapshot_writer_open(dir, NULL, &w, err, sizeof(err)), SC_EVERSION);
  ASSERT_CONTAINS(err, "format version 99");
  sc_snapshot_reader_t *r;
  ASSERT_EQ_INT(sc_snapshot_reader_open(dir, &r, err, sizeof(err)), 0);
  sc_snapshot_meta_t got;
  ASSERT_EQ_INT(sc_snapshot_read_meta(r, &got), SC_EVERSION);
  ASSERT_CONTAINS(sc_snapshot_reader_errmsg(r), "format version 99");
  sc_snapshot_reader_close(r);
  rmdir_all(dir);
}

TEST_LIST = {TEST_ENTRY(meta_round_trip_and_head_versions),
             TEST_ENTRY(reader_without_snapshot),
             TEST_ENTRY(killed_while_creating),
             TEST_ENTRY(map_grows_when_full),
             TEST_ENTRY(map_growth_is_capped),
             TEST_ENTRY(format_version_mismatch_is_refused),
             TEST_LIST_END};
