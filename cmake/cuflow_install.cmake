# Installation and packaging: `cmake --install` puts the CLI, the shared
# library (built from the static library's objects, so nothing is compiled
# twice), the static library, the public headers, a pkg-config file
# (cuflow.pc) and a CMake package (find_package(cuflow): cuflow::cuflow,
# cuflow::cuflow_static) under the prefix; `cpack -G DEB` makes a Debian
# package of the same for GPU nodes. Both description files are
# relocatable: they find the prefix from where they are installed.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

add_library(cuflow_shared SHARED $<TARGET_OBJECTS:cuflow>)
set_target_properties(cuflow_shared PROPERTIES OUTPUT_NAME cuflow VERSION ${PROJECT_VERSION}
                                               SOVERSION ${PROJECT_VERSION_MAJOR})
target_link_libraries(cuflow_shared PRIVATE PkgConfig::PCAP PkgConfig::ZLIB PkgConfig::ZSTD PkgConfig::LZ4
                                            PkgConfig::LZMA PkgConfig::FFTW PkgConfig::PNG PkgConfig::SQLITE Threads::Threads m)
if(TARGET cuflow_snappy)  # Parquet's SNAPPY pages
  target_link_libraries(cuflow_shared PRIVATE cuflow_snappy)
endif()
if(CUFLOW_HAVE_CUDA)
  target_link_libraries(cuflow_shared PRIVATE CUDA::cudart_static ${CMAKE_DL_LIBS})
  set_target_properties(cuflow_shared PROPERTIES LINKER_LANGUAGE CUDA)
endif()

# What a consumer of the static library must link besides it.
set(CUFLOW_PC_REQUIRES_PRIVATE "libpcap zlib libzstd liblz4 liblzma fftw3 libpng sqlite3")
set(CUFLOW_STATIC_LIBS "-lpcap;-lz;-lzstd;-llz4;-llzma;-lfftw3;-lpng16;-lsqlite3;-lpthread;-lm")
if(TARGET cuflow_snappy)
  list(APPEND CUFLOW_STATIC_LIBS "-lsnappy")  # C++: -lstdc++ below or from the linker driver
  list(APPEND CUFLOW_STATIC_LIBS "-lstdc++")
endif()
if(CUFLOW_HAVE_CUDA)
  # the kernels (Thrust) need the C++ runtime and CUDA's static runtime
  list(APPEND CUFLOW_STATIC_LIBS "${CUDAToolkit_LIBRARY_DIR}/libcudart_static.a" "-ldl" "-lrt" "-lstdc++")
endif()
list(JOIN CUFLOW_STATIC_LIBS " " CUFLOW_PC_LIBS_PRIVATE)

configure_file(${PROJECT_SOURCE_DIR}/cmake/cuflow.pc.in ${PROJECT_BINARY_DIR}/cuflow.pc @ONLY)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cuflowConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/cuflowConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cuflow)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cuflowConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)

install(TARGETS cuflow_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS cuflow_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS cuflow ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/cuflow DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/cuflow.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${PROJECT_BINARY_DIR}/cuflowConfig.cmake ${PROJECT_BINARY_DIR}/cuflowConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cuflow)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---------------------------------------------------------------- cpack -G DEB
set(CPACK_PACKAGE_NAME cuflow)
set(CPACK_PACKAGE_VENDOR "cuflow")
set(CPACK_PACKAGE_CONTACT "cuflow developers <cuflow@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "packet-capture archives to flows, features and training tensors (CLI and C library)")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
find_program(CUFLOW_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(CUFLOW_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends from the binaries' libraries
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "libpcap0.8, zlib1g, libzstd1, liblz4-1, liblzma5, libfftw3-double3, libpng16-16, libsqlite3-0")
endif()
include(CPack)
