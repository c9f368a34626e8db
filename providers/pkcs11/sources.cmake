# pkcs11: signer backend (RFC 7512 URIs through libp11), included by the top
# CMakeLists.txt when TFATTEST_WITH_PKCS11 is ON.
pkg_check_modules(LIBP11 REQUIRED IMPORTED_TARGET libp11)
# The PKCS#11 header (pkcs11.h) comes from p11-kit's development package;
# only the header is used, nothing is linked from p11-kit.
pkg_check_modules(P11KIT REQUIRED p11-kit-1)
if(NOT TARGET tfa_pkcs11_headers)
  add_library(tfa_pkcs11_headers INTERFACE)
  target_include_directories(tfa_pkcs11_headers INTERFACE ${P11KIT_INCLUDE_DIRS})
endif()

list(APPEND TFA_FULL_SOURCES
  providers/pkcs11/p11uri.c
  providers/pkcs11/p11core.c
  providers/pkcs11/p11list.c
  providers/pkcs11/pkcs11_signer.c
)
list(APPEND TFA_FULL_LIBS PkgConfig::LIBP11 tfa_pkcs11_headers ${CMAKE_DL_LIBS})
