# Debian packages, made with `cpack -G DEB` in a build directory (scripts/package.sh
# makes all three):
#   tfattest          the full command (a full build's `runtime` component)
#   libtfattest-dev   headers, libtfattest.a, libtfattest.so and tfattest.pc (`dev`)
#   tfattest-verify   the verifier-only build's command, installed as
#                     /usr/bin/tfattest-verify: what an auditor installs; it
#                     depends on libssl and libcjson alone (and libc)
# Dependencies on shared libraries are computed by dpkg-shlibdeps from the
# binaries themselves, so they list exactly what the programs link.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tfattest)
set(CPACK_PACKAGE_VENDOR tfattest)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_HOMEPAGE_URL "https://github.com/tfattest/tfattest")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "tfattest maintainers")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING IGNORE)
if(TFATTEST_VERIFIER_ONLY)
  set(CPACK_COMPONENTS_ALL runtime)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME tfattest-verify)
  set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
      "offline verifier for tfattest deployment attestation bundles\n"
      "tfattest-verify checks an exported tfattest bundle (a directory, .tar.gz or .zip):\n"
      "its manifest, key chain, files, hash chain, artifact signatures, checkpoints and\n"
      "timestamps. It is the verifier-only build: no network code, no signer, no store.")
else()
  set(CPACK_COMPONENTS_ALL runtime dev)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME tfattest)
  set(CPACK_DEBIAN_DEV_PACKAGE_NAME libtfattest-dev)
  set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
  # The headers and the static library need the libraries tfattest.pc names.
  set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
      "libssl-dev, libcjson-dev, libcurl4-openssl-dev, libp11-dev, zlib1g-dev")
  set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
      "signed, hash-chained records of Terraform deployments\n"
      "tfattest records every Terraform deployment as a signed, hash-chained, write-once\n"
      "record, with the key in a PKCS#11 token or AWS KMS, and exports bundles that an\n"
      "auditor verifies offline.")
  set(CPACK_COMPONENT_DEV_DESCRIPTION
      "tfattest library: headers, static and shared libraries, pkg-config file\n"
      "The libtfattest C library behind the tfattest command: capture, signing, chains,\n"
      "stores, export and the offline verifier.")
endif()
include(CPack)
