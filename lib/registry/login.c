/* Owns box_registry_login / box_registry_logout: the registry host a user names, checking
 * credentials against it, and storing or erasing them where docker keeps them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "registry/client.h"
#include "registry/credentials.h"
#include "registry/registry.h"
#include "util/cleanup.h"
#include "util/strutil.h"

int
registry_normalize_host (const char *input, char out[REGISTRY_HOST_MAX], box_error **err)
{
  if (!input || !*input)
    {
      snprintf (out, REGISTRY_HOST_MAX, "%s", REGISTRY_DOCKER_HUB_HOST);
      return 0;
    }
  const char *start = input;
  const char *scheme = strstr (start, "://");
  if (scheme)
    start = scheme + 3;
  size_t len = strcspn (start, "/");
  if (len == 0 || len >= REGISTRY_HOST_MAX)
    return box_err (err, BOX_E_INVALID, "invalid registry host \"%s\"", input);
  for (size_t i = 0; i < len; i++)
    {
      char c = start[i];
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
      if (!ok)
        return box_err (err, BOX_E_INVALID, "invalid registry host \"%s\"", input);
    }
  snprintf (out, REGISTRY_HOST_MAX, "%.*s", (int) len, start);
  /* the names docker's default registry goes by all mean the one credentials entry */
  static const char *const hub_aliases[] = { "index.docker.io", "registry-1.docker.io" };
  for (size_t i = 0; i < ARRAY_SIZE (hub_aliases); i++)
    if (strcmp (out, hub_aliases[i]) == 0)
      snprintf (out, REGISTRY_HOST_MAX, "%s", REGISTRY_DOCKER_HUB_HOST);
  return 0;
}

int
box_registry_login (box_engine *eng, const char *host, const char *username, const char *password,
                    box_error **err)
{
  char normalized[REGISTRY_HOST_MAX];
  if (registry_normalize_host (host, normalized, err) < 0)
    return box_err_code (err);
  if (!username || !*username)
    return box_err (err, BOX_E_INVALID, "login to %s: a username is required", normalized);
  if (!password || !*password)
    return box_err (err, BOX_E_INVALID, "login to %s: a password is required", normalized);
  _cleanup_ (registry_settings_freep) registry_settings *settings = NULL;
  if (registry_settings_load (eng->root_fd, &settings, err) < 0)
    return box_err_code (err);
  if (registry_check_credentials (normalized, username, password, settings, err) < 0)
    return box_err_wrap (err, "login to %s", normalized);
  if (registry_credentials_store (normalized, username, password, err) < 0)
    return box_err_wrap (err, "login to %s", normalized);
  return 0;
}

int
box_registry_logout (box_engine *eng, const char *host, box_error **err)
{
  char normalized[REGISTRY_HOST_MAX];
  if (registry_normalize_host (host, normalized, err) < 0)
    return box_err_code (err);
  bool found = false;
  if (registry_credentials_erase (normalized, &found, err) < 0)
    return box_err_wrap (err, "logout from %s", normalized);
  if (!found)
    return box_err (err, BOX_E_NOT_FOUND, "not logged in to %s", normalized);
  return 0;
}
