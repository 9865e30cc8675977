/* Owns loading libcrypto on first use. */
#include "util/crypto-dl.h"

#include "util/dynload.h"

/* the soname the build linked against (OpenSSL 3's ABI) */
#define CRYPTO_SONAME "libcrypto.so.3"

box_crypto_api box_crypto;

DYNLOAD_TABLE (library, CRYPTO_SONAME, box_crypto, BOX_CRYPTO_FUNCTIONS);

bool
box_crypto_load (void)
{
  return dynload_once_load (&library);
}
