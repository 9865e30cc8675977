/* Owns digest strings and sha256 hashing (OpenSSL EVP, which picks the CPU's SHA extensions;
 * loaded on first use, util/crypto-dl.h). */
#include "util/digest.h"

#include <stdio.h>
#include <string.h>

#include "util/crypto-dl.h"
#include "util/strutil.h"

struct digest_hasher {
  EVP_MD_CTX *ctx;
};

bool
digest_is_valid_sha256 (const char *digest)
{
  if (!digest || !str_has_prefix (digest, "sha256:"))
    return false;
  const char *hex = digest + strlen ("sha256:");
  return strlen (hex) == DIGEST_SHA256_HEX_LENGTH && str_is_lower_hex (hex);
}

const char *
digest_hex (const char *digest)
{
  const char *colon = strchr (digest, ':');
  return colon ? colon + 1 : digest;
}

int
digest_hasher_new (digest_hasher **out, box_error **err)
{
  digest_hasher *h = calloc (1, sizeof *h);
  if (!h)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  h->ctx = EVP_MD_CTX_new ();
  if (!h->ctx || EVP_DigestInit_ex (h->ctx, EVP_sha256 (), NULL) != 1)
    {
      digest_hasher_free (h);
      return box_err (err, BOX_E_INTERNAL, "sha256: cannot initialise the hash (libcrypto)");
    }
  *out = h;
  return 0;
}

int
digest_hasher_update (digest_hasher *h, const void *data, size_t len, box_error **err)
{
  if (len && EVP_DigestUpdate (h->ctx, data, len) != 1)
    return box_err (err, BOX_E_INTERNAL, "sha256: hash update failed");
  return 0;
}

int
digest_hasher_final (digest_hasher *h, char out[DIGEST_STRING_MAX], box_error **err)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex (h->ctx, md, &len) != 1 || len != 32)
    return box_err (err, BOX_E_INTERNAL, "sha256: hash finalisation failed");
  memcpy (out, "sha256:", 7);
  hex_encode (md, len, out + 7);
  return 0;
}

void
digest_hasher_free (digest_hasher *h)
{
  if (!h)
    return;
  EVP_MD_CTX_free (h->ctx);
  free (h);
}

int
digest_sha256_buffer (const void *data, size_t len, char out[DIGEST_STRING_MAX], box_error **err)
{
  _cleanup_ (digest_hasher_freep) digest_hasher *h = NULL;
  if (digest_hasher_new (&h, err) < 0 || digest_hasher_update (h, data, len, err) < 0
      || digest_hasher_final (h, out, err) < 0)
    return box_err_code (err);
  return 0;
}
