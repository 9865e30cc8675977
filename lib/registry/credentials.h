/* Registry credentials, where docker keeps them, so `box login` and `docker login` share them:
 *
 *  - the config file: $DOCKER_CONFIG/config.json when DOCKER_CONFIG is set, else
 *    $HOME/.docker/config.json (docker's own rule); written atomically with mode 0600;
 *  - in it, `credHelpers` (per host) and `credsStore` (default) name a docker-credential-<name>
 *    program spoken to with the get/store/erase protocol; otherwise `auths[host].auth` holds
 *    base64("user:password");
 *  - an identity token (an OAuth2 refresh token: `auths[host].identitytoken`, or a helper's
 *    answer with Username "<token>") is exchanged at the registry's token server for access
 *    tokens, and never sent to the registry itself;
 *  - for headless runners: BOX_REGISTRY_AUTH_HOST=<host[:port]> with
 *    BOX_REGISTRY_AUTH=<user>:<password> supplies credentials for that one host only, before
 *    the config file is consulted; when unset nothing changes.
 *
 * Credentials are never put in error messages. */
#ifndef BOX_REGISTRY_CREDENTIALS_H
#define BOX_REGISTRY_CREDENTIALS_H

#include <stdbool.h>

#include "util/cleanup.h"
#include "util/error.h"

#define REGISTRY_AUTH_HOST_ENV "BOX_REGISTRY_AUTH_HOST"
#define REGISTRY_AUTH_ENV "BOX_REGISTRY_AUTH"

typedef struct registry_credentials {
  char *username;
  char *password;      /* the identity token when identity_token is set */
  bool identity_token; /* password is an OAuth2 refresh token for the token server */
  const char *source; /* "environment", "config file", "credential helper <name>" (static) */
} registry_credentials;

/* Finds credentials for host ("host[:port]"; "docker.io" for docker's default registry).
 * No credentials is not an error: *out is NULL. */
int registry_credentials_lookup (const char *host, registry_credentials **out, box_error **err);

/* Stores credentials for host: in the credential helper the config names for it, else in
 * `auths`. Other content of the config file is kept. */
int registry_credentials_store (const char *host, const char *username, const char *password,
                                box_error **err);

/* Removes host's credentials (helper and `auths`); *out_found tells whether any existed. */
int registry_credentials_erase (const char *host, bool *out_found, box_error **err);

/* prefix followed by base64 ("user:password"), HTTP Basic authentication's credentials and
 * the `auth` of a config file's `auths`, in *out (free(); clear it with explicit_bzero). */
int registry_credentials_encode_basic (const char *user, const char *password, const char *prefix,
                                       char **out, box_error **err);

/* The config file path as described above (caller frees). */
int registry_docker_config_path (char **out, box_error **err);

void registry_credentials_free (registry_credentials *creds);
DEFINE_POINTER_CLEANUP (registry_credentials, registry_credentials_free)

#endif
