/* Owns the fuzz targets' shared helpers (fuzz/input.h). */
#define _GNU_SOURCE
#include "input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
fuzz_input_string (const uint8_t *data, size_t size)
{
  char *s = malloc (size + 1);
  if (!s)
    return NULL;
  memcpy (s, data, size);
  s[size] = '\0';
  return s;
}

char *
fuzz_make_temp_dir (const char *prefix)
{
  const char *tmp = getenv ("TMPDIR");
  char *path = NULL;
  if (asprintf (&path, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix) < 0 || !mkdtemp (path))
    abort ();
  return path;
}
