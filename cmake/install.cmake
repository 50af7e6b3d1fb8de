# What `cmake --install` puts where. Paths follow GNUInstallDirs, so a
# package build sets them with -DCMAKE_INSTALL_PREFIX=/usr and the like.

install(TARGETS maskinporten-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The example configuration goes with the documentation, not into
# /etc/maskinporten-agent/: its client_id and key are placeholders, so an
# agent.toml installed into sysconfdir would be a broken configuration that
# the service then starts with, and a reinstall must never overwrite the
# administrator's own file. Copy it from here (docs/OPERATIONS.md).
install(FILES packaging/agent.toml.example
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/maskinporten-agent/examples)

# systemd's own directories, as its pkg-config file names them (Debian 12:
# /lib/systemd/system, /usr/lib/sysusers.d); without systemd's .pc file,
# the usual places under the prefix. Override with -DMPA_SYSTEMD_UNIT_DIR=...
pkg_get_variable(mpa_pc_unit_dir systemd systemdsystemunitdir)
pkg_get_variable(mpa_pc_sysusers_dir systemd sysusersdir)
pkg_get_variable(mpa_pc_tmpfiles_dir systemd tmpfilesdir)
if(NOT mpa_pc_unit_dir)
  set(mpa_pc_unit_dir lib/systemd/system)
endif()
if(NOT mpa_pc_sysusers_dir)
  set(mpa_pc_sysusers_dir lib/sysusers.d)
endif()
if(NOT mpa_pc_tmpfiles_dir)
  set(mpa_pc_tmpfiles_dir lib/tmpfiles.d)
endif()
set(MPA_SYSTEMD_UNIT_DIR "${mpa_pc_unit_dir}" CACHE PATH "Where the systemd units are installed")
set(MPA_SYSUSERS_DIR "${mpa_pc_sysusers_dir}" CACHE PATH "Where the sysusers.d file is installed")
set(MPA_TMPFILES_DIR "${mpa_pc_tmpfiles_dir}" CACHE PATH "Where the tmpfiles.d file is installed")

# The service in packaging/ names /usr/local/bin, so that it can be copied
# as it is (docs/OPERATIONS.md, "systemd"); the installed one names the binary wherever
# the prefix put it, also with `cmake --install build --prefix DIR`, so the
# path is made at install time.
install(CODE "
  set(bindir \"${CMAKE_INSTALL_BINDIR}\")
  if(NOT IS_ABSOLUTE \"\${bindir}\")
    set(bindir \"\${CMAKE_INSTALL_PREFIX}/\${bindir}\")
  endif()
  file(READ \"${PROJECT_SOURCE_DIR}/packaging/maskinporten-agent.service\" unit)
  string(REPLACE \"/usr/local/bin/maskinporten-agent\" \"\${bindir}/maskinporten-agent\" unit \"\${unit}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/packaging/maskinporten-agent.service\" \"\${unit}\")
")
install(FILES ${PROJECT_BINARY_DIR}/packaging/maskinporten-agent.service
              packaging/maskinporten-agent.socket
        DESTINATION ${MPA_SYSTEMD_UNIT_DIR})
# The units run as maskinporten-agent; systemd-sysusers makes that user.
install(FILES packaging/maskinporten-agent.sysusers
        DESTINATION ${MPA_SYSUSERS_DIR} RENAME maskinporten-agent.conf)
# Its directories with owners and modes the units can use (runtime 0750,
# state 0700, /etc/maskinporten-agent 0750 root:maskinporten-agent).
install(FILES packaging/maskinporten-agent.tmpfiles
        DESTINATION ${MPA_TMPFILES_DIR} RENAME maskinporten-agent.conf)

# Man pages maskinporten-agent(1) and maskinporten-agent.toml(5), written in
# scdoc (docs/*.scd); built and installed when scdoc is found (Debian's
# scdoc package; scripts/setup.sh installs it).
find_program(MPA_SCDOC scdoc)
if(MPA_SCDOC)
  set(mpa_man_pages)
  foreach(page maskinporten-agent.1 maskinporten-agent.toml.5)
    string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
    add_custom_command(
      OUTPUT ${PROJECT_BINARY_DIR}/man/${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND ${MPA_SCDOC} < ${PROJECT_SOURCE_DIR}/docs/${page}.scd > ${PROJECT_BINARY_DIR}/man/${page}
      DEPENDS ${PROJECT_SOURCE_DIR}/docs/${page}.scd
      COMMENT "scdoc ${page}"
      VERBATIM)
    # Installed compressed, as Debian policy (and lintian) want them.
    add_custom_command(
      OUTPUT ${PROJECT_BINARY_DIR}/man/${page}.gz
      COMMAND gzip -9nkf ${PROJECT_BINARY_DIR}/man/${page}
      DEPENDS ${PROJECT_BINARY_DIR}/man/${page}
      VERBATIM)
    list(APPEND mpa_man_pages ${PROJECT_BINARY_DIR}/man/${page} ${PROJECT_BINARY_DIR}/man/${page}.gz)
    install(FILES ${PROJECT_BINARY_DIR}/man/${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(man ALL DEPENDS ${mpa_man_pages})
else()
  message(STATUS "scdoc not found: the man pages are not built (apt-get install scdoc)")
endif()

# bash completion, where bash-completion looks (its pkg-config file says;
# Debian: /usr/share/bash-completion/completions), named for the command.
pkg_get_variable(mpa_pc_completions_dir bash-completion completionsdir)
if(NOT mpa_pc_completions_dir)
  set(mpa_pc_completions_dir ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
endif()
set(MPA_BASH_COMPLETION_DIR "${mpa_pc_completions_dir}" CACHE PATH "Where the bash completion is installed")
install(FILES docs/maskinporten-agent.bash-completion
        DESTINATION ${MPA_BASH_COMPLETION_DIR} RENAME maskinporten-agent)
