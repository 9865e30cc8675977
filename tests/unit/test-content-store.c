/* The content store and the layer store: verified blob writes, digest mismatches that leave
 * nothing, layers visible only when committed, and the sweep of what a dead writer left. */
#include "unit.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "image/content-store.h"
#include "image/layer-store.h"

#define HELLO_DIGEST "sha256:e997afd18e5f6be004fc193aed2c90291e68ab2c7599a62538c935b7fca6ab0f"
#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B64 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Entries of root/sub whose name starts with ".tmp-". */
static int
count_staging (const char *root, const char *sub)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/%s", root, sub);
  DIR *d = opendir (path);
  if (!d)
    fail_msg ("opendir %s", path);
  int n = 0;
  struct dirent *de;
  while ((de = readdir (d)))
    n += strncmp (de->d_name, ".tmp-", 5) == 0;
  closedir (d);
  return n;
}

static bool
path_exists (const char *root, const char *rel)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/%s", root, rel);
  struct stat st;
  return lstat (path, &st) == 0;
}

static void
test_blob_write_commit_read (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  box_error *err = NULL;
  content_writer *w = NULL;
  assert_ok (content_writer_open (eng, NULL, &w, &err), err);
  assert_ok (content_writer_write (w, "hello ", 6, &err), err);
  assert_int_equal (count_staging (root, "blobs/sha256"), 1);
  assert_int_equal (content_blob_exists (eng, HELLO_DIGEST, &err), 0);
  assert_ok (content_writer_write (w, "blob", 4, &err), err);
  assert_int_equal (content_writer_size (w), 10);
  char digest[DIGEST_STRING_MAX];
  assert_ok (content_writer_commit (w, digest, &err), err);
  content_writer_abort (w);
  assert_string_equal (digest, HELLO_DIGEST);
  assert_int_equal (count_staging (root, "blobs/sha256"), 0);
  assert_true (path_exists (root,
                            "blobs/sha256/"
                            "e997afd18e5f6be004fc193aed2c90291e68ab2c7599a62538c935b7fca6ab0f"));
  assert_int_equal (content_blob_exists (eng, HELLO_DIGEST, &err), 1);

  char *text = NULL;
  size_t len = 0;
  assert_ok (content_blob_read (eng, HELLO_DIGEST, &text, &len, &err), err);
  assert_int_equal (len, 10);
  assert_string_equal (text, "hello blob");
  free (text);
  uint64_t size = 0;
  assert_ok (content_blob_size (eng, HELLO_DIGEST, &size, &err), err);
  assert_int_equal (size, 10);

  /* the same content again with its expected digest: fine, still one blob */
  assert_ok (content_writer_open (eng, HELLO_DIGEST, &w, &err), err);
  assert_ok (content_writer_write (w, "hello blob", 10, &err), err);
  assert_ok (content_writer_commit (w, NULL, &err), err);
  content_writer_abort (w);

  assert_ok (content_blob_remove (eng, HELLO_DIGEST, &err), err);
  assert_int_equal (content_blob_exists (eng, HELLO_DIGEST, &err), 0);
  assert_ok (content_blob_remove (eng, HELLO_DIGEST, &err), err); /* missing is fine */
  int fd = -1;
  assert_int_equal (content_blob_open (eng, HELLO_DIGEST, &fd, &err), BOX_E_NOT_FOUND);
  box_error_free (err);
  unit_close_engine (eng, root);
}

static void
test_blob_digest_mismatch_leaves_nothing (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  box_error *err = NULL;
  content_writer *w = NULL;
  assert_ok (content_writer_open (eng, "sha256:" A64, &w, &err), err);
  assert_ok (content_writer_write (w, "hello blob", 10, &err), err);
  assert_int_equal (content_writer_commit (w, NULL, &err), BOX_E_INVALID);
  assert_non_null (strstr (box_error_message (err), "digest mismatch"));
  assert_non_null (strstr (box_error_message (err), "sha256:" A64));
  assert_non_null (strstr (box_error_message (err), HELLO_DIGEST));
  box_error_free (err);
  err = NULL;
  content_writer_abort (w);
  assert_int_equal (count_staging (root, "blobs/sha256"), 0);
  assert_int_equal (content_blob_exists (eng, "sha256:" A64, &err), 0);
  assert_int_equal (content_blob_exists (eng, HELLO_DIGEST, &err), 0);

  /* an abandoned writer removes its temporary */
  assert_ok (content_writer_open (eng, NULL, &w, &err), err);
  assert_ok (content_writer_write (w, "x", 1, &err), err);
  content_writer_abort (w);
  assert_int_equal (count_staging (root, "blobs/sha256"), 0);

  /* malformed digests are refused */
  assert_int_equal (content_writer_open (eng, "sha256:abc", &w, &err), BOX_E_INVALID);
  box_error_free (err);
  err = NULL;
  assert_int_equal (content_blob_exists (eng, "sha256:../../box.db", &err), BOX_E_INVALID);
  box_error_free (err);
  unit_close_engine (eng, root);
}

