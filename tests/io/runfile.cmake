# io/runfile*.c and io/model_identity.c.
#
# test_runfile runs at 1, 2, 3 and 4 ranks like ldm_mpi_test (tests/mpi/
# mpi.cmake) does; that function is not defined yet when this fragment is
# included (fragments are included in path order: io/ before mpi/), so the
# registration is spelled out here.
add_executable(test_runfile ${CMAKE_CURRENT_LIST_DIR}/test_runfile.c)
target_include_directories(test_runfile PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_compile_definitions(test_runfile PRIVATE LDM_FIXTURES="${LDM_FIXTURES}"
                           LDM_TEST_TMP="${CMAKE_CURRENT_BINARY_DIR}/tmp-test_runfile")
target_link_libraries(test_runfile PRIVATE ldm_io ldm_core MPI::MPI_C HDF5::HDF5)
foreach(np 1 2 3 4)
  add_test(NAME test_runfile_np${np}
           COMMAND ${MPIEXEC_EXECUTABLE} --oversubscribe --allow-run-as-root -n ${np}
                   $<TARGET_FILE:test_runfile>)
  set_tests_properties(test_runfile_np${np} PROPERTIES LABELS "mpi" SKIP_RETURN_CODE 77
                       PROCESSORS ${np} ENVIRONMENT "OMP_NUM_THREADS=1")
endforeach()

# Kill -9 at every write point (fork + singleton MPI children; needs no
# mpirun except for its 2-rank part, given the launcher as argument).
ldm_c_test(test_runfile_crash SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_runfile_crash.c
           LIBS ldm_io MPI::MPI_C HDF5::HDF5 LABELS unit ARGS ${MPIEXEC_EXECUTABLE})

# Full file system: mounts a 4 MiB tmpfs (skipped where mounting is not allowed).
ldm_c_test(test_runfile_fullfs SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_runfile_fullfs.c
           LIBS ldm_io MPI::MPI_C HDF5::HDF5 LABELS unit)

# Model identity (SHA-256 of configs, weight names and sizes) on the tiny model.
ldm_c_test(test_runfile_identity SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_runfile_identity.c
           LIBS ldm_io LABELS unit)

# Read back without ldm: h5py (skipped without python3-h5py) and h5dump.
ldm_c_test(test_runfile_h5py SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_runfile_h5py.c
           LIBS ldm_io MPI::MPI_C LABELS unit)
