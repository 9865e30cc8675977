/* Fuzzes the CLI's --format templates: the template is the input, applied to a fixed
 * inspect-like document. No input may crash it or leak; a failure always says why. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/box/template.h"
#include "input.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static json_t *doc;
  if (!doc)
    doc = json_loads ("{\"Id\":\"abc\",\"State\":{\"Pid\":7,\"Running\":true,\"Error\":\"\"},"
                      "\"Config\":{\"Cmd\":[\"sh\",\"-c\"],\"Labels\":{\"b\":\"2\",\"a\":\"1\"},"
                      "\"StopTimeout\":null,\"Cpus\":1.5}}",
                      0, NULL);
  char *template = fuzz_input_string (data, size);
  if (!template || !doc)
    {
      free (template);
      return 0;
    }
  FILE *out = fopen ("/dev/null", "w");
  char *error = NULL;
  if (out && cli_template_render (template, doc, out, &error) < 0 && !error)
    abort ();
  free (error);
  if (out)
    fclose (out);
  free (template);
  return 0;
}
