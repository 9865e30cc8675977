/* Owns the registry client: endpoints (scheme, mirrors), the authentication handshake and the
 * process-wide token cache, retries with backoff, and every distribution-spec operation. */
#include "registry/client.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "registry/challenge.h"
#include "registry/credentials.h"
#include "registry/manifest.h"
#include "util/crypto-dl.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

#define DOCKER_HUB_ENDPOINT "https://registry-1.docker.io"

/* Attempts of one request before a transient failure is final, and the backoff between them
 * (doubling from the first delay, capped). Five attempts span about 4 s of waiting: enough to
 * ride over a registry restart, short enough that a dead registry fails promptly. */
#define REGISTRY_MAX_ATTEMPTS 5
#define REGISTRY_FIRST_BACKOFF_MS 250
#define REGISTRY_MAX_BACKOFF_MS 8000
/* A Retry-After larger than this is not honoured in full */
#define REGISTRY_MAX_RETRY_AFTER_MS 30000
/* The distribution spec's default token lifetime, and how much earlier than its expiry a
 * cached token is dropped (so it does not expire in flight). */
#define TOKEN_DEFAULT_LIFETIME_SECONDS 60
#define TOKEN_EXPIRY_MARGIN_SECONDS 10
#define TOKEN_CACHE_SLOTS 64
#define TOKEN_REFRESH_MIN_SECONDS 10
#define DEFAULT_UPLOAD_CHUNK (64LL * 1024 * 1024)

/* ---------------------------------------------------------------------------------------- */
/* Settings                                                                                 */
/* ---------------------------------------------------------------------------------------- */

void
registry_settings_free (registry_settings *settings)
{
  if (!settings)
    return;
  strv_free (settings->insecure_registries);
  strv_free (settings->mirrors);
  free (settings);
}

static int
string_array (json_t *array, const char *what, char ***out, box_error **err)
{
  if (!array)
    return 0;
  if (!json_is_array (array))
    return box_err (err, BOX_E_INVALID, "%s: \"%s\" must be an array of strings",
                    REGISTRY_SETTINGS_FILE, what);
  size_t n = json_array_size (array);
  char **v = calloc (n + 1, sizeof *v);
  if (!v)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  *out = v;
  for (size_t i = 0; i < n; i++)
    {
      const char *s = json_string_value (json_array_get (array, i));
      if (!s)
        return box_err (err, BOX_E_INVALID, "%s: \"%s\" must be an array of strings",
                        REGISTRY_SETTINGS_FILE, what);
      v[i] = strdup (s);
      if (!v[i])
        return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  return 0;
}

int
registry_settings_load (int root_dirfd, registry_settings **out, box_error **err)
{
  _cleanup_ (registry_settings_freep) registry_settings *s = calloc (1, sizeof *s);
  if (!s)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  _cleanup_free_ char *text = NULL;
  size_t len = 0;
  box_error *local = NULL;
  if (fs_read_file (root_dirfd, REGISTRY_SETTINGS_FILE, &text, &len, &local) < 0)
    {
      if (box_err_code (&local) != BOX_E_NOT_FOUND)
        {
          box_err_propagate (err, &local);
          return box_err_wrap (err, "registry settings");
        }
      box_error_free (local);
      *out = TAKE_PTR (s);
      return 0;
    }
  _cleanup_json_ json_t *doc = NULL;
  if (json_parse_object (text, REGISTRY_SETTINGS_FILE, &doc, err) < 0)
    return box_err_code (err);
  if (string_array (json_object_get (doc, "insecure-registries"), "insecure-registries",
                    &s->insecure_registries, err)
          < 0
      || string_array (json_object_get (doc, "registry-mirrors"), "registry-mirrors", &s->mirrors,
                       err)
             < 0)
    return box_err_code (err);
  *out = TAKE_PTR (s);
  return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Challenges and the token cache                                                           */
/* ---------------------------------------------------------------------------------------- */

typedef struct cached_token {
  char *key; /* realm \n service \n scopes \n user */
  char *token;
  time_t expires;
} cached_token;

static pthread_mutex_t token_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cached_token token_cache[TOKEN_CACHE_SLOTS];

static char *
token_cache_get (const char *key)
{
  char *found = NULL;
  time_t now = time (NULL);
  pthread_mutex_lock (&token_cache_lock);
  for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++)
    if (token_cache[i].key && strcmp (token_cache[i].key, key) == 0)
      {
        if (token_cache[i].expires > now)
          found = strdup (token_cache[i].token);
        break;
      }
  pthread_mutex_unlock (&token_cache_lock);
  return found;
}

static void
token_cache_put (const char *key, const char *token, time_t expires)
{
  char *key_copy = strdup (key), *token_copy = strdup (token);
  if (!key_copy || !token_copy)
    {
      free (key_copy);
      free (token_copy);
      return; /* the cache is an optimisation */
    }
  pthread_mutex_lock (&token_cache_lock);
  size_t slot = 0;
  time_t oldest = 0;
  for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++)
    {
      if (!token_cache[i].key || strcmp (token_cache[i].key, key) == 0)
        {
          slot = i;
          break;
        }
      if (i == 0 || token_cache[i].expires < oldest)
        {
          oldest = token_cache[i].expires;
          slot = i;
        }
    }
  free (token_cache[slot].key);
  free (token_cache[slot].token);
  token_cache[slot] = (cached_token){ key_copy, token_copy, expires };
  pthread_mutex_unlock (&token_cache_lock);
}

/* ---------------------------------------------------------------------------------------- */
/* The client                                                                               */
/* ---------------------------------------------------------------------------------------- */

typedef struct endpoint {
  char *base_url; /* "https://host:port", no trailing slash */
  char *host;     /* "host:port": for credentials and messages */
  bool insecure;  /* plain HTTP allowed */
} endpoint;

struct registry_client {
  char *host; /* as the reference names it */
  char *repository;
  char **scopes; /* "repository:<name>:pull[,push]", NULL-terminated */
  endpoint *endpoints;
  size_t n_endpoints;
  size_t current; /* the endpoint in use; pulls move on to the next on failure */
  /* protects authorization and the credentials lookup (parallel layer downloads) */
  pthread_mutex_t lock;
  char *authorization; /* "Authorization: ..." header line, or NULL */
  registry_credentials *credentials;
  bool credentials_loaded;
  time_t last_token_refresh; /* when a refused token was last replaced */
  /* used by registry_check_credentials: these instead of any lookup */
  const char *fixed_username, *fixed_password;
};

