/* Owns the engine's use of getrandom(2): raw bytes, ids, bounded values. */
#include "util/random.h"

#include <errno.h>
#include <sys/random.h>

#include "util/strutil.h"

int
random_bytes (void *buf, size_t len, box_error **err)
{
  unsigned char *p = buf;
  while (len > 0)
    {
      ssize_t n = getrandom (p, len, 0);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return box_err_errno (err, errno, "getrandom");
        }
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

int
random_id (char out[65], box_error **err)
{
  unsigned char raw[32];
  if (random_bytes (raw, sizeof raw, err) < 0)
    return box_err_code (err);
  hex_encode (raw, sizeof raw, out);
  return 0;
}

int
random_below (uint32_t bound, uint32_t *out, box_error **err)
{
  /* rejection sampling: values in the incomplete last block of `bound` would be biased */
  uint32_t limit = UINT32_MAX - (UINT32_MAX % bound);
  for (;;)
    {
      uint32_t v;
      if (random_bytes (&v, sizeof v, err) < 0)
        return box_err_code (err);
      if (v < limit)
        {
          *out = v % bound;
          return 0;
        }
    }
}
