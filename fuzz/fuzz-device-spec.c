/* Fuzzes docker's --device spec parser (HOST[:BOX][:PERMISSIONS]; the Docker API passes the
 * same words): no input may crash it or leak, and an accepted spec gives clean absolute paths
 * and permissions of r, w, m, each at most once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "box/box.h"
#include "input.h"

static int
str_ends (const char *s, const char *suffix)
{
  size_t n = strlen (s), k = strlen (suffix);
  return n >= k && memcmp (s + n - k, suffix, k) == 0;
}

static void
check_path (const char *p)
{
  if (!p || p[0] != '/' || p[1] == '\0' || strstr (p, "//") || strstr (p, "/../")
      || strstr (p, "/./") || p[strlen (p) - 1] == '/' || str_ends (p, "/..") || str_ends (p, "/."))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = fuzz_input_string (data, size);
  if (!s)
    return 0;
  box_device *d = NULL;
  box_error *err = NULL;
  if (box_device_parse (s, &d, &err) == 0)
    {
      check_path (d->path_on_host);
      check_path (d->path_in_box);
      size_t n = strlen (d->permissions);
      if (n < 1 || n > 3 || strspn (d->permissions, "rwm") != n)
        abort ();
      for (size_t i = 0; i < n; i++)
        if (strchr (d->permissions + i + 1, d->permissions[i]))
          abort ();
      box_device_free (d);
    }
  else if (!err || d)
    abort ();
  box_error_free (err);
  free (s);
  return 0;
}
