# CLI additions of helper mpirun (issue #5): ldm info --grid, --timings and
# --save-latents flags. The MPI runs themselves: tests/mpi/mpirun_*.cmake.
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/info-grid-tmp)
add_test(NAME cli_info_grid
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/info_grid.sh $<TARGET_FILE:ldm> ${LDM_FIXTURES}/tiny-ldm
         WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/info-grid-tmp)
set_tests_properties(cli_info_grid PROPERTIES LABELS cli)
ldm_cli_test(cli_info_grid_height CODE 1 NEEDLE "--height must be a multiple of 8, got 100"
             COMMAND info --model ${LDM_FIXTURES}/tiny-ldm --grid 2x2 --height 100)
ldm_cli_test(cli_txt2img_timings_not_csv CODE 1 NEEDLE "--timings: expected no value or a FILE.csv, got \"t.txt\""
             COMMAND txt2img --prompt x --timings t.txt)
ldm_cli_test(cli_txt2img_save_latents_not_npy CODE 1 NEEDLE "--save-latents must name a .npy file"
             COMMAND txt2img --prompt x --save-latents l.bin)
ldm_cli_test(cli_txt2img_groups_bad CODE 1 NEEDLE "--groups: expected a positive integer, got \"two\""
             COMMAND txt2img --prompt x --groups two)
ldm_cli_test(cli_sweep_grid_bad CODE 1 NEEDLE "--grid: expected PcxPs"
             COMMAND sweep spec.json -o r.h5 --grid 2by2)
ldm_cli_test(cli_txt2img_timings_checkpoint CODE 1 NEEDLE "--timings FILE.csv is not available with --checkpoint"
             COMMAND txt2img --prompt x --checkpoint r.h5 --timings t.csv)
