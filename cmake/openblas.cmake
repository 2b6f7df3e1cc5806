# openblas.cmake: finds OpenBLAS for nnscope_core and the benchmarks, once.
#
# nnscope splits its own element loops over the cores with OpenMP. The pthread build of
# OpenBLAS (Debian's default alternative) keeps a second thread pool: after each OpenMP
# region libgomp's workers spin while OpenBLAS's threads want the same cores, and two
# threads ran the large benchmark no faster than one (3.37 ms vs 3.52 ms). OpenBLAS's
# advice for OpenMP programs is its OpenMP build (USE_OPENMP=1), which runs the GEMMs on
# libgomp's pool: Debian's libopenblas-openmp-dev. It is linked by path with a RUNPATH to its
# folder, so the programs load it whatever the system's libopenblas.so.0 alternative says.
# Included once by the top-level CMakeLists.txt; sets NNSCOPE_BLAS_LIBRARIES and
# NNSCOPE_CBLAS_INCLUDE_DIR and defines nnscope_link_openblas().

set(_nnscope_openmp_blas_dir /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp)
find_library(NNSCOPE_OPENBLAS_OPENMP openblas PATHS ${_nnscope_openmp_blas_dir} NO_DEFAULT_PATH)
find_path(NNSCOPE_OPENBLAS_OPENMP_INCLUDE cblas.h
          PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH)
if(NNSCOPE_OPENBLAS_OPENMP AND NNSCOPE_OPENBLAS_OPENMP_INCLUDE)
  set(NNSCOPE_BLAS_LIBRARIES ${NNSCOPE_OPENBLAS_OPENMP})
  set(NNSCOPE_CBLAS_INCLUDE_DIR ${NNSCOPE_OPENBLAS_OPENMP_INCLUDE})
  set(NNSCOPE_BLAS_RUNPATH ${_nnscope_openmp_blas_dir})
  message(STATUS "nnscope: OpenBLAS (OpenMP build) at ${NNSCOPE_OPENBLAS_OPENMP}")
else()
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS REQUIRED)
  find_path(NNSCOPE_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas
            ${CMAKE_LIBRARY_ARCHITECTURE}/openblas-pthread REQUIRED)
  set(NNSCOPE_BLAS_LIBRARIES ${BLAS_LIBRARIES})
  set(NNSCOPE_BLAS_RUNPATH "")
  message(STATUS "nnscope: OpenBLAS's OpenMP build not found, using ${BLAS_LIBRARIES}: "
                 "with OpenMP too, more than one thread may not pay")
endif()

# Links OpenBLAS into `target` and makes it load the same build at run time.
function(nnscope_link_openblas target)
  target_include_directories(${target} PRIVATE ${NNSCOPE_CBLAS_INCLUDE_DIR})
  target_link_libraries(${target} PRIVATE ${NNSCOPE_BLAS_LIBRARIES})
  if(NNSCOPE_BLAS_RUNPATH)
    get_target_property(_type ${target} TYPE)
    if(NOT _type STREQUAL "STATIC_LIBRARY")
      set_property(TARGET ${target} APPEND PROPERTY BUILD_RPATH ${NNSCOPE_BLAS_RUNPATH})
      set_property(TARGET ${target} APPEND PROPERTY INSTALL_RPATH ${NNSCOPE_BLAS_RUNPATH})
    endif()
  endif()
endfunction()
