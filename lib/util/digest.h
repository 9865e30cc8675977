/* Content digests: "sha256:<64 lowercase hex>" strings and an incremental sha256 hasher
 * (OpenSSL EVP) for code that verifies bytes while they stream. */
#ifndef BOX_UTIL_DIGEST_H
#define BOX_UTIL_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/cleanup.h"
#include "util/error.h"

#define DIGEST_SHA256_HEX_LENGTH 64
/* "sha256:" + 64 hex + NUL */
#define DIGEST_STRING_MAX 72

/* True for "sha256:" followed by exactly 64 lowercase hex chars. */
bool digest_is_valid_sha256 (const char *digest);

/* The hex part of a valid sha256 digest (a pointer into digest). */
const char *digest_hex (const char *digest);

typedef struct digest_hasher digest_hasher;

int digest_hasher_new (digest_hasher **out, box_error **err);
int digest_hasher_update (digest_hasher *h, const void *data, size_t len, box_error **err);
/* Writes "sha256:<hex>" into out; the hasher is finished (free it next). */
int digest_hasher_final (digest_hasher *h, char out[DIGEST_STRING_MAX], box_error **err);
void digest_hasher_free (digest_hasher *h);
DEFINE_POINTER_CLEANUP (digest_hasher, digest_hasher_free)

/* One-shot sha256 of a buffer, as "sha256:<hex>". */
int digest_sha256_buffer (const void *data, size_t len, char out[DIGEST_STRING_MAX],
                          box_error **err);

/* FNV-1a, 64 bits: a fast hash for naming cache entries, never for what an adversary could
 * choose. Start from DIGEST_FNV1A_INIT; pass the result on to hash more bytes after. */
#define DIGEST_FNV1A_INIT UINT64_C (14695981039346656037)

static inline uint64_t
digest_fnv1a (uint64_t h, const void *data, size_t len)
{
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++)
    {
      h ^= p[i];
      h *= UINT64_C (1099511628211);
    }
  return h;
}

#endif
