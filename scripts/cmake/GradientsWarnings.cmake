# The project's own code builds with -Wall -Wextra -Werror; third-party headers come in as
# system includes through their imported targets, so their warnings do not stop the build.
function(gradients_strict_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  # GCC 12 at -O3 (a Release build) warns that std::string's own copies overlap (-Wrestrict, GCC
  # bug 105329): a false positive inside the standard library, kept as a warning only there.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE $<$<CONFIG:Release>:-Wno-error=restrict>)
  endif()
endfunction()
