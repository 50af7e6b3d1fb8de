# Compile and link flags, set on each of the project's own targets rather
# than globally, so that a target can opt out (the fault-injecting PKCS#11
# module must load into programs that are not instrumented) and test code
# can be built for build speed rather than run speed.
#
#   mpa_apply_build_flags()   once, after every add_subdirectory()
#
# A target that must not be instrumented sets the property MPA_UNSANITIZED.
# Targets whose source folder is under tests/ are test code: built at -O0
# (they spend their time waiting on the code under test, which keeps the
# build type's optimisation) and without _FORTIFY_SOURCE (which needs -O1).

set(MPA_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
                 -Wnon-virtual-dtor -Wold-style-cast -Werror=return-type)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  # GCC 12 reports "forming offset ... out of the bounds", "reading/writing N
  # bytes into a region of size M" inside libstdc++'s own std::string
  # concatenation (char_traits::copy, inlined), depending on what else the
  # file includes: with the precompiled header, for many a
  # `std::string(...) + ...`. False positives of that compiler; the
  # AddressSanitizer build (clang) checks real bounds at run time.
  list(APPEND MPA_WARNINGS -Wno-array-bounds -Wno-stringop-overflow -Wno-stringop-overread)
endif()

set(MPA_SANITIZER_COMPILE_OPTIONS)
set(MPA_SANITIZER_LINK_OPTIONS)
if(MPA_SANITIZE)
  list(APPEND MPA_SANITIZER_COMPILE_OPTIONS -fsanitize=address,undefined -fno-omit-frame-pointer
       -fno-sanitize-recover=undefined)
  list(APPEND MPA_SANITIZER_LINK_OPTIONS -fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # RapidJSON 1.1.0 (Debian's) adds to a null pointer in internal::Stack on
    # the first push of every parse and write (Tencent/rapidjson#1724, fixed
    # after 1.1.0); clang's pointer-overflow check reports it for any JSON at
    # all. Only that class is exempted (GCC does not check this case).
    list(APPEND MPA_SANITIZER_COMPILE_OPTIONS
         -fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/cmake/ubsan-ignorelist.txt)
  endif()
endif()
if(MPA_TSAN)
  list(APPEND MPA_SANITIZER_COMPILE_OPTIONS -fsanitize=thread -fno-omit-frame-pointer)
  list(APPEND MPA_SANITIZER_LINK_OPTIONS -fsanitize=thread)
endif()

# ccache, when installed, unless a launcher was chosen on the command line.
find_program(MPA_CCACHE ccache)
if(MPA_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${MPA_CCACHE})
endif()

# Precompiled headers: the heavy third-party headers (Asio, RapidJSON,
# toml++, the standard library) compiled once for all libraries and
# executables, and once for all unit tests (tests/CMakeLists.txt). A build
# with -DMPA_PCH=OFF (scripts/test.sh's TSan stage) shows a file that
# forgets an #include.
option(MPA_PCH "Precompile the heavy third-party headers" ON)

# Asio without its deprecated interfaces, and Boost without MSVC's
# auto-linking (as its CMake targets ask), everywhere, so that every target
# sees the same macros: a precompiled header needs that.
set(MPA_DEFINITIONS BOOST_ASIO_NO_DEPRECATED BOOST_ALL_NO_LIB)

# Every buildsystem target defined in DIR and the folders below it.
function(mpa_targets_below dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(subdir ${subdirs})
    mpa_targets_below(${subdir} more)
    list(APPEND targets ${more})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(mpa_apply_build_flags)
  mpa_targets_below(${PROJECT_SOURCE_DIR} targets)
  if(MPA_PCH)
    add_library(mpa_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch.cpp)
    target_include_directories(mpa_pch SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})
    # Not <filesystem>: it brings std::quoted, which argument-dependent
    # lookup would then pick over the project's own quoted().
    target_precompile_headers(mpa_pch PRIVATE ${PROJECT_SOURCE_DIR}/cmake/pch.h)
    list(APPEND targets mpa_pch)
  endif()
  foreach(target ${targets})
    get_target_property(type ${target} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|MODULE_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$")
      continue()
    endif()
    get_target_property(source_dir ${target} SOURCE_DIR)
    string(FIND "${source_dir}/" "${PROJECT_SOURCE_DIR}/tests/" test_code)
    target_compile_definitions(${target} PRIVATE ${MPA_DEFINITIONS})
    target_compile_options(${target} PRIVATE ${MPA_WARNINGS} ${MPA_HARDENING_COMPILE_OPTIONS})
    target_link_options(${target} PRIVATE ${MPA_HARDENING_LINK_OPTIONS})
    if(test_code EQUAL 0)
      target_compile_options(${target} PRIVATE -O0)
    else()
      target_compile_options(${target} PRIVATE ${MPA_FORTIFY_OPTIONS})
    endif()
    get_target_property(unsanitized ${target} MPA_UNSANITIZED)
    if(unsanitized)
      continue()
    endif()
    target_compile_options(${target} PRIVATE ${MPA_SANITIZER_COMPILE_OPTIONS})
    target_link_options(${target} PRIVATE ${MPA_SANITIZER_LINK_OPTIONS})
    if(NOT test_code EQUAL 0 AND NOT target MATCHES "^fuzz_")
      if(MPA_FUZZ AND type MATCHES "LIBRARY$")
        # Coverage for libFuzzer in every library (the parsers are there);
        # its callbacks are the sanitizer runtime's no-ops in the programs
        # that are not fuzz targets.
        target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
      endif()
      # Libraries only: executables are built as PIE, libraries as PIC, and
      # a precompiled header serves one of the two.
      if(MPA_PCH AND type MATCHES "LIBRARY$" AND NOT target STREQUAL "mpa_pch")
        target_precompile_headers(${target} REUSE_FROM mpa_pch)
      endif()
    endif()
  endforeach()
endfunction()