#define HELLO_HEX "e997afd18e5f6be004fc193aed2c90291e68ab2c7599a62538c935b7fca6ab0f"

typedef struct collected {
  char data[64];
  size_t len;
} collected;

static int
collect (void *userdata, const void *data, size_t len, box_error **err)
{
  collected *c = userdata;
  if (c->len + len > sizeof c->data)
    return box_err (err, BOX_E_INVALID, "too much replayed");
  memcpy (c->data + c->len, data, len);
  c->len += len;
  return 0;
}

/* A resumable writer leaves its partial when freed uncommitted; the next one replays it and
 * continues; a second live writer for the same digest does not touch it; a wrong partial is
 * removed at commit. */
static void
test_resumable_writer (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  box_error *err = NULL;
  content_writer *w = NULL;
  assert_ok (content_writer_open_resumable (eng, HELLO_DIGEST, 10, &w, &err), err);
  collected c = { .len = 0 };
  assert_ok (content_writer_replay (w, collect, &c, &err), err);
  assert_int_equal (c.len, 0);
  assert_ok (content_writer_write (w, "hello ", 6, &err), err);

  /* meanwhile another writer of the same blob gets an ordinary temporary */
  content_writer *other = NULL;
  assert_ok (content_writer_open_resumable (eng, HELLO_DIGEST, 10, &other, &err), err);
  assert_int_equal (count_staging (root, "blobs/sha256"), 1);
  content_writer_abort (other);
  content_writer_abort (w); /* interrupted */
  assert_true (path_exists (root, "blobs/sha256/.partial-" HELLO_HEX));

  assert_ok (content_writer_open_resumable (eng, HELLO_DIGEST, 10, &w, &err), err);
  assert_ok (content_writer_replay (w, collect, &c, &err), err);
  assert_int_equal (c.len, 6);
  assert_memory_equal (c.data, "hello ", 6);
  assert_int_equal (content_writer_size (w), 6);
  assert_ok (content_writer_write (w, "blob", 4, &err), err);
  assert_ok (content_writer_commit (w, NULL, &err), err);
  content_writer_abort (w);
  assert_false (path_exists (root, "blobs/sha256/.partial-" HELLO_HEX));
  assert_int_equal (content_blob_exists (eng, HELLO_DIGEST, &err), 1);

  /* a partial whose bytes are wrong is removed at commit */
  assert_ok (content_writer_open_resumable (eng, "sha256:" A64, 10, &w, &err), err);
  assert_ok (content_writer_write (w, "junk", 4, &err), err);
  content_writer_abort (w);
  assert_true (path_exists (root, "blobs/sha256/.partial-" A64));
  assert_ok (content_writer_open_resumable (eng, "sha256:" A64, 10, &w, &err), err);
  c.len = 0;
  assert_ok (content_writer_replay (w, collect, &c, &err), err);
  assert_int_equal (content_writer_commit (w, NULL, &err), BOX_E_INVALID);
  box_error_free (err);
  err = NULL;
  content_writer_abort (w);
  assert_false (path_exists (root, "blobs/sha256/.partial-" A64));

  /* a partial longer than the blob can be is dropped; discard_partial removes on free */
  assert_ok (content_writer_open_resumable (eng, "sha256:" B64, 100, &w, &err), err);
  assert_ok (content_writer_write (w, "0123456789", 10, &err), err);
  content_writer_abort (w);
  assert_ok (content_writer_open_resumable (eng, "sha256:" B64, 4, &w, &err), err);
  c.len = 0;
  assert_ok (content_writer_replay (w, collect, &c, &err), err);
  assert_int_equal (c.len, 0);
  content_writer_discard_partial (w);
  content_writer_abort (w);
  assert_false (path_exists (root, "blobs/sha256/.partial-" B64));
  unit_close_engine (eng, root);
}

/* A temporary blob whose writer died is removed on the next open; one whose writer is alive
 * (holding its lock) is left alone. */
