# MPI building blocks (mpi/grid, halo, moments, gather, channels, pblas):
# each test runs at 1, 2, 3 and 4 ranks (ldm_mpi_test, tests/mpi/mpi.cmake)
# and compares the distributed result with the single-rank kernel.
set(LDM_MPI_TESTS ${CMAKE_CURRENT_LIST_DIR})
ldm_mpi_test(test_mpi_grid SOURCES ${LDM_MPI_TESTS}/test_grid.c)
