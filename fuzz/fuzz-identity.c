/* Fuzzes the identity validators (names, external refs) and the UTF-8 check beneath them:
 * no input may crash them, and a value they accept must round-trip through the rules. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "box/box.h"
#include "input.h"
#include "util/strutil.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = fuzz_input_string (data, size);
  if (!s)
    return 0;
  size_t len = strlen (s); /* the API takes C strings: stop at the first NUL */

  box_error *err = NULL;
  if (box_name_validate (s, &err) == 0)
    {
      /* an accepted name is plain ASCII of the documented alphabet */
      if (len < 2 || len > BOX_NAME_MAX || !utf8_is_valid (s, len, true))
        abort ();
    }
  box_error_free (err);

  err = NULL;
  if (box_external_ref_validate (s, &err) == 0)
    {
      if (len < 1 || len > BOX_EXTERNAL_REF_MAX || !utf8_is_valid (s, len, true))
        abort ();
    }
  box_error_free (err);

  (void) utf8_is_valid (s, size, false);
  free (s);
  return 0;
}
