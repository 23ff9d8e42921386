# The project's own code builds with -Wall -Wextra -Werror; third-party headers come in as
# system includes through their imported targets, so their warnings do not stop the build.
function(gradients_strict_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
endfunction()
