# Finds libsodium as the imported target Sodium::Sodium (see GradientsFindLibrary.cmake).
include(GradientsFindLibrary)
gradients_find_library(Sodium "libsodium>=1.0.18" sodium.h sodium)
set(Sodium_FOUND TRUE)
