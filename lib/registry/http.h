/* One HTTP exchange over libcurl, as the registry client needs it: custom headers, a request
 * body from memory or a file descriptor, the response body either buffered (bounded) or
 * streamed to a sink, the few response headers the distribution protocol uses, redirects
 * followed without forwarding credentials to another host. No retries and no authentication
 * here: the client layers those on top, because both depend on what the exchange was for. */
#ifndef BOX_REGISTRY_HTTP_H
#define BOX_REGISTRY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

/* A buffered response body larger than this is an error: manifests, configs, tokens and
 * error documents are small, and a hostile server must not make us allocate without bound. */
#define HTTP_MAX_BUFFERED_BODY (16u * 1024 * 1024)

/* Receives streamed response bytes; returns 0, or <0 (with *err set) to abort the transfer. */
typedef int (*http_sink_fn) (const void *data, size_t len, void *userdata, box_error **err);

/* Told how many request body bytes have been handed to the connection so far (this attempt). */
typedef void (*http_sent_fn) (uint64_t sent, void *userdata);

typedef struct http_request {
  const char *method; /* "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE" */
  const char *url;
  const char *const *headers; /* "Name: value" lines, NULL-terminated, or NULL */
  const void *body;           /* request body from memory ... */
  size_t body_len;
  int body_fd; /* ... or from a file descriptor (-1: none), body_len bytes */
  http_sent_fn sent; /* NULL: not told */
  void *sent_data;
  bool follow_redirects;
  bool allow_insecure_http; /* http:// (and redirects to it) permitted */
  http_sink_fn sink;        /* NULL: buffer the body (2xx/3xx/4xx/5xx alike) */
  void *sink_data;
  /* When a "Range: bytes=<range_start>-" was asked for and the server answers 200 with the
     whole body anyway, the first range_start bytes are dropped before the sink sees any. */
  int64_t range_start;
  /* A sink only sees 2xx bodies; error bodies are always buffered for their message. */
} http_request;

#define HTTP_REQUEST_INIT                                                                          \
  {                                                                                                \
    .method = "GET", .body_fd = -1                                                                 \
  }

typedef struct http_response {
  long status;
  char *body; /* NUL-terminated; NULL when streamed to a sink */
  size_t body_len;
  char *www_authenticate;      /* the first challenge header, or NULL */
  char *location;              /* Location (uploads), or NULL */
  char *docker_content_digest; /* Docker-Content-Digest, or NULL */
  char *content_type;          /* Content-Type without parameters, or NULL */
  char *content_range;         /* Content-Range, or NULL */
  char *retry_after;           /* Retry-After, or NULL */
  int64_t content_length;      /* -1 when unknown */
  char *effective_host;        /* host of the final URL after redirects */
  bool transport_failed;       /* no complete HTTP answer for a reason that may pass:
                                    connection refused or reset, timeout, short body */
} http_response;

/* Performs req. A transport failure (no complete response) returns BOX_E_IO with the reason;
 * resp->transport_failed tells a transient one (worth retrying) from a permanent one and
 * from a sink's own error; an
 * HTTP error status is NOT a failure here: the caller reads resp->status. */
int http_perform (const http_request *req, http_response *resp, box_error **err);

void http_response_clear (http_response *resp);

/* Escapes s for use in a query string. Returns NULL only when out of memory. */
char *http_query_escape (const char *s);

/* True for hosts that are on this machine: localhost, 127.0.0.0/8, ::1 (with or without
 * brackets and a :port). */
bool http_host_is_loopback (const char *host_with_port);

#endif
