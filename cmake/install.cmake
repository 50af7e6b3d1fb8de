# What `cmake --install` puts where. Paths follow GNUInstallDirs, so a
# package build sets them with -DCMAKE_INSTALL_PREFIX=/usr and the like.

install(TARGETS maskinporten-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The example configuration goes with the documentation, not into
# /etc/maskinporten-agent/: its client_id and key are placeholders, so an
# agent.toml installed into sysconfdir would be a broken configuration that
# the service then starts with, and a reinstall must never overwrite the
# administrator's own file. Copy it from here (see the README).
install(FILES packaging/agent.toml.example
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/maskinporten-agent/examples)

# systemd's own directories, as its pkg-config file names them (Debian 12:
# /lib/systemd/system, /usr/lib/sysusers.d); without systemd's .pc file,
# the usual places under the prefix. Override with -DMPA_SYSTEMD_UNIT_DIR=...
pkg_get_variable(mpa_pc_unit_dir systemd systemdsystemunitdir)
pkg_get_variable(mpa_pc_sysusers_dir systemd sysusersdir)
if(NOT mpa_pc_unit_dir)
  set(mpa_pc_unit_dir lib/systemd/system)
endif()
if(NOT mpa_pc_sysusers_dir)
  set(mpa_pc_sysusers_dir lib/sysusers.d)
endif()
set(MPA_SYSTEMD_UNIT_DIR "${mpa_pc_unit_dir}" CACHE PATH "Where the systemd units are installed")
set(MPA_SYSUSERS_DIR "${mpa_pc_sysusers_dir}" CACHE PATH "Where the sysusers.d file is installed")

# The service in packaging/ names /usr/local/bin, so that it can be copied
# as it is (README, "systemd"); the installed one names the binary wherever
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
