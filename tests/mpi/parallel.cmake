# MPI building blocks (mpi/grid, halo, moments, gather, channels, pblas):
# each test runs at 1, 2, 3 and 4 ranks (ldm_mpi_test, tests/mpi/mpi.cmake)
# and compares the distributed result with the single-rank kernel.
set(LDM_MPI_TESTS ${CMAKE_CURRENT_LIST_DIR})
ldm_mpi_test(test_mpi_grid SOURCES ${LDM_MPI_TESTS}/test_grid.c)
ldm_mpi_test(test_mpi_halo SOURCES ${LDM_MPI_TESTS}/test_halo.c LIBS ldm_kernels)
ldm_mpi_test(test_mpi_groupnorm SOURCES ${LDM_MPI_TESTS}/test_groupnorm.c LIBS ldm_kernels)
ldm_mpi_test(test_mpi_attention SOURCES ${LDM_MPI_TESTS}/test_attention.c LIBS ldm_kernels)
ldm_mpi_test(test_mpi_channels SOURCES ${LDM_MPI_TESTS}/test_channels.c)
ldm_mpi_test(test_mpi_pblas SOURCES ${LDM_MPI_TESTS}/test_pblas.c)
