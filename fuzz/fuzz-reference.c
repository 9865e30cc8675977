/* Fuzzes image reference parsing: no input may crash it, and an accepted reference must
 * round-trip: its normalized and familiar forms parse back to the same parts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/reference.h"
#include "input.h"

static void
same_or_abort (const image_reference *a, const image_reference *b)
{
  if (strcmp (a->domain, b->domain) != 0 || strcmp (a->path, b->path) != 0
      || strcmp (a->tag, b->tag) != 0 || strcmp (a->digest, b->digest) != 0)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = fuzz_input_string (data, size);
  if (!s)
    return 0;

  image_reference ref;
  box_error *err = NULL;
  if (image_reference_parse (s, &ref, &err) == 0)
    {
      char text[IMAGE_REFERENCE_STRING_MAX];
      image_reference again;
      image_reference_string (&ref, text);
      if (strlen (ref.domain) + 1 + strlen (ref.path) > IMAGE_REFERENCE_NAME_MAX)
        abort ();
      if (image_reference_parse (text, &again, NULL) != 0)
        abort ();
      same_or_abort (&ref, &again);
      image_reference_familiar_string (&ref, text);
      if (image_reference_parse (text, &again, NULL) != 0)
        abort ();
      same_or_abort (&ref, &again);
      image_reference_default_tag (&ref);
      if (!ref.tag[0] && !ref.digest[0])
        abort ();
    }
  else if (!err || box_error_code_of (err) != BOX_E_INVALID)
    abort ();
  box_error_free (err);
  free (s);
  return 0;
}
