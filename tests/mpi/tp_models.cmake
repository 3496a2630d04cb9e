# Tensor parallelism inside the models (src/models/parallel.h): the UNet and
# the VAE decoder split over Pc × Ps ranks against the same models unsplit,
# at 1, 2, 3 and 4 ranks (ldm_mpi_test, tests/CMakeLists.txt).
ldm_mpi_test(test_tp_unet SOURCES ${CMAKE_CURRENT_LIST_DIR}/tp_unet.c LIBS ldm_models)
ldm_mpi_test(test_tp_vae SOURCES ${CMAKE_CURRENT_LIST_DIR}/tp_vae.c LIBS ldm_models)
