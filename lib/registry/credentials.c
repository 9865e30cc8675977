/* Owns reading and writing registry credentials: the environment pair, docker's config.json
 * (`auths`, `credHelpers`, `credsStore`) and the docker-credential-<name> helper protocol. */
#include "registry/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/crypto-dl.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

/* docker keeps its default registry's credentials under this historical key */
#define DOCKER_DEFAULT_AUTH_KEY "https://index.docker.io/v1/"
#define DOCKER_DEFAULT_HOST "docker.io"
#define CONFIG_FILE_MODE 0600
#define CONFIG_DIR_MODE 0700
/* the Username with which a credential helper hands over an identity token */
#define IDENTITY_TOKEN_USERNAME "<token>"

/* a helper's answer is a small JSON object; more than this is not one */
#define HELPER_MAX_OUTPUT (64 * 1024)

extern char **environ;

void
registry_credentials_free (registry_credentials *creds)
{
  if (!creds)
    return;
  free (creds->username);
  if (creds->password)
    {
      explicit_bzero (creds->password, strlen (creds->password));
      free (creds->password);
    }
  free (creds);
}

int
registry_docker_config_path (char **out, box_error **err)
{
  const char *dir = getenv ("DOCKER_CONFIG");
  int rc;
  if (dir && *dir)
    rc = asprintf (out, "%s/config.json", dir);
  else
    {
      const char *home = getenv ("HOME");
      if (!home || !*home)
        return box_err (
            err, BOX_E_NOT_FOUND,
            "cannot locate the docker config file: neither DOCKER_CONFIG nor HOME is set");
      rc = asprintf (out, "%s/.docker/config.json", home);
    }
  if (rc < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

/* The key a host's credentials live under in `auths` and `credHelpers`. */
static const char *
config_key_for_host (const char *host)
{
  return strcmp (host, DOCKER_DEFAULT_HOST) == 0 ? DOCKER_DEFAULT_AUTH_KEY : host;
}

/* Reduces a config key ("https://host:5000/v1/", "host:5000") to "host:5000"; docker accepts
 * both spellings in `auths`. */
static void
key_to_host (const char *key, char *out, size_t size)
{
  if (strcmp (key, DOCKER_DEFAULT_AUTH_KEY) == 0)
    {
      snprintf (out, size, "%s", DOCKER_DEFAULT_HOST);
      return;
    }
  const char *start = strstr (key, "://");
  start = start ? start + 3 : key;
  size_t len = strcspn (start, "/");
  snprintf (out, size, "%.*s", (int) len, start);
}

/* Loads the config file; a missing file is an empty object. */
static int
load_config (const char *path, json_t **out, box_error **err)
{
  _cleanup_free_ char *text = NULL;
  size_t len = 0;
  box_error *local = NULL;
  if (fs_read_file (AT_FDCWD, path, &text, &len, &local) < 0)
    {
      if (box_err_code (&local) == BOX_E_NOT_FOUND)
        {
          box_error_free (local);
          *out = json_object ();
          return *out ? 0 : box_err (err, BOX_E_INTERNAL, "out of memory");
        }
      box_err_propagate (err, &local);
      return box_err_wrap (err, "read docker config");
    }
  return json_parse_object (text, path, out, err);
}

static int
save_config (const char *path, json_t *config, box_error **err)
{
  _cleanup_free_ char *dir = strdup (path);
  if (!dir)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  char *slash = strrchr (dir, '/');
  const char *name = path;
  if (slash)
    {
      *slash = '\0';
      name = path + (slash - dir) + 1;
      if (*dir && fs_mkdir_p (dir, CONFIG_DIR_MODE, err) < 0)
        return box_err_wrap (err, "write docker config");
    }
  _cleanup_free_ char *text = json_dumps (config, JSON_INDENT (1));
  if (!text)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  _cleanup_close_ int dirfd
      = open (slash ? (*dir ? dir : "/") : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return box_err_errno (err, errno, "open %s", dir);
  size_t len = strlen (text);
  if (fs_write_file_atomic (dirfd, name, text, len, CONFIG_FILE_MODE, err) < 0)
    return box_err_wrap (err, "write docker config %s", path);
  return 0;
}

/* Runs docker-credential-<helper> <action>, feeding input on stdin; collects stdout. */
static int
run_helper (const char *helper, const char *action, const char *input, char **out_stdout,
            int *out_status, box_error **err)
{
  _cleanup_free_ char *program = NULL;
  if (asprintf (&program, "docker-credential-%s", helper) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  int in_pipe[2], out_pipe[2];
  if (pipe2 (in_pipe, O_CLOEXEC) < 0)
    return box_err_errno (err, errno, "pipe");
  if (pipe2 (out_pipe, O_CLOEXEC) < 0)
    {
      int saved = errno;
      close (in_pipe[0]);
      close (in_pipe[1]);
      return box_err_errno (err, saved, "pipe");
    }
  _cleanup_close_ int to_child = in_pipe[1];
  _cleanup_close_ int from_child = out_pipe[0];
  _cleanup_close_ int child_in = in_pipe[0];
  _cleanup_close_ int child_out = out_pipe[1];

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_adddup2 (&actions, child_in, 0);
  posix_spawn_file_actions_adddup2 (&actions, child_out, 1);
  char *argv[] = { program, (char *) action, NULL };
  pid_t pid;
  int rc = posix_spawnp (&pid, program, &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&actions);
  if (rc != 0)
    return box_err_errno (err, rc, "credential helper %s", program);
  closep (&child_in);
  child_in = -1;
  closep (&child_out);
  child_out = -1;

  /* the input is tiny (a host name or one JSON object): a pipe buffer always holds it. A
   * helper that exits without reading it (its answer needs no input) must not kill us with
   * SIGPIPE: block it while writing, and take back one our write raised before unblocking */
  sigset_t block, old, pending;
  sigemptyset (&block);
  sigaddset (&block, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &block, &old);
  sigpending (&pending);
  bool pipe_was_pending = sigismember (&pending, SIGPIPE) == 1;
  size_t input_len = strlen (input), written = 0;
  while (written < input_len)
    {
      ssize_t n = write (to_child, input + written, input_len - written);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      written += (size_t) n;
    }
  closep (&to_child);
  to_child = -1;
  sigpending (&pending);
  if (!pipe_was_pending && sigismember (&pending, SIGPIPE) == 1)
    {
      static const struct timespec no_wait = { 0, 0 };
      while (sigtimedwait (&block, NULL, &no_wait) < 0 && errno == EINTR)
        ;
    }
  pthread_sigmask (SIG_SETMASK, &old, NULL);

  _cleanup_free_ char *buffer = malloc (HELPER_MAX_OUTPUT + 1);
  size_t len = 0;
  if (!buffer)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (;;)
    {
      ssize_t n = read (from_child, buffer + len, HELPER_MAX_OUTPUT - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      len += (size_t) n;
      if (len == HELPER_MAX_OUTPUT)
        break;
    }
  buffer[len] = '\0';
  closep (&from_child);
  from_child = -1;
  int status = 0;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return box_err_errno (err, errno, "wait for credential helper %s", program);
  *out_status = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
  *out_stdout = TAKE_PTR (buffer);
  return 0;
}

/* The helper the config names for key: credHelpers[key], else credsStore, else NULL. */
static const char *
helper_for_key (json_t *config, const char *host)
{
  json_t *helpers = json_object_get (config, "credHelpers");
  const char *key = config_key_for_host (host);
  const char *name = json_string_value (json_object_get (helpers, key));
  if (!name && strcmp (key, host) != 0)
    name = json_string_value (json_object_get (helpers, host));
  if (name && *name)
    return name;
  name = json_string_value (json_object_get (config, "credsStore"));
  return name && *name ? name : NULL;
}

static int
credentials_new (const char *user, const char *password, const char *source,
                 registry_credentials **out, box_error **err)
{
  _cleanup_ (registry_credentials_freep) registry_credentials *c = calloc (1, sizeof *c);
  if (!c)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  c->username = strdup (user);
  c->password = strdup (password);
  c->source = source;
  if (!c->username || !c->password)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  *out = TAKE_PTR (c);
  return 0;
}

static int
lookup_in_helper (const char *helper, const char *host, registry_credentials **out, box_error **err)
{
  _cleanup_free_ char *output = NULL;
  int status = 0;
  if (run_helper (helper, "get", config_key_for_host (host), &output, &status, err) < 0)
    return box_err_code (err);
  size_t len = strlen (output);
  if (status != 0)
    {
      /* the protocol's "not found" answer is a message on stdout and a non-zero exit */
      if (strstr (output, "credentials not found"))
        return 0;
      explicit_bzero (output, len);
      return box_err (err, BOX_E_IO,
                      "credential helper docker-credential-%s failed for %s (exit %d)", helper,
                      host, status);
    }
  json_error_t jerr;
  _cleanup_json_ json_t *answer = json_loads (output, 0, &jerr);
  explicit_bzero (output, len);
  const char *user = json_string_value (json_object_get (answer, "Username"));
  const char *secret = json_string_value (json_object_get (answer, "Secret"));
  if (!user || !secret)
    return box_err (err, BOX_E_IO,
                    "credential helper docker-credential-%s gave no Username/Secret for %s", helper,
                    host);
  if (credentials_new (user, secret, "credential helper", out, err) < 0)
    return box_err_code (err);
  /* the protocol's way of handing over an identity token instead of a password */
  (*out)->identity_token = strcmp (user, IDENTITY_TOKEN_USERNAME) == 0;
  return 0;
}

/* Decodes base64("user:password") from an `auths` entry. */
static int
decode_auth_field (const char *field, const char *host, registry_credentials **out, box_error **err)
{
  size_t len = strlen (field);
  _cleanup_free_ unsigned char *decoded = malloc (len + 1);
  if (!decoded)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  int n = EVP_DecodeBlock (decoded, (const unsigned char *) field, (int) len);
  if (n < 0)
    return box_err (err, BOX_E_INVALID, "docker config: the auth entry for %s is not base64", host);
  /* EVP_DecodeBlock counts padding as zero bytes */
  while (len > 0 && field[len - 1] == '=' && n > 0)
    {
      n--;
      len--;
    }
  decoded[n] = '\0';
  char *colon = strchr ((char *) decoded, ':');
  if (!colon)
    {
      explicit_bzero (decoded, (size_t) n);
      return box_err (err, BOX_E_INVALID,
                      "docker config: the auth entry for %s is not user:password", host);
    }
  *colon = '\0';
  int rc = credentials_new ((char *) decoded, colon + 1, "config file", out, err);
  explicit_bzero (decoded, (size_t) n);
  return rc;
}

int
registry_credentials_lookup (const char *host, registry_credentials **out, box_error **err)
{
  *out = NULL;
  const char *env_host = getenv (REGISTRY_AUTH_HOST_ENV);
  const char *env_auth = getenv (REGISTRY_AUTH_ENV);
  if (env_host && *env_host && env_auth && strcmp (env_host, host) == 0)
    {
      const char *colon = strchr (env_auth, ':');
      if (!colon)
        return box_err (err, BOX_E_INVALID, "%s must be <user>:<password>", REGISTRY_AUTH_ENV);
      _cleanup_free_ char *user = strndup (env_auth, (size_t) (colon - env_auth));
      if (!user)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      return credentials_new (user, colon + 1, "environment", out, err);
    }

  _cleanup_free_ char *path = NULL;
  box_error *local = NULL;
  if (registry_docker_config_path (&path, &local) < 0)
    {
      box_error_free (local); /* no HOME: anonymous */
      return 0;
    }
  _cleanup_json_ json_t *config = NULL;
  if (load_config (path, &config, err) < 0)
    return box_err_code (err);

  const char *helper = helper_for_key (config, host);
  if (helper)
    {
      if (lookup_in_helper (helper, host, out, err) < 0)
        return box_err_code (err);
      if (*out)
        return 0;
    }

  json_t *auths = json_object_get (config, "auths");
  const char *key;
  json_t *entry;
  json_object_foreach (auths, key, entry)
  {
    char entry_host[256];
    key_to_host (key, entry_host, sizeof entry_host);
    if (strcmp (entry_host, host) != 0)
      continue;
    const char *field = json_string_value (json_object_get (entry, "auth"));
    const char *identity = json_string_value (json_object_get (entry, "identitytoken"));
    if (identity && *identity)
      {
        /* the user name, when `auth` has one, only labels the token in messages */
        _cleanup_ (registry_credentials_freep) registry_credentials *labelled = NULL;
        if (field && *field && decode_auth_field (field, host, &labelled, err) < 0)
          return box_err_code (err);
        const char *user = labelled && *labelled->username ? labelled->username
                                                           : IDENTITY_TOKEN_USERNAME;
        if (credentials_new (user, identity, "config file", out, err) < 0)
          return box_err_code (err);
        (*out)->identity_token = true;
        return 0;
      }
    if (field && *field)
      return decode_auth_field (field, host, out, err);
    const char *user = json_string_value (json_object_get (entry, "username"));
    const char *password = json_string_value (json_object_get (entry, "password"));
    if (user && password)
      return credentials_new (user, password, "config file", out, err);
  }
  return 0;
}

int
registry_credentials_encode_basic (const char *user, const char *password, const char *prefix, char **out,
              box_error **err)
{
  _cleanup_free_ char *plain = NULL;
  if (asprintf (&plain, "%s:%s", user, password) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  size_t len = strlen (plain);
  _cleanup_free_ char *encoded = malloc (4 * ((len + 2) / 3) + 1);
  if (!encoded)
    {
      explicit_bzero (plain, len);
      return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  int encoded_len
      = EVP_EncodeBlock ((unsigned char *) encoded, (const unsigned char *) plain, (int) len);
  explicit_bzero (plain, len);
  if (encoded_len < 0)
    return box_err (err, BOX_E_INTERNAL, "base64: libcrypto cannot be loaded");
  int rc = asprintf (out, "%s%s", prefix, encoded);
  explicit_bzero (encoded, strlen (encoded));
  if (rc < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

int
registry_credentials_store (const char *host, const char *username, const char *password,
                            box_error **err)
{
  _cleanup_free_ char *path = NULL;
  if (registry_docker_config_path (&path, err) < 0)
    return box_err_code (err);
  _cleanup_json_ json_t *config = NULL;
  if (load_config (path, &config, err) < 0)
    return box_err_code (err);
  const char *key = config_key_for_host (host);

  const char *helper = helper_for_key (config, host);
  if (helper)
    {
      _cleanup_json_ json_t *request = json_pack ("{s:s, s:s, s:s}", "ServerURL", key, "Username",
                                                  username, "Secret", password);
      if (!request)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      _cleanup_free_ char *text = json_dumps (request, JSON_COMPACT);
      if (!text)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      _cleanup_free_ char *output = NULL;
      int status = 0;
      int rc = run_helper (helper, "store", text, &output, &status, err);
      explicit_bzero (text, strlen (text));
      if (rc < 0)
        return rc;
      if (status != 0)
        return box_err (err, BOX_E_IO,
                        "credential helper docker-credential-%s could not store credentials for %s "
                        "(exit %d)",
                        helper, host, status);
      /* docker records the host in auths with an empty object so `docker login` lists it */
      json_t *auths = json_object_get (config, "auths");
      if (!auths)
        {
          auths = json_object ();
          if (!auths || json_object_set_new (config, "auths", auths) < 0)
            return box_err (err, BOX_E_INTERNAL, "out of memory");
        }
      if (!json_object_get (auths, key) && json_object_set_new (auths, key, json_object ()) < 0)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      return save_config (path, config, err);
    }

  _cleanup_free_ char *encoded = NULL;
  if (registry_credentials_encode_basic (username, password, "", &encoded, err) < 0)
    return box_err_code (err);

  json_t *auths = json_object_get (config, "auths");
  if (!json_is_object (auths))
    {
      auths = json_object ();
      if (!auths || json_object_set_new (config, "auths", auths) < 0)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  json_t *entry = json_pack ("{s:s}", "auth", encoded);
  explicit_bzero (encoded, strlen (encoded));
  if (!entry || json_object_set_new (auths, key, entry) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return save_config (path, config, err);
}

int
registry_credentials_erase (const char *host, bool *out_found, box_error **err)
{
  *out_found = false;
  _cleanup_free_ char *path = NULL;
  if (registry_docker_config_path (&path, err) < 0)
    return box_err_code (err);
  _cleanup_json_ json_t *config = NULL;
  if (load_config (path, &config, err) < 0)
    return box_err_code (err);
  const char *key = config_key_for_host (host);

  const char *helper = helper_for_key (config, host);
  if (helper)
    {
      _cleanup_free_ char *output = NULL;
      int status = 0;
      if (run_helper (helper, "erase", key, &output, &status, err) < 0)
        return box_err_code (err);
      if (status == 0)
        *out_found = true;
    }

  json_t *auths = json_object_get (config, "auths");
  const char *entry_key;
  json_t *entry;
  void *tmp;
  bool changed = false;
  json_object_foreach_safe (auths, tmp, entry_key, entry)
  {
    char entry_host[256];
    key_to_host (entry_key, entry_host, sizeof entry_host);
    if (strcmp (entry_host, host) == 0)
      {
        json_object_del (auths, entry_key);
        changed = true;
      }
  }
  if (!changed)
    return 0;
  *out_found = true;
  return save_config (path, config, err);
}
