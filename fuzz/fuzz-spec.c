/* Fuzzes the config.json parser (spec_parse): any bytes must give a config or an error,
 * never a crash, a leak or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>

#include "runtime/spec.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  oci_config *config = NULL;
  box_error *err = NULL;
  if (spec_parse ((const char *) data, size, &config, &err) == 0)
    oci_config_free (config);
  box_error_freep (&err);
  return 0;
}
