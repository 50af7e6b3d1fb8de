// The owners of the C handles pkcs11/ uses: the OpenSSL ones from
// common/openssl_handles.h, libp11's context declared here, all through
// common/handle.h's Handle<T>. Private to pkcs11/.
#pragma once

#include <libp11.h>

#include "common/handle.h"
#include "common/openssl_handles.h"

// Frees the context only; unloading the module (C_Finalize) is the job of
// ModuleSession, which knows whether it was loaded.
MPA_HANDLE_DELETER(PKCS11_CTX, PKCS11_CTX_free);
