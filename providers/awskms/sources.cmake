# awskms: signer backend (AWS KMS Sign / GetPublicKey through src/aws), included
# by the top CMakeLists.txt when TFATTEST_WITH_AWS is ON.
list(APPEND TFA_FULL_SOURCES
  providers/awskms/kmsuri.c
  providers/awskms/awskms_signer.c
)
