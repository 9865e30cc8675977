/* Fuzzes the reading of docker's ps_args by `top` (the Docker API passes them straight from
 * the client): no input may crash it or leak, and an accepted one names 1..64 columns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/top.h"
#include "input.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = fuzz_input_string (data, size);
  if (!s)
    return 0;
  char *headers = NULL;
  size_t n = 0;
  box_error *err = NULL;
  if (engine_top_columns (s, &headers, &n, &err) == 0)
    {
      if (n < 1 || n > 64 || !headers)
        abort ();
      free (headers);
    }
  else if (!err)
    abort ();
  box_error_free (err);
  free (s);
  return 0;
}
