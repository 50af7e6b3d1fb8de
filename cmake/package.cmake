# The Debian package: `cpack -G DEB` in the build folder (docs/OPERATIONS.md,
# "The package"). The install rules (cmake/install.cmake) with prefix /usr,
# plus what only the package carries (component "package"): the
# configuration as the conffile /etc/maskinporten-agent/agent.toml,
# copyright and changelog. Maintainer scripts in packaging/deb/ make the
# account and directories (sysusers.d, tmpfiles.d) and enable nothing. The
# version and the changelog's date come from git (cmake/version.cmake).
install(FILES packaging/agent.toml.example DESTINATION /etc/maskinporten-agent RENAME agent.toml
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ COMPONENT package EXCLUDE_FROM_ALL)
set(MPA_PACKAGE_CONTACT "maskinporten-agent maintainers <maskinporten-agent@example.org>"
    CACHE STRING "The package's Maintainer: (a placeholder until the project has an address)")
file(WRITE ${PROJECT_BINARY_DIR}/packaging/changelog
     "maskinporten-agent (${MPA_VERSION}) unstable; urgency=medium\n\n"
     "  * Built from the project's tree with cpack -G DEB.\n\n"
     " -- ${MPA_PACKAGE_CONTACT}  ${MPA_VERSION_DATE}\n")
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/packaging/changelog.gz
                   COMMAND gzip -9nf -k ${PROJECT_BINARY_DIR}/packaging/changelog
                   DEPENDS ${PROJECT_BINARY_DIR}/packaging/changelog VERBATIM)
add_custom_target(package_changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/packaging/changelog.gz)
install(FILES packaging/copyright ${PROJECT_BINARY_DIR}/packaging/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/maskinporten-agent COMPONENT package EXCLUDE_FROM_ALL)

set(CPACK_PACKAGE_NAME maskinporten-agent)
set(CPACK_PACKAGE_VERSION ${MPA_VERSION})
set(CPACK_PACKAGE_VENDOR "maskinporten-agent")
set(CPACK_PACKAGE_CONTACT "${MPA_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Maskinporten access tokens from a key on a PKCS#11 token")
set(CPACK_PACKAGE_DESCRIPTION
    "Signs Maskinporten JWT grants on a PKCS#11 token and serves the tokens locally.")
# Installed with DESTDIR and prefix /usr, so that what install rules write
# at install time (the unit's ExecStart=) names /usr/bin, not a staging path.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_COMPONENTS_ALL Unspecified package)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# systemd-sysusers and systemd-tmpfiles, for postinst; the libraries come from shlibdeps.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd | systemd-standalone-sysusers")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/deb/conffiles ${PROJECT_SOURCE_DIR}/packaging/deb/postinst
    ${PROJECT_SOURCE_DIR}/packaging/deb/prerm ${PROJECT_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
