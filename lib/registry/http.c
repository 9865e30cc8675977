/* Owns the libcurl plumbing: process-wide initialisation, a connection cache shared between
 * threads (so parallel layer downloads and the requests of one pull reuse connections), one
 * request/response exchange with bounded buffering or streaming, and header parsing. */
#include "registry/http.h"

#include "registry/curl-dl.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/strutil.h"

/* A registry that accepts the TCP connection but says nothing is a dead registry. */
#define HTTP_CONNECT_TIMEOUT_SECONDS 30L
/* A transfer slower than 1 byte/s for this long is stalled: fail it so the caller can retry
 * (and resume) instead of hanging forever. */
#define HTTP_STALL_SECONDS 60L
#define HTTP_MAX_REDIRECTS 10L

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLSH *http_share;
static pthread_mutex_t http_share_locks[CURL_LOCK_DATA_LAST];
static bool http_init_failed;

static void
share_lock (CURL *handle, curl_lock_data data, curl_lock_access access, void *userptr)
{
  pthread_mutex_lock (&http_share_locks[data]);
}

static void
share_unlock (CURL *handle, curl_lock_data data, void *userptr)
{
  pthread_mutex_unlock (&http_share_locks[data]);
}

static void
http_global_init (void)
{
  if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK)
    {
      http_init_failed = true;
      return;
    }
  for (size_t i = 0; i < ARRAY_SIZE (http_share_locks); i++)
    pthread_mutex_init (&http_share_locks[i], NULL);
  http_share = curl_share_init ();
  if (!http_share)
    return; /* still usable, just without connection reuse between handles */
  curl_share_setopt (http_share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt (http_share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt (http_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt (http_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  curl_share_setopt (http_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

typedef struct exchange {
  const http_request *req;
  http_response *resp;
  long current_status; /* of the response whose headers/body are arriving */
  char *buffer;
  size_t buffer_len, buffer_cap;
  bool buffer_overflow;
  box_error *sink_error;
  int64_t bytes_to_skip; /* of a 200 answer to a range request */
} exchange;

static void
set_header_value (char **slot, const char *value, size_t len)
{
  free (*slot);
  *slot = strndup (value, len);
}

static void
clear_headers (http_response *resp)
{
  char **slots[] = { &resp->www_authenticate, &resp->location,      &resp->docker_content_digest,
                     &resp->content_type,     &resp->content_range, &resp->retry_after };
  for (size_t i = 0; i < ARRAY_SIZE (slots); i++)
    {
      free (*slots[i]);
      *slots[i] = NULL;
    }
  resp->content_length = -1;
}

static size_t
on_header (char *data, size_t size, size_t nmemb, void *userdata)
{
  exchange *ex = userdata;
  size_t len = size * nmemb;
  if (len >= 5 && strncmp (data, "HTTP/", 5) == 0)
    {
      /* a new response (after a redirect or a 100 Continue): forget the previous headers */
      clear_headers (ex->resp);
      const char *space = memchr (data, ' ', len);
      ex->current_status = space ? strtol (space + 1, NULL, 10) : 0;
      return len;
    }
  const char *colon = memchr (data, ':', len);
  if (!colon)
    return len;
  size_t name_len = (size_t) (colon - data);
  const char *value = colon + 1;
  const char *end = data + len;
  while (value < end && (*value == ' ' || *value == '\t'))
    value++;
  while (end > value && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
    end--;
  size_t value_len = (size_t) (end - value);
  http_response *resp = ex->resp;

#define HEADER_IS(name) (name_len == strlen (name) && strncasecmp (data, name, name_len) == 0)
  if (HEADER_IS ("WWW-Authenticate"))
    {
      if (!resp->www_authenticate)
        set_header_value (&resp->www_authenticate, value, value_len);
    }
  else if (HEADER_IS ("Location"))
    set_header_value (&resp->location, value, value_len);
  else if (HEADER_IS ("Docker-Content-Digest"))
    set_header_value (&resp->docker_content_digest, value, value_len);
  else if (HEADER_IS ("Content-Type"))
    {
      const char *semicolon = memchr (value, ';', value_len);
      size_t type_len = semicolon ? (size_t) (semicolon - value) : value_len;
      while (type_len > 0 && value[type_len - 1] == ' ')
        type_len--;
      set_header_value (&resp->content_type, value, type_len);
    }
  else if (HEADER_IS ("Content-Range"))
    set_header_value (&resp->content_range, value, value_len);
  else if (HEADER_IS ("Retry-After"))
    set_header_value (&resp->retry_after, value, value_len);
  else if (HEADER_IS ("Content-Length"))
    {
      char digits[32];
      if (value_len < sizeof digits)
        {
          memcpy (digits, value, value_len);
          digits[value_len] = '\0';
          char *tail = NULL;
          long long n = strtoll (digits, &tail, 10);
          if (tail != digits && *tail == '\0' && n >= 0)
            resp->content_length = n;
        }
    }
#undef HEADER_IS
  return len;
}

static size_t
on_body (char *data, size_t size, size_t nmemb, void *userdata)
{
  exchange *ex = userdata;
  size_t len = size * nmemb;
  bool success = ex->current_status >= 200 && ex->current_status < 300;
  if (ex->req->sink && success)
    {
      if (ex->current_status == 200 && ex->bytes_to_skip > 0)
        {
          size_t skip = (int64_t) len < ex->bytes_to_skip ? len : (size_t) ex->bytes_to_skip;
          ex->bytes_to_skip -= (int64_t) skip;
          data += skip;
          if (skip == len)
            return size * nmemb;
          len -= skip;
          if (ex->req->sink (data, len, ex->req->sink_data, &ex->sink_error) < 0)
            return 0;
          return size * nmemb;
        }
      if (ex->req->sink (data, len, ex->req->sink_data, &ex->sink_error) < 0)
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
      return len;
    }
  if (ex->buffer_len + len > HTTP_MAX_BUFFERED_BODY)
    {
      ex->buffer_overflow = true;
      return 0;
    }
  if (ex->buffer_len + len + 1 > ex->buffer_cap)
    {
      size_t cap = ex->buffer_cap ? ex->buffer_cap : 4096;
      while (cap < ex->buffer_len + len + 1)
        cap *= 2;
      char *grown = realloc (ex->buffer, cap);
      if (!grown)
        return 0;
      ex->buffer = grown;
      ex->buffer_cap = cap;
    }
  memcpy (ex->buffer + ex->buffer_len, data, len);
  ex->buffer_len += len;
  ex->buffer[ex->buffer_len] = '\0';
  return len;
}

typedef struct body_source {
  const http_request *req;
  size_t offset;
} body_source;

static size_t
on_read_body (char *buffer, size_t size, size_t nitems, void *userdata)
{
  body_source *src = userdata;
  size_t want = size * nitems;
  size_t left = src->req->body_len - src->offset;
  if (want > left)
    want = left;
  if (want == 0)
    return 0;
  if (src->req->body_fd < 0)
    {
      memcpy (buffer, (const char *) src->req->body + src->offset, want);
      src->offset += want;
      return want;
    }
  for (;;)
    {
      ssize_t n = read (src->req->body_fd, buffer, want);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return CURL_READFUNC_ABORT;
      src->offset += (size_t) n;
      if (src->req->sent)
        src->req->sent (src->offset, src->req->sent_data);
      return (size_t) n;
    }
}

static char *
host_of_url (const char *url)
{
  CURLU *u = curl_url ();
  if (!u)
    return NULL;
  char *host = NULL, *port = NULL, *result = NULL;
  if (curl_url_set (u, CURLUPART_URL, url, 0) == CURLUE_OK
      && curl_url_get (u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
    {
      if (curl_url_get (u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port)
        {
          if (asprintf (&result, "%s:%s", host, port) < 0)
            result = NULL;
        }
      else
        result = strdup (host);
    }
  curl_free (host);
  curl_free (port);
  curl_url_cleanup (u);
  return result;
}

/* Failures a later attempt may not see: the network or the server hiccuped. A refused TLS
 * handshake, a bad URL or a refused protocol will fail the same way again. */
static bool
transport_error_is_transient (CURLcode rc)
{
  switch (rc)
    {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
    }
}

static void
curl_easy_cleanupp (CURL **c)
{
  if (*c)
    curl_easy_cleanup (*c);
}

static void
curl_slist_free_allp (struct curl_slist **l)
{
  if (*l)
    curl_slist_free_all (*l);
}

int
http_perform (const http_request *req, http_response *resp, box_error **err)
{
  pthread_once (&http_once, http_global_init);
  if (http_init_failed)
    return box_err (err, BOX_E_INTERNAL, "libcurl initialisation failed");

  memset (resp, 0, sizeof *resp);
  resp->content_length = -1;

  _cleanup_ (curl_easy_cleanupp) CURL *curl = curl_easy_init ();
  if (!curl)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  _cleanup_ (curl_slist_free_allp) struct curl_slist *headers = NULL;
  for (const char *const *h = req->headers; h && *h; h++)
    {
      struct curl_slist *more = curl_slist_append (headers, *h);
      if (!more)
        return box_err (err, BOX_E_INTERNAL, "out of memory");
      headers = more;
    }
  /* no 100-continue round trip before upload bodies: registries answer directly */
  struct curl_slist *more = curl_slist_append (headers, "Expect:");
  if (!more)
    return box_err (err, BOX_E_INTERNAL, "out of memory");
  headers = more;

  exchange ex = { .req = req, .resp = resp, .bytes_to_skip = req->range_start };
  body_source src = { .req = req };
  char curl_message[CURL_ERROR_SIZE] = "";
  const char *protocols = req->allow_insecure_http ? "http,https" : "https";

  curl_easy_setopt (curl, CURLOPT_URL, req->url);
  curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, protocols);
  curl_easy_setopt (curl, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (curl, CURLOPT_USERAGENT, "box/" BOX_VERSION);
  curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, curl_message);
  curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (curl, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, &ex);
  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, HTTP_CONNECT_TIMEOUT_SECONDS);
  curl_easy_setopt (curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt (curl, CURLOPT_LOW_SPEED_TIME, HTTP_STALL_SECONDS);
  /* blob downloads are big: a larger receive buffer means fewer callbacks */
  curl_easy_setopt (curl, CURLOPT_BUFFERSIZE, 512L * 1024);
  if (http_share)
    curl_easy_setopt (curl, CURLOPT_SHARE, http_share);
  if (req->follow_redirects)
    {
      curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt (curl, CURLOPT_MAXREDIRS, HTTP_MAX_REDIRECTS);
      /* an Authorization header set here is never sent to another host (libcurl's rule for
         custom headers unless CURLOPT_UNRESTRICTED_AUTH, which stays off) */
    }

  bool has_body = req->body || req->body_fd >= 0;
  if (strcmp (req->method, "HEAD") == 0)
    curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
  else if (strcmp (req->method, "GET") != 0)
    {
      curl_easy_setopt (curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt (curl, CURLOPT_INFILESIZE_LARGE,
                        (curl_off_t) (has_body ? req->body_len : 0));
      curl_easy_setopt (curl, CURLOPT_READFUNCTION, on_read_body);
      curl_easy_setopt (curl, CURLOPT_READDATA, &src);
      curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, req->method);
    }

  CURLcode rc = curl_easy_perform (curl);
  if (ex.sink_error)
    {
      free (ex.buffer);
      http_response_clear (resp);
      box_err_propagate (err, &ex.sink_error);
      return box_err_code (err);
    }
  if (ex.buffer_overflow)
    {
      free (ex.buffer);
      http_response_clear (resp);
      return box_err (err, BOX_E_IO, "response from %s larger than %u bytes", req->url,
                      HTTP_MAX_BUFFERED_BODY);
    }
  if (rc != CURLE_OK)
    {
      free (ex.buffer);
      http_response_clear (resp);
      resp->transport_failed = transport_error_is_transient (rc);
      return box_err (err, BOX_E_IO, "%s %s: %s", req->method, req->url,
                      curl_message[0] ? curl_message : curl_easy_strerror (rc));
    }
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &resp->status);
  resp->body = ex.buffer;
  resp->body_len = ex.buffer_len;
  char *effective_url = NULL;
  if (curl_easy_getinfo (curl, CURLINFO_EFFECTIVE_URL, &effective_url) == CURLE_OK && effective_url)
    resp->effective_host = host_of_url (effective_url);
  return 0;
}

void
http_response_clear (http_response *resp)
{
  if (!resp)
    return;
  clear_headers (resp);
  free (resp->body);
  free (resp->effective_host);
  resp->body = NULL;
  resp->effective_host = NULL;
  resp->body_len = 0;
  resp->status = 0;
}

char *
http_query_escape (const char *s)
{
  char *escaped = curl_easy_escape (NULL, s, 0);
  if (!escaped)
    return NULL;
  char *copy = strdup (escaped);
  curl_free (escaped);
  return copy;
}

bool
http_host_is_loopback (const char *host_with_port)
{
  if (!host_with_port)
    return false;
  char host[256];
  const char *start = host_with_port;
  size_t len;
  if (*start == '[')
    {
      const char *close = strchr (start, ']');
      if (!close)
        return false;
      start++;
      len = (size_t) (close - start);
    }
  else
    {
      const char *colon = strchr (start, ':');
      /* a bare IPv6 address has several colons and no port */
      if (colon && strchr (colon + 1, ':'))
        colon = NULL;
      len = colon ? (size_t) (colon - start) : strlen (start);
    }
  if (len == 0 || len >= sizeof host)
    return false;
  memcpy (host, start, len);
  host[len] = '\0';
  if (strcasecmp (host, "localhost") == 0)
    return true;
  struct in_addr v4;
  if (inet_pton (AF_INET, host, &v4) == 1)
    return (ntohl (v4.s_addr) >> 24) == 127;
  struct in6_addr v6;
  if (inet_pton (AF_INET6, host, &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK (&v6);
  return false;
}
