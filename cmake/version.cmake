# The version, from git: a tag vX.Y.Z on the commit gives X.Y.Z; N commits
# after it gives X.Y.Z+N.gHASH (sorts after X.Y.Z for dpkg); a tree with no
# tag or no git (a tarball) gives 0.0.0+unknown. The date of the package's
# changelog entry is the commit's (or SOURCE_DATE_EPOCH's), so two builds of
# one commit make the same package. Neither is typed by hand: a release is
# a tag. Read at configure time.
#   sets MPA_VERSION, MPA_VERSION_DATE (RFC 2822, as debian/changelog wants)

find_package(Git QUIET)
set(MPA_VERSION "0.0.0+unknown")
set(MPA_VERSION_DATE "")
if(GIT_FOUND AND EXISTS ${PROJECT_SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --tags --match "v[0-9]*" --abbrev=7 --long
                  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                  OUTPUT_VARIABLE mpa_describe OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE mpa_describe_failed ERROR_QUIET)
  if(NOT mpa_describe_failed AND mpa_describe MATCHES "^v([0-9]+\\.[0-9]+\\.[0-9]+)-([0-9]+)-g([0-9a-f]+)$")
    if(CMAKE_MATCH_2 EQUAL 0)
      set(MPA_VERSION "${CMAKE_MATCH_1}")
    else()
      set(MPA_VERSION "${CMAKE_MATCH_1}+${CMAKE_MATCH_2}.g${CMAKE_MATCH_3}")
    endif()
  else()
    execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short=7 HEAD
                    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                    OUTPUT_VARIABLE mpa_hash OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(mpa_hash)
      set(MPA_VERSION "0.0.0+g${mpa_hash}")
    endif()
  endif()
  execute_process(COMMAND ${GIT_EXECUTABLE} log -1 --format=%cD
                  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                  OUTPUT_VARIABLE MPA_VERSION_DATE OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
if(NOT MPA_VERSION_DATE)
  # SOURCE_DATE_EPOCH when set (reproducible builds), else now.
  string(TIMESTAMP MPA_VERSION_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
endif()
# The numeric part, for project(VERSION): CMake takes digits and dots only.
string(REGEX MATCH "^[0-9]+\\.[0-9]+\\.[0-9]+" MPA_VERSION_NUMBER "${MPA_VERSION}")