static void
test_open_sweeps_dead_writers_only (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  box_error *err = NULL;
  char path[4096];
  snprintf (path, sizeof path, "%s/blobs/sha256/.tmp-deadbeefdeadbeef", root);
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, "partial", 7), 7);
  close (fd);
  snprintf (path, sizeof path, "%s/layers/.tmp-0123456789abcdef", root);
  assert_int_equal (mkdir (path, 0755), 0);
  snprintf (path, sizeof path, "%s/layers/.tmp-0123456789abcdef/etc", root);
  assert_int_equal (mkdir (path, 0755), 0);

  content_writer *live = NULL;
  assert_ok (content_writer_open (eng, NULL, &live, &err), err);
  layer_writer *live_layer = NULL;
  assert_ok (layer_begin (eng, &live_layer, &err), err);
  assert_int_equal (count_staging (root, "blobs/sha256"), 2);
  assert_int_equal (count_staging (root, "layers"), 2);

  box_engine *second = NULL;
  assert_ok (unit_engine_open_at (root, &second, &err), err);
  assert_int_equal (count_staging (root, "blobs/sha256"), 1);
  assert_int_equal (count_staging (root, "layers"), 1);
  assert_false (path_exists (root, "blobs/sha256/.tmp-deadbeefdeadbeef"));
  assert_false (path_exists (root, "layers/.tmp-0123456789abcdef"));

  /* the live writers still finish */
  assert_ok (content_writer_write (live, "hello blob", 10, &err), err);
  assert_ok (content_writer_commit (live, NULL, &err), err);
  assert_int_equal (content_blob_exists (second, HELLO_DIGEST, &err), 1);
  assert_ok (layer_commit (live_layer, "sha256:" A64, &err), err);
  assert_int_equal (layer_exists (second, "sha256:" A64, &err), 1);
  content_writer_abort (live);
  layer_abort (live_layer);
  box_engine_close (second);
  unit_close_engine (eng, root);
}

static void
test_layer_commit_abort_remove (void **state)
{
  char *root;
  box_engine *eng = unit_open_engine (&root);
  box_error *err = NULL;
  layer_writer *w = NULL;
  assert_ok (layer_begin (eng, &w, &err), err);
  int fd = openat (layer_writer_directory_fd (w), "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, "one", 3), 3);
  close (fd);
  assert_int_equal (layer_exists (eng, "sha256:" A64, &err), 0);
  assert_ok (layer_commit (w, "sha256:" A64, &err), err);
  layer_abort (w);
  assert_int_equal (layer_exists (eng, "sha256:" A64, &err), 1);
  assert_true (path_exists (root, "layers/" A64 "/file"));
  assert_int_equal (count_staging (root, "layers"), 0);

  /* a second writer of the same layer loses the race quietly: the first one stays */
  assert_ok (layer_begin (eng, &w, &err), err);
  fd = openat (layer_writer_directory_fd (w), "other", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  close (fd);
  assert_ok (layer_commit (w, "sha256:" A64, &err), err);
  layer_abort (w);
  assert_true (path_exists (root, "layers/" A64 "/file"));
  assert_false (path_exists (root, "layers/" A64 "/other"));
  assert_int_equal (count_staging (root, "layers"), 0);

  /* an aborted layer leaves nothing */
  assert_ok (layer_begin (eng, &w, &err), err);
  layer_abort (w);
  assert_int_equal (count_staging (root, "layers"), 0);

  char *path = NULL;
  assert_ok (layer_path (eng, "sha256:" A64, &path, &err), err);
  char expected[4096];
  snprintf (expected, sizeof expected, "%s/layers/%s", root, A64);
  assert_string_equal (path, expected);
  free (path);

  assert_ok (layer_remove (eng, "sha256:" A64, &err), err);
  assert_int_equal (layer_exists (eng, "sha256:" A64, &err), 0);
  assert_int_equal (count_staging (root, "layers"), 0);
  assert_ok (layer_remove (eng, "sha256:" A64, &err), err);
  assert_int_equal (layer_exists (eng, "sha256:../x", &err), BOX_E_INVALID);
  box_error_free (err);
  unit_close_engine (eng, root);
}

static void
test_chain_id (void **state)
{
  char out[DIGEST_STRING_MAX];
  box_error *err = NULL;
  assert_ok (layer_chain_id (NULL, "sha256:" A64, out, &err), err);
  assert_string_equal (out, "sha256:" A64);
  /* sha256 ("sha256:aaa… sha256:bbb…"), computed with sha256sum */
  assert_ok (layer_chain_id ("sha256:" A64, "sha256:" B64, out, &err), err);
  assert_string_equal (out,
                       "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
  assert_int_equal (layer_chain_id (NULL, "md5:x", out, &err), BOX_E_INVALID);
  box_error_free (err);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_blob_write_commit_read),
    cmocka_unit_test (test_blob_digest_mismatch_leaves_nothing),
    cmocka_unit_test (test_resumable_writer),
    cmocka_unit_test (test_open_sweeps_dead_writers_only),
    cmocka_unit_test (test_layer_commit_abort_remove),
    cmocka_unit_test (test_chain_id),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