static bool
host_listed_insecure (const char *host, const registry_settings *settings)
{
  if (!settings || !settings->insecure_registries)
    return false;
  for (char **p = settings->insecure_registries; *p; p++)
    {
      const char *entry = *p;
      const char *scheme = strstr (entry, "://");
      if (scheme)
        entry = scheme + 3;
      if (strcmp (entry, host) == 0)
        return true;
    }
  return false;
}

static int
endpoint_from_url (const char *url, const registry_settings *settings, endpoint *out,
                   box_error **err)
{
  const char *rest = NULL;
  bool https = true;
  if (str_has_prefix (url, "https://"))
    rest = url + 8;
  else if (str_has_prefix (url, "http://"))
    {
      rest = url + 7;
      https = false;
    }
  else
    return box_err (err, BOX_E_INVALID,
                    "registry mirror \"%s\" must start with http:// or https://", url);
  size_t host_len = strcspn (rest, "/");
  out->host = strndup (rest, host_len);
  if (!out->host)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  out->insecure
      = !https || http_host_is_loopback (out->host) || host_listed_insecure (out->host, settings);
  if (asprintf (&out->base_url, "%s://%s", https ? "https" : "http", out->host) < 0)
    {
      out->base_url = NULL;
      return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  return 0;
}

void
registry_client_free (registry_client *client)
{
  if (!client)
    return;
  free (client->host);
  free (client->repository);
  strv_free (client->scopes);
  for (size_t i = 0; i < client->n_endpoints; i++)
    {
      free (client->endpoints[i].base_url);
      free (client->endpoints[i].host);
    }
  free (client->endpoints);
  pthread_mutex_destroy (&client->lock);
  if (client->authorization)
    {
      explicit_bzero (client->authorization, strlen (client->authorization));
      free (client->authorization);
    }
  registry_credentials_free (client->credentials);
  free (client);
}

static int
client_add_scope (registry_client *client, const char *scope, box_error **err)
{
  size_t n = 0;
  while (client->scopes && client->scopes[n])
    {
      if (strcmp (client->scopes[n], scope) == 0)
        return 0;
      n++;
    }
  char **grown = realloc (client->scopes, (n + 2) * sizeof *grown);
  if (!grown)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  client->scopes = grown;
  grown[n] = strdup (scope);
  grown[n + 1] = NULL;
  if (!grown[n])
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

int
registry_client_new (const char *host, const char *repository, registry_access access,
                     const registry_settings *settings, registry_client **out, box_error **err)
{
  _cleanup_ (registry_client_freep) registry_client *c = calloc (1, sizeof *c);
  if (!c)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  pthread_mutex_init (&c->lock, NULL);
  c->host = strdup (host);
  c->repository = strdup (repository ? repository : "");
  if (!c->host || !c->repository)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (repository)
    {
      _cleanup_free_ char *scope = NULL;
      if (asprintf (&scope, "repository:%s:%s", repository,
                    access & REGISTRY_ACCESS_PUSH ? "pull,push" : "pull")
          < 0)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      if (client_add_scope (c, scope, err) < 0)
        return box_err_code (err);
    }

  bool hub = strcmp (host, REGISTRY_DOCKER_HUB_HOST) == 0;
  size_t n_mirrors = 0;
  if (hub && !(access & REGISTRY_ACCESS_PUSH) && settings && settings->mirrors)
    while (settings->mirrors[n_mirrors])
      n_mirrors++;
  c->endpoints = calloc (n_mirrors + 1, sizeof *c->endpoints);
  if (!c->endpoints)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (size_t i = 0; i < n_mirrors; i++)
    {
      if (endpoint_from_url (settings->mirrors[i], settings, &c->endpoints[i], err) < 0)
        return box_err_code (err);
      c->n_endpoints++;
    }
  endpoint *primary = &c->endpoints[c->n_endpoints];
  if (hub)
    {
      if (endpoint_from_url (DOCKER_HUB_ENDPOINT, settings, primary, err) < 0)
        return box_err_code (err);
      /* credentials for the default registry are stored under its reference name */
      free (primary->host);
      primary->host = strdup (REGISTRY_DOCKER_HUB_HOST);
      if (!primary->host)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  else
    {
      bool insecure = http_host_is_loopback (host) || host_listed_insecure (host, settings);
      primary->host = strdup (host);
      if (!primary->host
          || asprintf (&primary->base_url, "%s://%s", insecure ? "http" : "https", host) < 0)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      primary->insecure = insecure;
    }
  c->n_endpoints++;
  *out = TAKE_PTR (c);
  return 0;
}

int
registry_client_add_source_repository (registry_client *client, const char *repository,
                                       box_error **err)
{
  _cleanup_free_ char *scope = NULL;
  if (asprintf (&scope, "repository:%s:pull", repository) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return client_add_scope (client, scope, err);
}

const char *
registry_client_host (const registry_client *client)
{
  return client->host;
}

static const endpoint *
client_endpoint (registry_client *client)
{
  return &client->endpoints[client->current];
}

/* Loads credentials for the current endpoint once (under client->lock). */
static int
client_credentials_locked (registry_client *client, const registry_credentials **out,
                           box_error **err)
{
  if (client->fixed_username)
    {
      if (!client->credentials)
        {
          registry_credentials *c = calloc (1, sizeof *c);
          if (!c)
            return box_err (err, BOX_E_INTERNAL, "out of memory");
          c->username = strdup (client->fixed_username);
          c->password = strdup (client->fixed_password);
          c->source = "login";
          client->credentials = c;
          if (!c->username || !c->password)
            return box_err (err, BOX_E_INTERNAL, "out of memory");
        }
    }
  else if (!client->credentials_loaded)
    {
      if (registry_credentials_lookup (client_endpoint (client)->host, &client->credentials, err)
          < 0)
        return box_err_wrap (err, "credentials for %s", client_endpoint (client)->host);
      client->credentials_loaded = true;
    }
  *out = client->credentials;
  return 0;
}

/* "CODE: message" of the first error in a distribution-spec error body, else NULL. */
static char *
registry_error_detail (const http_response *resp)
{
  if (!resp->body || resp->body_len == 0)
    return NULL;
  json_error_t jerr;
  _cleanup_json_ json_t *doc = json_loadb (resp->body, resp->body_len, 0, &jerr);
  json_t *first = json_array_get (json_object_get (doc, "errors"), 0);
  const char *code = json_string_value (json_object_get (first, "code"));
  const char *message = json_string_value (json_object_get (first, "message"));
  if (!code && !message)
    return NULL;
  char *out = NULL;
  if (asprintf (&out, "%s%s%s", code ? code : "", code && message ? ": " : "",
                message ? message : "")
      < 0)
    return NULL;
  /* a registry error message is printed: keep control characters out of the terminal */
  for (char *p = out; *p; p++)
    if ((unsigned char) *p < 0x20)
      *p = ' ';
  return out;
}

/* Space-separated list of the client's scopes, plus extra when not already there. */
static int
scope_list (registry_client *client, const char *extra, char **out, box_error **err)
{
  size_t len = 1;
  for (char **s = client->scopes; s && *s; s++)
    len += strlen (*s) + 1;
  if (extra)
    len += strlen (extra) + 1;
  char *list = calloc (1, len);
  if (!list)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  bool extra_present = !extra || !*extra;
  for (char **s = client->scopes; s && *s; s++)
    {
      if (*list)
        strcat (list, " ");
      strcat (list, *s);
      if (extra && strcmp (*s, extra) == 0)
        extra_present = true;
    }
  if (!extra_present)
    {
      if (*list)
        strcat (list, " ");
      strcat (list, extra);
    }
  *out = list;
  return 0;
}

static int
sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
  return 0;
}

static bool
status_is_transient (long status)
{
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static long
retry_delay_ms (const http_response *resp, int attempt)
{
  long delay = (long) REGISTRY_FIRST_BACKOFF_MS << (attempt - 1);
  if (delay > REGISTRY_MAX_BACKOFF_MS)
    delay = REGISTRY_MAX_BACKOFF_MS;
  if (resp && resp->retry_after)
    {
      char *end = NULL;
      long seconds = strtol (resp->retry_after, &end, 10);
      if (end != resp->retry_after && seconds >= 0)
        {
          long asked = seconds * 1000;
          delay = asked > REGISTRY_MAX_RETRY_AFTER_MS ? REGISTRY_MAX_RETRY_AFTER_MS : asked;
        }
    }
  return delay;
}

typedef struct client_request {
  const char *method;
  const char *url; /* absolute */
  const char *const *headers;
  const void *body;
  size_t body_len;
  int body_fd;
  off_t body_offset; /* where body_fd's bytes start (rewound for each attempt) */
  http_sent_fn sent;
  void *sent_data;
  bool follow_redirects;
  http_sink_fn sink;
  void *sink_data;
  int64_t range_start;
  bool no_retry; /* the caller retries (streaming downloads resume instead) */
} client_request;

/* The form of an OAuth2 refresh-token grant (docker's client_id convention: the tool's name),
 * in *out (free()); -1 when out of memory. */
static int
token_form (const auth_challenge *challenge, const char *scopes, const char *refresh_token,
            char **out)
{
  _cleanup_free_ char *service = http_query_escape (challenge->service ? challenge->service : "");
  _cleanup_free_ char *scope = http_query_escape (scopes);
  _cleanup_free_ char *token = http_query_escape (refresh_token);
  if (!service || !scope || !token)
    return -1;
  int rc = asprintf (out, "grant_type=refresh_token&client_id=box&service=%s&scope=%s"
                          "&refresh_token=%s",
                     service, scope, token);
  explicit_bzero (token, strlen (token));
  return rc < 0 ? -1 : 0;
}

/* The token GET of the distribution spec's token auth, in *out (free()):
 * realm?service=...&account=...&scope=a&scope=b (one scope parameter per scope, as docker
 * sends). */
static int
token_get_url (const auth_challenge *challenge, const char *scopes,
               const registry_credentials *creds, char **out, box_error **err)
{
  size_t url_cap = strlen (challenge->realm) + 64;
  _cleanup_free_ char *service = challenge->service ? http_query_escape (challenge->service) : NULL;
  if (service)
    url_cap += strlen (service);
  url_cap += 3 * strlen (scopes) + 16 * 8;
  _cleanup_free_ char *account = creds ? http_query_escape (creds->username) : NULL;
  if (account)
    url_cap += strlen (account) + 16;
  _cleanup_free_ char *url = malloc (url_cap);
  if (!url)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  char separator = strchr (challenge->realm, '?') ? '&' : '?';
  int used = snprintf (url, url_cap, "%s", challenge->realm);
  if (service)
    {
      used += snprintf (url + used, url_cap - (size_t) used, "%cservice=%s", separator, service);
      separator = '&';
    }
  if (account)
    {
      used += snprintf (url + used, url_cap - (size_t) used, "%caccount=%s", separator, account);
      separator = '&';
    }
  _cleanup_free_ char *scopes_copy = strdup (scopes);
  if (!scopes_copy)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  char *save = NULL;
  for (char *s = strtok_r (scopes_copy, " ", &save); s; s = strtok_r (NULL, " ", &save))
    {
      _cleanup_free_ char *escaped = http_query_escape (s);
      if (!escaped)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      size_t need = strlen (escaped) + 8;
      if ((size_t) used + need >= url_cap)
        {
          url_cap = (size_t) used + need + 64;
          char *grown = realloc (url, url_cap);
          if (!grown)
            return box_err (err, BOX_E_INTERNAL, "out of memory");
          url = grown;
        }
      used += snprintf (url + used, url_cap - (size_t) used, "%cscope=%s", separator, escaped);
      separator = '&';
    }
  *out = TAKE_PTR (url);
  return 0;
}

/* Fetches a Bearer token for the challenge (or takes it from the cache). */
static int
fetch_token (registry_client *client, const auth_challenge *challenge,
             const registry_credentials *creds, bool bypass_cache, char **out_token,
             box_error **err)
{
  const char *registry = client_endpoint (client)->host;
  if (!challenge->realm || !*challenge->realm)
    return box_err (err, BOX_E_IO, "registry %s: bearer challenge without a realm", registry);
  _cleanup_free_ char *scopes = NULL;
  if (scope_list (client, challenge->scope, &scopes, err) < 0)
    return box_err_code (err);
  _cleanup_free_ char *key = NULL;
  if (asprintf (&key, "%s\n%s\n%s\n%s", challenge->realm,
                challenge->service ? challenge->service : "", scopes, creds ? creds->username : "")
      < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  char *cached = bypass_cache ? NULL : token_cache_get (key);
  if (cached)
    {
      *out_token = cached;
      return 0;
    }

  _cleanup_free_ char *realm_host = NULL;
  {
    const char *rest = strstr (challenge->realm, "://");
    rest = rest ? rest + 3 : challenge->realm;
    realm_host = strndup (rest, strcspn (rest, "/?"));
    if (!realm_host)
      return box_err (err, BOX_E_INTERNAL, "out of memory");
  }
  _cleanup_free_ char *url = NULL;
  _cleanup_free_ char *authorization = NULL;
  _cleanup_free_ char *form = NULL;
  bool oauth = creds && creds->identity_token;
  if (oauth)
    {
      /* OAuth2 refresh-token grant: POST realm with a form; the token stays out of URLs */
      if (token_form (challenge, scopes, creds->password, &form) < 0
          || !(url = strdup (challenge->realm)))
        return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  else if (token_get_url (challenge, scopes, creds, &url, err) < 0
           || (creds
               && registry_credentials_encode_basic (creds->username, creds->password,
                                                     "Authorization: Basic ", &authorization, err)
                      < 0))
    return box_err_code (err);
  const char *headers[] = { oauth ? "Content-Type: application/x-www-form-urlencoded"
                                  : authorization,
                            NULL };
  http_request req = HTTP_REQUEST_INIT;
  req.url = url;
  req.headers = headers[0] ? headers : NULL;
  if (oauth)
    {
      req.method = "POST";
      req.body = form;
      req.body_len = strlen (form);
    }
  req.follow_redirects = true;
  /* a token server on this machine, or one beside an insecure registry, may be plain HTTP */
  req.allow_insecure_http
      = client_endpoint (client)->insecure || http_host_is_loopback (realm_host);

  http_response resp;
  for (int attempt = 1;; attempt++)
    {
      box_error *local = NULL;
      if (http_perform (&req, &resp, &local) < 0)
        {
          if (!resp.transport_failed || attempt == REGISTRY_MAX_ATTEMPTS)
            {
              if (authorization)
                explicit_bzero (authorization, strlen (authorization));
              if (form)
                explicit_bzero (form, strlen (form));
              box_err_propagate (err, &local);
              return box_err_wrap (err, "registry %s: token request", registry);
            }
          box_error_free (local);
        }
      else if (!status_is_transient (resp.status) || attempt == REGISTRY_MAX_ATTEMPTS)
        break;
      else
        http_response_clear (&resp);
      sleep_ms (retry_delay_ms (NULL, attempt));
    }
  if (authorization)
    explicit_bzero (authorization, strlen (authorization));
  if (form)
    explicit_bzero (form, strlen (form));
  if (resp.status == 401 || resp.status == 403 || (oauth && resp.status == 400))
    {
      http_response_clear (&resp);
      if (oauth)
        return box_err (err, BOX_E_PERMISSION,
                        "registry %s: the token server refused the identity token of \"%s\" (from "
                        "%s); log in again",
                        registry, creds->username, creds->source);
      if (creds)
        return box_err (err, BOX_E_PERMISSION,
                        "registry %s: authentication failed for user \"%s\" (from %s): wrong "
                        "username or password",
                        registry, creds->username, creds->source);
      return box_err (err, BOX_E_PERMISSION,
                      "registry %s: the token server refused anonymous access to %s; log in with "
                      "'box login %s'",
                      registry, client->repository, registry);
    }
  if (resp.status != 200)
    {
      long status = resp.status;
      http_response_clear (&resp);
      return box_err (err, BOX_E_IO, "registry %s: token request answered HTTP %ld", registry,
                      status);
    }
  json_error_t jerr;
  _cleanup_json_ json_t *doc = json_loadb (resp.body, resp.body_len, 0, &jerr);
  http_response_clear (&resp);
  const char *token = json_string_value (json_object_get (doc, "token"));
  if (!token || !*token)
    token = json_string_value (json_object_get (doc, "access_token"));
  if (!token || !*token)
    return box_err (err, BOX_E_IO, "registry %s: the token server's answer has no token", registry);
  json_int_t lifetime = json_integer_value (json_object_get (doc, "expires_in"));
  if (lifetime <= 0)
    lifetime = TOKEN_DEFAULT_LIFETIME_SECONDS;
  time_t expires = time (NULL) + (time_t) lifetime - TOKEN_EXPIRY_MARGIN_SECONDS;
  token_cache_put (key, token, expires);
  *out_token = strdup (token);
  if (!*out_token)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

/* Answers a 401 challenge: sets client->authorization (under the lock). `previous` is the
 * authorization the failed request carried: when another thread already replaced it, there
 * is nothing to do. Returns >0 when a retry may succeed, 0 when it cannot. */
static int
client_authenticate (registry_client *client, const http_response *resp, const char *previous,
                     box_error **err)
{
  const char *registry = client_endpoint (client)->host;
  pthread_mutex_lock (&client->lock);
  if (!str_eq (client->authorization, previous))
    {
      pthread_mutex_unlock (&client->lock);
      return 1;
    }
  auth_challenge challenge;
  int rc = 0;
  if (!resp->www_authenticate)
    {
      rc = box_err (err, BOX_E_PERMISSION,
                    "registry %s: access denied (HTTP 401 without a "
                    "challenge)",
                    registry);
      goto out;
    }
  if (auth_challenge_parse (resp->www_authenticate, &challenge, err) < 0)
    {
      rc = box_err_wrap (err, "registry %s", registry);
      goto out;
    }
  const registry_credentials *creds = NULL;
  if (client_credentials_locked (client, &creds, err) < 0)
    {
      rc = box_err_code (err);
      auth_challenge_clear (&challenge);
      goto out;
    }
  char *header = NULL;
  if (strcmp (challenge.scheme, "basic") == 0)
    {
      if (!creds)
        rc = box_err (err, BOX_E_PERMISSION,
                      "registry %s: authentication required; log in with 'box login %s'", registry,
                      registry);
      else if (creds->identity_token)
        rc = box_err (err, BOX_E_PERMISSION,
                      "registry %s asks for a password (Basic), but the credentials from %s are an "
                      "identity token, which only a token server takes",
                      registry, creds->source);
      else if (previous && str_has_prefix (previous, "Authorization: Basic "))
        rc = box_err (err, BOX_E_PERMISSION,
                      "registry %s: authentication failed for user \"%s\" (from %s): wrong "
                      "username or password",
                      registry, creds->username, creds->source);
      else if (registry_credentials_encode_basic (creds->username, creds->password,
                                                  "Authorization: Basic ", &header, err)
               < 0)
        rc = box_err_code (err);
      else
        rc = 1;
    }
  else if (strcmp (challenge.scheme, "bearer") == 0)
    {
      bool had_token = previous && str_has_prefix (previous, "Authorization: Bearer ");
      bool scope_refused = challenge.error && strcmp (challenge.error, "insufficient_scope") == 0;
      /* a token refused for another reason than its scope may just have expired (a long
         pull outlives it): get a fresh one, at most every TOKEN_REFRESH_MIN_SECONDS */
      bool refresh = had_token && !scope_refused
                     && time (NULL) - client->last_token_refresh >= TOKEN_REFRESH_MIN_SECONDS;
      if (had_token && !refresh)
        {
          /* a token we just obtained was not enough: the account lacks permission */
          if (creds)
            rc = box_err (err, BOX_E_PERMISSION,
                          "registry %s: access to repository %s denied for user \"%s\"%s%s%s",
                          registry, client->repository, creds->username,
                          challenge.error ? " (" : "", challenge.error ? challenge.error : "",
                          challenge.error ? ")" : "");
          else
            rc = box_err (err, BOX_E_PERMISSION,
                          "registry %s: access to repository %s denied%s%s%s; log in with 'box "
                          "login %s'",
                          registry, client->repository, challenge.error ? " (" : "",
                          challenge.error ? challenge.error : "", challenge.error ? ")" : "",
                          registry);
        }
      else
        {
          _cleanup_free_ char *token = NULL;
          if (refresh)
            client->last_token_refresh = time (NULL);
          if (fetch_token (client, &challenge, creds, refresh, &token, err) < 0)
            rc = box_err_code (err);
          else if (!token || asprintf (&header, "Authorization: Bearer %s", token) < 0)
            rc = box_err (err, BOX_E_INTERNAL, "out of memory");
          else
            rc = 1;
          if (token)
            explicit_bzero (token, strlen (token));
        }
    }
  else
    rc = box_err (err, BOX_E_UNSUPPORTED, "registry %s: unsupported authentication scheme \"%s\"",
                  registry, challenge.scheme);
  auth_challenge_clear (&challenge);
  if (rc > 0)
    {
      if (client->authorization)
        {
          explicit_bzero (client->authorization, strlen (client->authorization));
          free (client->authorization);
        }
      client->authorization = header;
    }
out:
  pthread_mutex_unlock (&client->lock);
  return rc;
}

static void
secret_freep (char **p)
{
  if (*p)
    {
      explicit_bzero (*p, strlen (*p));
      free (*p);
    }
}

/* Rounds of answering a 401 within one request: one to authenticate, one more in case a
 * parallel request replaced the credentials meanwhile. */
#define REGISTRY_MAX_AUTH_ROUNDS 3

/* One request with authentication and retries. The response is the caller's on success,
 * whatever its status. */
static int
client_perform (registry_client *client, const client_request *creq, http_response *resp,
                box_error **err)
{
  const endpoint *ep = client_endpoint (client);
  int auth_rounds = 0;
  int attempt = 0;
  size_t n_headers = 0;
  while (creq->headers && creq->headers[n_headers])
    n_headers++;
  _cleanup_free_ const char **headers = calloc (n_headers + 2, sizeof *headers);
  if (!headers)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  for (;;)
    {
      attempt++;
      _cleanup_ (secret_freep) char *authorization = NULL;
      pthread_mutex_lock (&client->lock);
      if (client->authorization)
        authorization = strdup (client->authorization);
      pthread_mutex_unlock (&client->lock);
      size_t k = 0;
      for (size_t i = 0; i < n_headers; i++)
        headers[k++] = creq->headers[i];
      headers[k++] = authorization;
      headers[k] = NULL;

      if (creq->body_fd >= 0 && lseek (creq->body_fd, creq->body_offset, SEEK_SET) < 0)
        return box_err_errno (err, errno, "rewind upload body");
      http_request req = HTTP_REQUEST_INIT;
      req.method = creq->method;
      req.url = creq->url;
      req.headers = headers;
      req.body = creq->body;
      req.body_len = creq->body_len;
      req.body_fd = creq->body_fd;
      req.sent = creq->sent;
      req.sent_data = creq->sent_data;
      req.follow_redirects = creq->follow_redirects;
      req.allow_insecure_http = ep->insecure;
      req.sink = creq->sink;
      req.sink_data = creq->sink_data;
      req.range_start = creq->range_start;

      box_error *local = NULL;
      if (http_perform (&req, resp, &local) < 0)
        {
          if (!resp->transport_failed || creq->no_retry || attempt >= REGISTRY_MAX_ATTEMPTS)
            {
              box_err_propagate (err, &local);
              return box_err_code (err);
            }
          box_error_free (local);
          sleep_ms (retry_delay_ms (NULL, attempt));
          continue;
        }
      if (resp->status == 401 && auth_rounds < REGISTRY_MAX_AUTH_ROUNDS)
        {
          auth_rounds++;
          int auth = client_authenticate (client, resp, authorization, err);
          http_response_clear (resp);
          if (auth < 0)
            return auth;
          attempt--; /* an authentication round is not a failed attempt */
          continue;
        }
      if (status_is_transient (resp->status) && !creq->no_retry && attempt < REGISTRY_MAX_ATTEMPTS)
        {
          long delay = retry_delay_ms (resp, attempt);
          http_response_clear (resp);
          sleep_ms (delay);
          continue;
        }
      return 0;
    }
}

/* The error for an unexpected status, with the registry's own explanation. */
static int
status_error (registry_client *client, http_response *resp, const char *what, box_error **err)
{
  _cleanup_free_ char *detail = registry_error_detail (resp);
  box_error_code code = BOX_E_IO;
  if (resp->status == 404)
    code = BOX_E_NOT_FOUND;
  else if (resp->status == 401 || resp->status == 403)
    code = BOX_E_PERMISSION;
  else if (resp->status == 400 || resp->status == 405)
    code = BOX_E_INVALID;
  int rc = box_err (err, code, "registry %s: %s: HTTP %ld%s%s", client_endpoint (client)->host,
                    what, resp->status, detail ? ": " : "", detail ? detail : "");
  http_response_clear (resp);
  return rc;
}

static int client_url (registry_client *client, char **out, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
client_url (registry_client *client, char **out, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  _cleanup_free_ char *path = NULL;
  int rc = vasprintf (&path, fmt, ap);
  va_end (ap);
  if (rc < 0)
    return -1;
  return asprintf (out, "%s%s", client_endpoint (client)->base_url, path) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Operations                                                                               */
/* ---------------------------------------------------------------------------------------- */

static void
sha256_digest_string (const void *data, size_t len, char out[72])
{
  unsigned char md[32] = { 0 }; /* all zero (a digest nothing matches) if it fails */
  unsigned int md_len = 0;
  EVP_Digest (data, len, md, &md_len, EVP_sha256 (), NULL);
  memcpy (out, "sha256:", 7);
  hex_encode (md, 32, out + 7);
}

void
registry_fetched_manifest_clear (registry_fetched_manifest *m)
{
  free (m->body);
  free (m->content_type);
  free (m->digest);
  memset (m, 0, sizeof *m);
}

int
registry_get_manifest (registry_client *client, const char *reference,
                       registry_fetched_manifest *out, box_error **err)
{
  memset (out, 0, sizeof *out);
  bool by_digest = str_has_prefix (reference, "sha256:");
  static const char *const headers[] = { MANIFEST_ACCEPT_HEADER, NULL };
  /* mirrors first, then the registry itself: the first that has the manifest serves it */
  for (size_t i = 0; i < client->n_endpoints; i++)
    {
      client->current = i;
      bool last = i + 1 == client->n_endpoints;
      _cleanup_free_ char *url = NULL;
      if (client_url (client, &url, "/v2/%s/manifests/%s", client->repository, reference) < 0)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      client_request creq = {
        .method = "GET", .url = url, .headers = headers, .body_fd = -1, .follow_redirects = true
      };
      http_response resp;
      box_error *local = NULL;
      if (client_perform (client, &creq, &resp, &local) < 0)
        {
          if (last)
            {
              box_err_propagate (err, &local);
              return box_err_wrap (err, "manifest %s:%s", client->repository, reference);
            }
          box_error_free (local);
          continue;
        }
      if (resp.status != 200)
        {
          if (last)
            {
              _cleanup_free_ char *what = NULL;
              if (asprintf (&what, "manifest for %s%s%s", client->repository, by_digest ? "@" : ":",
                            reference)
                  < 0)
                what = NULL;
              return status_error (client, &resp, what ? what : "manifest", err);
            }
          http_response_clear (&resp);
          continue;
        }
      if (resp.body_len > MANIFEST_MAX_SIZE)
        {
          http_response_clear (&resp);
          return box_err (err, BOX_E_INVALID, "registry %s: manifest %s is larger than %u bytes",
                          client_endpoint (client)->host, reference, MANIFEST_MAX_SIZE);
        }
      char digest[72];
      sha256_digest_string (resp.body ? resp.body : "", resp.body_len, digest);
      if (by_digest && strcmp (digest, reference) != 0)
        {
          http_response_clear (&resp);
          return box_err (err, BOX_E_INVALID,
                          "registry %s: manifest %s@%s: content does not match the digest (got "
                          "%s)",
                          client_endpoint (client)->host, client->repository, reference, digest);
        }
      out->body = TAKE_PTR (resp.body);
      out->len = resp.body_len;
      out->content_type = TAKE_PTR (resp.content_type);
      out->digest = strdup (digest);
      http_response_clear (&resp);
      if (!out->digest || !out->body)
        {
          registry_fetched_manifest_clear (out);
          return box_err (err, BOX_E_INVALID, "registry %s: empty manifest for %s",
                          client_endpoint (client)->host, reference);
        }
      return 0;
    }
  return box_err (err, BOX_E_INTERNAL, "registry client without endpoints");
}

typedef struct blob_stream {
  http_sink_fn sink;
  void *sink_data;
  int64_t received; /* bytes handed to the sink so far, from the blob's start */
  int64_t expected_size;
  const char *digest;
} blob_stream;

static int
blob_stream_write (const void *data, size_t len, void *userdata, box_error **err)
{
  blob_stream *bs = userdata;
  if (bs->expected_size >= 0 && bs->received + (int64_t) len > bs->expected_size)
    return box_err (err, BOX_E_INVALID, "blob %s: more bytes than the %lld the manifest declares",
                    bs->digest, (long long) bs->expected_size);
  if (bs->sink (data, len, bs->sink_data, err) < 0)
    return box_err_code (err);
  bs->received += (int64_t) len;
  return 0;
}

int
registry_fetch_blob (registry_client *client, const char *digest, int64_t expected_size,
                     int64_t offset, http_sink_fn sink, void *sink_data, box_error **err)
{
  _cleanup_free_ char *url = NULL;
  if (client_url (client, &url, "/v2/%s/blobs/%s", client->repository, digest) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  blob_stream bs = { sink, sink_data, offset, expected_size, digest };
  int failures_without_progress = 0;
  for (;;)
    {
      if (expected_size >= 0 && bs.received == expected_size && expected_size > 0)
        return 0;
      char range[64];
      const char *headers[2] = { NULL, NULL };
      if (bs.received > 0)
        {
          snprintf (range, sizeof range, "Range: bytes=%lld-", (long long) bs.received);
          headers[0] = range;
        }
      client_request creq = { .method = "GET",
                              .url = url,
                              .headers = headers,
                              .body_fd = -1,
                              .follow_redirects = true,
                              .sink = blob_stream_write,
                              .sink_data = &bs,
                              .range_start = bs.received,
                              .no_retry = true };
      int64_t before = bs.received;
      http_response resp;
      box_error *local = NULL;
      int rc = client_perform (client, &creq, &resp, &local);
      if (rc < 0 && !resp.transport_failed)
        {
          box_err_propagate (err, &local);
          return box_err_wrap (err, "blob %s", digest);
        }
      if (rc == 0 && (resp.status == 200 || resp.status == 206))
        {
          http_response_clear (&resp);
          if (expected_size >= 0 && bs.received != expected_size)
            {
              /* the server closed a "complete" response early: resume like a reset */
              if (bs.received == before && ++failures_without_progress >= REGISTRY_MAX_ATTEMPTS)
                return box_err (err, BOX_E_IO, "registry %s: blob %s: got %lld of %lld bytes",
                                client_endpoint (client)->host, digest, (long long) bs.received,
                                (long long) expected_size);
              continue;
            }
          return 0;
        }
      if (rc == 0 && resp.status == 416 && expected_size >= 0 && bs.received == expected_size)
        {
          http_response_clear (&resp);
          return 0;
        }
      bool transient = rc < 0 || status_is_transient (resp.status);
      if (!transient)
        {
          _cleanup_free_ char *what = NULL;
          if (asprintf (&what, "blob %s", digest) < 0)
            what = NULL;
          return status_error (client, &resp, what ? what : "blob", err);
        }
      if (bs.received > before)
        failures_without_progress = 0;
      failures_without_progress++;
      if (failures_without_progress >= REGISTRY_MAX_ATTEMPTS)
        {
          if (rc < 0)
            {
              box_err_propagate (err, &local);
              return box_err_wrap (err, "blob %s: giving up after %d attempts", digest,
                                   REGISTRY_MAX_ATTEMPTS);
            }
          _cleanup_free_ char *what = NULL;
          if (asprintf (&what, "blob %s", digest) < 0)
            what = NULL;
          return status_error (client, &resp, what ? what : "blob", err);
        }
      long delay = retry_delay_ms (rc == 0 ? &resp : NULL, failures_without_progress);
      box_error_free (local);
      if (rc == 0)
        http_response_clear (&resp);
      sleep_ms (delay);
    }
}

typedef struct memory_sink {
  char *data;
  size_t len, cap;
} memory_sink;

static int
memory_sink_write (const void *data, size_t len, void *userdata, box_error **err)
{
  memory_sink *m = userdata;
  if (m->len + len + 1 > m->cap)
    {
      size_t cap = m->cap ? m->cap * 2 : 4096;
      while (cap < m->len + len + 1)
        cap *= 2;
      char *grown = realloc (m->data, cap);
      if (!grown)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      m->data = grown;
      m->cap = cap;
    }
  memcpy (m->data + m->len, data, len);
  m->len += len;
  m->data[m->len] = '\0';
  return 0;
}

int
registry_fetch_small_blob (registry_client *client, const char *digest, int64_t size, char **out,
                           size_t *out_len, box_error **err)
{
  if (size < 0 || size > (int64_t) HTTP_MAX_BUFFERED_BODY)
    return box_err (err, BOX_E_INVALID, "blob %s: size %lld out of range for a config", digest,
                    (long long) size);
  memory_sink m = { 0 };
  if (registry_fetch_blob (client, digest, size, 0, memory_sink_write, &m, err) < 0)
    {
      free (m.data);
      return box_err_code (err);
    }
  char actual[72];
  sha256_digest_string (m.data ? m.data : "", m.len, actual);
  if (strcmp (actual, digest) != 0)
    {
      free (m.data);
      return box_err (err, BOX_E_INVALID,
                      "registry %s: blob %s: content does not match its digest (got %s)",
                      client_endpoint (client)->host, digest, actual);
    }
  if (!m.data)
    {
      m.data = strdup ("");
      if (!m.data)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
    }
  *out = m.data;
  *out_len = m.len;
  return 0;
}

int
registry_blob_exists (registry_client *client, const char *digest, bool *out_exists,
                      box_error **err)
{
  _cleanup_free_ char *url = NULL;
  if (client_url (client, &url, "/v2/%s/blobs/%s", client->repository, digest) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  client_request creq = { .method = "HEAD", .url = url, .body_fd = -1, .follow_redirects = true };
  http_response resp;
  if (client_perform (client, &creq, &resp, err) < 0)
    return box_err_wrap (err, "blob %s", digest);
  long status = resp.status;
  if (status == 200)
    *out_exists = true;
  else if (status == 404)
    *out_exists = false;
  else
    return status_error (client, &resp, "check blob", err);
  http_response_clear (&resp);
  return 0;
}

/* The absolute URL of an upload Location header (relative ones are relative to the endpoint),
 * with digest=... appended when digest is non-NULL. */
static int
upload_url (registry_client *client, const char *location, const char *digest, char **out,
            box_error **err)
{
  _cleanup_free_ char *base = NULL;
  int rc;
  if (str_has_prefix (location, "http://") || str_has_prefix (location, "https://"))
    rc = asprintf (&base, "%s", location);
  else
    rc = asprintf (&base, "%s%s%s", client_endpoint (client)->base_url,
                   location[0] == '/' ? "" : "/", location);
  if (rc < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  if (!digest)
    {
      *out = TAKE_PTR (base);
      return 0;
    }
  _cleanup_free_ char *escaped = http_query_escape (digest);
  if (!escaped
      || asprintf (out, "%s%cdigest=%s", base, strchr (base, '?') ? '&' : '?', escaped) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  return 0;
}

static int
start_upload (registry_client *client, const char *query, http_response *resp, box_error **err)
{
  _cleanup_free_ char *url = NULL;
  if (client_url (client, &url, "/v2/%s/blobs/uploads/%s", client->repository, query) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  client_request creq = { .method = "POST", .url = url, .body_fd = -1 };
  if (client_perform (client, &creq, resp, err) < 0)
    return box_err_code (err);
  return 0;
}

static void
cancel_upload (registry_client *client, const char *location)
{
  _cleanup_free_ char *url = NULL;
  if (upload_url (client, location, NULL, &url, NULL) < 0)
    return;
  client_request creq = { .method = "DELETE", .url = url, .body_fd = -1, .no_retry = true };
  http_response resp;
  if (client_perform (client, &creq, &resp, NULL) == 0)
    http_response_clear (&resp);
}

int
registry_mount_blob (registry_client *client, const char *digest, const char *from_repository,
                     bool *out_mounted, box_error **err)
{
  *out_mounted = false;
  _cleanup_free_ char *digest_q = http_query_escape (digest);
  _cleanup_free_ char *from_q = http_query_escape (from_repository);
  _cleanup_free_ char *query = NULL;
  if (!digest_q || !from_q || asprintf (&query, "?mount=%s&from=%s", digest_q, from_q) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  http_response resp;
  if (start_upload (client, query, &resp, err) < 0)
    return box_err_wrap (err, "mount blob %s from %s", digest, from_repository);
  if (resp.status == 201)
    *out_mounted = true;
  else if (resp.status == 202)
    {
      if (resp.location)
        cancel_upload (client, resp.location);
    }
  else
    return status_error (client, &resp, "mount blob", err);
  http_response_clear (&resp);
  return 0;
}

typedef struct upload_progress {
  registry_upload_progress_fn fn;
  void *userdata;
  int64_t base; /* bytes of the blob acknowledged before this request */
} upload_progress;

static void
on_upload_sent (uint64_t sent, void *userdata)
{
  upload_progress *p = userdata;
  p->fn (p->base + (int64_t) sent, p->userdata);
}

int
registry_upload_blob (registry_client *client, const char *digest, int fd, int64_t size,
                      int64_t chunk_threshold, registry_upload_progress_fn progress,
                      void *progress_userdata, box_error **err)
{
  upload_progress sent_progress = { .fn = progress, .userdata = progress_userdata };
  if (chunk_threshold <= 0)
    chunk_threshold = DEFAULT_UPLOAD_CHUNK;
  off_t start = lseek (fd, 0, SEEK_CUR);
  if (start < 0)
    return box_err_errno (err, errno, "upload blob %s", digest);
  http_response resp;
  if (start_upload (client, "", &resp, err) < 0)
    return box_err_wrap (err, "upload blob %s", digest);
  if (resp.status != 202 || !resp.location)
    return status_error (client, &resp, "start upload", err);
  _cleanup_free_ char *location = TAKE_PTR (resp.location);
  http_response_clear (&resp);

  int64_t sent = 0;
  if (size > chunk_threshold)
    {
      /* chunked: PATCH each chunk to the latest Location, with its Content-Range */
      while (sent < size)
        {
          int64_t chunk = size - sent < chunk_threshold ? size - sent : chunk_threshold;
          _cleanup_free_ char *url = NULL;
          if (upload_url (client, location, NULL, &url, err) < 0)
            return box_err_code (err);
          char content_range[64];
          snprintf (content_range, sizeof content_range, "Content-Range: %lld-%lld",
                    (long long) sent, (long long) (sent + chunk - 1));
          const char *headers[] = { content_range, "Content-Type: application/octet-stream", NULL };
          client_request creq = { .method = "PATCH",
                                  .url = url,
                                  .headers = headers,
                                  .body_fd = fd,
                                  .body_offset = start + sent,
                                  .body_len = (size_t) chunk };
          sent_progress.base = sent;
          if (progress)
            {
              creq.sent = on_upload_sent;
              creq.sent_data = &sent_progress;
            }
          if (client_perform (client, &creq, &resp, err) < 0)
            return box_err_wrap (err, "upload blob %s", digest);
          if (resp.status != 202 || !resp.location)
            {
              cancel_upload (client, location);
              return status_error (client, &resp, "upload chunk", err);
            }
          free (location);
          location = TAKE_PTR (resp.location);
          http_response_clear (&resp);
          sent += chunk;
        }
    }
  _cleanup_free_ char *url = NULL;
  if (upload_url (client, location, digest, &url, err) < 0)
    return box_err_code (err);
  static const char *const headers[] = { "Content-Type: application/octet-stream", NULL };
  client_request creq = { .method = "PUT", .url = url, .headers = headers, .body_fd = -1 };
  if (sent < size)
    {
      creq.body_fd = fd;
      creq.body_offset = start;
      creq.body_len = (size_t) size;
      if (progress)
        {
          creq.sent = on_upload_sent;
          creq.sent_data = &sent_progress;
        }
    }
  if (client_perform (client, &creq, &resp, err) < 0)
    return box_err_wrap (err, "upload blob %s", digest);
  if (resp.status != 201)
    {
      cancel_upload (client, location);
      return status_error (client, &resp, "upload blob", err);
    }
  http_response_clear (&resp);
  return 0;
}

int
registry_put_manifest (registry_client *client, const char *reference, const char *media_type,
                       const char *body, size_t len, box_error **err)
{
  _cleanup_free_ char *url = NULL;
  _cleanup_free_ char *content_type = NULL;
  if (client_url (client, &url, "/v2/%s/manifests/%s", client->repository, reference) < 0
      || asprintf (&content_type, "Content-Type: %s", media_type) < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  const char *headers[] = { content_type, NULL };
  client_request creq = {
    .method = "PUT", .url = url, .headers = headers, .body = body, .body_len = len, .body_fd = -1
  };
  http_response resp;
  if (client_perform (client, &creq, &resp, err) < 0)
    return box_err_wrap (err, "push manifest %s:%s", client->repository, reference);
  if (resp.status != 201)
    return status_error (client, &resp, "push manifest", err);
  http_response_clear (&resp);
  return 0;
}

int
registry_check_credentials (const char *host, const char *username, const char *password,
                            const registry_settings *settings, box_error **err)
{
  _cleanup_ (registry_client_freep) registry_client *client = NULL;
  if (registry_client_new (host, NULL, REGISTRY_ACCESS_PULL, settings, &client, err) < 0)
    return box_err_code (err);
  client->current = client->n_endpoints - 1; /* the registry itself, never a mirror */
  client->fixed_username = username;
  client->fixed_password = password;
  _cleanup_free_ char *url = NULL;
  if (client_url (client, &url, "/v2/") < 0)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  client_request creq = { .method = "GET", .url = url, .body_fd = -1, .follow_redirects = true };
  http_response resp;
  if (client_perform (client, &creq, &resp, err) < 0)
    return box_err_code (err);
  if (resp.status != 200)
    return status_error (client, &resp, "login", err);
  http_response_clear (&resp);
  return 0;
}
