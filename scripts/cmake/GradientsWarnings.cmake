# The project's own code builds with -Wall -Wextra -Werror; third-party headers come in as
# system includes through their imported targets, so their warnings do not stop the build.
# CUDA sources (trainers/cuda_kernels.cu): nvcc's own warnings are errors, and the host
# compiler's -Wall -Wextra apply to the host code.
function(gradients_strict_warnings target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Werror>
                                           $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings -Xcompiler=-Wall,-Wextra>)
  # GCC 12 at -O3 (a Release build) warns that std::string's own copies overlap (-Wrestrict, GCC
  # bug 105329): a false positive inside the standard library, kept as a warning only there.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE $<$<CONFIG:Release>:-Wno-error=restrict>)
  endif()
endfunction()
