# Tensor parallelism inside the models (src/models/parallel.h): the UNet and
# the VAE decoder split over Pc × Ps ranks against the same models unsplit,
# at 1, 2, 3 and 4 ranks (ldm_mpi_test, tests/CMakeLists.txt).
ldm_mpi_test(test_tp_unet SOURCES ${CMAKE_CURRENT_LIST_DIR}/tp_unet.c LIBS ldm_models)
ldm_mpi_test(test_tp_vae SOURCES ${CMAKE_CURRENT_LIST_DIR}/tp_vae.c LIBS ldm_models)

# Measurement (docs/parallelism.md §8): per-rank weight bytes and peak memory
# of the real UNet under the channel split; not a test.
add_executable(bench_tp_weights ${CMAKE_CURRENT_LIST_DIR}/tp_weights.c)
target_include_directories(bench_tp_weights PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_compile_definitions(bench_tp_weights PRIVATE LDM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(bench_tp_weights PRIVATE ldm_models ldm_mpi ldm_core MPI::MPI_C m)
# Measurement: per-rank activation memory of the VAE decoder under the
# spatial split (1024² images); not a test.
add_executable(bench_tp_vae ${CMAKE_CURRENT_LIST_DIR}/tp_vae_memory.c)
target_include_directories(bench_tp_vae PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_compile_definitions(bench_tp_vae PRIVATE LDM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(bench_tp_vae PRIVATE ldm_models ldm_mpi ldm_core MPI::MPI_C m)
