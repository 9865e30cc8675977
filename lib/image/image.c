/* Owns image_resolve_for_box: an image, found by a user reference, as the layer directories
 * and config a box is built from. */
#include "image/image.h"

#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "image/image-store.h"
#include "image/layer-store.h"
#include "store/images.h"
#include "util/json.h"

DEFINE_POINTER_CLEANUP (image_for_box, image_for_box_free)

void
image_for_box_free (image_for_box *image)
{
  if (!image)
    return;
  free (image->id);
  free (image->reference);
  for (size_t i = 0; i < image->n_layers; i++)
    free (image->layer_dirs[i]);
  free (image->layer_dirs);
  json_decref (image->config);
  free (image);
}

int
image_resolve_for_box (box_engine *eng, const char *ref, image_for_box **out, box_error **err)
{
  _cleanup_ (image_for_box_freep) image_for_box *image = calloc (1, sizeof *image);
  if (!image)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (image_store_resolve (eng, ref, &image->id, NULL, &image->reference, err) < 0)
    return box_err_code (err);
  _cleanup_ (store_image_freep) store_image *row = NULL;
  int found = store_image_get_for_box (eng->store, image->id, &row, err);
  if (found < 0)
    return box_err_wrap (err, "image %s", ref);
  if (!found)
    return box_err (err, BOX_E_NOT_FOUND, "no such image: %s (removed meanwhile)", ref);

  _cleanup_json_ json_t *blob = NULL;
  if (json_parse_object (row->config, "image config", &blob, err) < 0)
    return box_err_wrap (err, "image %s", image->id);
  json_t *config = json_object_get (blob, "config");
  image->config = json_is_object (config) ? json_incref (config) : json_object ();
  if (!image->config)
    return box_err (err, BOX_E_INTERNAL, "out of memory");

  image->layer_dirs = calloc (row->n_layers + 1, sizeof *image->layer_dirs);
  if (!image->layer_dirs)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (size_t i = 0; i < row->n_layers; i++)
    {
      const char *chain_id = row->layers[i].chain_id;
      int ready = layer_exists (eng, chain_id, err);
      if (ready < 0)
        return box_err_wrap (err, "image %s", image->id);
      if (!ready)
        return box_err (err, BOX_E_INTERNAL,
                        "image %s: layer %s is recorded but its directory is missing", image->id,
                        chain_id);
      if (layer_path (eng, chain_id, &image->layer_dirs[i], err) < 0)
        return box_err_wrap (err, "image %s", image->id);
      image->n_layers++;
    }
  *out = TAKE_PTR (image);
  return 0;
}
