/* libcrypto, loaded on first use (see util/dynload.h for why): the processes of a box run
 * (the CLI's run, the monitor) never hash, and libcrypto's own relocations were 60% of the
 * symbol bindings the dynamic linker made in each of them. Include after <openssl/evp.h> in
 * the files that call libcrypto: the names below then go through the table. The calls that
 * can start a use (EVP_MD_CTX_new, EVP_Digest, EVP_EncodeBlock, EVP_DecodeBlock) load the
 * library first and fail as they do on their own errors (NULL, 0, -1) when it cannot be
 * loaded; the others only ever follow one of those. */
#ifndef BOX_UTIL_CRYPTO_DL_H
#define BOX_UTIL_CRYPTO_DL_H

#include <openssl/evp.h>
#include <stdbool.h>

#define BOX_CRYPTO_FUNCTIONS(X)                                                                    \
  X (EVP_DecodeBlock)                                                                              \
  X (EVP_Digest)                                                                                   \
  X (EVP_DigestFinal_ex)                                                                           \
  X (EVP_DigestInit_ex)                                                                            \
  X (EVP_DigestUpdate)                                                                             \
  X (EVP_EncodeBlock)                                                                              \
  X (EVP_MD_CTX_free)                                                                              \
  X (EVP_MD_CTX_new)                                                                               \
  X (EVP_sha256)

typedef struct box_crypto_api {
#define BOX_CRYPTO_SLOT(name) __typeof__ (&name) name;
  BOX_CRYPTO_FUNCTIONS (BOX_CRYPTO_SLOT)
#undef BOX_CRYPTO_SLOT
} box_crypto_api;

extern box_crypto_api box_crypto;

/* Loads libcrypto once (thread-safe); false when it cannot be loaded. */
bool box_crypto_load (void);

static inline void
box_crypto_md_ctx_free (EVP_MD_CTX *ctx)
{
  if (ctx) /* non-NULL only once the library is loaded */
    box_crypto.EVP_MD_CTX_free (ctx);
}

#define EVP_MD_CTX_new() (box_crypto_load () ? box_crypto.EVP_MD_CTX_new () : NULL)
#define EVP_MD_CTX_free(ctx) box_crypto_md_ctx_free (ctx)
#define EVP_Digest(...) (box_crypto_load () ? box_crypto.EVP_Digest (__VA_ARGS__) : 0)
#define EVP_EncodeBlock(...) (box_crypto_load () ? box_crypto.EVP_EncodeBlock (__VA_ARGS__) : -1)
#define EVP_DecodeBlock(...) (box_crypto_load () ? box_crypto.EVP_DecodeBlock (__VA_ARGS__) : -1)
#define EVP_DigestFinal_ex (box_crypto.EVP_DigestFinal_ex)
#define EVP_DigestInit_ex (box_crypto.EVP_DigestInit_ex)
#define EVP_DigestUpdate (box_crypto.EVP_DigestUpdate)
#define EVP_sha256 (box_crypto.EVP_sha256)

#endif
