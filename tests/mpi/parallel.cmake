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

# Benchmarks (not tests; docs/parallelism.md records their output).
add_executable(bench_mpi_linear ${LDM_MPI_TESTS}/bench_linear.c)
target_include_directories(bench_mpi_linear PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(bench_mpi_linear PRIVATE ldm_kernels ldm_mpi ldm_core MPI::MPI_C m)
add_executable(bench_mpi_channels ${LDM_MPI_TESTS}/bench_channels.c)
target_include_directories(bench_mpi_channels PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(bench_mpi_channels PRIVATE ldm_mpi ldm_core MPI::MPI_C m)
ldm_mpi_test(test_mpi_failures SOURCES ${LDM_MPI_TESTS}/test_failures.c)
