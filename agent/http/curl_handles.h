// Handle<T> for the libcurl types the agent owns (see common/handle.h).
// Private to agent/http/.
#pragma once

// Without CURL_STRICTER libcurl's header makes CURL a typedef of void, and
// its deleter would be Deleter<void>, a catch-all for any void pointer.
// With it, CURL is the distinct type struct Curl_easy. mpa_http defines it
// for every file of its own (agent/CMakeLists.txt); this check keeps a
// file that includes curl.h first from getting the void one.
#if !defined(CURL_STRICTER)
#error "agent/http/ builds with CURL_STRICTER (CURL is struct Curl_easy, not void)"
#endif

#include <curl/curl.h>

#include "common/handle.h"

MPA_HANDLE_DELETER(CURL, curl_easy_cleanup);
MPA_HANDLE_DELETER(curl_slist, curl_slist_free_all);
