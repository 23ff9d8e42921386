# Uses ccache for every compiler of the build when it is installed.
find_program(GRADIENTS_CCACHE ccache)
if(GRADIENTS_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${GRADIENTS_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${GRADIENTS_CCACHE})
endif()
