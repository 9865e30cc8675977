/* Owns the engine handle: locating and opening the state directory and its store. */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/lifecycle.h"
#include "engine/monitor-launch.h"
#include "image/content-store.h"
#include "image/layer-store.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"

/* The state dir holds box rootfs trees; others may traverse to reach a published socket, but
 * not list it. */
#define ROOT_DIRECTORY_MODE 0711

static const char *
choose_root (const box_engine_options *opts)
{
  if (opts && opts->root && *opts->root)
    return opts->root;
  const char *env = getenv ("BOX_ROOT");
  if (env && *env)
    return env;
  return BOX_DEFAULT_ROOT;
}

int
box_engine_open (const box_engine_options *opts, box_engine **out, box_error **err)
{
  if (opts && opts->version != BOX_ENGINE_OPTIONS_VERSION && opts->version != 1)
    return box_err (err, BOX_E_INVALID, "box_engine_options: unknown version %u", opts->version);
  unsigned flags = opts && opts->version >= 2 ? opts->flags : 0;
  /* the bits this library does not know, alone: 0x3 is refused for its 0x2 */
  if (flags & ~BOX_ENGINE_PREPARE_START)
    return box_err (err, BOX_E_INVALID, "box_engine_options: unknown bits 0x%x in flags 0x%x",
                    flags & ~BOX_ENGINE_PREPARE_START, flags);

  const char *root = choose_root (opts);
  if (fs_mkdir_p (root, ROOT_DIRECTORY_MODE, err) < 0)
    return box_err_wrap (err, "open state directory");
  /* its directories (intents/, runtime/, boxes/, ...), made in the groups of the disk fewest
   * directories use instead of beside the state directory's parent: there other programs'
   * files come and go, and each file box makes would scan past those recently deleted (see
   * engine_box_make_dir) */
  fs_spread_subdirectories (root);

  _cleanup_ (box_engine_closep) box_engine *eng = calloc (1, sizeof *eng);
  if (!eng)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  eng->root_fd = -1;
  eng->spare_fd = -1;
  eng->root = realpath (root, NULL);
  if (!eng->root)
    return box_err_errno (err, errno, "open state directory %s", root);
  /* first: the spare gets ready while this process opens the store and creates the box */
  if (flags & BOX_ENGINE_PREPARE_START)
    monitor_spare_prepare (eng);
  eng->root_fd = open (eng->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (eng->root_fd < 0)
    return box_err_errno (err, errno, "open state directory %s", eng->root);

  _cleanup_free_ char *db_path = NULL;
  if (asprintf (&db_path, "%s/box.db", eng->root) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (store_open (db_path, &eng->store, err) < 0)
    return box_err_code (err);
  if (engine_reconcile (eng, err) < 0)
    return box_err_code (err);

  /* what an interrupted writer left: half-written blobs, half-unpacked layers */
  if (content_store_repair (eng, err) < 0 || layer_store_repair (eng, err) < 0)
    return box_err_wrap (err, "open state directory %s", eng->root);

  *out = TAKE_PTR (eng);
  return 0;
}

void
box_engine_close (box_engine *eng)
{
  if (!eng)
    return;
  monitor_spare_release (eng);
  store_close (eng->store);
  if (eng->root_fd >= 0)
    close (eng->root_fd);
  free (eng->root);
  free (eng);
}

const char *
box_engine_root (const box_engine *eng)
{
  return eng->root;
}
