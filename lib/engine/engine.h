/* The engine handle and what its modules share. */
#ifndef BOX_ENGINE_ENGINE_H
#define BOX_ENGINE_ENGINE_H

#include "box/box.h"
#include "store/store.h"
#include "util/cleanup.h"

struct box_engine {
  char *root;  /* absolute state directory */
  int root_fd; /* O_PATH|O_DIRECTORY handle on it */
  store *store;
  /* a monitor spawned ahead (BOX_ENGINE_PREPARE_START): its socket, -1 when none (or once
   * its spawn failed) */
  int spare_fd;
  struct spare_spawn *spare_spawn; /* the spawn still under way (monitor-launch.c) */
};

DEFINE_POINTER_CLEANUP (box_engine, box_engine_close)

/* Resolves a user-supplied box reference (see box_box_get). Usable inside a transaction. */
int engine_resolve_box (box_engine *eng, const char *ref, box_box **out, box_error **err);

/* Picks an adjective_noun name that no box holds; call inside a write transaction. */
int engine_generate_name (box_engine *eng, char **out, box_error **err);

/* Appends a container event whose attributes carry the box's name and image (and labels),
 * plus extra (a JSON object or NULL). Part of the caller's transaction. */
int engine_box_event (box_engine *eng, const box_box *box, const char *action,
                      const char *extra_attributes_json, box_error **err);

/* Inserts the box row (and its create event) with the given id (NULL: a new random one),
 * config (NULL: opts->config_json, checked to be a JSON object) and runtime name. */
int engine_box_record (box_engine *eng, const box_box_create_options *opts, const char *id,
                       const char *config_json, const char *runtime, box_box **out,
                       box_error **err);

/* box_box_create with run options: resolves the image, writes the box's directory. */
int engine_box_create_from_image (box_engine *eng, const box_box_create_options *opts,
                                  box_box **out, box_error **err);

/* Deletes a box row that is not running, with its destroy event; *out_removed (optional)
 * gets the row as it was. */
int engine_box_remove_record (box_engine *eng, const char *ref, box_box **out_removed,
                              box_error **err);

#endif
