/* Owns loading libcrypto on first use. */
#include "util/crypto-dl.h"

#include <pthread.h>

#include "util/dynload.h"

/* the soname the build linked against (OpenSSL 3's ABI) */
#define CRYPTO_SONAME "libcrypto.so.3"

box_crypto_api box_crypto;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[256];

static void
load (void)
{
#define BOX_CRYPTO_NAME(name) #name,
  static const char *const names[] = { BOX_CRYPTO_FUNCTIONS (BOX_CRYPTO_NAME) };
#undef BOX_CRYPTO_NAME
  _Static_assert (sizeof names / sizeof names[0] * sizeof (void *) == sizeof box_crypto,
                  "every slot has a name");
  loaded = dynload_library (CRYPTO_SONAME, names, (void **) &box_crypto,
                            sizeof names / sizeof names[0], load_error, sizeof load_error)
           == 0;
}

bool
box_crypto_load (void)
{
  pthread_once (&load_once, load);
  return loaded;
}
