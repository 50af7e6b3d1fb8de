// Linked into sanitizer builds only (MPA_SANITIZE). PKCS#11 modules keep
// some allocations until they are unloaded; once libp11 has dlclose'd a
// module, LeakSanitizer reports those allocations as "<unknown module>",
// which no suppression can name. Keeping every module mapped until exit
// lets tests/lsan.supp name them (libsofthsm2.so, pkcs11-spy.so) while our
// own leaks are still reported.
#include <dlfcn.h>

extern "C" int dlclose(void*) { return 0; }
