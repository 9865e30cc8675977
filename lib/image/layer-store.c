/* Owns the layers directory: staging, commit by rename, removal, chain ids and the sweep of
 * half-unpacked layers. */
#include "image/layer-store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "image/staging.h"
#include "util/fs.h"

#define LAYERS_DIRECTORY "layers"
/* traversable (an overlay mount in a user namespace must reach its lowers) but not listable */
#define LAYERS_DIRECTORY_MODE 0711
#define LAYER_STAGING_MODE 0755

struct layer_writer {
  int layers_fd;
  int dir_fd;
  char temp_name[STAGING_NAME_MAX];
  bool finished;
};

static int
open_layers_directory (box_engine *eng, int *out_fd, box_error **err)
{
  int fd = openat (eng->root_fd, LAYERS_DIRECTORY, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    {
      if (mkdirat (eng->root_fd, LAYERS_DIRECTORY, LAYERS_DIRECTORY_MODE) < 0 && errno != EEXIST)
        return box_err_errno (err, errno, "layer store: create %s/" LAYERS_DIRECTORY, eng->root);
      fd = openat (eng->root_fd, LAYERS_DIRECTORY, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
  if (fd < 0)
    return box_err_errno (err, errno, "layer store: open %s/" LAYERS_DIRECTORY, eng->root);
  *out_fd = fd;
  return 0;
}

static int
check_chain_id (const char *chain_id, box_error **err)
{
  if (!digest_is_valid_sha256 (chain_id))
    return box_err (err, BOX_E_INVALID, "invalid layer chain id \"%s\": expected sha256:<64 hex>",
                    chain_id ? chain_id : "");
  return 0;
}

int
layer_exists (box_engine *eng, const char *chain_id, box_error **err)
{
  if (check_chain_id (chain_id, err) < 0)
    return box_err_code (err);
  char path[DIGEST_STRING_MAX + 16];
  snprintf (path, sizeof path, LAYERS_DIRECTORY "/%s", digest_hex (chain_id));
  struct stat st;
  if (fstatat (eng->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return S_ISDIR (st.st_mode) ? 1 : 0;
  if (errno == ENOENT)
    return 0;
  return box_err_errno (err, errno, "layer store: stat layer %s", chain_id);
}

int
layer_begin (box_engine *eng, layer_writer **out, box_error **err)
{
  _cleanup_ (layer_abortp) layer_writer *w = calloc (1, sizeof *w);
  if (!w)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  w->layers_fd = w->dir_fd = -1;
  w->finished = true;
  if (open_layers_directory (eng, &w->layers_fd, err) < 0)
    return box_err_code (err);
  if (staging_create_directory (w->layers_fd, LAYER_STAGING_MODE, w->temp_name, &w->dir_fd, err)
      < 0)
    return box_err_wrap (err, "layer store: start layer");
  w->finished = false;
  *out = TAKE_PTR (w);
  return 0;
}

int
layer_writer_directory_fd (const layer_writer *w)
{
  return w->dir_fd;
}

static void
remove_staging (layer_writer *w)
{
  if (!w->finished && w->layers_fd >= 0)
    fs_remove_tree (w->layers_fd, w->temp_name, NULL);
  w->finished = true;
}

int
layer_commit (layer_writer *w, const char *chain_id, box_error **err)
{
  if (w->finished)
    return box_err (err, BOX_E_INTERNAL, "layer store: commit of a finished layer writer");
  if (check_chain_id (chain_id, err) < 0)
    {
      remove_staging (w);
      return box_err_code (err);
    }
  /* the unpacked files must be on disk before the name says the layer is complete */
  if (syncfs (w->dir_fd) < 0)
    {
      int saved = errno;
      remove_staging (w);
      return box_err_errno (err, saved, "layer store: sync layer %s", chain_id);
    }
  const char *hex = digest_hex (chain_id);
  if (renameat (w->layers_fd, w->temp_name, w->layers_fd, hex) < 0)
    {
      int saved = errno;
      remove_staging (w);
      if (saved == EEXIST || saved == ENOTEMPTY)
        return 0; /* another writer committed the same layer first */
      return box_err_errno (err, saved, "layer store: rename layer %s into place", chain_id);
    }
  w->finished = true;
  fsync (w->layers_fd);
  return 0;
}

void
layer_abort (layer_writer *w)
{
  if (!w)
    return;
  remove_staging (w);
  if (w->dir_fd >= 0)
    close (w->dir_fd);
  if (w->layers_fd >= 0)
    close (w->layers_fd);
  free (w);
}

int
layer_path (box_engine *eng, const char *chain_id, char **out, box_error **err)
{
  if (check_chain_id (chain_id, err) < 0)
    return box_err_code (err);
  if (asprintf (out, "%s/" LAYERS_DIRECTORY "/%s", eng->root, digest_hex (chain_id)) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

int
layer_remove (box_engine *eng, const char *chain_id, box_error **err)
{
  if (check_chain_id (chain_id, err) < 0)
    return box_err_code (err);
  _cleanup_close_ int layers_fd = -1;
  if (open_layers_directory (eng, &layers_fd, err) < 0)
    return box_err_code (err);
  if (staging_remove_directory (layers_fd, digest_hex (chain_id), err) < 0)
    return box_err_wrap (err, "layer store: remove layer %s", chain_id);
  return 0;
}

int
layer_chain_id (const char *parent_chain_id, const char *diff_id, char out[DIGEST_STRING_MAX],
                box_error **err)
{
  if (!digest_is_valid_sha256 (diff_id))
    return box_err (err, BOX_E_INVALID, "invalid layer diff id \"%s\"", diff_id ? diff_id : "");
  if (!parent_chain_id)
    {
      memcpy (out, diff_id, strlen (diff_id) + 1);
      return 0;
    }
  if (check_chain_id (parent_chain_id, err) < 0)
    return box_err_code (err);
  char joined[2 * DIGEST_STRING_MAX + 1];
  int len = snprintf (joined, sizeof joined, "%s %s", parent_chain_id, diff_id);
  return digest_sha256_buffer (joined, (size_t) len, out, err);
}

int
layer_store_repair (box_engine *eng, box_error **err)
{
  _cleanup_close_ int layers_fd = -1;
  if (open_layers_directory (eng, &layers_fd, err) < 0)
    return box_err_code (err);
  if (staging_sweep (layers_fd, err) < 0)
    return box_err_wrap (err, "layer store: remove half-unpacked layers");
  return 0;
}
