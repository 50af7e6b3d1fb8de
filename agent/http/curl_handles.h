// Handle<T> for the libcurl types the agent owns (see common/handle.h).
// Private to agent/http/.
#pragma once

#include <curl/curl.h>

#include "common/handle.h"

// libcurl's public header makes CURL a typedef of void, so this is
// Deleter<void>: no other void handle may get one.
MPA_HANDLE_DELETER(CURL, curl_easy_cleanup);
MPA_HANDLE_DELETER(curl_slist, curl_slist_free_all);
