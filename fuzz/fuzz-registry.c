/* Fuzzes what the registry client parses from the network: manifests (and platform selection
 * in an index) and WWW-Authenticate challenges. No input may crash them or leak; an accepted
 * manifest only holds valid sha256 digests and non-negative sizes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "registry/challenge.h"
#include "registry/manifest.h"

static void
check_descriptor (const registry_descriptor *d)
{
  if (!registry_digest_is_valid (d->digest) || d->size < 0 || !d->media_type)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  registry_manifest *m = NULL;
  if (registry_manifest_parse ((const char *) data, size, MEDIA_TYPE_OCI_MANIFEST, &m, NULL) == 0)
    {
      if (m->kind == MANIFEST_KIND_IMAGE)
        {
          check_descriptor (&m->config);
          for (size_t i = 0; i < m->n_layers; i++)
            check_descriptor (&m->layers[i]);
        }
      else
        {
          for (size_t i = 0; i < m->n_manifests; i++)
            check_descriptor (&m->manifests[i]);
          const registry_descriptor *chosen = NULL;
          if (registry_index_select (m, "linux/amd64", &chosen, NULL) == 0 && !chosen)
            abort ();
        }
      registry_manifest_free (m);
    }

  char *text = fuzz_input_string (data, size);
  if (!text)
    return 0;
  auth_challenge c;
  if (auth_challenge_parse (text, &c, NULL) == 0)
    auth_challenge_clear (&c);
  free (text);
  return 0;
}
