/* Unpacked layers: <state>/layers/<chain-id hex>/ is the root of one layer's filesystem (an
 * overlay lower). A layer is unpacked into a staging directory layers/.tmp-<random>/ and made
 * visible by renaming it to its chain id: the rename is the ready marker, so a directory under
 * its real name is always complete. Staging directories of dead writers are swept when the
 * engine opens; removal renames a layer out of the way before deleting it.
 *
 * Chain ids follow the OCI image spec: the first layer's is its diff id, each next one is
 * sha256(parent chain id + " " + diff id). */
#ifndef BOX_IMAGE_LAYER_STORE_H
#define BOX_IMAGE_LAYER_STORE_H

#include "box/box.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/error.h"

typedef struct layer_writer layer_writer;

/* 1 when layers/<chain id> exists (and so is complete), 0 when not. */
int layer_exists (box_engine *eng, const char *chain_id, box_error **err);

/* Creates a staging directory for a new layer. Unpack into layer_writer_directory_fd(). */
int layer_begin (box_engine *eng, layer_writer **out, box_error **err);

/* O_RDONLY|O_DIRECTORY fd of the staging directory (owned by the writer). */
int layer_writer_directory_fd (const layer_writer *w);

/* Makes the staging directory the layer chain_id. When another process committed the same
 * layer first, ours is removed and the call succeeds: the content is the same. The writer is
 * finished either way; free it with layer_abort. */
int layer_commit (layer_writer *w, const char *chain_id, box_error **err);

/* Frees the writer and removes its staging directory unless committed. Accepts NULL. */
void layer_abort (layer_writer *w);
DEFINE_POINTER_CLEANUP (layer_writer, layer_abort)

/* Absolute path of layers/<chain id hex>. */
int layer_path (box_engine *eng, const char *chain_id, char **out, box_error **err);

/* Removes a layer directory (a missing one is fine). Callers decide nothing uses it. */
int layer_remove (box_engine *eng, const char *chain_id, box_error **err);

/* The chain id of a layer with diff id diff_id on top of parent_chain_id (NULL: bottom). */
int layer_chain_id (const char *parent_chain_id, const char *diff_id, char out[DIGEST_STRING_MAX],
                    box_error **err);

/* Creates layers/ and removes staging directories left by writers that died. Called by
 * box_engine_open. */
int layer_store_repair (box_engine *eng, box_error **err);

#endif
