# io/runfile*.c and io/model_identity.c.
#
# test_runfile runs at 1, 2, 3 and 4 ranks.
ldm_mpi_test(test_runfile SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_runfile.c LIBS ldm_io HDF5::HDF5)

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
