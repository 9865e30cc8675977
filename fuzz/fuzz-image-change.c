/* Fuzzes the docker-import --change instruction parser: no input may crash it or leave a
 * config that is not a JSON object the config validator's types accept. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image-config.h"
#include "input.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = fuzz_input_string (data, size);
  if (!s)
    return 0;
  json_t *config = json_object ();
  box_error *err = NULL;
  if (image_config_apply_change (config, s, &err) == 0)
    {
      json_t *blob = json_pack ("{s:O,s:{s:s,s:[]}}", "config", config, "rootfs", "type", "layers",
                                "diff_ids");
      if (!blob || image_config_validate (blob, NULL) != 0)
        abort ();
      json_decref (blob);
    }
  else if (!err)
    abort ();
  box_error_free (err);
  json_decref (config);
  free (s);
  return 0;
}
