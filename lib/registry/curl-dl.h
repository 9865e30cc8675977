/* libcurl, loaded on first use (see util/dynload.h for why). Include after <curl/curl.h> in
 * the files that call curl: the curl_* names below then go through the table. The functions
 * that start everything (global init, handle and list constructors) load the library first
 * and fail like libcurl does (NULL, CURLE_FAILED_INIT) when it cannot be loaded. */
#ifndef BOX_REGISTRY_CURL_DL_H
#define BOX_REGISTRY_CURL_DL_H

#include <curl/curl.h>
#include <stdbool.h>

#define BOX_CURL_FUNCTIONS(X)                                                                      \
  X (curl_easy_cleanup)                                                                            \
  X (curl_easy_escape)                                                                             \
  X (curl_easy_getinfo)                                                                            \
  X (curl_easy_init)                                                                               \
  X (curl_easy_perform)                                                                            \
  X (curl_easy_setopt)                                                                             \
  X (curl_easy_strerror)                                                                           \
  X (curl_free)                                                                                    \
  X (curl_global_init)                                                                             \
  X (curl_share_init)                                                                              \
  X (curl_share_setopt)                                                                            \
  X (curl_slist_append)                                                                            \
  X (curl_slist_free_all)                                                                          \
  X (curl_url)                                                                                     \
  X (curl_url_cleanup)                                                                             \
  X (curl_url_get)                                                                                 \
  X (curl_url_set)

/* curl's type-checking wrappers are macros of these names; the table replaces them */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt

typedef struct box_curl_api {
#define BOX_CURL_SLOT(name) __typeof__ (&name) name;
  BOX_CURL_FUNCTIONS (BOX_CURL_SLOT)
#undef BOX_CURL_SLOT
} box_curl_api;

extern box_curl_api box_curl;

/* Loads libcurl once (thread-safe); false when it cannot be loaded. */
bool box_curl_load (void);
/* Why the load failed ("" when it did not). */
const char *box_curl_load_error (void);

#define curl_global_init(flags) (box_curl_load () ? box_curl.curl_global_init (flags) : CURLE_FAILED_INIT)
#define curl_easy_init() (box_curl_load () ? box_curl.curl_easy_init () : NULL)
#define curl_share_init() (box_curl_load () ? box_curl.curl_share_init () : NULL)
#define curl_url() (box_curl_load () ? box_curl.curl_url () : NULL)
#define curl_slist_append(list, s) (box_curl_load () ? box_curl.curl_slist_append (list, s) : NULL)
#define curl_easy_escape(h, s, n) (box_curl_load () ? box_curl.curl_easy_escape (h, s, n) : NULL)
#define curl_easy_strerror(code)                                                                   \
  (box_curl_load () ? box_curl.curl_easy_strerror (code) : box_curl_load_error ())
/* the rest take what the functions above made, so the library is loaded */
#define curl_easy_cleanup (box_curl.curl_easy_cleanup)
#define curl_easy_getinfo (box_curl.curl_easy_getinfo)
#define curl_easy_perform (box_curl.curl_easy_perform)
#define curl_easy_setopt (box_curl.curl_easy_setopt)
#define curl_free (box_curl.curl_free)
#define curl_share_setopt (box_curl.curl_share_setopt)
#define curl_slist_free_all (box_curl.curl_slist_free_all)
#define curl_url_cleanup (box_curl.curl_url_cleanup)
#define curl_url_get (box_curl.curl_url_get)
#define curl_url_set (box_curl.curl_url_set)

#endif
