# Hardened compile and link flags, on by default (-DMPA_HARDEN=OFF drops
# them): the set Debian's dpkg-buildflags "hardening=+all" and Fedora's
# redhat-hardened-cc1 use. Each flag is checked, so another compiler or
# linker that lacks one builds without it instead of failing. Sets
# MPA_HARDENING_COMPILE_OPTIONS, MPA_HARDENING_LINK_OPTIONS and
# MPA_FORTIFY_OPTIONS, which cmake/build_flags.cmake puts on each target.
include(CheckCXXCompilerFlag)
include(CheckCXXSourceCompiles)
include(CheckLinkerFlag)
include(CheckPIESupported)

# PIE, so that ASLR moves the executable too.
check_pie_supported(OUTPUT_VARIABLE mpa_pie_output LANGUAGES CXX)
if(CMAKE_CXX_LINK_PIE_SUPPORTED)
  set(CMAKE_POSITION_INDEPENDENT_CODE ON)
else()
  message(WARNING "PIE is not supported here, the executable is built without it: ${mpa_pie_output}")
endif()

# _FORTIFY_SOURCE checks buffer sizes in libc calls, and works only when
# optimising. Level 3 (glibc 2.34 and a compiler with
# __builtin_dynamic_object_size) also sees sizes known only at run time.
# Not with the sanitizers: they intercept the same libc functions, and the
# fortified variants would bypass their checks.
if(NOT MPA_SANITIZE AND NOT MPA_TSAN)
  set(CMAKE_REQUIRED_FLAGS "-O2 -D_FORTIFY_SOURCE=3")
  check_cxx_source_compiles([[
    #include <cstring>
    #if !defined(__USE_FORTIFY_LEVEL) || __USE_FORTIFY_LEVEL < 3
    #error no _FORTIFY_SOURCE=3
    #endif
    int main() { return 0; }]] MPA_HAVE_FORTIFY_SOURCE_3)
  unset(CMAKE_REQUIRED_FLAGS)
  if(MPA_HAVE_FORTIFY_SOURCE_3)
    set(mpa_fortify 3)
  else()
    set(mpa_fortify 2)
  endif()
  # -U first: some compilers (Ubuntu's) define it already, at another level.
  set(MPA_FORTIFY_OPTIONS "$<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE;-D_FORTIFY_SOURCE=${mpa_fortify}>")
endif()

set(mpa_hardening_flags -fstack-protector-strong -fstack-clash-protection)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  list(APPEND mpa_hardening_flags -fcf-protection)   # Intel CET: shadow stack, IBT
endif()
foreach(flag ${mpa_hardening_flags})
  string(MAKE_C_IDENTIFIER "MPA_HAVE${flag}" have)
  check_cxx_compiler_flag(${flag} ${have})
  if(${have})
    list(APPEND MPA_HARDENING_COMPILE_OPTIONS ${flag})
  endif()
endforeach()

# Full RELRO (the GOT read-only after start-up; every symbol bound at load)
# and a stack that is never executable.
foreach(flag -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)
  string(MAKE_C_IDENTIFIER "MPA_HAVE${flag}" have)
  check_linker_flag(CXX ${flag} ${have})
  if(${have})
    list(APPEND MPA_HARDENING_LINK_OPTIONS ${flag})
  endif()
endforeach()
