/* Owns the blobs directory: verified writes, reads, removal, and the sweep of abandoned
 * temporaries. */
#include "image/content-store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "image/staging.h"
#include "util/fs.h"

#define BLOBS_DIRECTORY "blobs/sha256"
#define BLOB_MODE 0644

struct content_writer {
  int dir_fd;
  int fd;
  /* a staging name, or a partial's: ".partial-" + 64 hex */
  char temp_name[STAGING_NAME_MAX + DIGEST_SHA256_HEX_LENGTH];
  char expected[DIGEST_STRING_MAX]; /* "" when not known */
  digest_hasher *hasher;
  uint64_t size;
  bool finished;
  bool keep_partial; /* resumable: leave the temporary for the next writer */
};

#define PARTIAL_PREFIX ".partial-"
#define REPLAY_CHUNK (1024 * 1024)

static int
open_blobs_directory (box_engine *eng, int *out_fd, box_error **err)
{
  int fd = openat (eng->root_fd, BLOBS_DIRECTORY, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    {
      _cleanup_free_ char *path = NULL;
      if (asprintf (&path, "%s/" BLOBS_DIRECTORY, eng->root) < 0)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      if (fs_mkdir_p (path, 0755, err) < 0)
        return box_err_wrap (err, "content store");
      fd = openat (eng->root_fd, BLOBS_DIRECTORY, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
  if (fd < 0)
    return box_err_errno (err, errno, "content store: open %s/" BLOBS_DIRECTORY, eng->root);
  *out_fd = fd;
  return 0;
}

static int
check_digest (const char *digest, box_error **err)
{
  if (!digest_is_valid_sha256 (digest))
    return box_err (err, BOX_E_INVALID, "invalid blob digest \"%s\": expected sha256:<64 hex>",
                    digest ? digest : "");
  return 0;
}

int
content_writer_open (box_engine *eng, const char *expected_digest, content_writer **out,
                     box_error **err)
{
  if (expected_digest && check_digest (expected_digest, err) < 0)
    return box_err_code (err);
  _cleanup_ (content_writer_abortp) content_writer *w = calloc (1, sizeof *w);
  if (!w)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  w->dir_fd = w->fd = -1;
  w->finished = true; /* nothing to remove until the temporary exists */
  if (expected_digest)
    snprintf (w->expected, sizeof w->expected, "%s", expected_digest);
  if (digest_hasher_new (&w->hasher, err) < 0)
    return box_err_code (err);
  if (open_blobs_directory (eng, &w->dir_fd, err) < 0)
    return box_err_code (err);
  if (staging_create_file (w->dir_fd, BLOB_MODE, w->temp_name, &w->fd, err) < 0)
    return box_err_wrap (err, "content store: start blob");
  w->finished = false;
  *out = TAKE_PTR (w);
  return 0;
}

int
content_writer_write (content_writer *w, const void *data, size_t len, box_error **err)
{
  if (w->finished)
    return box_err (err, BOX_E_INTERNAL, "content store: write to a finished blob writer");
  if (digest_hasher_update (w->hasher, data, len, err) < 0)
    return box_err_code (err);
  const char *p = data;
  size_t left = len;
  while (left > 0)
    {
      ssize_t n = write (w->fd, p, left);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return box_err_errno (err, errno, "content store: write blob %s", w->temp_name);
        }
      p += n;
      left -= (size_t) n;
    }
  w->size += len;
  return 0;
}

uint64_t
content_writer_size (const content_writer *w)
{
  return w->size;
}

static void
remove_temporary (content_writer *w)
{
  if (!w->finished && w->dir_fd >= 0)
    unlinkat (w->dir_fd, w->temp_name, 0);
  w->finished = true;
}

int
content_writer_open_resumable (box_engine *eng, const char *expected_digest,
                               uint64_t expected_size, content_writer **out, box_error **err)
{
  if (check_digest (expected_digest, err) < 0)
    return box_err_code (err);
  _cleanup_ (content_writer_abortp) content_writer *w = calloc (1, sizeof *w);
  if (!w)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  w->dir_fd = w->fd = -1;
  w->finished = true;
  snprintf (w->expected, sizeof w->expected, "%s", expected_digest);
  if (digest_hasher_new (&w->hasher, err) < 0)
    return box_err_code (err);
  if (open_blobs_directory (eng, &w->dir_fd, err) < 0)
    return box_err_code (err);
  snprintf (w->temp_name, sizeof w->temp_name, PARTIAL_PREFIX "%s", digest_hex (expected_digest));
  w->fd = openat (w->dir_fd, w->temp_name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, BLOB_MODE);
  if (w->fd < 0)
    return box_err_errno (err, errno, "content store: open %s", w->temp_name);
  if (flock (w->fd, LOCK_EX | LOCK_NB) < 0)
    {
      if (errno != EWOULDBLOCK)
        return box_err_errno (err, errno, "content store: lock %s", w->temp_name);
      /* another live writer continues this partial: write our own copy */
      content_writer_abort (TAKE_PTR (w));
      return content_writer_open (eng, expected_digest, out, err);
    }
  struct stat st;
  if (fstat (w->fd, &st) < 0)
    return box_err_errno (err, errno, "content store: stat %s", w->temp_name);
  if ((uint64_t) st.st_size > expected_size && ftruncate (w->fd, 0) < 0)
    return box_err_errno (err, errno, "content store: truncate %s", w->temp_name);
  w->finished = false;
  w->keep_partial = true;
  *out = TAKE_PTR (w);
  return 0;
}

int
content_writer_replay (content_writer *w,
                       int (*fn) (void *userdata, const void *data, size_t len, box_error **err),
                       void *userdata, box_error **err)
{
  if (w->finished)
    return box_err (err, BOX_E_INTERNAL, "content store: replay of a finished blob writer");
  if (lseek (w->fd, 0, SEEK_SET) < 0)
    return box_err_errno (err, errno, "content store: rewind %s", w->temp_name);
  _cleanup_free_ char *buffer = malloc (REPLAY_CHUNK);
  if (!buffer)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  w->size = 0;
  for (;;)
    {
      ssize_t n = read (w->fd, buffer, REPLAY_CHUNK);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return box_err_errno (err, errno, "content store: read %s", w->temp_name);
      if (n == 0)
        return 0; /* positioned at the end: writes append */
      if (digest_hasher_update (w->hasher, buffer, (size_t) n, err) < 0)
        return box_err_code (err);
      w->size += (uint64_t) n;
      if (fn (userdata, buffer, (size_t) n, err) < 0)
        return box_err_code (err);
    }
}

void
content_writer_discard_partial (content_writer *w)
{
  w->keep_partial = false;
}

int
content_writer_commit (content_writer *w, char out_digest[DIGEST_STRING_MAX], box_error **err)
{
  if (w->finished)
    return box_err (err, BOX_E_INTERNAL, "content store: commit of a finished blob writer");
  char digest[DIGEST_STRING_MAX];
  if (digest_hasher_final (w->hasher, digest, err) < 0)
    {
      remove_temporary (w);
      return box_err_code (err);
    }
  if (w->expected[0] && strcmp (w->expected, digest) != 0)
    {
      remove_temporary (w);
      return box_err (err, BOX_E_INVALID,
                      "blob digest mismatch: expected %s, the content (%llu bytes) is %s",
                      w->expected, (unsigned long long) w->size, digest);
    }
  if (fsync (w->fd) < 0)
    {
      int saved = errno;
      remove_temporary (w);
      return box_err_errno (err, saved, "content store: fsync blob %s", digest);
    }
  if (renameat (w->dir_fd, w->temp_name, w->dir_fd, digest_hex (digest)) < 0)
    {
      int saved = errno;
      remove_temporary (w);
      return box_err_errno (err, saved, "content store: rename blob %s into place", digest);
    }
  w->finished = true;
  fsync (w->dir_fd);
  if (out_digest)
    memcpy (out_digest, digest, DIGEST_STRING_MAX);
  return 0;
}

void
content_writer_abort (content_writer *w)
{
  if (!w)
    return;
  if (!w->keep_partial)
    remove_temporary (w);
  if (w->fd >= 0)
    close (w->fd);
  if (w->dir_fd >= 0)
    close (w->dir_fd);
  digest_hasher_free (w->hasher);
  free (w);
}

int
content_blob_path (box_engine *eng, const char *digest, char **out, box_error **err)
{
  if (check_digest (digest, err) < 0)
    return box_err_code (err);
  if (asprintf (out, "%s/" BLOBS_DIRECTORY "/%s", eng->root, digest_hex (digest)) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

static int
blob_relative_path (const char *digest, char out[DIGEST_STRING_MAX + 16], box_error **err)
{
  if (check_digest (digest, err) < 0)
    return box_err_code (err);
  snprintf (out, DIGEST_STRING_MAX + 16, BLOBS_DIRECTORY "/%s", digest_hex (digest));
  return 0;
}

int
content_blob_exists (box_engine *eng, const char *digest, box_error **err)
{
  char path[DIGEST_STRING_MAX + 16];
  if (blob_relative_path (digest, path, err) < 0)
    return box_err_code (err);
  struct stat st;
  if (fstatat (eng->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return S_ISREG (st.st_mode) ? 1 : 0;
  if (errno == ENOENT)
    return 0;
  return box_err_errno (err, errno, "content store: stat blob %s", digest);
}

int
content_blob_size (box_engine *eng, const char *digest, uint64_t *out, box_error **err)
{
  char path[DIGEST_STRING_MAX + 16];
  if (blob_relative_path (digest, path, err) < 0)
    return box_err_code (err);
  struct stat st;
  if (fstatat (eng->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return box_err_errno (err, errno, "content store: blob %s", digest);
  *out = (uint64_t) st.st_size;
  return 0;
}

int
content_blob_open (box_engine *eng, const char *digest, int *out_fd, box_error **err)
{
  char path[DIGEST_STRING_MAX + 16];
  if (blob_relative_path (digest, path, err) < 0)
    return box_err_code (err);
  int fd = openat (eng->root_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return box_err_errno (err, errno, "content store: open blob %s", digest);
  *out_fd = fd;
  return 0;
}

int
content_blob_read (box_engine *eng, const char *digest, char **out, size_t *out_len,
                   box_error **err)
{
  char path[DIGEST_STRING_MAX + 16];
  if (blob_relative_path (digest, path, err) < 0)
    return box_err_code (err);
  if (fs_read_file (eng->root_fd, path, out, out_len, err) < 0)
    return box_err_wrap (err, "content store: blob %s", digest);
  return 0;
}

int
content_blob_write_buffer (box_engine *eng, const void *data, size_t len,
                           char out_digest[DIGEST_STRING_MAX], box_error **err)
{
  _cleanup_ (content_writer_abortp) content_writer *w = NULL;
  if (content_writer_open (eng, NULL, &w, err) < 0
      || content_writer_write (w, data, len, err) < 0
      || content_writer_commit (w, out_digest, err) < 0)
    return box_err_code (err);
  return 0;
}

int
content_blob_remove (box_engine *eng, const char *digest, box_error **err)
{
  char path[DIGEST_STRING_MAX + 16];
  if (blob_relative_path (digest, path, err) < 0)
    return box_err_code (err);
  if (unlinkat (eng->root_fd, path, 0) < 0 && errno != ENOENT)
    return box_err_errno (err, errno, "content store: remove blob %s", digest);
  return 0;
}

/* Removes partial downloads nobody resumed for CONTENT_PARTIAL_MAX_AGE_DAYS (and that no
 * live writer holds). */
static int
sweep_old_partials (int dir_fd, box_error **err)
{
  int dup_fd = openat (dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0)
    return box_err_errno (err, errno, "content store: open blobs directory");
  _cleanup_closedir_ DIR *dir = fdopendir (dup_fd);
  if (!dir)
    {
      close (dup_fd);
      return box_err_errno (err, errno, "content store: read blobs directory");
    }
  time_t oldest = time (NULL) - (time_t) CONTENT_PARTIAL_MAX_AGE_DAYS * 24 * 3600;
  struct dirent *entry;
  while ((entry = readdir (dir)))
    {
      if (strncmp (entry->d_name, PARTIAL_PREFIX, strlen (PARTIAL_PREFIX)) != 0)
        continue;
      _cleanup_close_ int fd
          = openat (dir_fd, entry->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      struct stat st;
      if (fd < 0 || fstat (fd, &st) < 0 || st.st_mtime >= oldest)
        continue;
      if (flock (fd, LOCK_EX | LOCK_NB) == 0)
        unlinkat (dir_fd, entry->d_name, 0);
    }
  return 0;
}

int
content_store_repair (box_engine *eng, box_error **err)
{
  _cleanup_close_ int dir_fd = -1;
  if (open_blobs_directory (eng, &dir_fd, err) < 0)
    return box_err_code (err);
  if (staging_sweep (dir_fd, err) < 0)
    return box_err_wrap (err, "content store: remove abandoned blob writes");
  return sweep_old_partials (dir_fd, err);
}
